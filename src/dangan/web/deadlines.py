"""Deadlines (期限) in the database: which records have an open archiving or transfer deadline, how
many are overdue or due soon per agency and service item, and each listed record's status.

The rules are ``dangan.core.deadlines`` (the transfer rule set from ``settings.TRANSFER_RULE``). A
band ("overdue", "due within 30 days" …) is a range of due dates; since a due date only grows with
its anchor date, that is a range of anchor dates (``DeadlineRule.anchor_window``), so the database
filters and counts with plain date comparisons: one aggregate query per kind of deadline, grouped
by service item, touching only records that are overdue or due within 90 days.

Which records have an open deadline:

* archiving (归档): the cases in the pre-archive library (预归档库). Cases that a service system
  completed but has not sent are unknown here and cannot be counted. The anchor is the completion
  time (办结时间); a record without one is counted from its reception (an upper bound of its
  completion), so it is never shown as later than it is.
* transfer (移交): archived records of the retentions the rule names (永久 and 定期30年) that have not
  been transferred. No transfer exists yet, so none has been: ``not_transferred`` is the one place
  that will exclude transferred records once the transfer app records them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.core import deadlines as D


def current_rules() -> D.RuleSet:
    """The configured rule set (``DANGAN_TRANSFER_RULE``, default ``national``)."""
    return D.rule_set(getattr(settings, "TRANSFER_RULE", ""))


def today() -> date:
    """Today in the instance's time zone: deadlines are calendar days there."""
    return timezone.localdate()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _range(field_name: str, start: date | None, stop: date | None) -> Q:
    q = Q()
    if start is not None:
        q &= Q(**{f"{field_name}__gte": _midnight(start)})
    if stop is not None:
        q &= Q(**{f"{field_name}__lt": _midnight(stop)})
    return q


def anchor_q(anchor: D.Anchor, start: date | None, stop: date | None) -> Q:
    """Records whose anchor date (local calendar day) is in ``[start, stop)``."""
    if anchor == D.Anchor.ARCHIVED:
        return Q(archived_at__isnull=False) & _range("archived_at", start, stop)
    return (Q(completed_at__isnull=False) & _range("completed_at", start, stop)) | (
        Q(completed_at__isnull=True) & _range("created_at", start, stop)
    )


def _anchor_order(anchor: D.Anchor) -> list[OrderBy | str]:
    if anchor == D.Anchor.ARCHIVED:
        return [F("archived_at").asc(nulls_last=True), "id"]
    return [F("completed_at").asc(nulls_first=True), "created_at", "id"]


def not_transferred() -> Q:
    """Archived records not yet transferred to the archive (移交). Extension point: there is no
    transfer yet, so every archived record qualifies; the transfer app replaces this with e.g.
    ``~Q(transfers__status="received")`` (a record counts as transferred once the archive signed
    the hand-over form)."""
    return Q()


def open_records(kind: D.Kind, rules: D.RuleSet, fonds_ids: frozenset[int] | None = None) -> QuerySet[Record]:
    """Records whose ``kind`` deadline is not yet met (whatever its date), in ``fonds_ids`` (None: all)."""
    rule = rules.rule(kind)
    if kind == D.Kind.ARCHIVE:
        qs = Record.objects.filter(status=RecordStatus.PRE_ARCHIVE)
    else:
        qs = Record.objects.filter(status=RecordStatus.ARCHIVED).filter(not_transferred())
    if rule.retentions is not None:
        qs = qs.filter(retention__in=sorted(rule.retentions))
    if fonds_ids is not None:
        qs = qs.filter(fonds_id__in=fonds_ids)
    return qs


def band_q(rule: D.DeadlineRule, band: D.Band, day: date) -> Q:
    return anchor_q(rule.anchor, *rule.anchor_window(*band.due_range(day)))


def _shown_q(rule: D.DeadlineRule, day: date) -> Q:
    """Every record of the shown bands: overdue or due within the last band's days."""
    last = D.BANDS[-1]
    return anchor_q(rule.anchor, *rule.anchor_window(None, last.due_range(day)[1]))


