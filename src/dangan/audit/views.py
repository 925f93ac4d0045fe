"""The auditor's pages (安全审计员): the audit trail with filters, its CSV and PDF exports, and the
verification of the hash chain.

Every page needs ``Perm.READ_AUDIT`` (the auditor role only: not the system administrator, not the
records officer) and answers 403 otherwise; ``dangan.audit.services`` checks it again and writes
the audit event of each read, export and verification. No JavaScript is needed: the filter is a GET
form, the rows open with ``<details>``, the chart is SVG drawn here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from dangan.accounts.roles import Actor, Perm
from dangan.audit import labels, services
from dangan.audit.forms import AuditFilterForm
from dangan.audit.models import AuditEvent
from dangan.audit.services import Activity, AuditFilters

NAV = "audit"  # the main-navigation entry of these pages

# The activity chart (inline SVG, sizes in SVG units; it scales to the page width).
CHART_W = 720
CHART_H = 170
CHART_TOP = 16
CHART_BOTTOM = 22
CHART_LEFT = 6
CHART_RIGHT = 6
DETAIL_PREVIEW = 80


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_user(request.user, request.META.get("REMOTE_ADDR", ""))


def _auditor(request: HttpRequest) -> Actor:
    actor = _actor(request)
    if not actor.can(Perm.READ_AUDIT):
        raise HttpForbidden(Perm.READ_AUDIT.value)
    return actor


def _lang() -> str:
    return "zh-hans" if (translation.get_language() or "zh-hans").startswith("zh") else "en"


def _form(request: HttpRequest) -> AuditFilterForm:
    params = request.GET.copy()
    params.pop("page", None)
    return AuditFilterForm(params or None, lang=_lang())


def _filters(form: AuditFilterForm) -> AuditFilters | None:
    """The form's filters; None when the form is bound and invalid."""
    if not form.is_bound:
        return AuditFilters()
    return form.filters() if form.is_valid() else None


def _row(e: AuditEvent, lang: str) -> dict[str, Any]:
    compact = json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""
    preview = compact if len(compact) <= DETAIL_PREVIEW else compact[: DETAIL_PREVIEW - 1] + "…"
    return {
        "e": e,
        "kind_label": labels.kind_label(e.kind, lang),
        "role_label": labels.role_label(e.role, lang),
        "outcome_label": labels.outcome_label(e.outcome, lang),
        "outcome_class": {"success": "pass", "failure": "fail"}.get(e.outcome, "other"),
        "preview": preview,
        "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True, indent=2) if e.detail else "",
    }


def _query(params: dict[str, str], **changes: str) -> str:
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v})


def chart(activity: Activity, params: dict[str, str], base_url: str) -> dict[str, Any]:
    """A column chart of the events per day (or month) as numbers for ``audit/_activity_chart.html``;
    each column links to the list filtered to its day (or month)."""
    n = len(activity.buckets)
    top = max((b.count for b in activity.buckets), default=0) or 1
    plot_h = CHART_H - CHART_TOP - CHART_BOTTOM
    slot = (CHART_W - CHART_LEFT - CHART_RIGHT) / max(n, 1)
    gap = min(4.0, slot * 0.2)
    every = max(1, -(-n // 12))  # at most about 12 axis labels
    bars = []
    for i, b in enumerate(activity.buckets):
        h = round(plot_h * b.count / top, 1) if b.count else 0.0
        x = round(CHART_LEFT + i * slot + gap / 2, 1)
        query = _query(params, date_from=b.start.isoformat(), date_to=b.end.isoformat(), page="")
        bars.append(
            {
                "x": x,
                "y": round(CHART_TOP + plot_h - h, 1),
                "width": round(slot - gap, 1),
                "height": h,
                "count": b.count,
                "label": b.label,
                "title": b.start.isoformat() if b.start == b.end else f"{b.start:%Y-%m}",
                "show_label": i % every == 0,
                "label_x": round(x + (slot - gap) / 2, 1),
                "url": f"{base_url}?{query}",
            }
        )
    return {
        "bars": bars,
        "width": CHART_W,
        "height": CHART_H,
        "baseline": CHART_TOP + plot_h,
        "label_y": CHART_H - 6,
        "top": top,
        "top_y": CHART_TOP - 4,
        "unit": activity.unit,
        "start": activity.start,
        "end": activity.end,
        "total": activity.total,
        "clipped": activity.clipped,
    }


def _download_headers(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"


def _filename(ext: str) -> str:
    return f"审计日志-{timezone.localtime():%Y%m%d-%H%M%S}.{ext}"


@login_required
@require_GET
def events_list(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, 50 per page, with the filter form and the activity chart."""
    actor = _auditor(request)
    lang = _lang()
    form = _form(request)
    filters = _filters(form)
    ctx: dict[str, Any] = {"nav": NAV, "form": form, "kinds": sorted(labels.KIND_LABELS),
                           "kind_prefixes": labels.kind_prefixes()}  # fmt: skip
    if filters is None:
        return render(request, "audit/events.html", {**ctx, "invalid": True}, status=400)
    result = services.read_events(actor, filters, page=request.GET.get("page"))
    params = filters.as_params()
    base_url = request.path
    return render(
        request,
        "audit/events.html",
        {
            **ctx,
            "page": result.page,
            "rows": [_row(e, lang) for e in result.page.object_list],
            "query": _query(params),
            "filtered": bool(params),
            "chart": chart(result.activity, params, base_url),
            "pdf_limit": services.MAX_PDF_ROWS,
        },
    )


@login_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered trail as CSV (UTF-8 with BOM), streamed."""
    actor = _auditor(request)
    filters = _filters(_form(request))
    if filters is None:
        return HttpResponseBadRequest("invalid filter")
    response = StreamingHttpResponse(
        services.export_csv(actor, filters), content_type="text/csv; charset=utf-8"
    )
    _download_headers(response, _filename("csv"))
    return response


@login_required
@require_GET
def export_pdf(request: HttpRequest) -> HttpResponse:
    """The filtered trail as PDF (landscape A4, at most ``MAX_PDF_ROWS`` events)."""
    actor = _auditor(request)
    filters = _filters(_form(request))
    if filters is None:
        return HttpResponseBadRequest("invalid filter")
    response = HttpResponse(services.export_pdf(actor, filters, lang=_lang()), content_type="application/pdf")
    _download_headers(response, _filename("pdf"))
    return response


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """GET: what verification does, and the button. POST: verify the chain now and show the result."""
    actor = _auditor(request)
    status = services.chain_status(actor) if request.method == "POST" else None
    return render(request, "audit/verify.html", {"nav": NAV, "status": status})
