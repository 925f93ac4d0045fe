"""When fixity audits run on their own.

With a broker (``DANGAN_BROKER_URL``) and Celery installed, the worker's beat schedule takes
``beat_schedule()``: a rotating-sample audit every day. Without a broker, cron runs
``dangan preserve audit --sample`` (see docs/preservation.md). The Celery app and worker come with
``dangan worker``; this module only defines the entry and the task body.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.conf import settings

TASK_NAME = "dangan.preservation.fixity_audit"
DAILY = 24 * 60 * 60.0  # seconds; Celery takes a number as an interval
FIXITY_ENTRY: dict[str, Any] = {
    "task": TASK_NAME,
    "schedule": DAILY,
    "kwargs": {"sample": "rotating"},
    "options": {"expires": DAILY / 2},  # a run that could not start within half a day is skipped
}


def celery_available() -> bool:
    return bool(getattr(settings, "BROKER_URL", "")) and importlib.util.find_spec("celery") is not None


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The beat entries to add to the Celery app's ``beat_schedule`` (none without broker/Celery)."""
    return {"dangan-fixity-audit": dict(FIXITY_ENTRY)} if celery_available() else {}


def fixity_audit(sample: str | None = "rotating") -> dict[str, Any]:
    """The task body: one audit as the system agent; returns the run summary (JSON-able)."""
    from dangan.accounts.roles import Actor, Perm
    from dangan.preservation.audit import run_audit

    actor = Actor.system("schedule:fixity", frozenset({Perm.VERIFY}))
    result = run_audit(actor, sample=sample)
    summary = result.as_dict()
    summary["problems"] = summary["problems"][:50]
    return summary
