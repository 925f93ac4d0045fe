"""Read-only views of accounts for the account pages and ``dangan user list`` (no state changes here)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Prefetch
from django.utils import timezone

from dangan.accounts.models import AccountSecurity, RoleGrant
from dangan.accounts.roles import ROLE_LABELS, Role


def role_label(value: str) -> str:
    return ROLE_LABELS.get(Role(value), value) if value in Role._value2member_map_ else value


def grouped_roles(grants: list[RoleGrant]) -> list[dict[str, Any]]:
    """One entry per role: its label and the fonds it is held in (``all_fonds`` when granted for all)."""
    by_role: dict[str, dict[str, Any]] = {}
    for g in grants:
        entry = by_role.setdefault(
            g.role, {"role": g.role, "label": role_label(g.role), "all_fonds": False, "fonds": []}
        )
        if g.fonds is None:
            entry["all_fonds"] = True
        else:
            entry["fonds"].append(g.fonds)
    order = {r.value: i for i, r in enumerate(Role)}
    rows = sorted(by_role.values(), key=lambda e: order.get(e["role"], len(order)))
    for e in rows:
        e["fonds"].sort(key=lambda f: f.code)
    return rows


def security_of(user: User) -> AccountSecurity | None:
    try:
        return user.security
    except AccountSecurity.DoesNotExist:
        return None


def account_row(user: User) -> dict[str, Any]:
    sec = security_of(user)
    locked = sec.locked_until if sec and sec.locked_until and sec.locked_until > timezone.now() else None
    grants = list(user.role_grants.all())  # prefetched by account_rows
    return {
        "user": user,
        "grants": grants,
        "roles": grouped_roles(grants),
        "locked_until": locked,
        "failed_logins": sec.failed_logins if sec else 0,
        "must_change_password": bool(sec and sec.must_change_password),
    }


def accounts_queryset(query: str = "") -> Any:
    qs = User.objects.select_related("security").prefetch_related(
        Prefetch(
            "role_grants", queryset=RoleGrant.objects.select_related("fonds").order_by("role", "fonds__code")
        )
    )
    if query:
        qs = qs.filter(username__icontains=query.strip())
    return qs.order_by("username")


def account_rows(query: str = "") -> list[dict[str, Any]]:
    """Every account (user names containing ``query``) with roles per fonds and security state."""
    return [account_row(u) for u in accounts_queryset(query)]
