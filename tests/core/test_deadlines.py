"""Deadline rules (DOMAIN.md §4): year boundaries, leap years, statuses and the anchor windows that
the database counts with."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dangan.core.deadlines import (
    ALL_BANDS,
    ARCHIVE_RULE,
    BANDS,
    NATIONAL_TRANSFER,
    RULE_SETS,
    YUNNAN_TRANSFER,
    Anchor,
    ByDayOfYear,
    DeadlineRuleError,
    Kind,
    State,
    WithinYears,
    add_years,
    band,
    band_for,
    deadline_status,
    record_deadlines,
    rule_set,
)

RULES = [ARCHIVE_RULE, NATIONAL_TRANSFER, YUNNAN_TRANSFER]
dates = st.dates(min_value=date(1950, 1, 1), max_value=date(2200, 12, 31))


# --- archiving: 30 June of the year after completion ------------------------------------------


@pytest.mark.parametrize(
    ("completed", "due"),
    [
        (date(2024, 1, 1), date(2025, 6, 30)),  # first day of a year
        (date(2024, 2, 29), date(2025, 6, 30)),  # leap day
        (date(2024, 6, 30), date(2025, 6, 30)),
        (date(2024, 7, 1), date(2025, 6, 30)),
        (date(2024, 12, 31), date(2025, 6, 30)),  # last day of a year
        (date(2025, 1, 1), date(2026, 6, 30)),  # one day later: a year more
        (date(1999, 12, 31), date(2000, 6, 30)),  # century boundary
    ],
)
def test_archive_deadline_is_30_june_of_the_next_year(completed, due):
    assert ARCHIVE_RULE.anchor == Anchor.COMPLETED
    assert ARCHIVE_RULE.due(completed) == due
    assert ARCHIVE_RULE.applies_to("Y") and ARCHIVE_RULE.applies_to("D10")


def test_archive_deadline_is_inclusive_and_overdue_from_1_july():
    completed = date(2024, 12, 31)
    assert deadline_status(ARCHIVE_RULE, completed, date(2025, 6, 30)).state == State.DUE
    assert deadline_status(ARCHIVE_RULE, completed, date(2025, 6, 30)).days_left == 0
    late = deadline_status(ARCHIVE_RULE, completed, date(2025, 7, 1))
    assert late.state == State.OVERDUE and late.days_overdue == 1
    assert late.text() == "逾期 1 天" and late.text("en") == "overdue by 1 day"


# --- transfer, national/Shaanxi: within 5 years of archiving ----------------------------------


@pytest.mark.parametrize(
    ("archived", "due"),
    [
        (date(2024, 2, 29), date(2029, 2, 28)),  # leap day → 28 Feb (民法典 第二百零二条)
        (date(2024, 2, 28), date(2029, 2, 28)),
        (date(2024, 3, 1), date(2029, 3, 1)),
        (date(2023, 2, 28), date(2028, 2, 28)),  # into a leap year: not moved to the 29th
        (date(2023, 3, 1), date(2028, 3, 1)),
        (date(2024, 12, 31), date(2029, 12, 31)),
        (date(2025, 1, 1), date(2030, 1, 1)),
        (date(2096, 2, 29), date(2101, 2, 28)),
    ],
)
def test_national_transfer_is_due_on_the_same_day_five_years_later(archived, due):
    assert NATIONAL_TRANSFER.anchor == Anchor.ARCHIVED
    assert NATIONAL_TRANSFER.due(archived) == due


def test_leap_day_and_28_february_share_a_due_date_and_the_window_covers_both():
    due = date(2029, 2, 28)
    start, stop = NATIONAL_TRANSFER.anchor_window(due, due)
    assert (start, stop) == (date(2024, 2, 28), date(2024, 3, 1))  # 28 and 29 Feb 2024


def test_add_years():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2024, 2, 29), -4) == date(2020, 2, 29)
    assert add_years(date(2021, 2, 28), 3) == date(2024, 2, 28)
    assert add_years(date(2000, 2, 29), 100) == date(2100, 2, 28)  # 2100 is not a leap year


# --- transfer, Yunnan: 30 June of the year after archiving ------------------------------------


@pytest.mark.parametrize(
    ("archived", "due"),
    [
        (date(2024, 2, 29), date(2025, 6, 30)),
        (date(2024, 1, 1), date(2025, 6, 30)),
        (date(2024, 12, 31), date(2025, 6, 30)),
        (date(2025, 1, 1), date(2026, 6, 30)),
    ],
)
def test_yunnan_transfer_deadline(archived, due):
    assert YUNNAN_TRANSFER.due(archived) == due


def test_transfer_applies_to_permanent_and_30_years_only():
    for rule in (NATIONAL_TRANSFER, YUNNAN_TRANSFER):
        assert rule.applies_to("Y") and rule.applies_to("D30")
        assert not rule.applies_to("D10")


# --- rule sets ----------------------------------------------------------------------------------


def test_rule_sets_and_names():
    assert rule_set(None) is RULE_SETS["national"] and rule_set("") is RULE_SETS["national"]
    assert rule_set("Yunnan").transfer is YUNNAN_TRANSFER
    assert rule_set("national").rule(Kind.ARCHIVE) is ARCHIVE_RULE
    with pytest.raises(DeadlineRuleError) as exc:
        rule_set("guangdong")
    assert exc.value.code == "DEADLINE_RULE_INVALID" and "national" in exc.value.message


def test_rules_cite_their_sources_and_describe_themselves():
    assert "第二年6月底" in ARCHIVE_RULE.source and "5年内" in NATIONAL_TRANSFER.source
    assert "第十四条" in YUNNAN_TRANSFER.source
    assert ARCHIVE_RULE.describe() == "办结次年6月30日前归档"
    assert ARCHIVE_RULE.describe("en") == "archive by 30 June of the year after completion"
    assert NATIONAL_TRANSFER.describe() == "归档之日起5年内移交"
    assert NATIONAL_TRANSFER.describe("en") == "transfer within 5 years of archiving"
    assert YUNNAN_TRANSFER.describe() == "归档次年6月30日前移交"


def test_invalid_terms_are_refused():
    with pytest.raises(DeadlineRuleError):
        ByDayOfYear(years_after=0)
    with pytest.raises(DeadlineRuleError):
        ByDayOfYear(years_after=1, month=2, day=29)
    with pytest.raises(DeadlineRuleError):
        WithinYears(0)


# --- statuses of a record -----------------------------------------------------------------------


def test_pre_archive_record_statuses():
    rules = rule_set("national")
    got = record_deadlines(
        rules, retention="Y", completed=date(2024, 2, 29), archived=None, today=date(2025, 6, 1)
    )
    assert got[Kind.ARCHIVE].state == State.DUE and got[Kind.ARCHIVE].days_left == 29
    assert got[Kind.ARCHIVE].text() == "还有 29 天到期" and got[Kind.ARCHIVE].band.key == "due_30"
    assert got[Kind.TRANSFER].state == State.NOT_APPLICABLE  # the transfer clock starts at archiving


def test_archived_record_statuses():
    rules = rule_set("national")
    got = record_deadlines(
        rules, retention="D30", completed=date(2019, 1, 5), archived=date(2019, 2, 1), today=date(2024, 3, 1)
    )
    assert got[Kind.ARCHIVE].state == State.DONE and got[Kind.ARCHIVE].due == date(2020, 6, 30)
    transfer = got[Kind.TRANSFER]
    assert (
        transfer.state == State.OVERDUE and transfer.due == date(2024, 2, 1) and transfer.days_overdue == 29
    )
    assert transfer.band.key == "overdue"
    done = record_deadlines(
        rules,
        retention="D30",
        completed=None,
        archived=date(2019, 2, 1),
        today=date(2024, 3, 1),
        transferred=True,
    )
    assert done[Kind.TRANSFER].state == State.DONE and done[Kind.TRANSFER].text("en") == "done"
    ten_years = record_deadlines(
        rules, retention="D10", completed=None, archived=date(2019, 2, 1), today=date(2024, 3, 1)
    )
    assert ten_years[Kind.TRANSFER].state == State.NOT_APPLICABLE


def test_unknown_completion_date():
    got = record_deadlines(
        rule_set("yunnan"), retention="Y", completed=None, archived=None, today=date(2025, 1, 1)
    )
    assert got[Kind.ARCHIVE].state == State.UNKNOWN and got[Kind.ARCHIVE].text() == "日期未知"


def test_due_today_and_texts():
    status = deadline_status(YUNNAN_TRANSFER, date(2024, 2, 29), date(2025, 6, 30))
    assert status.text() == "今天到期" and status.text("en") == "due today" and status.band.key == "due_30"
    assert (
        deadline_status(YUNNAN_TRANSFER, date(2024, 2, 29), date(2025, 6, 28)).text("en") == "due in 2 days"
    )


def test_bands():
    assert [b.key for b in BANDS] == ["overdue", "due_30", "due_90"]
    assert band_for(-1).key == "overdue" and band_for(0).key == "due_30" and band_for(30).key == "due_30"
    assert band_for(31).key == "due_90" and band_for(90).key == "due_90" and band_for(91).key == "later"
    assert band("due_90") is BANDS[2] and band("nope") is None
    today = date(2024, 12, 31)
    assert band("due_30").due_range(today) == (date(2024, 12, 31), date(2025, 1, 30))
    assert band("overdue").due_range(today) == (None, date(2024, 12, 30))


def test_anchor_windows_across_a_year_boundary():
    # Archive rule: every case completed in 2024 is due on 30 June 2025.
    assert ARCHIVE_RULE.anchor_window(date(2025, 6, 30), date(2025, 6, 30)) == (
        date(2024, 1, 1),
        date(2025, 1, 1),
    )
    # Overdue on 1 July 2025: completed before 2024.
    assert ARCHIVE_RULE.anchor_window(None, date(2025, 6, 30)) == (None, date(2025, 1, 1))
    # On 1 July the 2024 cases are overdue.
    assert ARCHIVE_RULE.anchor_window(None, date(2025, 6, 30))[1] == ARCHIVE_RULE.earliest_anchor(
        date(2025, 7, 1)
    )
    # Due in 0..30 days from 15 June 2025: the 2024 cases (due 30 June 2025).
    assert ARCHIVE_RULE.anchor_window(date(2025, 6, 15), date(2025, 7, 15)) == (
        date(2024, 1, 1),
        date(2025, 1, 1),
    )
    # An empty window: no due date falls in it.
    start, stop = ARCHIVE_RULE.anchor_window(date(2025, 7, 1), date(2025, 12, 31))
    assert start == stop


# --- properties ----------------------------------------------------------------------------------


@given(anchor=dates, later=dates)
def test_due_never_decreases_and_is_after_the_anchor(anchor, later):
    for rule in RULES:
        assert rule.due(anchor) > anchor
        if later >= anchor:
            assert rule.due(later) >= rule.due(anchor)


@given(anchor=dates)
def test_due_is_within_the_term(anchor):
    assert date(anchor.year + 1, 6, 30) == ARCHIVE_RULE.due(anchor)
    due = NATIONAL_TRANSFER.due(anchor)
    assert due.year == anchor.year + 5 and due.month == anchor.month
    assert due.day == anchor.day or (anchor.month, anchor.day, due.day) == (2, 29, 28)
    # Five years is 1826 or 1827 days (one or two leap days), one day less from a 29 February.
    assert 1825 <= (due - anchor).days <= 1827


@given(anchor=dates, day=dates)
def test_earliest_anchor_splits_the_anchors(anchor, day):
    for rule in RULES:
        first = rule.earliest_anchor(day)
        assert rule.due(first) >= day
        assert rule.due(first - timedelta(days=1)) < day
        assert (rule.due(anchor) >= day) == (anchor >= first)


@given(anchor=dates, today=dates, lo=st.integers(-400, 400), width=st.integers(0, 400))
def test_anchor_window_matches_due_dates(anchor, today, lo, width):
    due_from, due_to = today + timedelta(days=lo), today + timedelta(days=lo + width)
    for rule in RULES:
        start, stop = rule.anchor_window(due_from, due_to)
        inside = due_from <= rule.due(anchor) <= due_to
        assert inside == (start <= anchor < stop)


@given(anchor=dates, today=dates)
def test_status_band_matches_the_band_windows(anchor, today):
    for rule in RULES:
        status = deadline_status(rule, anchor, today)
        found = status.band
        assert found is not None and found.contains(status.days_left)
        for b in ALL_BANDS:
            start, stop = rule.anchor_window(*b.due_range(today))
            inside = (start is None or anchor >= start) and (stop is None or anchor < stop)
            assert inside == (b is found), (b.key, found.key)
