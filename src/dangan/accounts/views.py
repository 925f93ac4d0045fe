"""Account pages (账户): accounts and their roles per fonds, and source systems with their API tokens.

Who sees and does what (each checked here for a plain 403, and again by the services):
- the account list and an account's page: ``accounts.manage`` or ``accounts.assign_roles``;
- create, disable, enable, unlock, reset a password: ``accounts.manage`` (系统管理员);
- grant and revoke roles: ``accounts.assign_roles`` (安全保密管理员), never on one's own account;
- source systems and their tokens: ``tokens.manage``; registering a new system also ``catalog.manage``.

A one-time password or a new token is shown once, in the answer to the POST that made it (never
stored in the session or a message) and with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dangan.accounts import overview, services, tokens
from dangan.accounts.forms import CreateAccountForm, GrantForm, IssueTokenForm, SourceSystemForm
from dangan.accounts.models import ApiToken
from dangan.accounts.roles import ROLE_LABELS, Actor, Perm, Role
from dangan.accounts.roles import PermissionDenied as RolePermissionDenied
from dangan.catalog import services as catalog_services
from dangan.catalog.models import Fonds, SourceSystem
from dangan.core.errors import DanganError

NAV = "accounts"  # the main-navigation entry these pages belong to
PAGE_SIZE = 50

# Refusals from the services, titled in both languages (the service's own message is English).
ERROR_TITLES = {
    "ROLE_CONFLICT": "角色冲突 Role conflict",
    "ACCOUNT_ERROR": "账户操作被拒绝 Account change refused",
    "USER_EXISTS": "用户名已存在 User name taken",
    "PERMISSION_DENIED": "无权操作 Not permitted",
    "TOKEN_ERROR": "令牌操作被拒绝 Token change refused",
    "BAD_SCOPE": "令牌范围无效 Invalid scope",
    "BAD_EXPIRY": "有效期无效 Invalid expiry",
    "BAD_NAME": "名称无效 Invalid name",
    "BAD_SOURCE_CODE": "系统编码无效 Invalid system code",
    "ALREADY_REVOKED": "令牌已吊销 Token already revoked",
    "SYSTEM_INACTIVE": "来源系统已停用 Source system disabled",
}
ACCOUNT_PERMS = (Perm.MANAGE_ACCOUNTS, Perm.ASSIGN_ROLES)


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_user(request.user, request.META.get("REMOTE_ADDR", ""))


def _need(actor: Actor, *perms: Perm) -> None:
    """403 unless the actor holds one of ``perms``."""
    if not any(actor.can(p) for p in perms):
        raise HttpForbidden(" or ".join(p.value for p in perms))


def error_text(exc: Exception) -> str:
    code = getattr(exc, "code", "ERROR")
    title = ERROR_TITLES.get(code, "操作被拒绝 Refused")
    message = exc.message if isinstance(exc, DanganError) else str(exc)
    return f"{title} — {code}: {message}"


def _base(actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "nav": NAV,
        "can_manage_accounts": actor.can(Perm.MANAGE_ACCOUNTS),
        "can_assign_roles": actor.can(Perm.ASSIGN_ROLES),
        "can_see_accounts": any(actor.can(p) for p in ACCOUNT_PERMS),
        "can_manage_tokens": actor.can(Perm.MANAGE_TOKENS),
        "can_add_sources": actor.can(Perm.MANAGE_TOKENS) and actor.can(Perm.MANAGE_CATALOG),
        **extra,
    }


def _secret_page(request: HttpRequest, actor: Actor, **ctx: Any) -> HttpResponse:
    response = render(request, "accounts/secret.html", _base(actor, **ctx))
    add_never_cache_headers(response)
    return response


# ---------------------------------------------------------------------------------------------
# Accounts


def _index_page(
    request: HttpRequest, actor: Actor, *, form: CreateAccountForm | None = None, status: int = 200
) -> HttpResponse:
    query = (request.GET.get("q") or "").strip()
    page = Paginator(overview.accounts_queryset(query), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [overview.account_row(u) for u in page.object_list]
    ctx = _base(actor, rows=rows, page=page, q=query, form=form or CreateAccountForm())
    return render(request, "accounts/index.html", ctx, status=status)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if not any(actor.can(p) for p in ACCOUNT_PERMS) and actor.can(Perm.MANAGE_TOKENS):
        return HttpResponseRedirect(reverse("accounts:sources"))
    _need(actor, *ACCOUNT_PERMS)
    return _index_page(request, actor)


@login_required
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_ACCOUNTS)
    form = CreateAccountForm(request.POST)
    if form.is_valid():
        try:
            user, password = services.create_account(
                actor, form.cleaned_data["username"], email=form.cleaned_data["email"] or ""
            )
        except (DanganError, RolePermissionDenied) as exc:
            form.add_error(None, error_text(exc))
        else:
            return _secret_page(
                request,
                actor,
                account=user,
                secret=password,
                kind="password",
                back=reverse("accounts:detail", args=[user.pk]),
            )
    return _index_page(request, actor, form=form, status=400)


def _detail_page(
    request: HttpRequest,
    actor: Actor,
    user: User,
    *,
    grant_form: GrantForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    row = overview.account_row(user)
    ctx = _base(
        actor,
        row=row,
        account=user,
        is_self=actor.user_id == user.pk,
        role_labels=ROLE_LABELS,
        grant_form=grant_form or GrantForm(),
        error=error,
    )
    return render(request, "accounts/detail.html", ctx, status=status)


def _account(pk: int) -> User:
    user: User = get_object_or_404(overview.accounts_queryset(), pk=pk)
    return user


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, *ACCOUNT_PERMS)
    return _detail_page(request, actor, _account(pk))


def _account_action(request: HttpRequest, pk: int, perm: Perm, act: Any, done: str) -> HttpResponse:
    """POST → service → back to the account page with a message; a refusal is shown on the page (400)."""
    actor = _actor(request)
    _need(actor, perm)
    user = _account(pk)
    try:
        act(actor, user)
    except (DanganError, RolePermissionDenied) as exc:
        return _detail_page(request, actor, _account(pk), error=error_text(exc), status=400)
    messages.success(request, done.format(user=user.username))
    return HttpResponseRedirect(reverse("accounts:detail", args=[user.pk]))


@login_required
@require_POST
def disable(request: HttpRequest, pk: int) -> HttpResponse:
    reason = (request.POST.get("reason") or "").strip()[:500]
    return _account_action(
        request,
        pk,
        Perm.MANAGE_ACCOUNTS,
        lambda a, u: services.set_active(a, u, False, reason=reason),
        _("Account {user} disabled."),
    )


@login_required
@require_POST
def enable(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_action(
        request,
        pk,
        Perm.MANAGE_ACCOUNTS,
        lambda a, u: services.set_active(a, u, True),
        _("Account {user} enabled."),
    )


@login_required
@require_POST
def unlock(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_action(request, pk, Perm.MANAGE_ACCOUNTS, services.unlock, _("Account {user} unlocked."))


@login_required
@require_POST
def reset_password(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_ACCOUNTS)
    user = _account(pk)
    try:
        password = services.reset_password(actor, user)
    except (DanganError, RolePermissionDenied) as exc:
        return _detail_page(request, actor, user, error=error_text(exc), status=400)
    return _secret_page(
        request,
        actor,
        account=user,
        secret=password,
        kind="reset",
        back=reverse("accounts:detail", args=[user.pk]),
    )


@login_required
@require_POST
def grant(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.ASSIGN_ROLES)
    user = _account(pk)
    form = GrantForm(request.POST)
    if form.is_valid():
        role = Role(form.cleaned_data["role"])
        fonds = form.cleaned_data["fonds_obj"]
        try:
            services.grant_role(actor, user, role, fonds=fonds)
        except (DanganError, RolePermissionDenied) as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(
                request,
                _("{role} granted to {user} in {fonds}.").format(
                    role=overview.role_label(role.value),
                    user=user.username,
                    fonds=fonds.code if fonds else _("all fonds"),
                ),
            )
            return HttpResponseRedirect(reverse("accounts:detail", args=[user.pk]))
    return _detail_page(request, actor, _account(pk), grant_form=form, status=400)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.ASSIGN_ROLES)
    user = _account(pk)
    role_value = request.POST.get("role") or ""
    fonds_code = request.POST.get("fonds") or ""
    if role_value not in Role._value2member_map_:
        return _detail_page(request, actor, user, error=_("Unknown role."), status=400)
    fonds = None
    if fonds_code:
        fonds = Fonds.objects.filter(code=fonds_code).first()
        if fonds is None:
            return _detail_page(request, actor, user, error=_("Unknown fonds."), status=400)
    try:
        services.revoke_role(actor, user, Role(role_value), fonds=fonds)
    except (DanganError, RolePermissionDenied) as exc:
        return _detail_page(request, actor, _account(pk), error=error_text(exc), status=400)
    messages.success(
        request,
        _("{role} revoked from {user} in {fonds}.").format(
            role=overview.role_label(role_value),
            user=user.username,
            fonds=fonds.code if fonds else _("all fonds"),
        ),
    )
    return HttpResponseRedirect(reverse("accounts:detail", args=[user.pk]))


# ---------------------------------------------------------------------------------------------
# Source systems and their API tokens


def _sources_page(
    request: HttpRequest,
    actor: Actor,
    *,
    forms: dict[int, IssueTokenForm] | None = None,
    add_form: SourceSystemForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    forms = forms or {}
    now_tokens: dict[int, list[dict[str, Any]]] = {}
    for t in tokens.list_tokens(actor):
        now_tokens.setdefault(t.system_id, []).append({"token": t, "state": tokens.token_state(t)})
    systems = [
        {
            "system": s,
            "tokens": now_tokens.get(s.pk, []),
            "active_tokens": sum(1 for t in now_tokens.get(s.pk, []) if t["state"] == "active"),
            "form": forms.get(s.pk) or IssueTokenForm(prefix=f"sys{s.pk}"),
            "open": s.pk in forms,
        }
        for s in SourceSystem.objects.prefetch_related("fonds").order_by("code")
    ]
    ctx = _base(
        actor,
        systems=systems,
        add_form=add_form or SourceSystemForm(prefix="new"),
        add_open=add_form is not None,
        error=error,
    )
    return render(request, "accounts/sources.html", ctx, status=status)


@login_required
@require_GET
def sources(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_TOKENS)
    return _sources_page(request, actor)


@login_required
@require_POST
def token_issue(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_TOKENS)
    system = get_object_or_404(SourceSystem, pk=pk)
    form = IssueTokenForm(request.POST, prefix=f"sys{system.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            token, plaintext = tokens.issue_token(
                actor,
                system,
                scopes=data["scopes"],
                expires_in_days=data["expires_in_days"],
                name=data["name"],
            )
        except (DanganError, RolePermissionDenied) as exc:
            form.add_error(None, error_text(exc))
        else:
            return _secret_page(
                request, actor, system=system, token=token, secret=plaintext, kind="token",
                back=reverse("accounts:sources"),
            )  # fmt: skip
    return _sources_page(request, actor, forms={system.pk: form}, status=400)


@login_required
@require_POST
def source_add(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_TOKENS)
    _need(actor, Perm.MANAGE_CATALOG)
    form = SourceSystemForm(request.POST, prefix="new")
    if form.is_valid():
        data = form.cleaned_data
        if SourceSystem.objects.filter(code=data["code"].strip()).exists():
            form.add_error("code", _("A source system with this code exists: issue it a token in its row."))
        else:
            try:
                with transaction.atomic():
                    system, _created = catalog_services.upsert_source_system(
                        actor,
                        code=data["code"],
                        name=data["system_name"],
                        fonds=list(Fonds.objects.filter(code__in=data["fonds"])),
                    )
                    token, plaintext = tokens.issue_token(
                        actor, system, scopes=data["scopes"], expires_in_days=data["expires_in_days"],
                        name=data["name"],
                    )  # fmt: skip
            except (DanganError, RolePermissionDenied) as exc:
                form.add_error(None, error_text(exc))
            else:
                return _secret_page(
                    request, actor, system=system, token=token, secret=plaintext, kind="token",
                    back=reverse("accounts:sources"),
                )  # fmt: skip
    return _sources_page(request, actor, add_form=form, status=400)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    _need(actor, Perm.MANAGE_TOKENS)
    token = get_object_or_404(ApiToken.objects.select_related("system"), pk=pk)
    try:
        tokens.revoke_token(actor, token, reason=(request.POST.get("reason") or "").strip()[:500])
    except (DanganError, RolePermissionDenied) as exc:
        return _sources_page(request, actor, error=error_text(exc), status=400)
    messages.success(
        request,
        _("Token {prefix}… of {system} revoked: it is refused from now on.").format(
            prefix=token.token_prefix, system=token.system.code
        ),
    )
    return HttpResponseRedirect(reverse("accounts:sources"))