# ---------------------------------------------------------------------------------------------
# Counts


@dataclass
class ItemCounts:
    """Open deadlines of one kind for one service item, per band."""

    fonds_code: str
    fonds_name: str
    agency: str  # 实施机构 as configured for the item ("" when not configured)
    item_id: int
    item_code: str
    item_name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def agency_label(self) -> str:
        return self.agency or self.fonds_name


@dataclass
class AgencyCounts:
    fonds_code: str
    fonds_name: str
    agency: str
    counts: dict[str, int]
    items: list[ItemCounts] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def label(self) -> str:
        return self.agency or self.fonds_name


@dataclass
class KindSummary:
    kind: D.Kind
    rule: D.DeadlineRule
    today: date
    items: list[ItemCounts]

    @property
    def totals(self) -> dict[str, int]:
        return {b.key: sum(i.counts[b.key] for i in self.items) for b in D.BANDS}

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    @property
    def agencies(self) -> list[AgencyCounts]:
        out: dict[tuple[str, str], AgencyCounts] = {}
        for i in self.items:
            key = (i.fonds_code, i.agency)
            a = out.get(key)
            if a is None:
                a = out[key] = AgencyCounts(i.fonds_code, i.fonds_name, i.agency, dict.fromkeys(i.counts, 0))
            a.items.append(i)
            for k, n in i.counts.items():
                a.counts[k] += n
        return sorted(
            out.values(), key=lambda a: (-a.counts.get("overdue", 0), -a.total, a.fonds_code, a.agency)
        )


def summarize(
    kind: D.Kind,
    rules: D.RuleSet | None = None,
    day: date | None = None,
    fonds_ids: frozenset[int] | None = None,
) -> KindSummary:
    """Counts per service item of the records overdue or due within 90 days (one query)."""
    rules = rules or current_rules()
    day = day or today()
    rule = rules.rule(kind)
    counts = {b.key: Count("id", filter=band_q(rule, b, day)) for b in D.BANDS}
    rows = (
        open_records(kind, rules, fonds_ids)
        .filter(_shown_q(rule, day))
        .order_by()
        .values(
            "fonds__code",
            "fonds__name",
            "service_item",
            "service_item__code",
            "service_item__name",
            "service_item__agency",
        )
        .annotate(**counts)
        .order_by("fonds__code", "service_item__code")
    )
    rows_: list[dict[str, Any]] = [dict(r) for r in rows]  # with the band annotations
    items = [
        ItemCounts(
            fonds_code=r["fonds__code"],
            fonds_name=r["fonds__name"],
            agency=r["service_item__agency"] or "",
            item_id=r["service_item"],
            item_code=r["service_item__code"],
            item_name=r["service_item__name"],
            counts={b.key: r[b.key] for b in D.BANDS},
        )
        for r in rows_
    ]
    return KindSummary(kind=kind, rule=rule, today=day, items=items)


# ---------------------------------------------------------------------------------------------
# Lists


@dataclass(frozen=True)
class ListFilter:
    """The filters of the deadline list; every field optional (``band`` ``""``: overdue or due within
    90 days)."""

    kind: D.Kind = D.Kind.ARCHIVE
    band: str = ""
    fonds: str = ""  # 全宗号
    agency: str | None = None  # 实施机构 of the service item; None = any, "" = not configured
    service_item: int | None = None

    def query(self) -> dict[str, str]:
        out = {"kind": self.kind.value}
        if self.band:
            out["band"] = self.band
        if self.fonds:
            out["fonds"] = self.fonds
        if self.agency is not None:
            out["agency"] = self.agency
        if self.service_item is not None:
            out["service_item"] = str(self.service_item)
        return out


def parse_filter(params: Any) -> ListFilter:
    """A ``ListFilter`` from query parameters; unknown values fall back to the defaults."""
    kinds = {k.value: k for k in D.Kind}
    band = params.get("band") or ""
    item = params.get("service_item") or ""
    return ListFilter(
        kind=kinds.get(params.get("kind") or "", D.Kind.ARCHIVE),
        band=band if D.band(band) is not None else "",
        fonds=(params.get("fonds") or "").strip(),
        agency=params.get("agency") if "agency" in params else None,
        service_item=int(item) if item.isdigit() else None,
    )


