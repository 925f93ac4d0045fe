"""Deadlines (期限) of government-service e-records: archiving (归档) and transfer (移交), as data.

Two deadlines apply to a case (办件), each a ``DeadlineRule``: an *anchor* date of the record, a
*term* that turns the anchor into the last allowed day (the due date, inclusive), and the
retentions it applies to. The rule sets differ only in the transfer rule.

Archiving (every rule set), national text, seed 002 (国办发〔2023〕26号《政务服务电子文件归档和电子档案
管理办法》第九条): "归档时间最迟不能超过办理完毕后的第二年6月底"; Yunnan, seed 000, 第十二条, in the
same words. Anchor: the completion date (办结时间); due: **30 June of the year after the year of
completion**, whatever the day of completion ("第二年" is the year that follows: a case completed on
31 Dec 2024 or on 1 Jan 2024 is due by 30 June 2025).

Transfer, rule set ``national`` (DOMAIN.md §4 "national/Shaanxi"): seed 001 (陕西省《办法》, news
report): "保管期限为永久、30年的政务服务电子档案，在其形成之日起5年内向同级综合档案馆移交"; seed 004
(芜湖, 第二十一条): "保管期限为永久、定期30年的电子文件列入移交范围 … 一般自形成之日起5年内移交". The
national text (seed 002, 第十二条) names no period; the 5 years come from these texts. An 电子档案 is
an e-record *as archived* (seed 002 第二条: "…并归档保存的政务服务电子文件"), so it is formed on its
archiving date: anchor = archiving date. "5年内" is counted as the Civil Code counts periods
(民法典 第二百零一条, 第二百零二条): the archiving day itself is not counted, and the period ends on
the corresponding day of the month five years later, or on the last day of that month when it has no
such day. Due: **the same month and day five years after archiving; 29 Feb → 28 Feb** (archived
2024-02-29 → due 2029-02-28; archived 2024-03-15 → due 2029-03-15). Art. 203 (a last day that falls
on a public holiday moves to the next working day) is not applied: there is no holiday calendar.

Transfer, rule set ``yunnan``: seed 000 (云南省, 第十四条): "保管期限为永久、30年的政务服务电子档案列入
移交范围，移交时间原则上不超过归档后的第二年6月底". Anchor: archiving date; due: **30 June of the year
after the year of archiving** — "第二年6月底" read exactly as in the archiving rule above, which
DOMAIN.md §4 renders "30 June of the year after completion". (DOMAIN.md's "second year after
archiving" for the same words is read the same way; should the archive office read it as the year
after next, change ``years_after`` of ``YUNNAN_TRANSFER`` to 2.) "有特殊要求的，可适当延长移交时间"
(extensions) is not modelled.

Both transfer rules apply to retentions ``Y`` (永久) and ``D30`` (定期30年) only.

Statuses: a deadline is *done* (archived / transferred), *not applicable* (retention outside the
rule, or not archived yet for the transfer), *unknown* (no anchor date), or *due* with
``days_left`` ≥ 0 (0 = due today) or *overdue* (``days_left`` < 0). ``BANDS`` groups them for the
dashboard: overdue, due in 0–30 days, due in 31–90 days.

Counting in a database: a due date only grows with its anchor (``due`` is monotonic), so "due date in
[a, b]" is "anchor in [earliest_anchor(a), earliest_anchor(b + 1 day))": ``DeadlineRule.anchor_window``
turns a band into an anchor-date range that a query can filter and count on.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from dangan.core.errors import DanganError


class DeadlineRuleError(DanganError):
    """An unknown rule set name, or a rule that cannot be a deadline."""

    code = "DEADLINE_RULE_INVALID"


class Kind(StrEnum):
    ARCHIVE = "archive"  # 归档
    TRANSFER = "transfer"  # 移交


class Anchor(StrEnum):
    """The record's date a deadline is counted from."""

    COMPLETED = "completed"  # 办结时间 (办理完毕)
    ARCHIVED = "archived"  # 归档时间 (confirmed into the formal library)


