"""Pages of the web UI (Chinese first, English second).

Views read models to show them, and call services for every change of state: confirming and
returning records, and reading a record's files (which the service audits). Permissions are
checked here first so that a refusal is a plain 403 page; the services check them again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OrderBy, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dangan.accounts.roles import Actor, Perm, scoped
from dangan.accounts.roles import PermissionDenied as RolePermissionDenied
from dangan.archive import services as archive_services
from dangan.archive.counts import COUNT_CAP, bounded_count, catalogue_counts, remember, submission_stamp
from dangan.archive.models import Record, RecordFile
from dangan.archive.states import RecordStatus
from dangan.audit import events
from dangan.audit.models import AuditEvent
from dangan.catalog.models import Fonds, ServiceItem
from dangan.core.checks.catalogue import item_for_code
from dangan.core.checks.model import PROPERTY_ZH
from dangan.core.codes import RETENTION_CODES, RETENTION_LABELS_EN
from dangan.core.errors import DanganError
from dangan.core.package import schema
from dangan.ingest import services as ingest_services
from dangan.ingest.models import Submission
from dangan.ingest.states import SubmissionStatus
from dangan.jobs import services as job_services
from dangan.jobs.models import Job
from dangan.jobs.states import KIND_PERMS, JobKind, JobStatus
from dangan.reports import catalogue as catalogue_reports
from dangan.reports import render_html, render_pdf, render_registration_html, render_registration_pdf
from dangan.reports.html import outcome_columns
from dangan.reports.records import archived_records, record_reports, registration_input, report_filename
from dangan.reports.summary import build_view
from dangan.web import deadlines as deadline_data
from dangan.web.forms import RecordFilterForm, ReturnForm

PAGE_SIZE = 50

SUBMISSION_LABELS = {
    SubmissionStatus.RECEIVED: gettext_lazy("Received"),
    SubmissionStatus.CHECKING: gettext_lazy("Checking"),
    SubmissionStatus.REJECTED: gettext_lazy("Rejected"),
    SubmissionStatus.DUPLICATE: gettext_lazy("Duplicate"),
    SubmissionStatus.ACCEPTED: gettext_lazy("Accepted"),
}
RECORD_LABELS = {
    RecordStatus.PRE_ARCHIVE: gettext_lazy("Pre-archive"),
    RecordStatus.ARCHIVED: gettext_lazy("Archived"),
    RecordStatus.RETURNED: gettext_lazy("Returned"),
}
OUTCOME_LABELS = {
    "pass": gettext_lazy("Pass"),
    "fail": gettext_lazy("Fail"),
    "warning": gettext_lazy("Warning"),
    "not_applicable": gettext_lazy("Not applicable"),
    "not_run": gettext_lazy("Not run"),
}
# Which main-navigation entry a record page belongs to, by the record's status (returned: none).
NAV_FOR_STATUS = {
    RecordStatus.PRE_ARCHIVE: "prearchive",
    RecordStatus.ARCHIVED: "records",
    RecordStatus.RETURNED: "returned",
}
PROPERTY_EN = {
    "authenticity": "Authenticity",
    "integrity": "Integrity",
    "usability": "Usability",
    "security": "Security",
}


# ---------------------------------------------------------------------------------------------
# Helpers


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_user(request.user, request.META.get("REMOTE_ADDR", ""))


def _need(actor: Actor, perm: Perm) -> None:
    if not actor.can(perm):
        raise HttpForbidden(perm.value)


def _can(actor: Actor) -> dict[str, bool]:
    """What the templates may offer; every action is checked again by its view and service."""
    return {
        "view_records": actor.can(Perm.VIEW_RECORDS),
        "view_submissions": actor.can(Perm.VIEW_SUBMISSIONS),
        "confirm": actor.can(Perm.CONFIRM),
        "return": actor.can(Perm.RETURN),
        "download": actor.can(Perm.DOWNLOAD),
        "supplement": actor.can(Perm.SUPPLEMENT),
        "correct": actor.can(Perm.CORRECT),
        "reclassify": actor.can(Perm.RECLASSIFY),
    }


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _zh() -> bool:
    return (translation.get_language() or "zh-hans").startswith("zh")


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _error_text(exc: Exception) -> str:
    if isinstance(exc, DanganError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, RolePermissionDenied):
        return f"{exc.code}: {exc}"
    return str(exc)


def retention_text(code: str) -> str:
    label = RETENTION_CODES.get(code, "") if _zh() else RETENTION_LABELS_EN.get(code, "")
    return f"{code} {label}".strip()


def _scope(actor: Actor, perm: Perm) -> str:
    ids = actor.fonds_ids(perm)
    return "all" if ids is None else ",".join(str(i) for i in sorted(ids))


def _fixity_stamp() -> tuple[Any, ...]:
    """Changes with any new preservation event, AIP or fixity run, and every day (overdue is by date)."""
    from django.db.models import Max

    from dangan.archive.models import Aip
    from dangan.preservation.models import FixityRun, PreservationEvent

    latest = FixityRun.objects.filter(completed=True).values_list("id", "problem_count").first()
    return (
        tuple(PreservationEvent.objects.aggregate(Max("id"), Max("at")).values()),
        Aip.objects.aggregate(Max("id"))["id__max"],
        latest,
        timezone.localdate(),
    )


class IdFirstPaginator(Paginator):  # type: ignore[type-arg]
    """Reads a page's ids first, then those rows: on the list's index the ids come from the index alone,
    so a deep page costs index entries, not the rows (and their large JSON columns) before it."""

    ids: list[Any] | None = None  # every id of the selection, in order, when already read

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        qs: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        if self.ids is not None:
            ids = self.ids[bottom:top]
        else:
            ids = list(qs.values_list("pk", flat=True)[bottom:top])
        rows = {r.pk: r for r in qs.filter(pk__in=ids)}
        return Page([rows[i] for i in ids if i in rows], number, self)


def _page(
    request: HttpRequest,
    qs: QuerySet[Any],
    count: int | None = None,
    *,
    kind: type[Paginator[Any]] = Paginator,
) -> Page[Any]:
    paginator = kind(qs, PAGE_SIZE)
    if count is not None:  # known already (archive.counts): no COUNT(*) over the whole selection
        paginator.count = count
    return paginator.get_page(request.GET.get("page"))


def _archived_count(actor: Actor, qs: QuerySet[Record], form: RecordFilterForm) -> int:
    """How many records the formal library's filter selects: counted when at most ``COUNT_CAP``, else
    from the cached counts for the filters they know (all but the search text)."""
    found = bounded_count(qs, COUNT_CAP)
    data = getattr(form, "cleaned_data", {}) if form.is_bound else {}
    if found <= COUNT_CAP or data.get("q"):
        return found if found <= COUNT_CAP else qs.count()
    return catalogue_counts(actor.fonds_ids(Perm.VIEW_RECORDS)).total(
        status=RecordStatus.ARCHIVED,
        fonds_id=data.get("fonds"),
        year=data.get("year"),
        service_item_id=data.get("service_item"),
        retention=data.get("retention"),
    )


def check_summary(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Outcome counts of a check report, for a compact summary (only outcomes that occur)."""
    counts = (report or {}).get("counts") or {}
    if not counts:
        counts = {}
        for r in (report or {}).get("results", []):
            counts[r.get("outcome", "")] = counts.get(r.get("outcome", ""), 0) + 1
    return [
        {"outcome": o, "label": OUTCOME_LABELS[o], "count": counts[o]}
        for o in OUTCOME_LABELS
        if counts.get(o)
    ]


