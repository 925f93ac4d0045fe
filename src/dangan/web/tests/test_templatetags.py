"""Presentation filters of the web UI."""

from __future__ import annotations

import pytest

from dangan.web.templatetags.dangan_ui import iso_datetime, lookup


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2024-09-20T11:30:23", "2024-09-20 11:30:23"),
        ("2024-09-20 11:30:23", "2024-09-20 11:30:23"),
        ("2024-09-20T11:30", "2024-09-20 11:30:00"),
        ("2024-09-20T11:30:23.250", "2024-09-20 11:30:23"),
        ("2024-09-20T11:30:23+08:00", "2024-09-20 11:30:23 +08:00"),
        ("2024-09-20T11:30:23-0530", "2024-09-20 11:30:23 -05:30"),
        ("2024-09-20T11:30:23Z", "2024-09-20 11:30:23 UTC"),
        (" 2024-09-20T11:30:23 ", "2024-09-20 11:30:23"),
    ],
)
def test_iso_datetime_formats_date_times(value, shown):
    assert iso_datetime(value) == shown


@pytest.mark.parametrize(
    "value",
    [
        "2024-09-20",  # a date alone stays a date
        "2024-13-40T11:30:23",  # looks like one, is not a date
        "2024-09-20T25:00:00",
        "办结于 2024-09-20T11:30:23",
        "SL-20241129-000001",
        "",
        None,
        7,
    ],
)
def test_iso_datetime_leaves_anything_else_alone(value):
    assert iso_datetime(value) == value


def test_lookup_in_lists_and_mappings():
    assert lookup(["a", "b"], 1) == "b"
    assert lookup(["a"], 5) == 5
    assert lookup({"x": 1}, "y") == "y"
