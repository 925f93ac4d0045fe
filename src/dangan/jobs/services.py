"""Bulk work as background jobs with progress (批量处理): confirm, re-classify or export many records.

``start_bulk_*`` check the actor's permission, write the Job row and its ``job.started`` event, and
hand the job to ``dangan.jobs.submit`` (inline in tests and inside ``jobs.inline()`` in the CLI; the
in-process pool under ``dangan serve``). ``run_job`` then processes the records in order, each in its
own transaction through the record services, which check permissions again and write the per-record
events. The job's progress moves in the same transaction as the item's change, so a job resumed after
a restart neither repeats nor skips a confirmation. A failing item is counted and listed (the first
``MAX_ERRORS``); the others go on. ``job.finished`` is written when the job ends, whatever the outcome.

Re-classification is for pre-archived cases only: an archived record's 档号 holds its class code, and
neither the 档号 nor an AIP ever changes (``archive.services.reclassify``).

An export writes one ZIP under ``DANGAN_HOME/exports/jobs/<id>/``: per record, the file its record
page offers (``<档号>-v<N>.zip``, the AIP's BagIt bag) or its EEP (``<档号>.xml``, DA/T 48), and a
``manifest.json`` (SM3 and size of each, and the records that failed). Each record's file is written
to a staging file first, so a record that fails leaves nothing half-written in the ZIP. Only the job's
creator may download it. An export interrupted by a restart starts again from the first record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dangan.accounts.roles import Actor, Perm, PermissionDenied, require
from dangan.audit import events
from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.core.fsutil import fsync_dir
from dangan.core.states import InvalidTransition
from dangan.jobs import runs_inline, submit
from dangan.jobs.models import Job
from dangan.jobs.states import JOB, KIND_PERMS, OWNER, JobKind, JobStatus

log = logging.getLogger(__name__)

MAX_ITEMS = 10_000  # records per job (the web pages select at most SELECT_LIMIT)
SELECT_LIMIT = 1_000  # "select all matching" in the web UI
MAX_ERRORS = 200  # failures listed on a job (all are counted)
EXPORT_FORMATS = ("aip-zip", "eep")
MANIFEST = "manifest.json"


class JobNotFound(DanganError):
    code = "JOB_NOT_FOUND"


@dataclass(frozen=True)
class JobProgress:
    """What a watcher (the CLI's progress bar) is told after each item."""

    job_id: int
    total: int
    processed: int
    done: int
    failed: int


_watchers: list[Callable[[JobProgress], None]] = []
_watchers_lock = threading.Lock()


@contextlib.contextmanager
def watch(callback: Callable[[JobProgress], None]) -> Iterator[None]:
    """Call ``callback`` after each item of any job this process runs inside the block."""
    with _watchers_lock:
        _watchers.append(callback)
    try:
        yield
    finally:
        with _watchers_lock:
            _watchers.remove(callback)


def _notify(progress: JobProgress) -> None:
    with _watchers_lock:
        watchers = list(_watchers)
    for callback in watchers:
        callback(progress)


# ---------------------------------------------------------------------------------------------
# Who a job acts as


def _snapshot(actor: Actor) -> dict[str, Any]:
    return {
        "name": actor.name,
        "kind": actor.kind,
        "user_id": actor.user_id,
        # perm → fonds ids (None: all fonds), so a system-run job keeps exactly its scope
        "scopes": {p.value: (None if f is None else sorted(f)) for p, f in actor.scopes.items()},
        "ip": actor.ip,
    }


def actor_of(job: Job) -> Actor:
    """The actor a job runs as: its creator, with the roles the creator has now (a user) or had (the
    CLI operator, a rule). A deactivated or deleted user has no permissions: the items then fail."""
    snap = job.actor or {}
    user_id = snap.get("user_id")
    if user_id:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is not None:
            return Actor.from_user(user, snap.get("ip", ""))
        return Actor(name=job.created_by, kind="user", user_id=user_id)
    scopes: dict[Perm, frozenset[int] | None] = {
        Perm(p): None for p in snap.get("perms", []) if p in Perm._value2member_map_
    }  # jobs saved before fonds scopes existed
    for p, fonds in (snap.get("scopes") or {}).items():
        if p in Perm._value2member_map_:
            scopes[Perm(p)] = None if fonds is None else frozenset(fonds)
    return Actor(name=snap.get("name") or job.created_by, kind=snap.get("kind", "system"), scopes=scopes)


def is_creator(actor: Actor, job: Job) -> bool:
    snap = job.actor or {}
    if snap.get("user_id"):
        return bool(actor.user_id == snap["user_id"])
    return actor.user_id is None and actor.kind == snap.get("kind") and actor.name == job.created_by


def can_view(actor: Actor, job: Job) -> bool:
    """The creator, and whoever may see the records of every fonds (a job page shows record numbers
    and errors, possibly of any fonds)."""
    return is_creator(actor, job) or (
        actor.can(Perm.VIEW_RECORDS) and actor.fonds_ids(Perm.VIEW_RECORDS) is None
    )


def _require_owner(actor: Actor, job: Job) -> None:
    perm = KIND_PERMS[JobKind(job.kind)]
    require(actor, perm)
    if not is_creator(actor, job):
        raise PermissionDenied(actor, perm)


# ---------------------------------------------------------------------------------------------
# Starting


def _clean_ids(record_ids: Iterable[Any]) -> list[int]:
    ids: dict[int, None] = {}
    for value in record_ids:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise DanganError(f"{value!r} is not a record id", code="BAD_RECORD_ID", target="ids") from None
        if number <= 0:
            raise DanganError(f"{value!r} is not a record id", code="BAD_RECORD_ID", target="ids")
        ids[number] = None
    if not ids:
        raise DanganError("select at least one record", code="NO_RECORDS", target="ids")
    if len(ids) > MAX_ITEMS:
        raise DanganError(
            f"{len(ids)} records selected; a job takes at most {MAX_ITEMS}: start several",
            code="TOO_MANY_RECORDS",
            target="ids",
        )
    return list(ids)


def _start(actor: Actor, kind: JobKind, record_ids: Iterable[Any], params: dict[str, Any]) -> Job:
    require(actor, KIND_PERMS[kind])
    ids = _clean_ids(record_ids)
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            status=JobStatus.QUEUED,
            created_by=actor.name,
            created_by_user_id=actor.user_id,
            actor=_snapshot(actor),
            params=params,
            items=ids,
            total=len(ids),
        )
        events.job_started(actor, job.pk, kind=kind.value, total=len(ids), params=params)
    _submit(job.pk)
    job.refresh_from_db()
    return job