def report_time(report: dict[str, Any] | None) -> datetime | None:
    value = (report or {}).get("finished_at") or (report or {}).get("started_at") or ""
    try:
        return parse_datetime(value) if value else None
    except ValueError:
        return None


def report_rows(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The results of a check report with the catalogue's item names in the active language."""
    zh = _zh()
    rows = []
    for r in (report or {}).get("results", []):
        item = item_for_code(r.get("code", ""))
        outcome = r.get("outcome", "")
        prop = ""
        if item is not None:
            prop = PROPERTY_ZH.get(item.prop, item.prop.value) if zh else PROPERTY_EN.get(item.prop.value, "")
        rows.append(
            {
                "code": r.get("code", ""),
                "name": (item.name_zh if zh else item.name_en) if item else "",
                "property": prop,
                "outcome": outcome,
                "outcome_label": OUTCOME_LABELS.get(outcome, outcome),
                "target": r.get("target", ""),
                "message": r.get("message", ""),
                "blocking": r.get("blocking", True),
            }
        )
    return rows


def _archived_message(record: Record) -> SafeString:
    link = format_html(
        '<a class="code-link" href="{}">{}</a>', reverse("web:record", args=[record.pk]), record.archival_code
    )
    return format_html(
        _("{file_number} archived with archival code {code}"), file_number=record.file_number, code=link
    )


def _prearchive_row(record: Record) -> dict[str, Any]:
    return {
        "record": record,
        "summary": check_summary(record.check_report),
        "retention": retention_text(record.retention),
    }


def _waiting_count(actor: Actor) -> int:
    return archive_services.visible_records(actor).filter(status=RecordStatus.PRE_ARCHIVE).count()


def _row_response(request: HttpRequest, record_id: int, *, error: str = "", done: str = "") -> HttpResponse:
    """The row of the pre-archive table after an htmx confirm/return, plus the waiting counter
    (swapped out of band, so the page's "N cases waiting" stays true)."""
    actor = _actor(request)
    record = (
        archive_services.visible_records(actor).select_related("service_item").filter(pk=record_id).first()
    )
    return render(
        request,
        "web/_prearchive_row_response.html",
        {
            "row": _prearchive_row(record) if record is not None else None,
            "row_error": error,
            "row_done": done,
            "can": _can(actor),
            "next": reverse("web:prearchive"),
            "record_labels": RECORD_LABELS,
            "waiting": _waiting_count(actor),
        },
    )


def submission_source(sub: Submission) -> str:
    """Who sent a submission: the source system's name and code, or the CLI operator."""
    if sub.source_system is not None:
        return f"{sub.source_system.name} ({sub.source_system.code})"
    if sub.channel == "cli":
        return _("Command line {operator}").format(operator=sub.submitted_by).strip()
    return sub.submitted_by


# ---------------------------------------------------------------------------------------------
# Dashboard


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    ctx: dict[str, Any] = {"can": _can(actor)}
    if actor.can(Perm.VIEW_SUBMISSIONS):
        subs = ingest_services.visible_submissions(actor)
        counts = remember(
            f"submission-counts:{actor.source_system_id}:{actor.name}:{_scope(actor, Perm.VIEW_SUBMISSIONS)}",
            submission_stamp(),
            lambda: dict(subs.order_by().values_list("status").annotate(n=Count("id"))),
        )
        sub_links = {SubmissionStatus.REJECTED: reverse("web:rejected")}
        ctx["submission_cards"] = [
            {"status": s.value, "label": label, "count": counts.get(s.value, 0), "url": sub_links.get(s, "")}
            for s, label in SUBMISSION_LABELS.items()
        ]
    if actor.can(Perm.VIEW_RECORDS):
        # From the cached counts (archive.counts): no GROUP BY over the whole library per page view.
        catalogue = catalogue_counts(actor.fonds_ids(Perm.VIEW_RECORDS))
        counts = catalogue.by("status")
        record_links = {
            RecordStatus.PRE_ARCHIVE: reverse("web:prearchive"),
            RecordStatus.ARCHIVED: reverse("web:records"),
        }
        ctx["record_cards"] = [
            {
                "status": s.value,
                "label": label,
                "count": counts.get(s.value, 0),
                "url": record_links.get(s, ""),
            }
            for s, label in RECORD_LABELS.items()
        ]
        records_url = reverse("web:records")
        per_item = catalogue.by("service_item_id", status=RecordStatus.ARCHIVED)
        items = {i.pk: i for i in ServiceItem.objects.filter(pk__in=per_item).only("code", "name")}
        ctx["by_item"] = [
            {
                "label": item.name or item.code,
                "value": n,
                "url": f"{records_url}?service_item={pk}",
            }
            for pk, n in sorted(per_item.items(), key=lambda kv: (-kv[1], items[kv[0]].code))
            for item in [items[pk]]
        ]
        ctx["by_year"] = [
            {"label": str(year), "value": n, "url": f"{records_url}?year={year}"}
            for year, n in sorted(catalogue.by("year", status=RecordStatus.ARCHIVED).items())
        ]
        ctx["deadlines"] = deadline_data.overview(
            limit=DASHBOARD_CHART_ROWS, fonds_ids=actor.fonds_ids(Perm.VIEW_RECORDS)
        )
    if actor.can(Perm.VERIFY):  # fixity alert banner (长期保存): latest audit's problems, overdue AIPs
        from dangan.preservation.audit import status as fixity_status

        ctx["fixity"] = remember("fixity-status", _fixity_stamp(), fixity_status, ttl=60)
    return render(request, "web/dashboard.html", ctx)


# ---------------------------------------------------------------------------------------------
# Pre-archive library (预归档库)


@login_required
@require_GET
def prearchive(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    qs = (
        archive_services.visible_records(actor)
        .filter(status=RecordStatus.PRE_ARCHIVE)
        .select_related("service_item")
        .defer("metadata")  # not shown in the list (the check report is, as its summary)
        .order_by("created_at", "id")
    )
    page = _page(request, qs)
    events.records_listed(
        actor, channel="web", filters={"status": "pre_archive", "page": page.number}, count=len(page)
    )
    return render(
        request,
        "web/prearchive.html",
        {
            "can": _can(actor),
            "page": page,
            "rows": [_prearchive_row(r) for r in page],
            "next": request.get_full_path(),
            "record_labels": RECORD_LABELS,
            "waiting": page.paginator.count,
            "select_limit": job_services.SELECT_LIMIT,
            "classes": _class_choices(),
        },
    )


@login_required
@require_POST
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.CONFIRM)
    try:
        record = archive_services.confirm(actor, pk, gap_reason=request.POST.get("gap_reason", ""))
    except (DanganError, RolePermissionDenied) as exc:
        if _is_htmx(request):
            return _row_response(request, pk, error=_error_text(exc))
        messages.error(request, _error_text(exc))
    else:
        if _is_htmx(request):
            return _row_response(request, pk, done="archived")
        messages.success(request, _archived_message(record))
    return HttpResponseRedirect(_safe_next(request, reverse("web:prearchive")))


@login_required
@require_POST
def confirm_selected(request: HttpRequest) -> HttpResponse:
    """The selected cases confirmed as a background job (see ``bulk_start``); answers with its page."""
    return _start_bulk(request, "confirm", scope="prearchive")


@login_required
@require_POST
def return_record(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.RETURN)
    form = ReturnForm(request.POST)
    error = ""
    if not form.is_valid():
        error = " ".join(str(e) for e in form.errors.get("reason", [])) or _("Invalid input.")
    else:
        try:
            record = archive_services.return_record(actor, pk, reason=form.cleaned_data["reason"])
        except (DanganError, RolePermissionDenied) as exc:
            error = _error_text(exc)
    if _is_htmx(request):
        return _row_response(request, pk, error=error, done="" if error else "returned")
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            _("{file_number} returned to its sender.").format(file_number=record.file_number),
        )
    return HttpResponseRedirect(_safe_next(request, reverse("web:prearchive")))


