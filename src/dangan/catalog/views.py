"""Archiving-configuration pages (归档配置): service items with their archiving scope (归档范围) and
retention (保管期限表, versioned), the classification scheme (分类方案), retention codes, and the XLSX
workbook (download, upload).

Views read models to show them and call ``catalog.services`` for every change. Reading needs
``VIEW_SCHEDULE`` (records officer, system administrator); changing needs ``MANAGE_SCHEDULE`` (records
officer). Both are checked here first, for a plain 403, and again by the services.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dangan.accounts.roles import Actor, Perm, scoped
from dangan.accounts.roles import PermissionDenied as RolePermissionDenied
from dangan.catalog import services, xlsx
from dangan.catalog.forms import (
    AssignClassForm,
    ClassForm,
    ImportForm,
    RetentionChangeForm,
    RetentionCodeForm,
    ScopeMaterialForm,
)
from dangan.catalog.models import ArchiveClass, Fonds, RetentionCode, RetentionRule, ServiceItem
from dangan.core.errors import DanganError
from dangan.core.retention import RetentionScale

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAV = "catalog"  # the main-navigation entry these pages belong to
MAX_INDENT = 9  # the deepest indent-N class in web/dangan.css; deeper classes share it


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_user(request.user, request.META.get("REMOTE_ADDR", ""))


def _need(actor: Actor, perm: Perm) -> None:
    if not actor.can(perm):
        raise HttpForbidden(perm.value)


def _zh() -> bool:
    return (translation.get_language() or "zh-hans").startswith("zh")


def _error_text(exc: Exception) -> str:
    if isinstance(exc, DanganError):
        return f"{exc.code}: {exc.message}"
    return f"{getattr(exc, 'code', 'ERROR')}: {exc}"


def _retention_text(scale: RetentionScale, code: str) -> str:
    try:
        return f"{code} {scale.label(code, zh=_zh())}"
    except DanganError:
        return code


def _fonds_of(request: HttpRequest, actor: Actor) -> tuple[list[Fonds], Fonds | None]:
    """The fonds whose schedule the actor may read, and the chosen one."""
    all_fonds = list(scoped(Fonds.objects.order_by("code"), actor, Perm.VIEW_SCHEDULE, field="pk"))
    code = request.GET.get("fonds") or request.POST.get("fonds") or ""
    chosen = next((f for f in all_fonds if f.code == code), None)
    return all_fonds, chosen or (all_fonds[0] if all_fonds else None)


def _base(actor: Actor, **extra: Any) -> dict[str, Any]:
    return {"nav": NAV, "can_manage": actor.can(Perm.MANAGE_SCHEDULE), **extra}


# ---------------------------------------------------------------------------------------------
# Service items


@login_required
@require_GET
def items(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_SCHEDULE)
    all_fonds, fonds = _fonds_of(request, actor)
    scale = services.retention_scale()
    today = timezone.localdate()
    rows = []
    if fonds is not None:
        for item in ServiceItem.objects.filter(fonds=fonds).select_related("archive_class").order_by("code"):
            decision = services.retention_for(item, on=today)
            scope = services.normalise_scope(item.scope)
            rows.append(
                {
                    "item": item,
                    "retention": _retention_text(scale, decision.code),
                    "basis": decision.basis,
                    "effective_from": decision.effective_from,
                    "required": sum(1 for m in scope if m["required"]),
                    "optional": sum(1 for m in scope if not m["required"]),
                    "material_rules": RetentionRule.objects.filter(service_item=item)
                    .exclude(material_code="")
                    .values("material_code")
                    .distinct()
                    .count(),
                }
            )
    return render(
        request,
        "catalog/items.html",
        _base(actor, all_fonds=all_fonds, fonds=fonds, rows=rows),
    )


def _versions(item: ServiceItem, today: date) -> list[dict[str, Any]]:
    """Every key's versions, newest first, each with its state: in force, scheduled or superseded."""
    scope_names = {m["code"]: m["name"] for m in services.normalise_scope(item.scope)}
    out = []
    for key, versions in services.schedule_history(item).items():
        started = [v for v in versions if v.effective_from <= today]
        in_force = started[0].pk if started else None  # newest first: the first started one
        rows = []
        for v in versions:
            if v.pk == in_force:
                state = "in_force"
            elif v.effective_from > today and not any(
                o.effective_from == v.effective_from and o.pk > v.pk for o in versions
            ):
                state = "scheduled"
            else:
                state = "superseded"
            rows.append({"rule": v, "state": state})
        name = next((v.material_name for v in versions if v.material_name), "") or scope_names.get(key, "")
        out.append({"key": key, "name": name, "versions": rows})
    out.sort(key=lambda k: (k["key"] != "", k["key"]))
    return out