def _submit(job_id: int) -> None:
    if runs_inline():
        submit(run_job, job_id)
    else:  # the pool's thread must see the committed row
        transaction.on_commit(lambda: submit(run_job, job_id))


def start_bulk_confirm(actor: Actor, record_ids: Iterable[Any]) -> Job:
    """Confirm pre-archived cases (assign 档号, seal the AIP) as one job. A case filed with a gap
    (容缺) needs the officer's reason on its record page: in a bulk job it fails with REASON_REQUIRED."""
    return _start(actor, JobKind.BULK_CONFIRM, record_ids, {})


def start_bulk_reclassify(actor: Actor, record_ids: Iterable[Any], class_code: str) -> Job:
    """Put pre-archived cases into the class ``class_code`` of their fonds' classification scheme."""
    from dangan.catalog.models import ArchiveClass

    code = (class_code or "").strip()
    require(actor, Perm.RECLASSIFY)
    if not code or not ArchiveClass.objects.filter(code=code).exists():
        raise DanganError(
            f"no class {code!r} in any classification scheme", code="UNKNOWN_CLASS", target="class_code"
        )
    return _start(actor, JobKind.BULK_RECLASSIFY, record_ids, {"class_code": code})


def start_bulk_export(actor: Actor, record_ids: Iterable[Any], *, format: str = "aip-zip") -> Job:
    """Export archived records into one ZIP: their current AIPs (``aip-zip``) or EEPs (``eep``)."""
    if format not in EXPORT_FORMATS:
        raise DanganError(
            f"export format {format!r}: use one of {', '.join(EXPORT_FORMATS)}",
            code="BAD_FORMAT",
            target="format",
        )
    return _start(actor, JobKind.BULK_EXPORT, record_ids, {"format": format})


