"""The background tasks a worker may run, by name: the only functions a broker message can reach.

A message carries a task name and JSON arguments; the name is looked up in ``REGISTRY`` and the
function is the fixed ``target`` written here — never a dotted path taken from the message. Each
target is idempotent (re-running it after a crash finishes or does nothing), so a task may be
delivered twice; ``exclusive`` keeps two deliveries of the same task and arguments from running at
the same time (the second is retried once the first is done, and then finds nothing to do).

Celery-free on purpose: ``celery_app`` binds these specs to Celery tasks; the in-process pool calls
the same functions directly (``dangan.jobs.submit``).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from dangan.preservation.schedule import TASK_NAME as FIXITY_AUDIT

log = logging.getLogger(__name__)

HEAVY = "heavy"  # reads or writes package bytes: ingest, checks, AIP writing, replication, audits, exports
QUICK = "quick"  # database-only work
QUEUES = (HEAVY, QUICK)

PROCESS_UPLOAD = "dangan.ingest.process_upload"
RUN_JOB = "dangan.jobs.run_job"
REPLICATE_RECORD = "dangan.preservation.replicate_record"
MAX_AUTO_RESUMES = 3  # a bulk job whose worker died is resumed by the next delivery this often


@dataclass(frozen=True)
class TaskSpec:
    name: str  # the name on the wire
    target: str  # "module:function", fixed here
    queue: str

    def resolve(self) -> Callable[..., Any]:
        module, _, attr = self.target.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), attr)
        return fn


TASKS = (
    TaskSpec(PROCESS_UPLOAD, "dangan.ingest.services:process_upload", HEAVY),
    TaskSpec(RUN_JOB, "dangan.jobs.services:run_job", HEAVY),  # re-classify jobs go to QUICK (queue_for)
    TaskSpec(REPLICATE_RECORD, "dangan.preservation.replication:replicate_record_job", HEAVY),
    TaskSpec(FIXITY_AUDIT, "dangan.preservation.schedule:fixity_audit", HEAVY),
)
REGISTRY = {spec.name: spec for spec in TASKS}
_BY_TARGET = {spec.target: spec for spec in TASKS}


class Busy(Exception):
    """Another worker is running the same task with the same arguments right now."""


def spec_for(fn: Callable[..., Any]) -> TaskSpec | None:
    """The registered task of a function handed to ``jobs.submit`` (None: not a worker task)."""
    return _BY_TARGET.get(f"{fn.__module__}:{fn.__qualname__}")


def queue_for(spec: TaskSpec, args: tuple[Any, ...]) -> str:
    if spec.name == RUN_JOB and args:
        from dangan.jobs.models import Job
        from dangan.jobs.states import JobKind

        if Job.objects.filter(pk=args[0]).values_list("kind", flat=True).first() == JobKind.BULK_RECLASSIFY:
            return QUICK
    return spec.queue


def queue_name(short: str) -> str:
    return f"{settings.BROKER_QUEUE_PREFIX}.{short}"


def run(name: str, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any] | None = None) -> Any:
    """The body of every worker task. Raises KeyError for an unknown name, Busy when a twin runs."""
    spec = REGISTRY[name]
    kwargs = kwargs or {}
    key = f"{name}:{json.dumps([list(args), kwargs], sort_keys=True, default=str)}"
    with exclusive(key) as mine:
        if not mine:
            raise Busy(key)
        if name == RUN_JOB and _orphaned_job(int(args[0])):
            return None
        return spec.resolve()(*args, **kwargs)


def _orphaned_job(job_id: int) -> bool:
    """A bulk job still RUNNING while we hold its lock lost its runner (a worker killed mid-job; the
    broker handed the task out again). run_job would skip it: mark it interrupted and resume it as
    its owner, which queues a fresh run that continues after the last item done."""
    from dangan.audit.models import AuditEvent
    from dangan.jobs import services
    from dangan.jobs.models import Job
    from dangan.jobs.states import JobStatus

    if not Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).exists():
        return False
    services.recover_interrupted(only=job_id)
    job = Job.objects.get(pk=job_id)
    if AuditEvent.objects.filter(kind="job.resumed", object_id=str(job_id)).count() >= MAX_AUTO_RESUMES:
        # An item may be what kills the worker: stop the loop, the owner decides on the job's page.
        log.error("job %s was interrupted again: left failed for its owner to resume", job_id)
        return True
    try:
        services.resume_job(services.actor_of(job), job_id)
    except Exception:  # the owner lost the right: the job stays failed, resumable from its page
        log.exception("job %s was interrupted and could not be resumed", job_id)
    return True


@contextmanager
def exclusive(key: str) -> Iterator[bool]:
    """Yield whether this process holds the lock named ``key``; a dead holder releases it (a PostgreSQL
    session advisory lock ends with its connection, an flock with its process)."""
    digest = hashlib.sha256(key.encode()).digest()
    if connection.vendor == "postgresql":
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
            got = bool(cur.fetchone()[0])
        try:
            yield got
        finally:
            if got:
                try:
                    with connection.cursor() as cur:
                        cur.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
                except DatabaseError:  # the connection broke: the lock went with it
                    connection.close()
        return
    # SQLite: every worker runs on this machine (the database is a local file).
    folder = Path(settings.DATA_DIR) / "run" / "task-locks"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = _flock(folder / f"{digest.hex()[:40]}.lock")
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.unlink(folder / f"{digest.hex()[:40]}.lock")  # while held: no one else has it open locked
            os.close(fd)


def _flock(path: Path) -> int | None:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:  # the holder before us may have unlinked the file after we opened it: start again
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