def filtered_records(
    f: ListFilter,
    rules: D.RuleSet | None = None,
    day: date | None = None,
    fonds_ids: frozenset[int] | None = None,
) -> QuerySet[Record]:
    """The records of a filter, most urgent first."""
    rules = rules or current_rules()
    day = day or today()
    rule = rules.rule(f.kind)
    qs = open_records(f.kind, rules, fonds_ids)
    selected = D.band(f.band) if f.band else None
    qs = qs.filter(band_q(rule, selected, day) if selected is not None else _shown_q(rule, day))
    if f.fonds:
        qs = qs.filter(fonds__code=f.fonds)
    if f.agency is not None:
        qs = qs.filter(service_item__agency=f.agency)
    if f.service_item is not None:
        qs = qs.filter(service_item_id=f.service_item)
    return qs.select_related("fonds", "service_item").order_by(*_anchor_order(rule.anchor))


def _local(value: datetime | None) -> date | None:
    return timezone.localtime(value).date() if value is not None else None


def anchor_dates(record: Record) -> tuple[date | None, date | None]:
    """(completion, archiving) dates of a record as the counts use them (completion unknown: its
    reception)."""
    return _local(record.completed_at or record.created_at), _local(record.archived_at)


def record_status(
    record: Record, kind: D.Kind, rules: D.RuleSet | None = None, day: date | None = None
) -> D.DeadlineStatus:
    rules = rules or current_rules()
    completed, archived = anchor_dates(record)
    statuses = D.record_deadlines(
        rules,
        retention=record.retention,
        completed=completed,
        archived=archived,
        today=day or today(),
        transferred=False,  # see not_transferred()
    )
    return statuses[kind]


def statuses(
    records: Iterable[Record], kind: D.Kind, rules: D.RuleSet | None = None, day: date | None = None
) -> list[tuple[Record, D.DeadlineStatus]]:
    rules = rules or current_rules()
    day = day or today()
    return [(r, record_status(r, kind, rules, day)) for r in records]


# ---------------------------------------------------------------------------------------------
# What the pages show (labels in the active language)

KIND_LABELS = {
    D.Kind.ARCHIVE: gettext_lazy("Archiving deadlines"),
    D.Kind.TRANSFER: gettext_lazy("Transfer deadlines"),
}
KIND_HINTS = {
    D.Kind.ARCHIVE: gettext_lazy("Cases in the pre-archive library, counted from their completion."),
    D.Kind.TRANSFER: gettext_lazy(
        "Archived records of permanent and 30-year retention, not yet transferred to the archive."
    ),
}
ANCHOR_LABELS = {
    D.Anchor.COMPLETED: gettext_lazy("Completed on"),
    D.Anchor.ARCHIVED: gettext_lazy("Archived on"),
}
# Colour per band (charts and cards); every band also has its label next to the colour. The cards
# take theirs from dangan.css (.card-<band>, no inline style under the CSP): keep both the same.
BAND_COLOURS = {"overdue": "#b42318", "due_30": "#d89b00", "due_90": "#1f4e8c"}
BAND_LABELS = {
    "overdue": gettext_lazy("Overdue"),
    "due_30": gettext_lazy("Due within 30 days"),
    "due_90": gettext_lazy("Due in 31–90 days"),
    "later": gettext_lazy("Due after 90 days"),
}


def _lang() -> str:
    return translation.get_language() or "zh-hans"


def list_url(f: ListFilter) -> str:
    return f"{reverse('web:deadline-records')}?{urlencode(f.query())}"


def series() -> list[dict[str, Any]]:
    return [{"key": b.key, "label": BAND_LABELS[b.key], "colour": BAND_COLOURS[b.key]} for b in D.BANDS]


