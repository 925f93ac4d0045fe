"""Intake use-cases: receive a package, check it, and file it in the pre-archive library (预归档库).

The one path every case takes (DESIGN.md "Data flow"): quarantine → safe unpack with hashing →
metadata → archiving-stage checks → rejected (with a report) | duplicate | accepted. Nothing reaches
the blob store or the database as a record until the package has passed, so a rejected package
leaves no record, no blob and no archival code behind.

容缺 (filing with a gap): GD-2-9 (a required material of the archiving scope is missing) blocks by
default, so such a case is rejected. A fonds or service item that allows 容缺归档 says so in its
archive-stage check profile: ``{"archive": {"2-9": {"blocking": false}}}``. Then a case whose 2-9
check fails (and nothing blocking) is filed in the pre-archive library with its gap recorded (gap
status ``open``, the missing materials' codes and names); it is never auto-confirmed: a records
officer archives it with a reason (容缺归档) or returns it, and may supply the materials later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dangan import jobs
from dangan.accounts.roles import Actor, Perm, require
from dangan.archive.models import Record, RecordFile
from dangan.archive.states import GAP, GapStatus, RecordStatus
from dangan.audit import events
from dangan.catalog.models import Fonds, ServiceItem, SourceSystem
from dangan.catalog.services import retention_for
from dangan.core.checks.context import build_context
from dangan.core.checks.model import CheckReport, Stage
from dangan.core.errors import DanganError, PackageError
from dangan.core.package import schema
from dangan.core.package.batch import BatchPackage, expand
from dangan.core.package.intake import IntakeLimits, ReceivedPackage, receive_folder, receive_zip
from dangan.core.package.model import BatchPackageEntry, CasePackage
from dangan.ingest import checking
from dangan.ingest.models import Submission
from dangan.ingest.states import FINAL, SUBMISSION, SubmissionStatus
from dangan.storage.blobstore import default_store

try:
    import fcntl
except ImportError:  # Windows: no flock; recovery of CLI submissions then goes by age alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
UPLOAD_NAME = "upload.zip"


def limits() -> IntakeLimits:
    return IntakeLimits(
        max_total_bytes=settings.MAX_PACKAGE_BYTES,
        max_entries=settings.MAX_PACKAGE_ENTRIES,
        max_ratio=settings.MAX_COMPRESSION_RATIO,
    )


def quarantine_dir(submission: Submission) -> Path:
    return Path(settings.QUARANTINE_DIR) / str(submission.id)


def _advance(sub: Submission, target: SubmissionStatus) -> None:
    SUBMISSION.transition(SubmissionStatus(sub.status), target)
    sub.status = target
    if target in FINAL:
        sub.finished_at = timezone.now()


# ---------------------------------------------------------------------------------------------
# Entry points


def receive_upload(
    actor: Actor, stream: BinaryIO, *, filename: str, source: SourceSystem | None
) -> Submission:
    """API upload: stream the ZIP into quarantine, record the submission, check it in the background."""
    require(actor, Perm.INGEST)
    sub = Submission(
        channel="api",
        source_system=source,
        submitted_by=actor.name,
        package_name=Path(filename or "package.zip").name[:255],
        allowed_fonds=allowed_fonds_codes(actor, Perm.INGEST),
    )
    qdir = quarantine_dir(sub)
    qdir.mkdir(parents=True)
    try:
        spooled = getattr(stream, "temporary_file_path", None)
        try:  # Django already spooled it to disk under quarantine/uploads: link it, do not copy
            if spooled is None:
                raise OSError("in memory")
            os.link(spooled(), qdir / UPLOAD_NAME)
        except OSError:
            stream.seek(0)
            fd = os.open(qdir / UPLOAD_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
        with transaction.atomic():
            sub.save(force_insert=True)
            events.case_received(actor, sub.id, package=sub.package_name, channel=sub.channel)
            transaction.on_commit(lambda: jobs.submit(process_upload, str(sub.id)))
    except BaseException:
        shutil.rmtree(qdir, ignore_errors=True)
        raise
    return sub


def precheck_upload(
    actor: Actor, stream: BinaryIO, *, filename: str, stage: Stage = Stage.ARCHIVE
) -> tuple[CheckReport, dict[str, object]]:
    """API pre-check: run the checks on an uploaded package as ingest would, and keep nothing.

    A sender uses it before sending; no submission, record or blob is created and the upload is
    deleted when the check ends (pass or fail).
    """
    require(actor, Perm.PRECHECK)
    work = Path(settings.QUARANTINE_DIR) / f"precheck-{uuid.uuid4().hex}"
    work.mkdir(parents=True, mode=0o700)
    try:
        target = work / Path(filename or "package.zip").name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            stream.seek(0)
            shutil.copyfileobj(stream, out, 1024 * 1024)
        codes = allowed_fonds_codes(actor, Perm.PRECHECK)
        scope = frozenset(codes) if codes is not None else None
        return checking.check_path(
            target,
            stage,
            channel=f"API pre-check, {actor.name}",
            fonds_scope=scope,
            detailed=actor.source_system_id is None,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


# After this many restarts in the middle of checking one upload, it is rejected instead of retried.
MAX_RESUMES = 2


def process_upload(submission_id: str) -> None:
    """Job: check an uploaded package. Safe to run again after a crash (it resumes from RECEIVED)."""
    sub = Submission.objects.get(pk=submission_id)
    if sub.status in FINAL:  # done before a crash; only the quarantine copy may be left over
        shutil.rmtree(quarantine_dir(sub), ignore_errors=True)
        return
    if sub.status == SubmissionStatus.CHECKING:  # a crash interrupted the check: start it again
        from dangan.audit.models import AuditEvent

        resumed = AuditEvent.objects.filter(kind="case.resumed", object_id=str(sub.id)).count()
        if resumed >= MAX_RESUMES:
            # The package itself probably kills the process (memory, a validator): stop the loop.
            shutil.rmtree(quarantine_dir(sub), ignore_errors=True)
            _reject(sub, _actor_for(sub), [{
                "code": "INTAKE_ABORTED",
                "message": f"checking this package stopped the archive {resumed + 1} times; it was not taken in",
            }])  # fmt: skip
            return
        with transaction.atomic():
            _advance(sub, SubmissionStatus.RECEIVED)
            sub.save(update_fields=["status"])
            events.case_resumed(_actor_for(sub), sub.id)
    qdir = quarantine_dir(sub)
    upload = qdir / UPLOAD_NAME
    actor = _actor_for(sub)
    unpacked = qdir / "package"
    shutil.rmtree(unpacked, ignore_errors=True)
    if not upload.exists():
        _reject(
            sub, actor, [{"code": "UPLOAD_MISSING", "message": "the uploaded file is gone from quarantine"}]
        )
        return
    _check_and_file(
        sub,
        actor,
        lambda: receive_zip(upload, _fresh(unpacked), limits(), display_name=sub.package_name),
        cleanup=qdir,
    )


def ingest_path(
    actor: Actor, path: Path, *, batch: str = "", batch_entry: BatchPackageEntry | None = None
) -> Submission:
    """CLI/batch: take in one package folder or ZIP synchronously."""
    require(actor, Perm.INGEST)
    allowed = allowed_fonds_codes(actor, Perm.INGEST)
    with transaction.atomic():  # one commit: the submission and its "received" event
        sub = Submission.objects.create(
            channel="cli",
            submitted_by=actor.name,
            package_name=path.name[:255],
            batch=batch,
            allowed_fonds=allowed,
        )
        events.case_received(actor, sub.id, package=str(path), channel="cli")
    qdir = quarantine_dir(sub)
    qdir.mkdir(parents=True)
    target = qdir / "package"

    def receive() -> ReceivedPackage:
        if path.is_dir():
            return receive_folder(path, _fresh(target), limits())
        return receive_zip(path, _fresh(target), limits())

    with _working_on(qdir):
        _check_and_file(sub, actor, receive, cleanup=qdir, batch_entry=batch_entry)
    return sub


def expand_paths(paths: list[Path]) -> tuple[list[BatchPackage], list[dict[str, str]]]:
    """CLI arguments → packages (folders, ZIPs, batch folders with 批次清单) and batch-level errors."""
    batch = expand(paths)
    return batch.packages, batch.errors


# ---------------------------------------------------------------------------------------------
# The pipeline


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=False)
    return path


def visible_submissions(actor: Actor) -> QuerySet[Submission]:
    """The submissions ``actor`` may see: a source system its own; a person those of the fonds where
    he holds ``cases.view`` plus those he sent himself (also the ones no fonds could be read from)."""
    require(actor, Perm.VIEW_SUBMISSIONS)
    qs = Submission.objects.all()
    if actor.source_system_id is not None:
        return qs.filter(source_system_id=actor.source_system_id)
    ids = actor.fonds_ids(Perm.VIEW_SUBMISSIONS)
    if ids is None:
        return qs
    return qs.filter(Q(fonds_id__in=ids) | Q(submitted_by=actor.name, source_system__isnull=True))


def allowed_fonds_codes(actor: Actor, perm: Perm) -> list[str] | None:
    """The 全宗号 ``actor`` may send (or pre-check) packages for; None: all fonds."""
    ids = actor.fonds_ids(perm)
    if ids is None:
        return None
    return sorted(Fonds.objects.filter(pk__in=ids).values_list("code", flat=True))


def _actor_for(sub: Submission) -> Actor:
    if sub.source_system_id is not None:
        return Actor.source_system(sub.source_system_id, sub.source_system.code if sub.source_system else "")
    return Actor.system(sub.submitted_by or "system", frozenset({Perm.INGEST}))


def _reject(
    sub: Submission, actor: Actor, errors: list[dict[str, str]], report: dict[str, Any] | None = None
) -> None:
    with transaction.atomic():
        _advance(sub, SubmissionStatus.REJECTED)
        sub.errors = errors
        if report is not None:
            sub.report = report
        sub.save()
        events.case_rejected(actor, sub.id, errors=errors)


DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def _io_error(exc: OSError, what: str) -> dict[str, str]:
    """A disk-full (or quota) error says so plainly; other I/O errors name the OS error."""
    if exc.errno in DISK_FULL_ERRNOS:
        return {
            "code": "DISK_FULL",
            "message": f"{what}: the archive's disk is full (no space left: {exc.strerror}); nothing was "
            "filed — free space and send the package again",
        }
    return {"code": "IO_ERROR", "message": f"{what}: {exc}"}


def _check_and_file(
    sub: Submission,
    actor: Actor,
    receive: Callable[[], ReceivedPackage],
    *,
    cleanup: Path,
    batch_entry: BatchPackageEntry | None = None,
) -> None:
    keep = False
    try:
        try:
            received = receive()
        except PackageError as exc:
            _reject(sub, actor, [exc.as_dict()])
            return
        except OSError as exc:  # e.g. disk full while unpacking: nothing was filed
            _reject(sub, actor, [_io_error(exc, "cannot take the package in")])
            return
        with transaction.atomic():
            _advance(sub, SubmissionStatus.CHECKING)
            sub.container_sm3 = received.container_sm3
            sub.content_digest = received.content_digest()
            sub.save()
            events.case_checking(actor, sub.id, files=len(received.files), content_digest=sub.content_digest)
        _run_checks_and_file(sub, actor, received, batch_entry)
    except Exception as exc:
        if sub.channel == "api" and isinstance(exc, OperationalError | InterfaceError):
            # A passing database fault is not the sender's: keep the upload and the submission as they
            # are; the worker retries the task (Celery) or the next start resumes it (in-process pool).
            keep = True
            raise
        # A bug or an unforeseen input must not leave the submission hanging or lose the reason:
        # reject it with what happened (logged in full), so the sender and the operator see it.
        log.exception("intake of %s failed", sub.package_name)
        sub.refresh_from_db()
        if sub.status not in FINAL:
            error = (
                _io_error(exc, "cannot store the package")
                if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS
                else {"code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
            )
            _reject(sub, actor, [error])
    finally:
        if not keep:
            shutil.rmtree(cleanup, ignore_errors=True)


def _resolve_catalogue(pkg: CasePackage | None, item: ServiceItem | None) -> list[dict[str, str]]:
    if pkg is None or item is not None:
        return []
    fonds_code = pkg.case.fonds_code or ""
    if not Fonds.objects.filter(code=fonds_code).exists():
        return [
            {
                "code": "UNKNOWN_FONDS",
                "message": f"fonds {fonds_code!r} is not registered in this archive",
                "target": f"{schema.Group.CASE.value}/全宗号",
            }
        ]
    return [
        {
            "code": "UNKNOWN_SERVICE_ITEM",
            "message": f"service item {pkg.config.item_code or ''!r} is not configured for fonds {fonds_code}",
            "target": f"{schema.Group.ARCHIVE_CONFIG.value}/事项编码",
        }
    ]


def _channel(sub: Submission) -> str:
    if sub.source_system is not None:
        return f"{sub.channel}, source system {sub.source_system.code} (token)"
    return f"{sub.channel}, user {sub.submitted_by or 'system'}"


def _run_checks_and_file(
    sub: Submission, actor: Actor, received: ReceivedPackage, batch_entry: BatchPackageEntry | None
) -> None:
    source = sub.source_system
    # A source system reads its submissions' reports: they may show only its own fonds' records and
    # settings, and no server paths or driver errors. A person limited to some fonds sends only those.
    if source is not None:
        fonds_scope: frozenset[str] | None = frozenset(source.fonds.values_list("code", flat=True))
    else:
        fonds_scope = frozenset(sub.allowed_fonds) if sub.allowed_fonds is not None else None
    env = checking.environment(channel=_channel(sub), fonds_scope=fonds_scope, detailed=source is None)
    ctx = build_context(received, batch_entry=batch_entry, env=env)
    item = checking.resolve_item(ctx)
    catalogue_errors = _resolve_catalogue(ctx.package, item)
    allowed = item is not None and (fonds_scope is None or item.fonds.code in fonds_scope)
    # Outside the sender's fonds the item's settings are not applied (nor shown); FONDS_NOT_ALLOWED follows.
    report = checking.run_checks(ctx, Stage.ARCHIVE, item if allowed else None)
    pkg = ctx.package
    sub.report = report.to_dict()
    sub.file_number = (pkg.file_number if pkg else "")[:100]
    errors = report.errors() + catalogue_errors
    if item is not None:
        sub.fonds = item.fonds
    elif pkg is not None and pkg.case.fonds_code:
        sub.fonds = Fonds.objects.filter(code=pkg.case.fonds_code).first()
    if item is not None and fonds_scope is not None and item.fonds.code not in fonds_scope:
        sender = "source system" if source is not None else sub.submitted_by
        errors.append(
            {
                "code": "FONDS_NOT_ALLOWED",
                "message": f"{sender} may not send cases of fonds {item.fonds.code}",
                "target": f"{schema.Group.CASE.value}/全宗号",
            }
        )
    if errors or pkg is None or item is None:
        _reject(sub, actor, errors or [{"code": "PACKAGE_INVALID", "message": "package could not be read"}])
        return
    from dangan.archive.services import missing_materials

    materials = ctx.scope if ctx.scope is not None else pkg.config.scope
    _file(
        sub,
        actor,
        received,
        pkg,
        item,
        gap=missing_materials(report, materials),
        retention=ctx.configured_retention,
    )


def _file(
    sub: Submission,
    actor: Actor,
    received: ReceivedPackage,
    pkg: CasePackage,
    item: ServiceItem,
    *,
    gap: list[dict[str, str]] | None = None,
    retention: str | None = None,
) -> None:
    existing = _live_record(pkg.file_number)
    if existing is not None:
        _settle_existing(sub, actor, existing)
        return
    # whatever can fail on bad values, before any write
    fields = _record_fields(sub, received, pkg, item, retention=retention)
    if gap:  # 容缺: required materials missing, and the profile lets it through (2-9 not blocking)
        fields["gap_status"] = GAP.transition(GapStatus.NONE, GapStatus.OPEN).target
        fields["gap_materials"] = gap
    store = default_store()
    # Blobs next: a crash after this leaves orphan blobs, never a record without its bytes.
    for facts in received.files.values():
        store.adopt(received.root / facts.path, facts.sm3)
    try:
        with transaction.atomic():
            record = _create_record(fields, received, pkg)
            _advance(sub, SubmissionStatus.ACCEPTED)
            sub.record = record
            sub.errors = []
            sub.save()
            if gap:
                events.case_pre_archived_with_gap(
                    actor, record.pk, file_number=record.file_number, submission_id=sub.id, missing=gap
                )
            else:
                events.case_pre_archived(
                    actor, record.pk, file_number=record.file_number, submission_id=sub.id
                )
    except IntegrityError:
        # Another submission of the same 电子文件号 won the race: settle against it.
        existing = _live_record(pkg.file_number)
        if existing is None:
            raise
        _settle_existing(sub, actor, existing)
        return
    if item.auto_confirm and not gap:  # a gap needs an officer's reason: never confirmed by a rule
        from dangan.archive import services as archive_services

        rule_actor = Actor.system(f"rule:auto-confirm:{item.code}", frozenset({Perm.CONFIRM}))
        try:
            archive_services.confirm(rule_actor, record.pk, rule=f"auto-confirm {item.code}")
        except DanganError:
            log.exception("auto-confirm failed for %s; left in the pre-archive library", record.file_number)


def _live_record(file_number: str | None) -> Record | None:
    """The record currently holding this 电子文件号 (returned cases give it up)."""
    return Record.objects.exclude(status=RecordStatus.RETURNED).filter(file_number=file_number).first()


def _settle_existing(sub: Submission, actor: Actor, existing: Record) -> None:
    if existing.content_digest == sub.content_digest:
        with transaction.atomic():
            _advance(sub, SubmissionStatus.DUPLICATE)
            sub.record = existing
            sub.save()
            events.case_duplicate(actor, sub.id, record_id=existing.pk)
        return
    _reject(
        sub,
        actor,
        [
            {
                "code": "CONFLICT",
                "message": f"电子文件号 {existing.file_number} was already received with different content",
                "target": f"{schema.Group.CASE.value}/电子文件号",
            }
        ],
    )


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:  # right shape, impossible date: check 1-3 reports it
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _record_fields(
    sub: Submission,
    received: ReceivedPackage,
    pkg: CasePackage,
    item: ServiceItem,
    *,
    retention: str | None = None,
) -> dict[str, Any]:
    """The new record's fields. ``retention``: the schedule's decision the checks already made for this
    package today (``PackageContext.configured_retention``); decided here when not given."""
    completed = _dt(pkg.case.completed_at)
    if retention is None:
        retention = retention_for(
            item,
            on=timezone.localdate(),
            material_codes={e.material_code for e in pkg.files if e.material_code},
        ).code
    return dict(
        file_number=pkg.file_number,
        fonds=item.fonds,
        service_item=item,
        title=(pkg.case.title or "")[:500],
        case_number=(pkg.case.case_number or "")[:100],
        applicant_name=((pkg.case.applicant.name if pkg.case.applicant else "") or "")[:200],
        year=(completed or timezone.now()).year,
        # The archive's retention schedule decides (re-decided on the archiving day when confirmed);
        # a different value in the package is a 1-5 warning.
        retention=retention,
        accepted_at=_dt(pkg.case.accepted_at),
        completed_at=completed,
        content_digest=sub.content_digest,
        metadata=dataclasses.asdict(pkg, dict_factory=_json_dict),
        check_report=sub.report or {},
        file_count=len(received.content_files),
        byte_total=sum(f.size for f in received.content_files.values()),
    )


def _create_record(fields: dict[str, Any], received: ReceivedPackage, pkg: CasePackage) -> Record:
    record = Record.objects.create(**fields)
    declared = {e.path: e for e in pkg.files if e.path}
    RecordFile.objects.bulk_create(
        [
            RecordFile(
                record=record,
                path=facts.path,
                size=facts.size,
                sm3=facts.sm3,
                sha256=facts.sha256,
                material_code=(declared[facts.path].material_code or "") if facts.path in declared else "",
                category=(declared[facts.path].category or "") if facts.path in declared else "",
                name=(declared[facts.path].standard_name or "") if facts.path in declared else "元数据",
                format=(declared[facts.path].format or "") if facts.path in declared else "XML",
            )
            for facts in received.files.values()
        ]
    )
    return record


def _json_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in items}


OWNER_LOCK = ".owner.lock"
# A CLI submission younger than this is never judged abandoned (its process may not hold the lock yet).
ABANDONED_AFTER = timedelta(minutes=1)


@contextlib.contextmanager
def _working_on(qdir: Path) -> Iterator[None]:
    """Hold an exclusive lock on a CLI submission's quarantine folder while this process checks it, so
    recovery can tell a package another process is still working on from one whose process died (the
    kernel drops the lock with the process, even on SIGKILL)."""
    fd = os.open(qdir / OWNER_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def _abandoned(qdir: Path, *, unknown_if_older_than: float) -> bool:
    """True when no live process works on the submission. A lock file nobody holds says so at once.
    Without one (the folder is missing, or on another machine sharing the database, or no ``flock``
    here) nothing can be known: only a submission unfinished for longer than
    ``unknown_if_older_than`` seconds is judged abandoned."""
    if fcntl is not None:
        try:
            fd = os.open(qdir / OWNER_LOCK, os.O_RDWR)
        except FileNotFoundError:
            fd = -1
        except OSError:  # e.g. another user's lock file: not ours to judge
            return False
        if fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                return False
            finally:
                os.close(fd)  # releases the probe's lock too
    try:
        age = time.time() - qdir.stat().st_mtime
    except FileNotFoundError:
        return unknown_if_older_than <= 0
    return age > unknown_if_older_than


def recover_abandoned_cli(
    *, min_age: timedelta = ABANDONED_AFTER, unknown_after: float = checking.STALE_WORK_SECONDS
) -> int:
    """After a crash or kill of ``dangan ingest``: its unfinished submissions (received/checking) are
    rejected ``INTAKE_INTERRUPTED`` and their quarantine copies removed. The package is still where the
    operator took it from (the CLI copies, never moves), so running the same ingest again takes it in.
    Submissions a live process is still working on are left alone (``_abandoned``; ``unknown_after``
    seconds for those whose owner cannot be checked). Returns how many were rejected."""
    cutoff = timezone.now() - min_age
    stale = Submission.objects.filter(
        channel="cli",
        status__in=[SubmissionStatus.RECEIVED, SubmissionStatus.CHECKING],
        received_at__lt=cutoff,
    )
    count = 0
    for sub in stale.order_by("received_at"):
        qdir = quarantine_dir(sub)
        if not _abandoned(qdir, unknown_if_older_than=unknown_after):
            continue
        with transaction.atomic():
            locked = Submission.objects.select_for_update().get(pk=sub.pk)
            if locked.status in FINAL:
                continue
            _reject(locked, _actor_for(locked), [{
                "code": "INTAKE_INTERRUPTED",
                "message": "the ingest process stopped before this package was filed; nothing of it was "
                "kept — run dangan ingest on the package again",
            }])  # fmt: skip
        shutil.rmtree(qdir, ignore_errors=True)
        count += 1
    _sweep_finished_quarantine()
    return count


def _sweep_finished_quarantine() -> None:
    """Quarantine copies of submissions that were finished (accepted, duplicate, rejected) when their
    process died before removing the copy: they hold personal data nobody needs any more."""
    root = Path(settings.QUARANTINE_DIR)
    if not root.is_dir():
        return
    names: dict[str, Path] = {}
    for entry in root.iterdir():
        with contextlib.suppress(ValueError):
            names[str(uuid.UUID(entry.name))] = entry
    if not names:
        return
    finished = Submission.objects.filter(pk__in=list(names), status__in=list(FINAL)).values_list(
        "pk", flat=True
    )
    for pk in finished:
        qdir = names[str(pk)]
        if qdir.is_dir() and _abandoned(qdir, unknown_if_older_than=0):  # finished: nobody needs it
            shutil.rmtree(qdir, ignore_errors=True)


def resume_pending() -> int:
    """After a restart: re-run uploads that were received but not finished, and close CLI submissions
    whose process died (``recover_abandoned_cli``). Returns how many uploads were resubmitted."""
    recover_abandoned_cli()
    pending = Submission.objects.filter(
        channel="api", status__in=[SubmissionStatus.RECEIVED, SubmissionStatus.CHECKING]
    ).values_list("id", flat=True)
    count = 0
    for sid in pending:
        jobs.submit(process_upload, str(sid))
        count += 1
    return count
