"""The auditor's use-cases (安全审计员): search the audit trail, export it (CSV, PDF), verify its chain.

Every function requires ``Perm.READ_AUDIT``, which only the auditor role holds: the system
administrator and the security administrator cannot read the trail (三员分立). Reading the trail is
itself audited, once per request and never once per row:

* ``read_events`` (a page of the list) appends ``audit.read`` with the filter and the number of matches;
* ``export_csv`` / ``export_pdf`` append ``audit.exported`` with the format, the filter, the number of
  rows and the chain head the export stops at;
* ``chain_status`` appends ``audit.verified`` with the result.

``search_events`` itself writes nothing: it builds the query the others read.

Exports stop at the chain head seen when they start (``seq <= head``), so the row count in the
``audit.exported`` event is exactly what the file holds, and the export's own event is not in it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time as _time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, TextField
from django.db.models.functions import Cast, TruncDate, TruncMonth
from django.utils import timezone
from django.utils.dateparse import parse_date

from dangan.accounts.roles import Actor, Perm, require
from dangan.audit import chain, events
from dangan.audit.models import AuditCheckpoint, AuditEvent
from dangan.core import auditchain
from dangan.core.auditchain import Fault

#: The PDF export lists at most this many events (about 200 landscape pages); the CSV has no cap.
MAX_PDF_ROWS = 5_000
PAGE_SIZE = 50
#: Ranges up to this many days are charted per day, longer ones per month (at most MAX_CHART_MONTHS).
MAX_CHART_DAYS = 62
MAX_CHART_MONTHS = 36
DEFAULT_CHART_DAYS = 30
#: Rows per chunk of the streamed CSV.
CSV_CHUNK_ROWS = 1000

CSV_COLUMNS = (
    "seq", "time", "actor", "role", "kind", "object_type", "object_id", "outcome", "source_ip", "detail",
    "hash",
)  # fmt: skip
# Cells starting with these are formulas to spreadsheet programs ("CSV injection"): such a cell is
# written with a leading apostrophe, which Excel and LibreOffice show as text and do not display.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class AuditFilters:
    """What the auditor selects. Every field is optional; empty fields do not filter.

    * ``date_from`` / ``date_to``: calendar days in the instance's time zone, both inclusive;
    * ``actor``, ``object_type``, ``object_id``, ``outcome``: exact;
    * ``role``: one role (or ``system`` / ``source_system``) among the roles the actor held;
    * ``kind``: the kind itself or its family: ``record`` and ``record.`` match ``record.archived``,
      ``record.viewed`` …; ``record.*`` any kind starting with ``record.``;
    * ``source_ip``: exact, or a prefix when it ends with ``.``, ``:`` or ``*`` (``10.1.``);
    * ``q``: free text, case-insensitive, in the actor, the object id, the kind or the detail JSON;
    * ``seq_from`` / ``seq_to``: a range of positions in the chain (both inclusive).
    """

    date_from: date | None = None
    date_to: date | None = None
    actor: str = ""
    role: str = ""
    kind: str = ""
    object_type: str = ""
    object_id: str = ""
    outcome: str = ""
    source_ip: str = ""
    q: str = ""
    seq_from: int | None = None
    seq_to: int | None = None

    @classmethod
    def of(cls, value: AuditFilters | Mapping[str, Any] | None) -> AuditFilters:
        """``value`` as filters: a mapping's values may be strings (``"2026-01-31"``, ``"12"``)."""
        if value is None:
            return cls()
        if isinstance(value, AuditFilters):
            return value
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"unknown audit filter(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, raw in value.items():
            if raw is None or raw == "":
                continue
            if name in ("date_from", "date_to"):
                kwargs[name] = raw if isinstance(raw, date) else _parse_day(str(raw))
            elif name in ("seq_from", "seq_to"):
                kwargs[name] = int(raw)
            else:
                kwargs[name] = str(raw).strip()
        return cls(**kwargs)

    def as_params(self) -> dict[str, str]:
        """The fields that filter, as strings (dates ISO): for URLs, event details and report headers."""
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None or v == "":
                continue
            out[f.name] = v.isoformat() if isinstance(v, date) else str(v)
        return out

    def without_dates(self) -> AuditFilters:
        return dataclasses.replace(self, date_from=None, date_to=None)