def _chart_row(label: str, counts: dict[str, int], base: ListFilter) -> dict[str, Any]:
    return {
        "label": label,
        "values": [counts[b.key] for b in D.BANDS],
        "urls": [
            list_url(ListFilter(base.kind, b.key, base.fonds, base.agency, base.service_item))
            for b in D.BANDS
        ],
        "cells": [
            {
                "count": counts[b.key],
                "band": b.key,
                "url": list_url(ListFilter(base.kind, b.key, base.fonds, base.agency, base.service_item)),
            }
            for b in D.BANDS
        ],
        "total": sum(counts.values()),
        "url": list_url(base),
    }


def kind_context(summary: KindSummary, *, limit: int | None = None) -> dict[str, Any]:
    """Cards, chart rows and the table of one kind of deadline; ``limit`` caps the chart rows."""
    kind = summary.kind
    totals = summary.totals
    agencies = []
    for a in summary.agencies:
        row = _chart_row(a.label, a.counts, ListFilter(kind, "", a.fonds_code, a.agency))
        row["fonds"] = a.fonds_code
        row["items"] = [
            {
                **_chart_row(
                    i.item_name or i.item_code, i.counts, ListFilter(kind, "", service_item=i.item_id)
                ),
                "code": i.item_code,
            }
            for i in sorted(a.items, key=lambda i: (-i.counts["overdue"], -i.total, i.item_code))
        ]
        agencies.append(row)
    items = sorted(
        (it for a in agencies for it in a["items"]), key=lambda r: (-r["values"][0], -r["total"], r["code"])
    )
    return {
        "kind": kind.value,
        "title": KIND_LABELS[kind],
        "hint": KIND_HINTS[kind],
        "rule": summary.rule.describe(_lang()),
        "source": summary.rule.source,
        "today": summary.today,
        "cards": [
            {
                "key": b.key,
                "label": BAND_LABELS[b.key],
                "count": totals[b.key],
                "url": list_url(ListFilter(kind, b.key)),
                "colour": BAND_COLOURS[b.key],
            }
            for b in D.BANDS
        ],
        "agency_chart_title": _("{kind} per agency").format(kind=KIND_LABELS[kind]),
        "item_chart_title": _("{kind} per service item").format(kind=KIND_LABELS[kind]),
        "total": summary.total,
        "all_url": list_url(ListFilter(kind)),
        "agencies": agencies,
        "agency_chart": agencies[:limit] if limit else agencies,
        "item_chart": items[:limit] if limit else items,
        "series": series(),
    }


def overview(*, limit: int | None = None, fonds_ids: frozenset[int] | None = None) -> list[dict[str, Any]]:
    """Both kinds of deadline, as the dashboard and the deadline page show them (in ``fonds_ids``)."""
    from dangan.archive.counts import record_stamp, remember

    rules = current_rules()
    day = today()
    scope = "all" if fonds_ids is None else ",".join(str(i) for i in sorted(fonds_ids))
    stamp = record_stamp()  # the summaries (one GROUP BY over the library each) change with the records
    return [
        kind_context(
            remember(
                f"deadlines:{kind.value}:{getattr(settings, 'TRANSFER_RULE', '')}:{day}:{scope}",
                stamp,
                lambda kind=kind: summarize(kind, rules, day, fonds_ids),  # type: ignore[misc]
            ),
            limit=limit,
        )
        for kind in D.Kind
    ]


def list_rows(records: Iterable[Record], kind: D.Kind) -> list[dict[str, Any]]:
    rules = current_rules()
    rule = rules.rule(kind)
    lang = _lang()
    rows = []
    for r, status in statuses(records, kind, rules):
        completed, archived = anchor_dates(r)
        rows.append(
            {
                "record": r,
                "anchor": archived if rule.anchor == D.Anchor.ARCHIVED else completed,
                "anchor_estimated": rule.anchor == D.Anchor.COMPLETED and r.completed_at is None,
                "status": status,
                "state": status.state.value,
                "band": status.band.key if status.band else "",
                "text": status.text(lang),
            }
        )
    return rows
