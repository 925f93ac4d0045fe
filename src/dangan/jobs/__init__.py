"""Background work. In-process by default (a small thread pool in the serving process); inline when
DANGAN_JOBS_EAGER is set (tests) or inside ``with inline():`` (the CLI). The Celery back end
(DANGAN_BROKER_URL) plugs in here with the same call, so the code path of every job is the same
whichever runs it. The bulk jobs people watch (a Job row with progress) are in ``jobs.services``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import close_old_connections

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


def submit(fn: Callable[..., Any], *args: Any) -> Future[Any] | None:
    if runs_inline():
        fn(*args)
        return None
    return _pool().submit(_run, fn, args)


def wait_idle() -> None:
    """Block until queued in-process jobs are done (used by quickstart and tests)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)