def _parse_day(text: str) -> date:
    day = parse_date(text.strip())
    if day is None:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}")
    return day


def _midnight(day: date) -> datetime:
    """The start of ``day`` in the current (instance) time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _role_q(role: str) -> Q:
    # The role column is the sorted, comma-separated list of the actor's roles, or its kind.
    return (
        Q(role=role)
        | Q(role__startswith=f"{role},")
        | Q(role__endswith=f",{role}")
        | Q(role__contains=f",{role},")
    )


def _kind_q(kind: str) -> Q:
    if kind.endswith("*"):
        return Q(kind__startswith=kind[:-1])
    family = kind if kind.endswith(".") else f"{kind}."
    return Q(kind=kind) | Q(kind__startswith=family)


def _ip_q(ip: str) -> Q:
    if ip.endswith("*"):
        return Q(source_ip__startswith=ip[:-1])
    if ip.endswith((".", ":")):
        return Q(source_ip__startswith=ip)
    return Q(source_ip=ip)


def _text_q(term: str) -> Q:
    """``term`` in the actor, object id, kind or detail. The detail is matched in its JSON text
    (``CAST(detail AS text)``): PostgreSQL prints jsonb with non-ASCII characters as they are, while
    Django stores JSON on SQLite with ``\\uXXXX`` escapes, so the term is also looked for as JSON
    writes it inside a string, with and without those escapes (which also finds quotes and
    backslashes: JSON escapes them on both engines)."""
    q = Q(actor__icontains=term) | Q(object_id__icontains=term) | Q(kind__icontains=term)
    forms = dict.fromkeys([term, json.dumps(term, ensure_ascii=False)[1:-1], json.dumps(term)[1:-1]])
    for form in forms:
        q |= Q(detail_text__icontains=form)
    return q


def _apply(qs: QuerySet[AuditEvent], f: AuditFilters, *, dates: bool = True) -> QuerySet[AuditEvent]:
    if dates and f.date_from is not None:
        qs = qs.filter(at__gte=_midnight(f.date_from))
    if dates and f.date_to is not None:
        qs = qs.filter(at__lt=_midnight(f.date_to + timedelta(days=1)))
    if f.seq_from is not None:
        qs = qs.filter(seq__gte=f.seq_from)
    if f.seq_to is not None:
        qs = qs.filter(seq__lte=f.seq_to)
    if f.actor:
        qs = qs.filter(actor=f.actor)
    if f.role:
        qs = qs.filter(_role_q(f.role))
    if f.kind:
        qs = qs.filter(_kind_q(f.kind))
    if f.object_type:
        qs = qs.filter(object_type=f.object_type)
    if f.object_id:
        qs = qs.filter(object_id=f.object_id)
    if f.outcome:
        qs = qs.filter(outcome=f.outcome)
    if f.source_ip:
        qs = qs.filter(_ip_q(f.source_ip))
    if f.q:
        qs = qs.annotate(detail_text=Cast("detail", TextField())).filter(_text_q(f.q))
    return qs


def search_events(
    actor: Actor, filters: AuditFilters | Mapping[str, Any] | None = None
) -> QuerySet[AuditEvent]:
    """The events ``filters`` select, newest first. Writes nothing (callers log the read)."""
    require(actor, Perm.READ_AUDIT)
    return _apply(AuditEvent.objects.all(), AuditFilters.of(filters)).order_by("-seq")


# ---------------------------------------------------------------------------------------------
# The list page


@dataclass(frozen=True)
class Bucket:
    """One bar of the activity chart: the events of a day (or a month) in the filtered range."""

    start: date
    end: date  # inclusive
    count: int
    label: str


@dataclass
class Activity:
    unit: str  # "day" | "month"
    start: date
    end: date
    buckets: list[Bucket] = field(default_factory=list)
    clipped: bool = False  # the range was longer than the chart shows (the oldest part left out)

    @property
    def total(self) -> int:
        return sum(b.count for b in self.buckets)


@dataclass
class EventList:
    page: Page[AuditEvent]
    activity: Activity
    filters: AuditFilters


def _head() -> tuple[int, str]:
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last else (0, auditchain.GENESIS)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _activity(f: AuditFilters) -> Activity:
    """Events per day (or month) in the filtered date range; without dates, the last 30 days."""
    today = timezone.localdate()
    end = f.date_to or max(today, f.date_from or today)
    start = f.date_from or end - timedelta(days=DEFAULT_CHART_DAYS - 1)
    if start > end:
        start, end = end, start
    unit, clipped = "day", False
    if (end - start).days + 1 > MAX_CHART_DAYS:
        unit = "month"
        first = _month_start(end)
        for _ in range(MAX_CHART_MONTHS - 1):
            first = _month_start(first - timedelta(days=1))
        if first > start:
            start, clipped = first, True
    qs = _apply(AuditEvent.objects.all(), f.without_dates())
    qs = qs.filter(at__gte=_midnight(start), at__lt=_midnight(end + timedelta(days=1)))
    trunc = TruncDate("at") if unit == "day" else TruncMonth("at")
    counts: dict[date, int] = {}
    for bucket, n in (
        qs.order_by().annotate(b=trunc).values("b").annotate(n=Count("id")).values_list("b", "n")
    ):
        key = bucket.date() if isinstance(bucket, datetime) else bucket
        counts[key] = counts.get(key, 0) + n
    buckets: list[Bucket] = []
    if unit == "day":
        day = start
        while day <= end:
            buckets.append(Bucket(day, day, counts.get(day, 0), f"{day:%m-%d}"))
            day += timedelta(days=1)
    else:
        month = _month_start(start)
        while month <= end:
            last = _next_month(month) - timedelta(days=1)
            buckets.append(Bucket(max(month, start), min(last, end), counts.get(month, 0), f"{month:%Y-%m}"))
            month = _next_month(month)
    return Activity(unit=unit, start=start, end=end, buckets=buckets, clipped=clipped)


def read_events(
    actor: Actor,
    filters: AuditFilters | Mapping[str, Any] | None = None,
    *,
    page: int | str | None = 1,
    per_page: int = PAGE_SIZE,
) -> EventList:
    """One page of the selected events (newest first) and the activity chart of the selection;
    appends one ``audit.read`` event (after reading, so a failure to log it fails the request)."""
    f = AuditFilters.of(filters)
    qs = search_events(actor, f)
    result = Paginator(qs, per_page).get_page(page)
    result.object_list = list(result.object_list)  # read now: the event records a read that happened
    activity = _activity(f)
    events.audit_read(actor, filters=f.as_params(), count=result.paginator.count, page=result.number)
    return EventList(page=result, activity=activity, filters=f)


# ---------------------------------------------------------------------------------------------
# Exports


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def local_iso(at: datetime) -> str:
    """``at`` in the instance's time zone (default Asia/Shanghai), ISO 8601 with its offset."""
    return timezone.localtime(at).isoformat(timespec="microseconds")