# ---------------------------------------------------------------------------------------------
# Running


class _Superseded(Exception):
    """The job is no longer this runner's (cancelled, marked failed by a restart, resumed elsewhere)."""


class _Handler(Protocol):
    # Whether the item's work runs inside the item's transaction (a state change: confirm, re-classify).
    # An export only reads; its services audit each read themselves, and on SQLite a transaction
    # held while an AIP streams would make every other writer wait.
    transactional: bool

    def item(self, record_id: int) -> None: ...

    def close(self, job: Job) -> dict[str, Any]: ...

    def discard(self) -> None: ...


class _Confirm:
    transactional = True

    def __init__(self, job: Job, actor: Actor) -> None:
        self.actor, self.rule = actor, f"bulk job {job.pk}"

    def item(self, record_id: int) -> None:
        from dangan.archive import services as archive

        archive.confirm(self.actor, record_id, rule=self.rule)

    def close(self, job: Job) -> dict[str, Any]:
        return {}

    def discard(self) -> None:
        return None


class _Reclassify(_Confirm):
    def __init__(self, job: Job, actor: Actor) -> None:
        super().__init__(job, actor)
        self.class_code = str(job.params.get("class_code", ""))

    def item(self, record_id: int) -> None:
        from dangan.archive import services as archive

        archive.reclassify(self.actor, record_id, class_code=self.class_code)


def result_dir(job: Job) -> Path:
    return Path(settings.EXPORT_DIR) / "jobs" / str(job.pk)


def _safe_name(text: str) -> str:
    return "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in text) or "record"


class _ExportFailed(Exception):
    """Writing the job's ZIP itself failed (disk full, …): the job fails, not just the item."""