ANCHOR_LABELS: dict[Anchor, tuple[str, str]] = {
    Anchor.COMPLETED: ("办结", "completion"),
    Anchor.ARCHIVED: ("归档", "archiving"),
}
KIND_LABELS: dict[Kind, tuple[str, str]] = {
    Kind.ARCHIVE: ("归档", "Archive"),
    Kind.TRANSFER: ("移交", "Transfer"),
}


def add_years(day: date, years: int) -> date:
    """The same month and day ``years`` later (or earlier); a 29 February that the target year lacks
    becomes 28 February (民法典 第二百零二条: no corresponding day → the last day of the month)."""
    year = day.year + years
    last = calendar.monthrange(year, day.month)[1]
    return date(year, day.month, min(day.day, last))


def _zh(lang: str) -> bool:
    return lang.lower().startswith("zh")


@dataclass(frozen=True)
class ByDayOfYear:
    """Due on a fixed day (default 30 June, "6月底") of the ``years_after``-th year after the anchor's
    year, whatever the anchor's month and day."""

    years_after: int
    month: int = 6
    day: int = 30

    def __post_init__(self) -> None:
        if self.years_after < 1:
            raise DeadlineRuleError(f"years_after must be at least 1: {self.years_after}")
        try:
            date(2001, self.month, self.day)  # a common year: 29 February is not a fixed day
        except ValueError:
            raise DeadlineRuleError(f"not a day of every year: {self.month}-{self.day}") from None

    @property
    def span_years(self) -> int:
        return self.years_after

    def due(self, anchor: date) -> date:
        return date(anchor.year + self.years_after, self.month, self.day)

    def describe(self, anchor: Anchor, lang: str) -> str:
        zh_anchor, en_anchor = ANCHOR_LABELS[anchor]
        if _zh(lang):
            which = "次年" if self.years_after == 1 else f"后第{self.years_after}年"
            return f"{zh_anchor}{which}{self.month}月{self.day}日前"
        nth = "the year after" if self.years_after == 1 else f"{self.years_after} years after the year of"
        month = calendar.month_name[self.month]
        return f"by {self.day} {month} of {nth} {en_anchor}"


@dataclass(frozen=True)
class WithinYears:
    """Due on the corresponding day ``years`` after the anchor (29 February → 28 February), the last
    day of an "N年内" period counted as the Civil Code counts (第二百零一条, 第二百零二条)."""

    years: int

    def __post_init__(self) -> None:
        if self.years < 1:
            raise DeadlineRuleError(f"years must be at least 1: {self.years}")

    @property
    def span_years(self) -> int:
        return self.years

    def due(self, anchor: date) -> date:
        return add_years(anchor, self.years)

    def describe(self, anchor: Anchor, lang: str) -> str:
        zh_anchor, en_anchor = ANCHOR_LABELS[anchor]
        if _zh(lang):
            return f"{zh_anchor}之日起{self.years}年内"
        return f"within {self.years} years of {en_anchor}"


Term = ByDayOfYear | WithinYears


@dataclass(frozen=True)
class DeadlineRule:
    """One deadline: counted from ``anchor`` by ``term``, for the records whose retention is in
    ``retentions`` (``None``: every retention). ``source`` cites the policy text."""

    kind: Kind
    anchor: Anchor
    term: Term
    retentions: frozenset[str] | None
    source: str

    def applies_to(self, retention: str) -> bool:
        return self.retentions is None or retention in self.retentions

    def due(self, anchor: date) -> date:
        """The last allowed day (inclusive)."""
        return self.term.due(anchor)

    def earliest_anchor(self, day: date) -> date:
        """The earliest anchor date whose due date is ``day`` or later. Every anchor before it is due
        before ``day``; every anchor from it on is due on ``day`` or later (``due`` never decreases)."""
        lo = date(max(1, day.year - self.term.span_years - 2), 1, 1).toordinal()
        hi = day.toordinal()  # due(day) > day: a term is at least a year
        while lo < hi:
            mid = (lo + hi) // 2
            if self.due(date.fromordinal(mid)) >= day:
                hi = mid
            else:
                lo = mid + 1
        return date.fromordinal(lo)

    def anchor_window(self, due_from: date | None, due_to: date | None) -> tuple[date | None, date | None]:
        """The anchor dates ``[start, stop)`` whose due date lies in ``[due_from, due_to]`` (both
        inclusive; ``None`` is open). ``start``/``stop`` are ``None`` when that side is open."""
        start = self.earliest_anchor(due_from) if due_from is not None else None
        stop = self.earliest_anchor(due_to + timedelta(days=1)) if due_to is not None else None
        return start, stop

    def describe(self, lang: str = "zh-hans") -> str:
        """ "办结次年6月30日前归档" / "archive by 30 June of the year after completion"."""
        verb_zh, verb_en = KIND_LABELS[self.kind]
        text = self.term.describe(self.anchor, lang)
        if _zh(lang):
            return f"{text}{verb_zh}"
        return f"{verb_en.lower()} {text}"


