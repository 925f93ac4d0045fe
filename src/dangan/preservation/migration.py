"""Format migration (格式迁移) of archived records: office documents → PDF/A-2b, originals kept.

For every content file of an archived record that is an office document *by its content* (DOC, DOCX,
XLS, XLSX; Kingsoft WPS/ET files are identified as DOC/XLS) and has no derived PDF/A yet, the file is
converted (``dangan.core.migration``: LibreOffice headless, Ghostscript as normaliser) and checked by
the PDF validator. All files of one record that converted go into ONE new AIP version of kind
``migration`` (``archive.services.migrate``): the originals unchanged, each derived file beside its
original (``<path>.pdf``, same category and material code), the link original → derived (paths and
SM3 digests, tools, validator result) in the version's change log and its archival description
(``格式迁移``). In the same transaction: a MIGRATION preservation event per derived file and the audit
event ``record.migrated``.

Permission: ``records.correct`` (Perm.CORRECT) — a new AIP version is a change the records officer
makes, like a correction; verifying alone is not enough to write one.

Idempotent: an original whose (path, SM3) already has a derived file in an earlier migration version
is skipped, so a second run adds nothing. Tools absent: no version, a "not run" result with the reason
and one preservation event (outcome warning) per record that has office files waiting.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from dangan.accounts.roles import Actor, Perm, require
from dangan.archive.models import Aip, Record, RecordFile
from dangan.archive.states import RecordStatus, VersionKind
from dangan.core import migration as core
from dangan.core.errors import DanganError
from dangan.core.formats.identify import identify
from dangan.preservation.events import record_event
from dangan.preservation.models import EventType, Outcome
from dangan.storage.blobstore import default_store

REASON = (
    "格式迁移：办公文档转换为 PDF/A-2b 长期保存格式，原件保留 (format migration to PDF/A-2b; originals kept)"
)


@dataclass
class FileResult:
    path: str
    sm3: str
    format: str
    status: str  # converted | not_run | failed
    reason: str = ""
    derived_path: str = ""
    derived_sm3: str = ""
    seconds: float = 0.0
    validation: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RecordResult:
    record_id: int
    archival_code: str
    status: str  # migrated | nothing_to_do | not_run | failed | partial
    reason: str = ""
    version: int | None = None
    agent: str = ""
    files: list[FileResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def migrated_sources(record: Record) -> set[tuple[str, str]]:
    """(path, sm3) of every original that already has a derived file in a migration version."""
    done: set[tuple[str, str]] = set()
    for changes in record.aips.filter(kind=VersionKind.MIGRATION).values_list("changes", flat=True):
        for d in (changes or {}).get("migrated", []):
            done.add((d.get("source", ""), d.get("source_sm3", "")))
    return done


def office_files(record: Record, work: Path) -> list[tuple[RecordFile, str, Path]]:
    """The record's content files that are office documents by content and not migrated yet:
    ``(row, identified format, local path)`` — the path is the blob itself or a copy in ``work``."""
    store = default_store()
    done = migrated_sources(record)
    out = []
    for f in RecordFile.objects.filter(record=record).order_by("path"):
        if (f.path, f.sm3) in done or ("/" not in f.path and f.path.lower().endswith(".xml")):
            continue
        local = _local(store, f.sm3, work)
        fmt = identify(local)
        if core.is_office(fmt.name) and not fmt.encrypted:
            out.append((f, fmt.name, local))
    return out


def _local(store: Any, sm3: str, work: Path) -> Path:
    path = getattr(store, "path", None)
    if callable(path):
        p = Path(path(sm3))
        if p.is_file():
            return p
    work.mkdir(parents=True, exist_ok=True)
    target = work / f"blob-{sm3}"
    with store.open(sm3) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


def migrate_record(actor: Actor, record_id: int, *, tools: core.Toolset | None = None) -> RecordResult:
    """Migrate one archived record's office files (see the module docstring)."""
    require(actor, Perm.CORRECT)
    from dangan.archive import services

    record = Record.objects.select_related("fonds", "service_item").filter(pk=record_id).first()
    if record is None:
        raise services.RecordNotFound(f"no record with id {record_id}")
    services.check_record_scope(actor, Perm.CORRECT, record)
    code = record.archival_code or record.file_number
    if record.status != RecordStatus.ARCHIVED:
        raise DanganError(
            f"{code} is not archived ({record.status}): format migration adds AIP versions to archived records",
            code="NOT_ARCHIVED",
            target=str(record.pk),
        )
    tools = tools if tools is not None else core.find_tools()
    result = RecordResult(record.pk, code, "nothing_to_do", agent=tools.agent())
    work = Path(settings.QUARANTINE_DIR) / f"migration-{uuid.uuid4().hex}"
    try:
        todo = office_files(record, work / "blobs")
        if not todo:
            result.reason = "no office documents without a derived PDF/A"
            return result
        missing = tools.missing()
        if missing:
            result.status, result.reason = "not_run", missing
            result.files = [FileResult(f.path, f.sm3, fmt, "not_run", missing) for f, fmt, _ in todo]
            record_event(
                EventType.MIGRATION, agent=f"{actor.name} (no conversion tools)", outcome=Outcome.WARNING,
                record_id=record.pk, status="not_run", reason=missing,
                sources=[{"path": f.path, "sm3": f.sm3, "format": fmt} for f, fmt, _ in todo],
            )  # fmt: skip
            return result
        uploads = []
        for i, (f, fmt, local) in enumerate(todo):
            conv = core.convert(local, fmt, work / f"convert-{i}", tools=tools)
            fr = FileResult(
                f.path, f.sm3, fmt, conv.status, conv.reason, seconds=conv.seconds,
                validation=conv.validation, steps=[asdict(s) for s in conv.steps],
            )  # fmt: skip
            result.files.append(fr)
            if conv.converted and conv.output is not None:
                note = {
                    "format": fmt, "target": core.TARGET, "agent": conv.agent, "tools": conv.tools,
                    "seconds": conv.seconds, "validation": conv.validation,
                }  # fmt: skip
                uploads.append(
                    services.Upload(
                        filename=Path(f.path).name + ".pdf",
                        stream=open(conv.output, "rb"),  # noqa: SIM115
                        derived_from=f.path,
                        note=note,
                    )
                )
        failed = [fr for fr in result.files if fr.status != "converted"]
        for fr in failed:
            record_event(
                EventType.MIGRATION, agent=f"{actor.name} ({tools.agent()})", outcome=Outcome.FAILURE,
                record_id=record.pk, blob_sm3=fr.sm3, status=fr.status, reason=fr.reason,
                source={"path": fr.path, "sm3": fr.sm3, "format": fr.format}, validation=fr.validation,
            )  # fmt: skip
        if not uploads:
            result.status = "failed"
            result.reason = "; ".join(f"{fr.path}: {fr.reason}" for fr in failed)
            return result
        try:
            aip = services.migrate(
                actor, record.pk, derived=uploads, reason=REASON, after_write=_events(actor, tools)
            )
        finally:
            for up in uploads:
                up.stream.close()  # type: ignore[attr-defined]
        result.version = aip.version
        result.status = "partial" if failed else "migrated"
        result.reason = "; ".join(f"{fr.path}: {fr.reason}" for fr in failed)
        by_source = {d["source"]: d for d in aip.changes.get("migrated", [])}
        for fr in result.files:
            d = by_source.get(fr.path)
            if d is not None:
                fr.derived_path, fr.derived_sm3 = d["path"], d["sm3"]
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _events(actor: Actor, tools: core.Toolset) -> Callable[[Record, Aip], None]:
    """One MIGRATION preservation event per derived file, inside the new version's transaction."""

    def write(record: Record, aip: Aip) -> None:
        for d in aip.changes.get("migrated", []):
            record_event(
                EventType.MIGRATION, agent=f"{actor.name} ({d.get('agent') or tools.agent()})",
                outcome=Outcome.SUCCESS, record_id=record.pk, aip_id=aip.pk, blob_sm3=d["sm3"],
                location="primary", version=aip.version, target=d.get("target", core.TARGET),
                source={"path": d["source"], "sm3": d["source_sm3"], "format": d.get("format", "")},
                derived={"path": d["path"], "sm3": d["sm3"]}, validation=d.get("validation", {}),
                seconds=d.get("seconds"),
            )  # fmt: skip

    return write