class _Export:
    """One ZIP for the whole job; each record's file is staged first and then copied in."""

    transactional = False

    def __init__(self, job: Job, actor: Actor) -> None:
        self.actor = actor
        self.format = str(job.params.get("format", "aip-zip"))
        self.folder = result_dir(job)
        for folder in (self.folder.parent.parent, self.folder.parent, self.folder):  # exports/, jobs/, <id>/
            folder.mkdir(exist_ok=True, mode=0o700)  # exports hold personal data
        kind = "aip" if self.format == "aip-zip" else "eep"
        self.name = f"dangan-job{job.pk}-{kind}.zip"
        self.partial = self.folder / f".{self.name}.partial"
        self.partial.unlink(missing_ok=True)
        self.zip = zipfile.ZipFile(self.partial, "x", allowZip64=True)  # closed in close() or discard()
        self.entries: list[dict[str, Any]] = []
        self.job = job

    def item(self, record_id: int) -> None:
        from dangan.archive import services as archive
        from dangan.archive.eep import export_eep
        from dangan.archive.models import Record

        record = Record.objects.select_related("fonds").filter(pk=record_id).first()
        if record is None:
            raise archive.RecordNotFound(f"no record with id {record_id}")
        staged = self.folder / f".item-{record_id}-{secrets.token_hex(4)}"
        try:
            if self.format == "aip-zip":
                current = archive.latest_aip(record)
                if current is None:
                    raise DanganError(
                        f"{record.file_number} is not archived ({record.status}): it has no AIP to export",
                        code="NOT_ARCHIVED",
                        target=str(record.pk),
                    )
                with open(staged, "xb") as out:
                    aip = archive.write_aip_zip(self.actor, record.pk, current.version, out)
                arcname = f"{archive.aip_zip_name(record, aip)}.zip"
                version = aip.version
            else:
                if not record.archival_code:
                    raise DanganError(
                        f"{record.file_number} is not archived ({record.status}): it has no EEP to export",
                        code="NOT_ARCHIVED",
                        target=str(record.pk),
                    )
                exported = export_eep(self.actor, record.archival_code, staged)
                arcname = f"{_safe_name(record.archival_code)}.xml"
                version = exported.aip_version
            try:
                digest = self._append(staged, arcname, compress=self.format != "aip-zip")
            except OSError as exc:
                raise _ExportFailed(f"writing {self.name} failed: {exc}") from exc
        finally:
            staged.unlink(missing_ok=True)
        self.entries.append(
            {"name": arcname, "sm3": digest.sm3, "size": digest.size, "record_id": record.pk,
             "archival_code": record.archival_code or "", "aip_version": version}
        )  # fmt: skip

    def _append(self, source: Path, arcname: str, *, compress: bool) -> sm.StreamDigest:
        now = timezone.localtime()
        info = zipfile.ZipInfo(
            arcname, date_time=(now.year, now.month, now.day, now.hour, now.minute, now.second)
        )
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        hasher = sm.DualHasher()
        size = source.stat().st_size
        with source.open("rb") as src, self.zip.open(info, "w", force_zip64=size > 2**31) as dst:
            while block := src.read(1024 * 1024):
                hasher.update(block)
                dst.write(block)
        return hasher.result()

    def close(self, job: Job) -> dict[str, Any]:
        if not self.entries:
            self.discard()
            return {}
        manifest = {
            "job": job.pk,
            "format": self.format,
            "created_by": job.created_by,
            "exported_at": timezone.localtime().isoformat(timespec="seconds"),
            "files": self.entries,
            "failed": job.errors,
            "failed_count": job.failed,
        }
        self.zip.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode())
        self.zip.close()
        with self.partial.open("rb") as f:
            os.fsync(f.fileno())
        final = self.folder / self.name
        os.replace(self.partial, final)
        fsync_dir(self.folder)
        return {
            "result_file": str(final.relative_to(Path(settings.EXPORT_DIR))),
            "result_name": self.name,
            "result_size": final.stat().st_size,
            "result_sm3": sm.sm3_file(str(final)),
        }

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.zip.close()
        self.partial.unlink(missing_ok=True)


HANDLERS: dict[JobKind, Callable[[Job, Actor], _Handler]] = {
    JobKind.BULK_CONFIRM: _Confirm,
    JobKind.BULK_RECLASSIFY: _Reclassify,
    JobKind.BULK_EXPORT: _Export,
}


def _begin(job_id: int) -> tuple[Job, str] | None:
    """QUEUED → RUNNING under a row lock; None if the job is not queued (cancelled meanwhile, or
    another runner took it)."""
    token = secrets.token_hex(16)
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.QUEUED:
            return None
        JOB.transition(JobStatus(job.status), JobStatus.RUNNING)
        now = timezone.now()
        job.status = JobStatus.RUNNING
        job.run_token = token
        job.started_at = job.started_at or now
        job.updated_at = now
        fields = ["status", "run_token", "started_at", "updated_at"]
        if job.kind == JobKind.BULK_EXPORT and job.position:  # the partial ZIP is gone: start again
            job.position, job.done, job.failed, job.errors = 0, 0, 0, []
            fields += ["position", "done", "failed", "errors"]
        job.save(update_fields=fields)
    return job, token


def _record_ref(record_id: int) -> str:
    from dangan.archive.models import Record

    row = Record.objects.filter(pk=record_id).values_list("archival_code", "file_number").first()
    return (row[0] or row[1]) if row else str(record_id)