def _item_page(
    request: HttpRequest,
    actor: Actor,
    item: ServiceItem,
    *,
    retention_form: RetentionChangeForm | None = None,
    scope_form: ScopeMaterialForm | None = None,
    class_form: AssignClassForm | None = None,
    status: int = 200,
) -> HttpResponse:
    scale = services.retention_scale()
    today = timezone.localdate()
    decision = services.retention_for(item, on=today)
    history = _versions(item, today)
    for key in history:
        for row in key["versions"]:
            row["retention"] = _retention_text(scale, row["rule"].retention)
    ctx = _base(
        actor,
        item=item,
        fonds=item.fonds,
        today=today,
        current={
            "retention": _retention_text(scale, decision.code),
            "basis": decision.basis,
            "effective_from": decision.effective_from,
            "rule_id": decision.rule_id,
        },
        history=history,
        scope=services.normalise_scope(item.scope),
        gap_allowed=services.gap_allowed(item),
        last_archived_on=services.last_archived_on(item),
        retention_form=retention_form
        or RetentionChangeForm(
            scale=scale, zh=_zh(), initial={"retention": decision.code, "effective_from": today}
        ),
        scope_form=scope_form or ScopeMaterialForm(),
        class_form=class_form
        or AssignClassForm(fonds=item.fonds, initial={"archive_class": item.archive_class_id}),
    )
    return render(request, "catalog/item.html", ctx, status=status)


def _item(actor: Actor, pk: int) -> ServiceItem:
    """A service item of a fonds whose schedule the actor may read (404 otherwise)."""
    items = scoped(ServiceItem.objects.select_related("fonds", "archive_class"), actor, Perm.VIEW_SCHEDULE)
    return get_object_or_404(items, pk=pk)


@login_required
@require_GET
def item(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_SCHEDULE)
    return _item_page(request, actor, _item(actor, pk))


def _back(item: ServiceItem, anchor: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("catalog:item", args=[item.pk]) + anchor)


@login_required
@require_POST
def change_retention(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_SCHEDULE)
    target = _item(actor, pk)
    form = RetentionChangeForm(request.POST, scale=services.retention_scale(), zh=_zh())
    if form.is_valid():
        data = form.cleaned_data
        try:
            rule = services.add_retention_rule(
                actor,
                target,
                retention=data["retention"],
                basis=data["basis"],
                effective_from=data["effective_from"],
                material_code=data["material_code"] or "",
                material_name=next(
                    (
                        m["name"]
                        for m in services.normalise_scope(target.scope)
                        if m["code"] == data["material_code"]
                    ),
                    "",
                ),
            )
        except (DanganError, RolePermissionDenied) as exc:
            form.add_error(
                "effective_from" if getattr(exc, "target", "") == "effective_from" else None, _error_text(exc)
            )
        else:
            messages.success(
                request,
                _("New retention version: {code} from {date}.").format(
                    code=rule.retention, date=rule.effective_from.isoformat()
                ),
            )
            return _back(target, "#retention")
    return _item_page(request, actor, target, retention_form=form, status=400)


@login_required
@require_POST
def scope_material(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_SCHEDULE)
    target = _item(actor, pk)
    form = ScopeMaterialForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.set_scope_material(
                actor, target, code=data["code"], name=data["name"], required=data["required"]
            )
        except (DanganError, RolePermissionDenied) as exc:
            form.add_error(None, _error_text(exc))
        else:
            messages.success(request, _("Archiving scope saved: {code}.").format(code=data["code"].strip()))
            return _back(target, "#scope")
    return _item_page(request, actor, target, scope_form=form, status=400)