def _csv_rows(qs: QuerySet[AuditEvent]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")  # the BOM: Excel then reads the file as UTF-8
    buf.seek(0)
    buf.truncate()
    fields = ("seq", "at", "actor", "role", "kind", "object_type", "object_id", "outcome", "source_ip",
              "detail", "hash")  # fmt: skip
    rows = qs.values_list(*fields).iterator(chunk_size=2000)
    for n, (seq, at, who, role, kind, otype, oid, outcome, ip, detail, digest) in enumerate(rows, 1):
        writer.writerow(
            [
                seq, local_iso(at), _text(who), _text(role), _text(kind), _text(otype), _text(oid),
                _text(outcome), _text(ip), _text(auditchain.canonical_json(detail)), digest,
            ]
        )  # fmt: skip
        if n % CSV_CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def _export_selection(actor: Actor, f: AuditFilters) -> tuple[QuerySet[AuditEvent], int, str]:
    """The selected events up to the current chain head, in chain order, and that head."""
    qs = search_events(actor, f)
    head_seq, head_hash = _head()
    return qs.filter(seq__lte=head_seq).order_by("seq"), head_seq, head_hash


def export_csv(actor: Actor, filters: AuditFilters | Mapping[str, Any] | None = None) -> Iterator[bytes]:
    """The selected events as CSV (UTF-8 with BOM, in chain order), streamed in chunks.

    Columns: ``CSV_COLUMNS``; the time in the instance's time zone with its offset, the detail as
    canonical JSON (sorted keys, Chinese as is). The ``audit.exported`` event is appended before the
    first byte is returned (permission errors are raised here, not while streaming)."""
    f = AuditFilters.of(filters)
    qs, head_seq, head_hash = _export_selection(actor, f)
    rows = qs.count()
    events.audit_exported(
        actor, fmt="csv", filters=f.as_params(), rows=rows, head_seq=head_seq, head_hash=head_hash
    )
    return _csv_rows(qs)


def export_pdf(
    actor: Actor,
    filters: AuditFilters | Mapping[str, Any] | None = None,
    *,
    lang: str = "zh-hans",
    limit: int = MAX_PDF_ROWS,
) -> bytes:
    """The selected events as a landscape A4 PDF (CJK font embedded), in chain order, at most
    ``limit`` rows (the PDF says so when there are more: use the CSV). Its header names the filter,
    the number of events, the chain head at export time and the result of verifying the chain now."""
    from dangan.audit.pdf import render_events_pdf

    f = AuditFilters.of(filters)
    qs, head_seq, head_hash = _export_selection(actor, f)
    report = chain.verify()
    total = qs.count()
    rows = list(qs[:limit])
    data = render_events_pdf(
        rows, total=total, filters=f, head_seq=head_seq, head_hash=head_hash, report=report, lang=lang,
        generated_at=timezone.now(), exported_by=actor.name,
    )  # fmt: skip
    first = report.first
    events.audit_exported(
        actor, fmt="pdf", filters=f.as_params(), rows=len(rows), head_seq=head_seq, head_hash=head_hash,
        matched=total, intact=report.intact, first_bad=first.as_dict() if first else None,
    )  # fmt: skip
    return data


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass(frozen=True)
class CheckpointInfo:
    seq: int
    at: datetime
    head_hash: str
    signer_fingerprint: str
    signature_ok: bool


@dataclass(frozen=True)
class ChainStatus:
    intact: bool
    events: int  # events read by the verifier (up to the first fault)
    checkpoints: int
    last_seq: int  # the last good position
    head_hash: str  # the hash at last_seq
    head_seq: int  # the last stored event when the verification started
    first_bad: Fault | None
    faults: list[Fault]
    last_checkpoint: CheckpointInfo | None
    seconds: float

    @property
    def uncovered(self) -> int:
        """Events after the last signed checkpoint (protected only against changes in the middle)."""
        return max(0, self.head_seq - (self.last_checkpoint.seq if self.last_checkpoint else 0))


def chain_status(actor: Actor) -> ChainStatus:
    """Recompute the hash chain and check the signed checkpoints (``dangan audit verify``); appends
    ``audit.verified`` (outcome ``failure`` when the chain is not intact)."""
    require(actor, Perm.READ_AUDIT)
    head_seq, _ = _head()
    started = _time.monotonic()
    report = chain.verify()
    seconds = round(_time.monotonic() - started, 3)
    faults = sorted(report.faults, key=lambda x: x.position)
    cp = AuditCheckpoint.objects.order_by("-seq").first()
    last_cp = None
    if cp is not None:
        bad = any(x.kind == auditchain.BAD_SIGNATURE and x.position == cp.seq for x in faults)
        last_cp = CheckpointInfo(cp.seq, cp.at, cp.head_hash, cp.signer_fingerprint, not bad)
    status = ChainStatus(
        intact=report.intact, events=report.events, checkpoints=report.checkpoints, last_seq=report.last_seq,
        head_hash=report.head_hash, head_seq=head_seq, first_bad=report.first, faults=faults,
        last_checkpoint=last_cp, seconds=seconds,
    )  # fmt: skip
    events.audit_verified(
        actor, intact=status.intact, events=status.events, checkpoints=status.checkpoints,
        last_seq=status.last_seq, head_hash=status.head_hash,
        first_bad=status.first_bad.as_dict() if status.first_bad else None, milliseconds=int(seconds * 1000),
    )  # fmt: skip
    return status