@dataclass(frozen=True)
class RuleSet:
    key: str
    name: tuple[str, str]  # (zh, en)
    archive: DeadlineRule
    transfer: DeadlineRule

    def rule(self, kind: Kind) -> DeadlineRule:
        return self.archive if kind == Kind.ARCHIVE else self.transfer

    @property
    def rules(self) -> tuple[DeadlineRule, DeadlineRule]:
        return (self.archive, self.transfer)


TRANSFER_RETENTIONS = frozenset({"Y", "D30"})  # 永久, 定期30年

ARCHIVE_RULE = DeadlineRule(
    kind=Kind.ARCHIVE,
    anchor=Anchor.COMPLETED,
    term=ByDayOfYear(years_after=1),
    retentions=None,
    source="国办发〔2023〕26号 第九条：归档时间最迟不能超过办理完毕后的第二年6月底",
)
NATIONAL_TRANSFER = DeadlineRule(
    kind=Kind.TRANSFER,
    anchor=Anchor.ARCHIVED,
    term=WithinYears(years=5),
    retentions=TRANSFER_RETENTIONS,
    source="陕西省办法：保管期限为永久、30年的政务服务电子档案，在其形成之日起5年内向同级综合档案馆移交",
)
YUNNAN_TRANSFER = DeadlineRule(
    kind=Kind.TRANSFER,
    anchor=Anchor.ARCHIVED,
    term=ByDayOfYear(years_after=1),
    retentions=TRANSFER_RETENTIONS,
    source="云南省办法 第十四条：保管期限为永久、30年的政务服务电子档案列入移交范围，"
    "移交时间原则上不超过归档后的第二年6月底",
)

RULE_SETS: dict[str, RuleSet] = {
    "national": RuleSet("national", ("全国（陕西）", "National (Shaanxi)"), ARCHIVE_RULE, NATIONAL_TRANSFER),
    "yunnan": RuleSet("yunnan", ("云南", "Yunnan"), ARCHIVE_RULE, YUNNAN_TRANSFER),
}
DEFAULT_RULE_SET = "national"


def rule_set(key: str | None) -> RuleSet:
    """The rule set named ``key`` (``""``/``None``: the default, ``national``)."""
    name = (key or DEFAULT_RULE_SET).strip().lower()
    try:
        return RULE_SETS[name]
    except KeyError:
        known = ", ".join(RULE_SETS)
        raise DeadlineRuleError(f"unknown deadline rule set {key!r} (known: {known})") from None


# ---------------------------------------------------------------------------------------------
# Status of one record


class State(StrEnum):
    DUE = "due"  # days_left >= 0
    OVERDUE = "overdue"  # days_left < 0
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"  # the anchor date is not known


@dataclass(frozen=True)
class Band:
    """Deadlines due in ``first``..``last`` days from today (inclusive; ``None`` is open; negative
    is overdue)."""

    key: str
    label: tuple[str, str]  # (zh, en)
    first: int | None
    last: int | None

    def contains(self, days_left: int) -> bool:
        return (self.first is None or days_left >= self.first) and (
            self.last is None or days_left <= self.last
        )

    def due_range(self, today: date) -> tuple[date | None, date | None]:
        """The due dates of the band, inclusive."""
        start = today + timedelta(days=self.first) if self.first is not None else None
        stop = today + timedelta(days=self.last) if self.last is not None else None
        return start, stop