@login_required
@require_POST
def scope_remove(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_SCHEDULE)
    target = _item(actor, pk)
    code = request.POST.get("code", "")
    try:
        services.remove_scope_material(actor, target, code)
    except (DanganError, RolePermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Removed {code} from the archiving scope.").format(code=code))
    return _back(target, "#scope")


@login_required
@require_POST
def item_gap(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_SCHEDULE)
    target = _item(actor, pk)
    allowed = request.POST.get("allowed") == "1"
    try:
        services.set_gap_allowed(actor, target, allowed)
    except (DanganError, RolePermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request,
            _("Archiving with a gap is now allowed.")
            if allowed
            else _("Archiving with a gap is no longer allowed."),
        )
    return _back(target, "#scope")


@login_required
@require_POST
def item_class(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_SCHEDULE)
    target = _item(actor, pk)
    form = AssignClassForm(request.POST, fonds=target.fonds)
    if form.is_valid():
        try:
            services.assign_class(actor, target, form.cleaned_data["archive_class"])
        except (DanganError, RolePermissionDenied) as exc:
            form.add_error(None, _error_text(exc))
        else:
            messages.success(request, _("Class saved."))
            return _back(target, "#class")
    return _item_page(request, actor, target, class_form=form, status=400)


# ---------------------------------------------------------------------------------------------
# Classification scheme (分类方案)


def _classes_page(
    request: HttpRequest, actor: Actor, all_fonds: list[Fonds], fonds: Fonds | None, *,
    form: ClassForm | None = None, status: int = 200,
) -> HttpResponse:  # fmt: skip
    tree = []
    if fonds is not None:
        counts: dict[int, int] = {}
        for class_id in ServiceItem.objects.filter(fonds=fonds).values_list("archive_class", flat=True):
            if class_id is not None:
                counts[class_id] = counts.get(class_id, 0) + 1
        for cls, depth in services.class_tree(fonds):
            tree.append(
                {
                    "cls": cls,
                    "depth": depth,
                    "indent": min(depth, MAX_INDENT),  # CSS class indent-N (no inline style: CSP)
                    "items": counts.get(cls.pk, 0),
                    "form": ClassForm(
                        fonds=fonds,
                        edit=True,
                        prefix=f"c{cls.pk}",
                        initial={"name": cls.name, "parent": cls.parent_id, "order": cls.order},
                    ),
                }
            )
    ctx = _base(
        actor,
        all_fonds=all_fonds,
        fonds=fonds,
        tree=tree,
        form=form or (ClassForm(fonds=fonds) if fonds is not None else None),
    )
    return render(request, "catalog/classes.html", ctx, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def classes(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_SCHEDULE)
    all_fonds, fonds = _fonds_of(request, actor)
    if request.method == "GET" or fonds is None:
        return _classes_page(request, actor, all_fonds, fonds)
    _need(actor, Perm.MANAGE_SCHEDULE)
    form = ClassForm(request.POST, fonds=fonds)
    if form.is_valid():
        data = form.cleaned_data
        try:
            cls = services.create_class(
                actor,
                fonds,
                code=data["code"],
                name=data["name"],
                parent=data["parent"],
                order=data["order"] or 0,
            )
        except (DanganError, RolePermissionDenied) as exc:
            form.add_error("code" if getattr(exc, "target", "") == "code" else None, _error_text(exc))
        else:
            messages.success(request, _("Class {code} added.").format(code=cls.code))
            return HttpResponseRedirect(f"{reverse('catalog:classes')}?fonds={fonds.code}")
    return _classes_page(request, actor, all_fonds, fonds, form=form, status=400)


@login_required
@require_POST
def class_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_SCHEDULE)
    cls = get_object_or_404(
        scoped(ArchiveClass.objects.select_related("fonds"), actor, Perm.VIEW_SCHEDULE), pk=pk
    )
    form = ClassForm(request.POST, fonds=cls.fonds, edit=True, prefix=f"c{cls.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.update_class(
                actor, cls, name=data["name"], parent=data["parent"], order=data["order"] or 0
            )
        except (DanganError, RolePermissionDenied) as exc:
            messages.error(request, f"{cls.code}: {_error_text(exc)}")
        else:
            messages.success(request, _("Class {code} saved.").format(code=cls.code))
    else:
        messages.error(
            request, f"{cls.code}: " + " ".join(str(e) for errors in form.errors.values() for e in errors)
        )
    return HttpResponseRedirect(f"{reverse('catalog:classes')}?fonds={cls.fonds.code}")


# ---------------------------------------------------------------------------------------------
# Retention codes


@login_required
@require_http_methods(["GET", "POST"])
def codes(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_SCHEDULE)
    form = RetentionCodeForm()
    status = 200
    if request.method == "POST":
        _need(actor, Perm.MANAGE_SCHEDULE)
        form = RetentionCodeForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                row = services.define_retention_code(
                    actor,
                    code=data["code"],
                    label=data["label"],
                    label_en=data["label_en"],
                    years=data["years"],
                )
            except (DanganError, RolePermissionDenied) as exc:
                form.add_error(None, _error_text(exc))
            else:
                messages.success(request, _("Retention code {code} added.").format(code=row.code))
                return HttpResponseRedirect(reverse("catalog:codes"))
        status = 400
    configured = {c.code: c for c in RetentionCode.objects.all()}
    periods = [
        {"period": p, "configured": configured.get(p.code)} for p in services.retention_scale().periods
    ]
    return render(request, "catalog/codes.html", _base(actor, periods=periods, form=form), status=status)


# ---------------------------------------------------------------------------------------------
# XLSX workbook


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.VIEW_SCHEDULE)
    code = request.GET.get("fonds") or ""
    fonds = (
        get_object_or_404(scoped(Fonds.objects.all(), actor, Perm.VIEW_SCHEDULE, field="pk"), code=code)
        if code
        else None
    )
    try:
        body = services.export_schedule(actor, fonds=fonds)
    except RolePermissionDenied:
        raise HttpForbidden(
            _("Choose one of your fonds: the whole schedule needs access to every fonds.")
        ) from None
    name = f"保管期限表-{fonds.code if fonds else '全部'}-{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(body, content_type=XLSX_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def workbook(request: HttpRequest) -> HttpResponse:
    """Download the workbook; upload a filled one (check only, or import)."""
    actor = _actor(request)
    _need(actor, Perm.VIEW_SCHEDULE)
    all_fonds = list(scoped(Fonds.objects.order_by("code"), actor, Perm.VIEW_SCHEDULE, field="pk"))
    result = None
    status = 200
    form = ImportForm()
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            dry_run = bool(form.cleaned_data["dry_run"])
            _need(actor, Perm.VIEW_SCHEDULE if dry_run else Perm.MANAGE_SCHEDULE)
            upload = form.cleaned_data["file"]
            if upload.size > xlsx.MAX_BYTES:
                form.add_error(
                    "file",
                    _("The file is too large ({size} bytes; at most {limit}).").format(
                        size=upload.size, limit=xlsx.MAX_BYTES
                    ),
                )
            else:
                try:
                    result = services.import_schedule(
                        actor, upload.read(), filename=upload.name or "", dry_run=dry_run
                    )
                except RolePermissionDenied:
                    raise HttpForbidden(Perm.MANAGE_SCHEDULE.value) from None
                if result.applied:
                    messages.success(
                        request,
                        _("Workbook imported: {count} change(s).").format(count=len(result.changes)),
                    )
                elif result.ok and not result.changes:
                    messages.info(request, _("The workbook matches the configuration: nothing to change."))
                elif result.ok:
                    messages.info(request, _("Checked: the workbook can be imported (nothing changed yet)."))
                else:
                    messages.error(
                        request,
                        _("The workbook has {count} error(s); nothing was changed.").format(
                            count=len(result.errors)
                        ),
                    )
                    status = 400
        else:
            status = 400
    return render(
        request,
        "catalog/workbook.html",
        _base(actor, all_fonds=all_fonds, form=form, result=result),
        status=status,
    )
