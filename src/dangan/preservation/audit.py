"""Scheduled fixity audits (固定性检查, 长期保存 CQ): all AIPs, or a rotating sample.

A *rotating* run checks the AIPs whose last successful fixity check is oldest (never-checked ones
first), enough of them that a daily run reaches every AIP within the configured period
(``DANGAN_FIXITY_PERIOD_DAYS``, default 90): ``ceil(total / period) × SAFETY`` plus every AIP never
checked and every AIP already overdue. An AIP that fails keeps its old "last success", so it comes
first again in the next run until it is repaired.

Each AIP checked gets one FIXITY preservation event (outcome and problems); the run is one
``FixityRun`` row (counts, duration, the problems) and one audit event. The checks themselves are
``services.verify_aip`` (re-hash every blob, SM2 signature, signed manifests) and, for a record's
current version, that the record's file rows equal the AIP's payload.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from dangan.accounts.roles import Actor, Perm, require
from dangan.archive.models import Aip, Record
from dangan.archive.services import instance_key
from dangan.archive.states import RecordStatus
from dangan.audit import events
from dangan.core.errors import DanganError
from dangan.preservation import services
from dangan.preservation.events import record_event
from dangan.preservation.models import EventType, FixityRun, FixityScope, Outcome
from dangan.storage.blobstore import default_store

AGENT = "dangan.preservation.audit"
DEFAULT_PERIOD_DAYS = 90
SAFETY = 2  # a rotating run checks twice the bare daily share: missed days are caught up


def period_days() -> int:
    """``DANGAN_FIXITY_PERIOD_DAYS`` (settings or environment), default 90; at least 1."""
    value = getattr(settings, "FIXITY_PERIOD_DAYS", None) or os.environ.get("DANGAN_FIXITY_PERIOD_DAYS")
    try:
        days = int(value) if value else DEFAULT_PERIOD_DAYS
    except ValueError:
        days = DEFAULT_PERIOD_DAYS
    return max(days, 1)


def with_last_check() -> Any:  # QuerySet[Aip] annotated with last_ok (typed Any for the stubs)
    """AIPs annotated with ``last_ok``: the time of their last successful fixity check (or None)."""
    return Aip.objects.annotate(
        last_ok=Max(
            "preservation_events__at",
            filter=Q(
                preservation_events__event_type=EventType.FIXITY,
                preservation_events__outcome=Outcome.SUCCESS,
            ),
        )
    )


def overdue_aips(period: int | None = None, *, now: datetime | None = None) -> Any:
    """AIPs not checked successfully within the period (counted from creation if never checked)."""
    cutoff = (now or timezone.now()) - timedelta(days=period or period_days())
    return (
        with_last_check()
        .annotate(since=Coalesce("last_ok", "created_at"))
        .filter(since__lt=cutoff)
        .order_by("since", "id")
    )


def batch_size(total: int, period: int) -> int:
    """AIPs per rotating run so that daily runs cover ``total`` within ``period`` days (with margin)."""
    return min(total, math.ceil(total / period) * SAFETY) if total else 0


def select_sample(period: int) -> list[int]:
    """The AIP ids a rotating run checks: never checked and overdue ones, then the oldest checked."""
    total = Aip.objects.count()
    ranked = with_last_check().order_by(Coalesce("last_ok", "created_at").asc(), "id")
    never = ranked.filter(last_ok__isnull=True).count()
    overdue = overdue_aips(period).filter(last_ok__isnull=False).count()
    n = min(total, batch_size(total, period) + never + overdue)
    # Never-checked AIPs first (oldest first), then by the age of the last success.
    first = list(ranked.filter(last_ok__isnull=True).values_list("id", flat=True)[:n])
    rest = ranked.filter(last_ok__isnull=False).values_list("id", flat=True)[: max(n - len(first), 0)]
    return first + list(rest)


@dataclass
class AuditResult:
    run: FixityRun
    problems: list[services.FixityProblem]

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        r = self.run
        return {
            "run": r.pk,
            "intact": self.intact,
            "scope": r.scope,
            "period_days": r.period_days,
            "aips_total": r.aips_total,
            "aips_checked": r.aips_checked,
            "aips_failed": r.aips_failed,
            "files": r.files,
            "bytes": r.bytes,
            "overdue": r.overdue,
            "duration_ms": r.duration_ms,
            "problems": [p.as_dict() for p in self.problems],
        }


def run_audit(
    actor: Actor,
    *,
    sample: str | None = None,
    period: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditResult:
    """Check all AIPs (``sample=None``) or the rotating sample (``sample="rotating"``)."""
    require(actor, Perm.VERIFY)
    if sample not in (None, FixityScope.ROTATING):
        raise ValueError(f"unknown sample {sample!r}: use None (all) or 'rotating'")
    days = period or period_days()
    scope = FixityScope.ROTATING if sample else FixityScope.ALL
    started = time.monotonic()
    total = Aip.objects.count()
    run = FixityRun.objects.create(actor=actor.name[:150], scope=scope, period_days=days, aips_total=total)
    ids = select_sample(days) if sample else list(Aip.objects.order_by("id").values_list("id", flat=True))
    store = default_store()
    trusted = instance_key().fingerprint
    current = dict(
        Aip.objects.order_by().values("record_id").annotate(v=Max("version")).values_list("record_id", "v")
    )
    cache: dict[str, str | None] = {}
    problems: list[services.FixityProblem] = []
    agent = f"{actor.name} ({AGENT})"
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        aips = Aip.objects.filter(id__in=chunk).select_related("record").prefetch_related("files")
        for aip in sorted(aips, key=lambda a: chunk.index(a.pk)):
            found = _check(aip, store, trusted, cache, current)
            problems += found
            record_event(
                EventType.FIXITY,
                agent=agent,
                outcome=Outcome.FAILURE if found else Outcome.SUCCESS,
                record_id=aip.record_id,
                aip_id=aip.pk,
                blob_sm3=aip.tagmanifest_sm3,
                location="primary",
                run=run.pk,
                version=aip.version,
                files=aip.file_count,
                problems=[p.as_dict() for p in found[:20]],
            )
            run.aips_checked += 1
            run.aips_failed += bool(found)
            run.files += aip.file_count
            run.bytes += aip.byte_total
            if progress:
                progress(run.aips_checked, len(ids))
    for record in Record.objects.filter(status=RecordStatus.ARCHIVED, aips__isnull=True):
        code = record.archival_code or record.file_number
        problems.append(services.FixityProblem(code, "", "AIP_MISSING", "archived record has no AIP"))
    run.problem_count = len(problems)
    run.problems = [p.as_dict() for p in problems[: FixityRun.PROBLEM_LIMIT]]
    run.overdue = overdue_aips(days).count()
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.completed = True
    run.save()
    events.fixity_audit_finished(
        actor,
        run.pk,
        scope=scope,
        aips=run.aips_checked,
        total=total,
        problems=run.problem_count,
        overdue=run.overdue,
    )
    return AuditResult(run=run, problems=problems)


def _check(
    aip: Aip, store: Any, trusted: str, cache: dict[str, str | None], current: dict[int, int]
) -> list[services.FixityProblem]:
    found: list[services.FixityProblem] = []
    try:
        found += services.verify_aip(aip, store, trusted, cache)
    except DanganError as exc:  # e.g. a signer file that is no certificate: report, go on
        code = aip.record.archival_code or aip.record.file_number
        found.append(services.FixityProblem(code, services.SIGNER, exc.code, exc.message))
    if current.get(aip.record_id) == aip.version:
        found += services._record_matches_aip(aip)
    return found


def status() -> dict[str, Any]:
    """What the dashboard and the preservation page show: the latest run and the overdue count."""
    latest = FixityRun.objects.filter(completed=True).first()
    days = period_days()
    overdue = overdue_aips(days).count()
    return {
        "latest": latest,
        "period_days": days,
        "overdue": overdue,
        "total": Aip.objects.count(),
        "alert": bool(overdue or (latest and latest.problem_count)),
    }
