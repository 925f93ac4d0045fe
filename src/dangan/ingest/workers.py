"""``dangan ingest --jobs N``: take packages in with N worker processes on this machine.

Each worker is a fresh interpreter (``spawn``: no inherited database connections, locks or threads)
that sets Django up as the CLI does and runs the very same ``services.ingest_path`` per package, so
one package is checked and filed exactly as with ``--jobs 1``. The parent expands the command-line
paths (batch folders with 批次清单 included) once and hands each worker a package together with its
batch name and manifest entry, so the per-batch semantics stay those of the sequential run.

Concurrent writers are safe on both databases: on SQLite every transaction takes the write lock at
BEGIN (``transaction_mode: IMMEDIATE``) and waits up to the busy timeout; on PostgreSQL the audit
chain serialises its appends with an advisory lock and the 电子文件号 race ends in the unique
constraint (``_file`` settles it as duplicate or conflict).

This module imports no Django models at import time: a spawned worker imports it before Django is
set up.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

_actor: Any = None
# Settings a worker takes from its parent rather than from the environment, so that it works on the
# parent's database and folders even when those were changed in the parent's process (tests do).
SHARED_SETTINGS = ("BLOB_DIR", "QUARANTINE_DIR")


def _shared() -> dict[str, Any]:
    from django.conf import settings
    from django.db import connections

    shared = {name: getattr(settings, name) for name in SHARED_SETTINGS}
    shared["database_name"] = connections["default"].settings_dict["NAME"]
    return shared


def _init_worker(actor: Any, shared: dict[str, Any]) -> None:
    """Worker start: ignore Ctrl-C (the parent decides; the package in hand is finished), set up Django."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    for name in SHARED_SETTINGS:
        setattr(settings, name, shared[name])
    settings.DATABASES["default"]["NAME"] = shared["database_name"]
    connections["default"].settings_dict["NAME"] = shared["database_name"]
    global _actor
    _actor = actor


def result_of(path: Path, sub: Any) -> dict[str, Any]:
    """One package's line of the ingest summary (also the ``--json`` object)."""
    record = sub.record
    return {
        "package": str(path),
        "status": str(sub.status),
        "errors": sub.errors,
        "file_number": sub.file_number,
        "submission": str(sub.id),
        "record_status": str(record.status) if record else None,
        "archival_code": record.archival_code if record else None,
    }


def ingest_one(path: Path, batch: str, entry: Any, actor: Any = None) -> dict[str, Any]:
    """Take in one package (in a worker, or in this process) and return its summary line."""
    from dangan.ingest import services

    sub = services.ingest_path(actor if actor is not None else _actor, path, batch=batch, batch_entry=entry)
    return result_of(path, sub)


def ingest_all(
    actor: Any, sources: Iterable[Any], *, jobs: int = 1, on_result: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Ingest ``sources`` (``BatchPackage``s) with ``jobs`` processes; results in the order given.

    ``on_result`` is called after each package, as results arrive. Ctrl-C with ``jobs > 1``: no new
    package is started, the ones in the workers' hands are finished and filed, then
    KeyboardInterrupt is raised.
    """
    packages = list(sources)
    if jobs <= 1 or len(packages) <= 1:
        results = []
        for src in packages:
            results.append(ingest_one(src.path, src.batch, src.entry, actor))
            if on_result is not None:
                on_result()
        return results
    out: list[dict[str, Any] | None] = [None] * len(packages)
    for index, line in _run_pool(actor, packages, jobs):
        out[index] = line
        if on_result is not None:
            on_result()
    return [line for line in out if line is not None]


def _failed(path: Path, exc: BaseException) -> dict[str, Any]:
    """The result line of a package whose worker failed (killed, out of memory, a crash in a decoder):
    its submission, if one was made, is closed by the next run (``recover_abandoned_cli``)."""
    return {
        "package": str(path),
        "status": "rejected",
        "errors": [
            {"code": "WORKER_FAILED", "message": f"the worker process failed: {type(exc).__name__}: {exc}"}
        ],
        "file_number": None,
        "submission": None,
        "record_status": None,
        "archival_code": None,
    }


def _run_pool(actor: Any, packages: list[Any], jobs: int) -> Iterator[tuple[int, dict[str, Any]]]:
    from django.db import connections

    shared = _shared()
    connections.close_all()  # nothing of the parent's connection state reaches a worker
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(
        max_workers=min(jobs, len(packages)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(actor, shared),
    )
    pending: dict[Future[dict[str, Any]], int] = {}
    todo = iter(enumerate(packages))
    window = 2 * jobs  # a few packages queued per worker: Ctrl-C cancels the rest at once
    try:
        while True:
            while len(pending) < window:
                nxt = next(todo, None)
                if nxt is None:
                    break
                index, src = nxt
                try:
                    pending[executor.submit(ingest_one, src.path, src.batch, src.entry)] = index
                except BrokenProcessPool as exc:  # a worker died: the rest cannot be started
                    yield index, _failed(src.path, exc)
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    yield index, future.result()
                except Exception as exc:
                    yield index, _failed(packages[index].path, exc)
    except BaseException:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
