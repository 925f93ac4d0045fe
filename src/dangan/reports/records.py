"""Reports of stored records: a record's check report, and the 归档登记表 of a set of records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.core.package import schema
from dangan.reports.registration import (
    AV_FORMATS,
    DEFAULT_CATEGORY,
    RecordSummary,
    RegistrationInput,
    durations_from_report,
)


def record_reports(record: Record) -> list[dict[str, Any]]:
    """The check reports of a record, as ``render_html``/``render_pdf`` take them."""
    return [record.check_report] if record.check_report else []


def record_ref(record: Record) -> str:
    return record.archival_code or record.file_number


def report_filename(record: Record, ext: str) -> str:
    """``四性检测报告-<档号 or 电子文件号>.<ext>`` (slashes and the like replaced)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_·." else "_" for ch in record_ref(record))
    return f"四性检测报告-{safe}.{ext}"


def record_summary(record: Record) -> RecordSummary:
    files = [f for f in record.files.all() if f.path != schema.METADATA_FILENAME]
    formats = [(f.format or "").upper() for f in files]
    av_paths = [f.path for f in files if (f.format or "").upper() in AV_FORMATS]
    durations = durations_from_report(record.check_report)
    known = [durations[p] for p in av_paths if p in durations]
    return RecordSummary(
        ref=record_ref(record),
        title=record.title,
        file_count=record.file_count,
        byte_total=record.byte_total,
        formats=formats,
        av_seconds=sum(known) if len(known) == len(av_paths) else None,
        report=record.check_report or {},
    )


def archived_records(
    *, fonds: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> QuerySet[Record]:
    """Records of the formal library confirmed between ``date_from`` and ``date_to`` (inclusive, in
    the instance's time zone), optionally of one fonds (全宗号), in 档号 order."""
    qs = Record.objects.filter(status=RecordStatus.ARCHIVED).select_related("fonds")
    if fonds:
        qs = qs.filter(fonds__code=fonds)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(archived_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        qs = qs.filter(archived_at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz))
    return qs.order_by("archival_code", "id").prefetch_related("files")


def _local_date(value: datetime | None) -> date | None:
    return timezone.localtime(value).date() if value is not None else None


def registration_input(
    records: Iterable[Record],
    *,
    unit_name: str | None = None,
    category: str = DEFAULT_CATEGORY,
    method: str = "online",
    archived_from: date | None = None,
    archived_to: date | None = None,
    notes: str = "",
) -> RegistrationInput:
    """The 归档登记表 input for ``records``. Defaults: the unit is the records' fonds-forming
    unit(s) (立档单位), the period runs from the first to the last confirmation (or, before
    confirmation, reception) among them. Records are taken online (API or CLI)."""
    rows = list(records)
    units = list(dict.fromkeys(r.fonds.name for r in rows if r.fonds_id))
    days = [d for r in rows for d in [_local_date(r.archived_at or r.created_at)] if d is not None]
    return RegistrationInput(
        unit_name=unit_name if unit_name is not None else "、".join(units),
        records=[record_summary(r) for r in rows],
        archived_from=archived_from or (min(days) if days else None),
        archived_to=archived_to or (max(days) if days else None),
        category=category,
        method=method,
        notes=notes,
    )