# ---------------------------------------------------------------------------------------------
# Formal library (正式库) and record page


def archived_filtered(actor: Actor, params: Any) -> tuple[RecordFilterForm, QuerySet[Record], str]:
    """The formal library's filter form bound to ``params`` and the archived records of the actor's
    fonds it selects, in order (the list page and "select all matching the filter" of bulk jobs)."""
    qs = (
        archive_services.visible_records(actor)
        .filter(status=RecordStatus.ARCHIVED)
        .select_related("fonds", "service_item")
    )
    # The years present, from the cached counts (a DISTINCT over the whole library is too slow at scale).
    counts = catalogue_counts(actor.fonds_ids(Perm.VIEW_RECORDS))
    years = sorted(counts.by("year", status=RecordStatus.ARCHIVED), reverse=True)
    form = RecordFilterForm(params or None, years=years, zh=_zh())
    sort = "code"  # by 档号 unless another order is chosen
    if form.is_bound:
        form.is_valid()  # keep whatever fields are valid; ignore the rest
        data = getattr(form, "cleaned_data", {})
        if data.get("q"):
            q = data["q"]
            qs = qs.filter(
                Q(archival_code__icontains=q) | Q(title__icontains=q) | Q(file_number__icontains=q)
            )
        if data.get("fonds"):
            qs = qs.filter(fonds=data["fonds"])
        if data.get("year"):
            qs = qs.filter(year=data["year"])
        if data.get("service_item"):
            qs = qs.filter(service_item=data["service_item"])
        if data.get("retention"):
            qs = qs.filter(retention=data["retention"])
        sort = data.get("sort") or sort
    qs = qs.order_by(*(("-archival_code", "-id") if sort == "-code" else ("archival_code", "id")))
    return form, qs, sort