def _error(record_id: int, exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, DanganError):
        code, message = exc.code, exc.message
    elif isinstance(exc, PermissionDenied):
        code, message = exc.code, str(exc)
    else:
        code, message = "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"
    return {"id": record_id, "ref": _record_ref(record_id), "code": code, "message": message[:1000]}


def _advance(mine: QuerySet[Job], job: Job, index: int) -> None:
    """Item ``index`` is done: save the progress (only while the job is still this runner's)."""
    if not mine.update(position=index + 1, done=job.done + 1, updated_at=timezone.now()):
        raise _Superseded
    job.position, job.done = index + 1, job.done + 1


def run_job(job_id: int) -> None:
    """Process a queued job's remaining items (what ``submit`` runs)."""
    started = _begin(job_id)
    if started is None:
        return
    job, token = started
    actor = actor_of(job)
    handler: _Handler | None = None
    mine = Job.objects.filter(pk=job.pk, run_token=token, status=JobStatus.RUNNING)
    try:
        handler = HANDLERS[JobKind(job.kind)](job, actor)
        for index in range(job.position, job.total):
            state = mine.values_list("cancel_requested", flat=True).first()
            if state is None:
                raise _Superseded
            if state:
                handler.discard()
                _finish(job, token, JobStatus.CANCELLED, actor)
                return
            record_id = int(job.items[index])
            try:
                if handler.transactional:  # the progress moves in the item's own transaction
                    with transaction.atomic():
                        handler.item(record_id)
                        _advance(mine, job, index)
                else:
                    handler.item(record_id)
                    _advance(mine, job, index)
            except (_Superseded, _ExportFailed):
                raise
            except Exception as exc:
                if not isinstance(exc, DanganError | PermissionDenied):
                    log.exception("job %s: record %s failed", job.pk, record_id)
                job.position, job.failed = index + 1, job.failed + 1
                if len(job.errors) < MAX_ERRORS:
                    job.errors = [*job.errors, _error(record_id, exc)]
                updated = mine.update(
                    position=job.position, failed=job.failed, errors=job.errors, updated_at=timezone.now()
                )
                if not updated:
                    raise _Superseded from None
            _notify(JobProgress(job.pk, job.total, job.position, job.done, job.failed))
        result = handler.close(job)
        _finish(job, token, JobStatus.DONE, actor, result=result)
    except _Superseded:
        if handler is not None:
            handler.discard()
        log.warning("job %s was changed by someone else while it ran; this runner stops", job.pk)
    except Exception as exc:
        log.exception("job %s failed", job.pk)
        if handler is not None:
            handler.discard()
        message = exc.message if isinstance(exc, DanganError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(_Superseded):
            _finish(job, token, JobStatus.FAILED, actor, message=message)


def _finish(
    job: Job,
    token: str,
    status: JobStatus,
    actor: Actor | None,
    *,
    message: str = "",
    result: dict[str, Any] | None = None,
) -> None:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.run_token != token or locked.status != JobStatus.RUNNING:
            raise _Superseded
        JOB.transition(JobStatus.RUNNING, status)
        now = timezone.now()
        locked.status = status
        locked.finished_at = locked.updated_at = now
        locked.message = message[:2000]
        for name, value in (result or {}).items():
            setattr(locked, name, value)
        locked.save()
        _finished_event(locked, actor)
    job.status = status


def _finished_event(job: Job, actor: Actor | None) -> None:
    events.job_finished(
        actor, job.pk, kind=job.kind, status=job.status, total=job.total, done=job.done, failed=job.failed,
        message=job.message, result=job.result_name, result_sm3=job.result_sm3,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Cancelling, resuming, restarts, results


def get_job(actor: Actor, job_id: int) -> Job:
    """A job the actor may see (its creator, or someone who may see records)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise JobNotFound(f"no job {job_id}", target=str(job_id))
    if not can_view(actor, job):
        raise PermissionDenied(actor, Perm.VIEW_RECORDS)
    return job


def cancel_job(actor: Actor, job_id: int) -> Job:
    """Cancel a queued job at once; a running job stops before its next item (done ones stay done)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise JobNotFound(f"no job {job_id}", target=str(job_id))
        _require_owner(actor, job)
        status = JobStatus(job.status)
        if status == JobStatus.RUNNING:
            if not job.cancel_requested:
                job.cancel_requested = True
                job.save(update_fields=["cancel_requested"])
                events.job_cancel_requested(
                    actor, job.pk, kind=job.kind, position=job.position, total=job.total
                )
            return job
        transition = JOB.transition(status, JobStatus.CANCELLED)
        assert transition.permission == OWNER  # checked by _require_owner
        job.status = JobStatus.CANCELLED
        job.finished_at = job.updated_at = timezone.now()
        job.save(update_fields=["status", "finished_at", "updated_at"])
        _finished_event(job, actor)
    return job


def resume_job(actor: Actor, job_id: int) -> Job:
    """Queue a failed job (interrupted by a restart, or stopped by an error) again: it continues after
    the last item processed (an export starts again from the first)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise JobNotFound(f"no job {job_id}", target=str(job_id))
        _require_owner(actor, job)
        transition = JOB.transition(JobStatus(job.status), JobStatus.QUEUED)
        assert transition.permission == OWNER
        job.status = JobStatus.QUEUED
        job.cancel_requested = False
        job.finished_at = None
        job.message = ""
        job.updated_at = timezone.now()
        job.save(update_fields=["status", "cancel_requested", "finished_at", "message", "updated_at"])
        events.job_resumed(actor, job.pk, kind=job.kind, position=job.position, total=job.total)
    _submit(job.pk)
    job.refresh_from_db()
    return job


def recover_interrupted(only: int | None = None) -> int:
    """On start-up of the serving process: jobs still queued or running were cut off by the restart
    (this process has run none yet). Mark them failed — resumable — and say how far they got.
    ``only``: just that job (a Celery worker that found its runner dead, dangan.jobs.tasks)."""
    count = 0
    cut_off = Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    if only is not None:
        cut_off = cut_off.filter(pk=only)
    for job_id in cut_off.values_list("id", flat=True):
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job_id)
            try:
                JOB.transition(JobStatus(job.status), JobStatus.FAILED)
            except InvalidTransition:
                continue
            job.status = JobStatus.FAILED
            job.finished_at = job.updated_at = timezone.now()
            job.run_token = ""
            job.message = (
                f"interrupted by a restart after {job.position} of {job.total} records; resume to continue"
            )
            job.save(update_fields=["status", "finished_at", "updated_at", "run_token", "message"])
            _finished_event(job, None)
        if job.kind == JobKind.BULK_EXPORT:
            for partial in result_dir(job).glob(".*"):
                partial.unlink(missing_ok=True)
        count += 1
    return count


def open_result(actor: Actor, job_id: int) -> tuple[Job, BinaryIO]:
    """The ZIP of a finished export, for its creator only (it holds record content); audited."""
    require(actor, Perm.DOWNLOAD)
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise JobNotFound(f"no job {job_id}", target=str(job_id))
    if not is_creator(actor, job):
        raise PermissionDenied(actor, Perm.DOWNLOAD)
    if job.kind != JobKind.BULK_EXPORT or job.status != JobStatus.DONE or not job.result_file:
        raise DanganError(f"job {job.pk} has no file to download", code="NO_RESULT", target=str(job.pk))
    root = Path(settings.EXPORT_DIR).resolve()
    path = (root / job.result_file).resolve()
    if root not in path.parents or not path.is_file():
        raise DanganError(f"the file of job {job.pk} is missing", code="RESULT_MISSING", target=str(job.pk))
    stream = path.open("rb")
    events.job_result_read(actor, job.pk, name=job.result_name, sha=job.result_sm3, size=job.result_size)
    return job, stream
