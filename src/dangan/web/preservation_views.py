"""长期保存 Preservation page: recent fixity audit runs (counts, problems) and the AIPs overdue for a
fixity check. Read-only; audits run from ``dangan preserve audit`` (cron) or the Celery beat entry."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dangan.accounts.roles import Perm
from dangan.preservation import audit
from dangan.preservation.models import FixityRun
from dangan.web.views import _actor, _can, _need

RUNS_SHOWN = 30
OVERDUE_SHOWN = 50
PROBLEMS_SHOWN = 50


@login_required
@require_GET
def preservation(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VERIFY)
    status = audit.status()
    runs: list[dict[str, Any]] = [
        {"run": r, "problems": r.problems[:PROBLEMS_SHOWN], "more": max(r.problem_count - PROBLEMS_SHOWN, 0)}
        for r in FixityRun.objects.all()[:RUNS_SHOWN]
    ]
    overdue = list(audit.overdue_aips(status["period_days"]).select_related("record")[:OVERDUE_SHOWN])
    return render(
        request,
        "web/preservation.html",
        {
            "can": _can(actor),
            "status": status,
            "runs": runs,
            "overdue_aips": overdue,
            "nav": "preservation",
        },
    )