@login_required
@require_GET
def records(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    form, qs, sort = archived_filtered(actor, request.GET)
    ids = None
    if form.is_bound and getattr(form, "cleaned_data", {}).get("q"):
        # A search: its matches found through the (trigram) indexes and sorted — not the 档号 index
        # walked in order looking for them (the planner cannot tell how few match, and may walk the
        # whole library for one 档号) — and their ids read once, for the count and the page.
        # Same order as the list's: codes are never null here.
        desc = sort == "-code"
        by_code = qs.order_by(
            OrderBy(Concat(F("archival_code"), Value("")), descending=desc), OrderBy(F("id"), descending=desc)
        )
        ids = list(by_code.values_list("pk", flat=True)[: COUNT_CAP + 1])
        if len(ids) > COUNT_CAP:  # many matches: the list's own order finds a page fast
            ids = None
    # The list shows neither the package metadata nor the check report: not read (≈15 KB of JSON a row).
    paginator = IdFirstPaginator(qs.defer("metadata", "check_report"), PAGE_SIZE)
    paginator.count = len(ids) if ids is not None else _archived_count(actor, qs, form)
    paginator.ids = ids
    page = paginator.get_page(request.GET.get("page"))
    filters = {k: v[:100] for k, v in request.GET.items() if k != "page"}
    events.records_listed(actor, channel="web", filters={**filters, "page": page.number}, count=len(page))
    return render(
        request,
        "web/records.html",
        {
            "can": _can(actor),
            "form": form,
            "page": page,
            "sort": sort,
            "next_sort": "-code" if sort == "code" else "code",
            "retention_texts": {code: retention_text(code) for code in RETENTION_CODES},
            "filter_params": [
                (name, value)
                for name in ("q", "fonds", "year", "service_item", "retention")
                for value in request.GET.getlist(name)[:1]
                if value
            ],
            "select_limit": job_services.SELECT_LIMIT,
            "next": request.get_full_path(),
        },
    )


# Labels that differ from the package format's element names, where the page needs them told apart:
# the sender's 归档时间 is not the time dangan confirmed the record ("Archived at" on the same page).
FIELD_LABELS = {
    (schema.Group.CASE, "archived_at"): gettext_lazy("Archived at (sender)"),
}


def _label(e: schema.Element, zh: bool) -> str:
    label = FIELD_LABELS.get((e.group, e.attr))
    if label is not None:
        return str(label)
    return e.name if zh else e.name_en


def _fields(data: dict[str, Any] | None, group: schema.Group, zh: bool) -> list[dict[str, Any]]:
    data = data or {}
    return [
        {"label": _label(e, zh), "value": data.get(e.attr), "datetime": e.kind == schema.Kind.DATETIME}
        for e in schema.elements_of(group)
        if e.attr in data
    ]


def _table(items: list[dict[str, Any]] | None, group: schema.Group, zh: bool) -> dict[str, Any]:
    elements = schema.elements_of(group)
    return {
        "headers": [_("No."), *[_label(e, zh) for e in elements]],
        "datetime_columns": [False, *[e.kind == schema.Kind.DATETIME for e in elements]],
        "rows": [
            [i.get("sequence") or str(n), *[i.get(e.attr) for e in elements]]
            for n, i in enumerate(items or [], 1)
        ],
    }


def metadata_sections(metadata: dict[str, Any], files: list[RecordFile]) -> dict[str, Any]:
    """The package metadata grouped as in the package (归档配置信息, 办件基本信息, ...)."""
    zh = _zh()
    config = metadata.get("config") or {}
    case = metadata.get("case") or {}
    declared = {f.get("path"): f for f in metadata.get("files") or [] if f.get("path")}
    return {
        "config": _fields(config, schema.Group.ARCHIVE_CONFIG, zh),
        "scope": [
            {"code": s.get("code"), "name": s.get("name"), "required": s.get("required")}
            for s in config.get("scope") or []
        ],
        "case": _fields(case, schema.Group.CASE, zh),
        "applicant": _fields(case.get("applicant"), schema.Group.APPLICANT, zh),
        "steps": _table(metadata.get("steps"), schema.Group.STEP, zh),
        "licenses": _table(metadata.get("licenses"), schema.Group.LICENSE, zh),
        "files": [
            {
                "file": f,
                "actual_name": actual,
                "show_actual_name": bool(actual) and actual != PurePosixPath(f.path).name,
            }
            for f in files
            for actual in [(declared.get(f.path) or {}).get("actual_name") or ""]
        ],
        "declared_file_count": metadata.get("declared_file_count"),
        "declared_byte_total": metadata.get("declared_byte_total"),
        "version": metadata.get("version"),
    }


@login_required
@require_GET
def record(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    try:
        rec = archive_services.read_record(actor, pk, channel="web")
    except archive_services.RecordNotFound:
        raise Http404(_("No such record.")) from None
    files = list(rec.files.all())
    submissions = (
        [
            {"sub": s, "source": submission_source(s)}
            for s in rec.submissions.select_related("source_system").order_by("-received_at")
        ]
        if actor.can(Perm.VIEW_SUBMISSIONS, rec.fonds_id)
        else []
    )
    returned = None
    if rec.status == RecordStatus.RETURNED:
        returned = AuditEvent.objects.filter(
            kind="record.returned", object_type="record", object_id=str(rec.pk)
        ).last()
    return render(
        request,
        "web/record.html",
        {
            "can": _can(actor),
            "record": rec,
            "status_label": RECORD_LABELS.get(RecordStatus(rec.status), rec.status),
            "retention": retention_text(rec.retention),
            "meta": metadata_sections(rec.metadata or {}, files),
            "report": rec.check_report or {},
            "report_rows": report_rows(rec.check_report),
            "report_time": report_time(rec.check_report),
            "summary": check_summary(rec.check_report),
            **record_report_context(rec),
            "aips": list(rec.aips.order_by("-version")),
            **record_versions_context(rec),
            "submissions": submissions,
            "submission_labels": SUBMISSION_LABELS,
            "next": request.get_full_path(),
            "returned": returned,
            "preservation_events": list(
                rec.preservation_events.select_related("aip").order_by("-at", "-id")[:200]
            ),
            "nav": NAV_FOR_STATUS.get(RecordStatus(rec.status), ""),
        },
    )


@login_required
@require_GET
def record_file(request: HttpRequest, pk: int, path: str) -> FileResponse:
    actor = _actor(request)
    _need(actor, Perm.DOWNLOAD)
    rec = get_object_or_404(archive_services.visible_records(actor, Perm.DOWNLOAD), pk=pk)
    try:
        f, stream = archive_services.open_record_file(actor, rec, path)
    except (RecordFile.DoesNotExist, archive_services.RecordNotFound):
        raise Http404(path) from None
    except RolePermissionDenied:
        raise HttpForbidden(Perm.DOWNLOAD.value) from None
    name = PurePosixPath(f.path).name or "file"
    response = FileResponse(stream, as_attachment=True, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------------------------------------
# Check reports (四性检测报告) and the 归档登记表 (GB/T 18894 表A.1)

# A registration form lists every record it covers; a larger set must be narrowed (by fonds or dates).
MAX_REGISTRATION_RECORDS = 5000


def _report_lang() -> str:
    return "zh-hans" if _zh() else "en"


def registration_url(rec: Record) -> str:
    """The 归档登记表 of the day ``rec`` was confirmed in its fonds ("" before confirmation)."""
    if rec.status != RecordStatus.ARCHIVED or rec.archived_at is None:
        return ""
    day = timezone.localtime(rec.archived_at).date().isoformat()
    query = urlencode({"fonds": rec.fonds.code, "from": day, "to": day})
    return f"{reverse('web:registration-form')}?{query}"


def record_report_context(rec: Record) -> dict[str, Any]:
    """The record page's check report: grouped by property (the same grouping as the HTML and PDF
    reports), with the download links."""
    lang = _report_lang()
    return {
        "report_view": build_view(rec.check_report, lang) if rec.check_report else None,
        "report_columns": outcome_columns(lang),
        "registration_url": registration_url(rec),
    }


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if content_type.startswith("text/html"):
        # The report has no script and loads nothing; should it be opened from here, it may not either.
        response["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
        )
    return response


@login_required
@require_GET
def record_report(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The record's check report as PDF or HTML (whoever may view the record may download it)."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    try:
        rec = archive_services.read_record(actor, pk, channel="web", what=f"check report ({fmt})")
    except archive_services.RecordNotFound:
        raise Http404(_("No such record.")) from None
    reports = record_reports(rec)
    if not reports:
        raise Http404(_("No check report."))
    lang = _report_lang()
    if fmt == "pdf":
        return _download(render_pdf(reports, lang=lang), "application/pdf", report_filename(rec, "pdf"))
    body = render_html(reports, lang=lang).encode("utf-8")
    return _download(body, "text/html; charset=utf-8", report_filename(rec, "html"))


@login_required
@require_GET
def registration_form(request: HttpRequest) -> HttpResponse:
    """The 归档登记表 of the formal library's records confirmed from ``from`` to ``to`` (YYYY-MM-DD,
    both optional and inclusive), optionally of one ``fonds`` (全宗号); ``format=html`` for HTML."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    try:
        date_from = parse_date(request.GET.get("from") or "") if request.GET.get("from") else None
        date_to = parse_date(request.GET.get("to") or "") if request.GET.get("to") else None
    except ValueError:
        date_from = date_to = None
    if (request.GET.get("from") and date_from is None) or (request.GET.get("to") and date_to is None):
        return HttpResponseBadRequest(_("Dates must be given as YYYY-MM-DD."))
    qs = archived_records(fonds=request.GET.get("fonds") or None, date_from=date_from, date_to=date_to)
    qs = scoped(qs, actor, Perm.VIEW_RECORDS)
    count = qs.count()
    if not count:
        raise Http404(_("No archived records match."))
    if count > MAX_REGISTRATION_RECORDS:
        return HttpResponseBadRequest(
            _("{count} records match: choose a fonds or a shorter period.").format(count=count)
        )
    data = registration_input(qs, archived_from=date_from, archived_to=date_to)
    lang = _report_lang()
    name = "归档登记表"
    if data.archived_from:
        name += f"-{data.archived_from:%Y%m%d}"
        if data.archived_to and data.archived_to != data.archived_from:
            name += f"-{data.archived_to:%Y%m%d}"
    fmt = "html" if request.GET.get("format") == "html" else "pdf"
    filters = {k: request.GET.get(k, "")[:100] for k in ("fonds", "from", "to")}
    events.records_exported(actor, what="registration form", fmt=fmt, filters=filters, count=count)
    if fmt == "html":
        body = render_registration_html(data, lang=lang).encode("utf-8")
        return _download(body, "text/html; charset=utf-8", f"{name}.html")
    return _download(render_registration_pdf(data, lang=lang), "application/pdf", f"{name}.pdf")


# ---------------------------------------------------------------------------------------------
# Deadlines (归档 and 移交 期限) and the 归档目录 / 归档登记表 downloads (XLSX, PDF)

DASHBOARD_CHART_ROWS = 8  # agencies per chart on the dashboard; the deadline page shows all
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
@require_GET
def deadlines(request: HttpRequest) -> HttpResponse:
    """What is overdue or due within 90 days, per agency (实施机构) and service item, with charts."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    return render(
        request,
        "web/deadlines.html",
        {
            "can": _can(actor),
            "kinds": deadline_data.overview(fonds_ids=actor.fonds_ids(Perm.VIEW_RECORDS)),
            "today": deadline_data.today(),
        },
    )


@login_required
@require_GET
def deadline_records(request: HttpRequest) -> HttpResponse:
    """The records behind a deadline count (``kind``, ``band``, ``fonds``, ``agency``,
    ``service_item``), most urgent first."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    f = deadline_data.parse_filter(request.GET)
    page = _page(request, deadline_data.filtered_records(f, fonds_ids=actor.fonds_ids(Perm.VIEW_RECORDS)))
    item = ServiceItem.objects.filter(pk=f.service_item).first() if f.service_item is not None else None
    rules = deadline_data.current_rules()
    return render(
        request,
        "web/deadline_records.html",
        {
            "can": _can(actor),
            "page": page,
            "rows": deadline_data.list_rows(page.object_list, f.kind),
            "filter": f,
            "kind_label": deadline_data.KIND_LABELS[f.kind],
            "band_label": deadline_data.BAND_LABELS.get(f.band, _("Overdue or due within 90 days")),
            "anchor_label": deadline_data.ANCHOR_LABELS[rules.rule(f.kind).anchor],
            "rule": rules.rule(f.kind).describe(translation.get_language() or "zh-hans"),
            "item": item,
            "kinds": [
                {"key": k.value, "label": label, "url": deadline_data.list_url(replace(f, kind=k))}
                for k, label in deadline_data.KIND_LABELS.items()
            ],
            "bands": [
                {"key": b, "label": label, "url": deadline_data.list_url(replace(f, band=b))}
                for b, label in [("", _("All")), *deadline_data.BAND_LABELS.items()]
            ],
            "retention_texts": {code: retention_text(code) for code in RETENTION_CODES},
        },
    )


def _catalogue_selection(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    """``fonds``, ``from``/``to`` (confirmation dates, YYYY-MM-DD, inclusive) and ``batch`` (批次号)
    of a catalogue or registration-form download, or the 400 answer to bad dates."""
    values = {}
    for key in ("from", "to"):
        raw = (request.GET.get(key) or "").strip()
        try:
            values[key] = parse_date(raw) if raw else None
        except ValueError:
            values[key] = None
        if raw and values[key] is None:
            return HttpResponseBadRequest(_("Dates must be given as YYYY-MM-DD."))
    return {
        "fonds": (request.GET.get("fonds") or "").strip(),
        "date_from": values["from"],
        "date_to": values["to"],
        "batch": (request.GET.get("batch") or "").strip(),
    }


def _selection_filters(sel: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) if v is not None else "" for k, v in sel.items()}


def _selection_name(prefix: str, sel: dict[str, Any]) -> str:
    """归档目录-T001-20250101-20250131 (characters unsafe in file names replaced)."""
    parts = [prefix]
    if sel["fonds"]:
        parts.append(sel["fonds"])
    if sel["batch"]:
        parts.append(sel["batch"])
    a, b = sel["date_from"], sel["date_to"]
    if a:
        parts.append(f"{a:%Y%m%d}")
    if b and b != a:
        parts.append(f"{b:%Y%m%d}")
    return "-".join("".join(ch if ch.isalnum() or ch in "-_·." else "_" for ch in p) for p in parts)


def _selected_records(
    request: HttpRequest, actor: Actor, limit: int
) -> tuple[dict[str, Any], QuerySet[Record]] | HttpResponse:
    sel = _catalogue_selection(request)
    if isinstance(sel, HttpResponse):
        return sel
    qs = scoped(catalogue_reports.catalogue_records(**sel), actor, Perm.VIEW_RECORDS)
    count = qs.count()
    if not count:
        raise Http404(_("No archived records match."))
    if count > limit:
        return HttpResponseBadRequest(
            _("{count} records match: choose a fonds or a shorter period.").format(count=count)
        )
    return sel, qs


@login_required
@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    """The page to download the 归档目录 and the 归档登记表 of a fonds, period or batch."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    sel = _catalogue_selection(request)
    if isinstance(sel, HttpResponse):
        sel = {"fonds": "", "date_from": None, "date_to": None, "batch": ""}
    return render(
        request,
        "web/catalogue.html",
        {
            "can": _can(actor),
            "fonds_list": scoped(Fonds.objects.order_by("code"), actor, Perm.VIEW_RECORDS, field="pk"),
            "sel": sel,
            "max_pdf": catalogue_reports.MAX_PDF_ROWS,
            "max_xlsx": catalogue_reports.MAX_XLSX_ROWS,
        },
    )


@login_required
@require_GET
def catalogue_download(request: HttpRequest, fmt: str) -> HttpResponse:
    """The 归档目录 as XLSX or PDF (same selection as ``catalogue``)."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    limit = catalogue_reports.MAX_PDF_ROWS if fmt == "pdf" else catalogue_reports.MAX_XLSX_ROWS
    found = _selected_records(request, actor, limit)
    if isinstance(found, HttpResponse):
        return found
    sel, qs = found
    events.records_exported(
        actor, what="catalogue", fmt=fmt, filters=_selection_filters(sel), count=qs.count()
    )
    cat = catalogue_reports.catalogue_from_records(
        qs, fonds=sel["fonds"], archived_from=sel["date_from"], archived_to=sel["date_to"], batch=sel["batch"]
    )
    name = _selection_name("归档目录", sel)
    lang = _report_lang()
    if fmt == "pdf":
        return _download(
            catalogue_reports.render_catalogue_pdf(cat, lang=lang), "application/pdf", f"{name}.pdf"
        )
    return _download(catalogue_reports.render_catalogue_xlsx(cat, lang=lang), XLSX_TYPE, f"{name}.xlsx")


@login_required
@require_GET
def registration_download(request: HttpRequest, fmt: str) -> HttpResponse:
    """The 归档登记表 as XLSX (the form and the list of its records) or PDF, for the same selection
    as ``catalogue`` (a batch too)."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_RECORDS)
    found = _selected_records(request, actor, MAX_REGISTRATION_RECORDS)
    if isinstance(found, HttpResponse):
        return found
    sel, qs = found
    events.records_exported(
        actor, what="registration form", fmt=fmt, filters=_selection_filters(sel), count=qs.count()
    )
    data = registration_input(
        qs.select_related("fonds").prefetch_related("files"),
        archived_from=sel["date_from"],
        archived_to=sel["date_to"],
    )
    name = _selection_name("归档登记表", sel)
    lang = _report_lang()
    if fmt == "pdf":
        return _download(render_registration_pdf(data, lang=lang), "application/pdf", f"{name}.pdf")
    return _download(catalogue_reports.render_registration_xlsx(data, lang=lang), XLSX_TYPE, f"{name}.xlsx")


# ---------------------------------------------------------------------------------------------
# Rejected submissions (拒收)


@login_required
@require_GET
def rejected(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_SUBMISSIONS)
    qs = (
        ingest_services.visible_submissions(actor)
        .filter(status=SubmissionStatus.REJECTED)
        .order_by("-received_at")
    )
    page = _page(request, qs)
    return render(request, "web/rejected.html", {"can": _can(actor), "page": page})


@login_required
@require_GET
def submission(request: HttpRequest, pk: UUID) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_SUBMISSIONS)
    sub = get_object_or_404(
        ingest_services.visible_submissions(actor).select_related("source_system", "record"), pk=pk
    )
    events.submission_viewed(actor, sub.pk, channel="web")
    return render(
        request,
        "web/submission.html",
        {
            "can": _can(actor),
            "sub": sub,
            "status_label": SUBMISSION_LABELS.get(SubmissionStatus(sub.status), sub.status),
            "report": sub.report or {},
            "report_rows": report_rows(sub.report),
            "report_time": report_time(sub.report),
            "summary": check_summary(sub.report),
            "can_view_record": sub.record is not None and actor.can(Perm.VIEW_RECORDS, sub.record.fonds_id),
            "source": submission_source(sub),
        },
    )


# ---------------------------------------------------------------------------------------------
# 容缺归档 and AIP versions: the gap banner, the versions list, supplements and corrections

VERSION_LABELS = {
    "archived": gettext_lazy("Archived"),
    "supplement": gettext_lazy("Supplement"),
    "correction": gettext_lazy("Correction"),
}
CATEGORY_LABELS_EN = {
    "申报材料": "Application",
    "过程材料": "Process",
    "结果材料": "Result",
    "电子证照": "Licence",
}


def _category_choices() -> list[tuple[str, str]]:
    zh = _zh()
    return [(c, c if zh else f"{c} {CATEGORY_LABELS_EN.get(c, '')}".strip()) for c in schema.CATEGORY_FOLDERS]


def _correctable_fields(rec: Record) -> list[dict[str, Any]]:
    """The metadata items a correction may change, with their current values (for the form)."""
    from dangan.archive.versions import correctable_elements

    zh = _zh()
    case = (rec.metadata or {}).get("case") or {}
    applicant = case.get("applicant") or {}
    out = []
    for key, e in correctable_elements():
        values = applicant if e.group == schema.Group.APPLICANT else case
        value = values.get(e.attr)
        out.append(
            {
                "key": key,
                "label": _label(e, zh),
                "group": e.group.value,
                "value": "" if value is None else str(value),
                "long": (e.max_length or 0) > 300,
                "max_length": e.max_length,
            }
        )
    return out


def record_versions_context(rec: Record) -> dict[str, Any]:
    """The record page's gap banner, versions list and the supplement and correction forms."""
    versions = []
    for v in archive_services.version_summaries(rec):
        changes = v["changes"] or {}
        versions.append(
            {
                **v,
                "kind_label": VERSION_LABELS.get(v["kind"], v["kind"]),
                "supplied": changes.get("supplied", []),
                "replaced": changes.get("replaced", []),
                "metadata": changes.get("metadata", []),
                "migrated": changes.get("migrated", []),
                "gap": changes.get("gap"),
            }
        )
    first = versions[-1] if versions else None
    closed_in = next((v for v in reversed(versions) if v["kind"] == "supplement" and v["gap"] == []), None)
    archived = rec.status == RecordStatus.ARCHIVED
    return {
        "versions": versions,
        "gap": {
            "status": rec.gap_status,
            "open": rec.gap_status == "open",
            "materials": rec.gap_materials,
            "reason": rec.gap_reason,
            "initial": (first["gap"] if first and first["gap"] else rec.gap_materials),
            "closed_in": closed_in,
        },
        "supplement_form": archived and rec.gap_status == "open",
        "category_choices": _category_choices(),
    }


def _version_done(request: HttpRequest, rec_pk: int, aip: Any) -> HttpResponse:
    messages.success(
        request,
        _("Version {version} of the archival package was written.").format(version=aip.version),
    )
    return HttpResponseRedirect(reverse("web:record", args=[rec_pk]) + "#aip")


def _version_failed(request: HttpRequest, rec_pk: int, exc: Exception) -> HttpResponse:
    messages.error(request, _error_text(exc))
    return HttpResponseRedirect(reverse("web:record", args=[rec_pk]) + "#revise")


@login_required
@require_POST
def supplement(request: HttpRequest, pk: int) -> HttpResponse:
    """Supply missing materials (容缺补充): one material per submission, one or more files."""
    actor = _actor(request)
    _need(actor, Perm.SUPPLEMENT)
    get_object_or_404(archive_services.visible_records(actor, Perm.SUPPLEMENT), pk=pk)
    code = request.POST.get("material_code", "")
    category = request.POST.get("category", "")
    uploads = [
        archive_services.Upload(filename=f.name or "", stream=f, material_code=code, category=category)
        for f in request.FILES.getlist("files")
    ]
    try:
        aip = archive_services.supplement(actor, pk, uploads=uploads, reason=request.POST.get("reason", ""))
    except (DanganError, RolePermissionDenied) as exc:
        return _version_failed(request, pk, exc)
    return _version_done(request, pk, aip)


@login_required
@require_http_methods(["GET", "POST"])
def correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct an archived record (更正): changed metadata values and/or one replaced file."""
    actor = _actor(request)
    _need(actor, Perm.CORRECT)
    rec = get_object_or_404(
        archive_services.visible_records(actor, Perm.CORRECT).select_related("fonds", "service_item"), pk=pk
    )
    if rec.status != RecordStatus.ARCHIVED:
        messages.error(request, _("Only archived records can be corrected."))
        return HttpResponseRedirect(reverse("web:record", args=[pk]))
    fields = _correctable_fields(rec)
    if request.method == "POST":
        changes = {
            k.removeprefix("meta:"): str(request.POST.get(k, ""))
            for k in request.POST
            if k.startswith("meta:")
        }
        uploads = [
            archive_services.Upload(
                filename=f.name or "", stream=f, replaces=request.POST.get("replace_path", "")
            )
            for f in request.FILES.getlist("replace_file")
        ]
        try:
            aip = archive_services.correct(
                actor, pk, changes=changes, uploads=uploads, reason=request.POST.get("reason", "")
            )
        except (DanganError, RolePermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            for f in fields:  # keep what the officer typed
                f["value"] = changes.get(f["key"], f["value"])
        else:
            return _version_done(request, pk, aip)
    return render(
        request,
        "web/record_correct.html",
        {
            "can": _can(actor),
            "record": rec,
            "correction_fields": fields,
            "content_files": [f.path for f in rec.files.all() if f.path != schema.METADATA_FILENAME],
            "replace_path": request.POST.get("replace_path", ""),
            "reason": request.POST.get("reason", ""),
            "nav": "records",
        },
    )


@login_required
@require_GET
def aip_download(request: HttpRequest, pk: int, version: int) -> FileResponse:
    """One AIP version as a ZIP of its BagIt bag (every version stays readable)."""
    import tempfile

    from django.conf import settings

    actor = _actor(request)
    _need(actor, Perm.DOWNLOAD)
    rec = get_object_or_404(archive_services.visible_records(actor, Perm.DOWNLOAD), pk=pk)
    out = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115 - FileResponse closes it
    try:
        aip = archive_services.write_aip_zip(actor, rec.pk, version, out)
    except archive_services.RecordNotFound:
        out.close()
        raise Http404(_("No such version.")) from None
    except BaseException:
        out.close()
        raise
    out.seek(0)
    name = f"{archive_services.aip_zip_name(rec, aip)}.zip"
    response = FileResponse(out, as_attachment=True, filename=name, content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------------------------------------
# Bulk work as background jobs (后台任务): started from the pre-archive library and the formal
# library, watched on the job's page (htmx polls its progress; without JavaScript the page reloads).

JOB_STATUS_LABELS = {
    JobStatus.QUEUED: gettext_lazy("Queued"),
    JobStatus.RUNNING: gettext_lazy("Running"),
    JobStatus.DONE: gettext_lazy("Finished"),
    JobStatus.FAILED: gettext_lazy("Interrupted"),
    JobStatus.CANCELLED: gettext_lazy("Cancelled"),
}
JOB_KIND_LABELS = {
    JobKind.BULK_CONFIRM: gettext_lazy("Bulk confirmation"),
    JobKind.BULK_RECLASSIFY: gettext_lazy("Bulk re-classification"),
    JobKind.BULK_EXPORT: gettext_lazy("Bulk export"),
}
EXPORT_FORMAT_LABELS = {
    "aip-zip": gettext_lazy("Archival packages (AIP, BagIt ZIP)"),
    "eep": gettext_lazy("Encapsulation packages (EEP, DA/T 48)"),
}
JOBS_PAGE_SIZE = 50


def _class_choices() -> list[tuple[str, str]]:
    """The class codes of the classification schemes, for the bulk re-classification (one per code)."""
    from dangan.catalog.models import ArchiveClass

    names: dict[str, list[str]] = {}
    for code, name in ArchiveClass.objects.order_by("code", "fonds__code").values_list("code", "name"):
        seen = names.setdefault(code, [])
        if name not in seen and name != code:  # a class added by its code alone is named by it
            seen.append(name)
    return [(code, f"{code} {' / '.join(n)}".strip()) for code, n in names.items()]


def _selected_ids(request: HttpRequest, scope: str) -> list[Any]:
    """The ticked records, or with ``all`` every record the page lists (capped at SELECT_LIMIT)."""
    if request.POST.get("all") != "1":
        return [v for v in request.POST.getlist("ids") if v.isdigit()]  # the services check each one
    if scope == "records":
        _form, qs, _sort = archived_filtered(_actor(request), request.POST)
    else:
        qs = (
            archive_services.visible_records(_actor(request))
            .filter(status=RecordStatus.PRE_ARCHIVE)
            .order_by("created_at", "id")
        )
    limit = job_services.SELECT_LIMIT
    ids = list(qs.values_list("id", flat=True)[: limit + 1])
    if len(ids) > limit:
        messages.warning(
            request,
            _(
                "More than {limit} records match: the first {limit} were taken. Start another job for the rest."
            ).format(limit=limit),
        )
    return ids[:limit]


def _start_bulk(request: HttpRequest, op: str, *, scope: str) -> HttpResponse:
    actor = _actor(request)
    back = _safe_next(request, reverse("web:records" if scope == "records" else "web:prearchive"))
    try:
        ids = _selected_ids(request, scope)
        if op == "confirm":
            job = job_services.start_bulk_confirm(actor, ids)
        elif op == "reclassify":
            job = job_services.start_bulk_reclassify(actor, ids, request.POST.get("class_code", ""))
        elif op in ("export-aip", "export-eep"):
            fmt = "aip-zip" if op == "export-aip" else "eep"
            job = job_services.start_bulk_export(actor, ids, format=fmt)
        else:
            return HttpResponseBadRequest(b"unknown action")
    except RolePermissionDenied as exc:
        raise HttpForbidden(exc.perm.value) from None
    except DanganError as exc:
        if exc.code == "NO_RECORDS":
            text = (
                _("Select at least one record to confirm.")
                if op == "confirm"
                else _("Select at least one record.")
            )
            messages.error(request, text)
        else:
            messages.error(request, _error_text(exc))
        return HttpResponseRedirect(back)
    return HttpResponseRedirect(reverse("web:job", args=[job.pk]))


@login_required
@require_POST
def bulk_start(request: HttpRequest) -> HttpResponse:
    """Start a bulk job on the selected records: confirm or re-classify (pre-archive library), export
    (formal library). Answers with the job's page."""
    scope = "records" if request.POST.get("scope") == "records" else "prearchive"
    return _start_bulk(request, request.POST.get("op", ""), scope=scope)


def _job_for(request: HttpRequest, pk: int) -> tuple[Actor, Job]:
    actor = _actor(request)
    try:
        return actor, job_services.get_job(actor, pk)
    except job_services.JobNotFound:
        raise Http404(_("No such job.")) from None
    except RolePermissionDenied:
        raise HttpForbidden(Perm.VIEW_RECORDS.value) from None


def _job_context(actor: Actor, job: Job) -> dict[str, Any]:
    kind = JobKind(job.kind)
    owner = job_services.is_creator(actor, job)
    may = owner and actor.can(KIND_PERMS[kind])
    fmt = str(job.params.get("format", ""))
    return {
        "job": job,
        "kind_label": JOB_KIND_LABELS[kind],
        "status_label": JOB_STATUS_LABELS[JobStatus(job.status)],
        "format_label": EXPORT_FORMAT_LABELS.get(fmt, fmt),
        "processed": job.position,
        "errors_more": max(0, job.failed - len(job.errors)),
        "can_cancel": may and not job.finished and not job.cancel_requested,
        "can_resume": may and job.status == JobStatus.FAILED,
        "can_download": owner
        and actor.can(Perm.DOWNLOAD)
        and job.status == JobStatus.DONE
        and bool(job.result_file),
        "owner": owner,
    }


@login_required
@require_GET
def jobs(request: HttpRequest) -> HttpResponse:
    """The background jobs the user started, newest first."""
    actor = _actor(request)
    qs = Job.objects.filter(created_by_user_id=request.user.pk).order_by("-created_at", "-id")
    page = Paginator(qs, JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/jobs.html",
        {
            "can": _can(actor),
            "page": page,
            "rows": [_job_context(actor, j) for j in page],
        },
    )


@login_required
@require_GET
def job(request: HttpRequest, pk: int) -> HttpResponse:
    actor, job = _job_for(request, pk)
    return render(request, "web/job.html", {"can": _can(actor), **_job_context(actor, job)})


@login_required
@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress part of the job page (htmx polls it every second until the job has finished)."""
    actor, job = _job_for(request, pk)
    return render(request, "web/_job_progress.html", {"can": _can(actor), **_job_context(actor, job)})


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    actor, job = _job_for(request, pk)
    try:
        job = job_services.cancel_job(actor, job.pk)
    except RolePermissionDenied as exc:
        raise HttpForbidden(exc.perm.value) from None
    except DanganError as exc:
        messages.error(request, _error_text(exc))
    else:
        if job.status == JobStatus.CANCELLED:
            messages.success(request, _("The job was cancelled."))
        else:
            messages.success(
                request, _("The job stops before its next record; records already done stay done.")
            )
    return HttpResponseRedirect(reverse("web:job", args=[pk]))


@login_required
@require_POST
def job_resume(request: HttpRequest, pk: int) -> HttpResponse:
    actor, job = _job_for(request, pk)
    try:
        job_services.resume_job(actor, job.pk)
    except RolePermissionDenied as exc:
        raise HttpForbidden(exc.perm.value) from None
    except DanganError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("The job continues after the last record it processed."))
    return HttpResponseRedirect(reverse("web:job", args=[pk]))


@login_required
@require_GET
def job_result(request: HttpRequest, pk: int) -> FileResponse:
    """The ZIP of a finished export; only for the user who started the job."""
    actor = _actor(request)
    try:
        job, stream = job_services.open_result(actor, pk)
    except job_services.JobNotFound:
        raise Http404(_("No such job.")) from None
    except RolePermissionDenied as exc:
        raise HttpForbidden(exc.perm.value) from None
    except DanganError:
        raise Http404(_("This job has no file to download.")) from None
    response = FileResponse(
        stream, as_attachment=True, filename=job.result_name, content_type="application/zip"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
