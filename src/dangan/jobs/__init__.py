"""Background work. In-process by default (a small thread pool in the serving process); inline when
DANGAN_JOBS_EAGER is set (tests) or inside ``with inline():`` (the CLI). With DANGAN_BROKER_URL the
job is sent to the Celery workers (``dangan worker``; ``jobs.tasks`` lists what they may run) after
the current transaction commits, and the serving process runs none itself. The same function runs
whichever way. The bulk jobs people watch (a Job row with progress) are in ``jobs.services``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)
_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dangan-job")
        return _executor


def _run(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    close_old_connections()
    try:
        return fn(*args)
    except Exception:
        log.exception("job %s%r failed", getattr(fn, "__name__", fn), args)
        raise
    finally:
        close_old_connections()


_local = threading.local()


@contextmanager
def inline() -> Iterator[None]:
    """Run the jobs submitted by this thread inside the block inline (the CLI, which shows progress)."""
    previous = getattr(_local, "inline", False)
    _local.inline = True
    try:
        yield
    finally:
        _local.inline = previous


def runs_inline() -> bool:
    """Whether ``submit`` called now runs the job at once, in this thread (and its transaction)."""
    return bool(settings.JOBS_EAGER or getattr(_local, "inline", False))


def uses_broker() -> bool:
    """Whether jobs not run inline go to Celery workers (else the in-process pool)."""
    return bool(settings.BROKER_URL)


def submit(fn: Callable[..., Any], *args: Any) -> Future[Any] | None:
    """Run ``fn(*args)``: inline, on a Celery worker, or in the in-process pool. Except inline, it
    starts only once the current transaction commits (at once outside one): the job must find the
    rows that transaction writes, and a rollback starts nothing. A Future only from the pool, when
    no transaction is open."""
    if runs_inline():
        fn(*args)
        return None
    if uses_broker():
        from dangan.jobs.tasks import spec_for

        spec = spec_for(fn)
        if spec is not None:
            transaction.on_commit(lambda: _send(spec, args))
            return None
        log.warning("%s is not a worker task (dangan.jobs.tasks): run in this process", fn.__qualname__)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _pool().submit(_run, fn, args))
        return None
    return _pool().submit(_run, fn, args)


def _send(spec: Any, args: tuple[Any, ...]) -> None:
    from dangan.jobs.celery_app import broker_label, send

    try:
        send(spec, args)
    except Exception:
        # The committed rows stay as they are (an upload RECEIVED, a job QUEUED): the request that
        # queued it must not fail for that. `dangan serve` re-sends unfinished uploads on start-up.
        log.exception("could not queue %s%r on %s", spec.name, args, broker_label())


def wait_idle() -> None:
    """Block until queued in-process jobs are done (used by quickstart and tests)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)
