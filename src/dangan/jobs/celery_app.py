"""The Celery app, configured from Django settings (``DANGAN_BROKER_URL``: ``redis://…`` or ``amqp://…``).

Only the tasks of ``dangan.jobs.tasks.REGISTRY`` exist (no autodiscovery): a message naming anything
else is refused by the worker as an unregistered task. Results are not kept (no result backend):
every task records its outcome in the database, where the UI reads it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery, Task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.entity import Exchange, Queue
from kombu.utils.url import maybe_sanitize_url

from dangan.jobs import tasks
from dangan.preservation.schedule import beat_schedule

log = logging.getLogger(__name__)

# Worth another try: the database or the broker went away for a moment, a lock timed out.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
BUSY_COUNTDOWN = 10  # seconds before a task whose twin is running tries again
BUSY_RETRIES = 360  # an hour of such waits; the twin finishes the work meanwhile

_app: Celery | None = None
_lock = threading.Lock()


def get_app() -> Celery:
    global _app
    with _lock:
        if _app is None:
            _app = _make()
        return _app


def broker_label() -> str:
    """The broker URL without its password, for messages."""
    return str(maybe_sanitize_url(settings.BROKER_URL))


def _make() -> Celery:
    url = settings.BROKER_URL
    transport: dict[str, Any] = {"visibility_timeout": settings.BROKER_VISIBILITY_TIMEOUT}
    if url.startswith(("redis://", "rediss://", "redis+socket://")):
        transport["global_keyprefix"] = f"{settings.BROKER_QUEUE_PREFIX}:"
        # Look for tasks of dead workers about ten times per visibility timeout (kombu: every 100 s).
        transport["unacked_restore_interval"] = max(1, min(60, settings.BROKER_VISIBILITY_TIMEOUT // 10))
        transport["unacked_restore_throttle"] = 1
    app = Celery("dangan", broker=url, set_as_current=False)
    app.conf.update(
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,  # acknowledged when done: a worker that dies mid-task leaves it queued
        task_reject_on_worker_lost=True,  # a killed pool process puts its task back instead of dropping it
        worker_prefetch_multiplier=1,  # heavy tasks: hold no more than the one being run
        worker_max_tasks_per_child=1000,
        worker_send_task_events=False,
        task_queues=[_queue(tasks.queue_name(q)) for q in tasks.QUEUES],
        task_default_queue=tasks.queue_name(tasks.QUICK),
        task_create_missing_queues=False,
        task_routes={spec.name: {"queue": tasks.queue_name(spec.queue)} for spec in tasks.TASKS},
        beat_schedule=beat_schedule(),
        timezone=settings.TIME_ZONE,
        enable_utc=True,
    )
    for spec in tasks.TASKS:
        _bind(app, spec)
    return app


def _queue(name: str) -> Queue:
    # Its own exchange and key: Celery would otherwise bind every queue to the default queue's key.
    return Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def _bind(app: Celery, spec: tasks.TaskSpec) -> None:
    def body(self: Task, *args: Any, _busy: int = 0, **kwargs: Any) -> Any:
        try:
            return tasks.run(spec.name, args, kwargs)
        except tasks.Busy:
            # Another delivery of the same task is running: try again later as a NEW message, with
            # its own count, so that waiting never uses up the retries meant for transient errors.
            if _busy >= BUSY_RETRIES:
                raise
            self.apply_async(
                args=args, kwargs={**kwargs, "_busy": _busy + 1}, countdown=BUSY_COUNTDOWN,
                queue=tasks.queue_name(tasks.queue_for(spec, args)),
            )  # fmt: skip
            return None

    body.__name__ = spec.name.rsplit(".", 1)[-1]
    app.task(
        body,
        name=spec.name,
        shared=False,  # this app's task only (tests build the app more than once)
        bind=True,
        autoretry_for=TRANSIENT,
        retry_backoff=2,
        retry_backoff_max=300,
        retry_jitter=True,
        max_retries=settings.TASK_MAX_RETRIES,
    )


def send(spec: tasks.TaskSpec, args: tuple[Any, ...]) -> None:
    """Queue one task (after the commit that made its rows visible: ``dangan.jobs.submit``)."""
    get_app().send_task(spec.name, args=list(args), queue=tasks.queue_name(tasks.queue_for(spec, args)))


def check_broker(timeout: float = 5.0) -> None:
    """Raise if the broker cannot be reached now."""
    with get_app().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