BANDS: tuple[Band, ...] = (
    Band("overdue", ("已逾期", "Overdue"), None, -1),
    Band("due_30", ("30天内到期", "Due within 30 days"), 0, 30),
    Band("due_90", ("31–90天内到期", "Due in 31–90 days"), 31, 90),
)
LATER = Band("later", ("90天以后到期", "Due after 90 days"), 91, None)
ALL_BANDS: tuple[Band, ...] = (*BANDS, LATER)


def band(key: str) -> Band | None:
    return next((b for b in ALL_BANDS if b.key == key), None)


def band_for(days_left: int) -> Band:
    return next(b for b in ALL_BANDS if b.contains(days_left))


@dataclass(frozen=True)
class DeadlineStatus:
    kind: Kind
    state: State
    due: date | None = None
    days_left: int = 0  # negative when overdue

    @property
    def open(self) -> bool:
        return self.state in (State.DUE, State.OVERDUE)

    @property
    def days_overdue(self) -> int:
        return max(0, -self.days_left) if self.state == State.OVERDUE else 0

    @property
    def band(self) -> Band | None:
        return band_for(self.days_left) if self.open else None

    def text(self, lang: str = "zh-hans") -> str:
        """ "逾期 12 天" / "overdue by 12 days", "还有 3 天到期" / "due in 3 days", "今天到期", "已完成"."""
        zh = _zh(lang)
        if self.state == State.OVERDUE:
            n = self.days_overdue
            return f"逾期 {n} 天" if zh else f"overdue by {n} day{'s' if n != 1 else ''}"
        if self.state == State.DUE:
            n = self.days_left
            if n == 0:
                return "今天到期" if zh else "due today"
            return f"还有 {n} 天到期" if zh else f"due in {n} day{'s' if n != 1 else ''}"
        texts = {
            State.DONE: ("已完成", "done"),
            State.NOT_APPLICABLE: ("不适用", "not applicable"),
            State.UNKNOWN: ("日期未知", "date unknown"),
        }
        zh_text, en_text = texts[self.state]
        return zh_text if zh else en_text


def deadline_status(
    rule: DeadlineRule, anchor: date | None, today: date, *, done: bool = False
) -> DeadlineStatus:
    """The status of ``rule`` for a record whose anchor date is ``anchor`` (retention already
    checked with ``rule.applies_to``). ``done`` keeps the due date for reference."""
    if anchor is None:
        return DeadlineStatus(rule.kind, State.DONE if done else State.UNKNOWN)
    due = rule.due(anchor)
    days_left = (due - today).days
    if done:
        return DeadlineStatus(rule.kind, State.DONE, due, days_left)
    return DeadlineStatus(rule.kind, State.DUE if days_left >= 0 else State.OVERDUE, due, days_left)


def record_deadlines(
    rules: RuleSet,
    *,
    retention: str,
    completed: date | None,
    archived: date | None,
    today: date,
    transferred: bool = False,
) -> dict[Kind, DeadlineStatus]:
    """Both deadlines of one record. ``archived`` is the date it entered the formal library (``None``:
    still in the pre-archive library); ``transferred``: it has been handed over to the archive (no
    transfer exists yet: callers pass ``False``)."""
    anchors = {Anchor.COMPLETED: completed, Anchor.ARCHIVED: archived}
    out: dict[Kind, DeadlineStatus] = {}
    archive = rules.archive
    if not archive.applies_to(retention):
        out[Kind.ARCHIVE] = DeadlineStatus(Kind.ARCHIVE, State.NOT_APPLICABLE)
    else:
        out[Kind.ARCHIVE] = deadline_status(
            archive, anchors[archive.anchor], today, done=archived is not None
        )
    transfer = rules.transfer
    if not transfer.applies_to(retention) or archived is None:
        out[Kind.TRANSFER] = DeadlineStatus(Kind.TRANSFER, State.NOT_APPLICABLE)
    else:
        out[Kind.TRANSFER] = deadline_status(transfer, anchors[transfer.anchor], today, done=transferred)
    return out
