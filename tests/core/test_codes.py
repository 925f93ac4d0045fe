"""档号 patterns (DA/T 22-2015): formatting, grouping and the regex used to check codes."""

from __future__ import annotations

import pytest

from dangan.core.codes import DEFAULT_PATTERN, CodePattern
from dangan.core.errors import ArchivalCodeError

VALUES = {"fonds": "0194", "category": "WS", "year": "2016", "retention": "D30", "class": "BGS", "item": "X1"}


def test_default_pattern_matches_the_standard_example():
    pattern = CodePattern.parse(DEFAULT_PATTERN)
    assert pattern.format(VALUES, 1) == "0194-WS·2016-D30-BGS-0001"
    assert pattern.group_key(VALUES) == "0194-WS·2016-D30-BGS-*"
    assert pattern.regex().match("0194-WS·2016-D30-BGS-0001")
    assert not pattern.regex().match("0194-WS·2016-D30-BGS-001")
    assert not pattern.regex().match("0194-WS2016-D30-BGS-0001")


def test_groups_differ_by_every_field_but_the_piece():
    pattern = CodePattern.parse(DEFAULT_PATTERN)
    assert pattern.group_key(VALUES) != pattern.group_key({**VALUES, "year": "2017"})
    assert pattern.group_key(VALUES) == pattern.group_key(dict(VALUES))


@pytest.mark.parametrize(
    "bad",
    [
        "{fonds}-{year}",
        "{fonds}-{piece:4}-{piece:4}",
        "{fonds}-{nope}-{piece:4}",
        "{fonds}-{piece:0}",
        "{fonds}-{piece:12}",
    ],
)
def test_invalid_patterns_refused(bad):
    with pytest.raises(ArchivalCodeError):
        CodePattern.parse(bad)


def test_values_and_piece_range_are_checked():
    pattern = CodePattern.parse("{fonds}-{item}-{piece:2}")
    assert pattern.format(VALUES, 99) == "0194-X1-99"
    with pytest.raises(ArchivalCodeError):
        pattern.format(VALUES, 100)
    with pytest.raises(ArchivalCodeError):
        pattern.format({**VALUES, "fonds": "01/94"}, 1)
    with pytest.raises(ArchivalCodeError):
        pattern.format({**VALUES, "item": ""}, 1)