def migrate_all(
    actor: Actor,
    *,
    archival_codes: Iterable[str] | None = None,
    tools: core.Toolset | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RecordResult]:
    """Migrate every archived record the actor may correct (or those with the given 档号)."""
    require(actor, Perm.CORRECT)
    from dangan.accounts.roles import scoped

    records = scoped(Record.objects.filter(status=RecordStatus.ARCHIVED), actor, Perm.CORRECT)
    codes = list(archival_codes or [])
    if codes:
        records = records.filter(archival_code__in=codes)
        found = set(records.values_list("archival_code", flat=True))
        unknown = [c for c in codes if c not in found]
        if unknown:
            raise DanganError(
                f"no archived record with 档号 {', '.join(unknown)}",
                code="RECORD_NOT_FOUND",
                target=unknown[0],
            )
    ids = list(records.order_by("id").values_list("id", flat=True))
    tools = tools if tools is not None else core.find_tools()
    results = []
    for i, record_id in enumerate(ids):
        try:
            results.append(migrate_record(actor, record_id, tools=tools))
        except DanganError as exc:
            code = Record.objects.filter(pk=record_id).values_list("archival_code", flat=True).first() or ""
            results.append(RecordResult(record_id, code, "failed", f"{exc.code}: {exc.message}"))
        if progress is not None:
            progress(i + 1, len(ids))
    return results
