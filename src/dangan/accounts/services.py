"""Account use-cases: accounts, role grants (per fonds) and the separation of the three administrators.

Every rule is checked here, so the CLI, the web pages and the API obey the same ones:
- only a holder of ``accounts.manage`` creates, disables and unlocks accounts;
- only a holder of ``accounts.assign_roles`` (安全保密管理员) grants and revokes roles, never his own;
- no account holds two of the three administrators (三员分立), and the auditor holds nothing else;
- administrators are instance-wide, business roles may be limited to fonds.
The local operator (``Actor.system``: shell access to the data directory) bootstraps the first accounts.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.utils import timezone

from dangan.accounts.models import AccountSecurity, RoleGrant
from dangan.accounts.roles import (
    EXCLUSIVE_ROLES,
    SEPARATED_ADMINS,
    Actor,
    Perm,
    Role,
    require,
)
from dangan.audit import events
from dangan.catalog.models import Fonds
from dangan.core.errors import DanganError

# Django admin (管理) rights that go with each role: the admin screens call the same services, which
# check the role's own permissions; these only decide which screens a user sees. Accounts and groups
# are not among them: they are managed only through these services (rules above, audited).
ADMIN_SCREENS: dict[Role, list[tuple[str, str, tuple[str, ...]]]] = {
    Role.SYSTEM_ADMIN: [
        ("catalog", "fonds", ("view", "add", "change")),
        ("catalog", "serviceitem", ("view", "add", "change")),
        ("catalog", "sourcesystem", ("view",)),
    ],
}


class RoleConflict(DanganError):
    code = "ROLE_CONFLICT"


class AccountError(DanganError):
    code = "ACCOUNT_ERROR"


def ensure_role_groups() -> None:
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = [
            Permission.objects.get(content_type__app_label=app, codename=f"{action}_{model}")
            for app, model, actions in ADMIN_SCREENS.get(role, [])
            for action in actions
        ]
        group.permissions.set(wanted)


def roles_of(user: User) -> set[Role]:
    return {
        Role(r)
        for r in RoleGrant.objects.filter(user=user).values_list("role", flat=True)
        if r in Role._value2member_map_
    }


def check_combination(held: Iterable[Role], adding: Role) -> None:
    """Refuse a role that may not be combined with the ones already held (三员分立)."""
    others = set(held) - {adding}
    if adding in SEPARATED_ADMINS and others & SEPARATED_ADMINS:
        clash = ", ".join(sorted(r.value for r in others & SEPARATED_ADMINS))
        raise RoleConflict(
            f"{adding.value} cannot be combined with {clash}: the three administrators are separate "
            "people (三员分立)"
        )
    exclusive = ({adding} | others) & EXCLUSIVE_ROLES
    if exclusive and others:
        raise RoleConflict(
            f"{', '.join(sorted(r.value for r in exclusive))} holds no other role: the auditor reads the "
            "audit trail and nothing else"
        )


def _sync_admin_screens(user: User) -> None:
    """Django admin groups and ``is_staff`` follow the grants (admin screens are a view, not a right)."""
    ensure_role_groups()
    held = roles_of(user)
    user.groups.set(Group.objects.filter(name__in=[r.value for r in held]))
    staff = bool(held & set(ADMIN_SCREENS))
    if user.is_staff != staff or user.is_superuser:
        user.is_staff = staff
        user.is_superuser = False  # nobody bypasses the role table, not even in the admin screens
        user.save(update_fields=["is_staff", "is_superuser"])


def _lock_user(user: User) -> User:
    # Serialise grant changes for one account so two concurrent grants cannot break the rules.
    return User.objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def grant_role(actor: Actor, user: User, role: Role, *, fonds: Fonds | None = None) -> RoleGrant:
    """Give ``user`` ``role`` in ``fonds`` (None: all fonds)."""
    require(actor, Perm.ASSIGN_ROLES)
    if actor.user_id is not None and actor.user_id == user.pk:
        raise RoleConflict("nobody grants roles to himself; another security administrator must")
    user = _lock_user(user)
    if role in SEPARATED_ADMINS and fonds is not None:
        raise RoleConflict(f"{role.value} is granted for the whole instance, not per fonds")
    check_combination(roles_of(user), role)
    existing = RoleGrant.objects.filter(user=user, role=role.value)
    if existing.filter(fonds__isnull=True).exists() or (
        fonds is not None and existing.filter(fonds=fonds).exists()
    ):
        raise RoleConflict(
            f"{user.username} already holds {role.value} {'in ' + fonds.code if fonds else 'in all fonds'}"
        )
    if fonds is None:
        existing.delete()  # all fonds replaces the per-fonds grants
    grant = RoleGrant.objects.create(user=user, role=role.value, fonds=fonds, granted_by=actor.name)
    _sync_admin_screens(user)
    events.role_granted(
        actor, user.pk, username=user.username, role=role.value, fonds=fonds.code if fonds else "*"
    )
    return grant


@transaction.atomic
def revoke_role(actor: Actor, user: User, role: Role, *, fonds: Fonds | None = None) -> int:
    """Take ``role`` away (in ``fonds``, or everywhere when None); returns how many grants went."""
    require(actor, Perm.ASSIGN_ROLES)
    if actor.user_id is not None and actor.user_id == user.pk:
        raise RoleConflict("nobody changes his own roles; another security administrator must")
    user = _lock_user(user)
    grants = RoleGrant.objects.filter(user=user, role=role.value)
    if fonds is not None:
        grants = grants.filter(fonds=fonds)
    removed, _ = grants.delete()
    if not removed:
        raise AccountError(
            f"{user.username} does not hold {role.value}{' in ' + fonds.code if fonds else ''}"
        )
    _sync_admin_screens(user)
    events.role_revoked(
        actor, user.pk, username=user.username, role=role.value, fonds=fonds.code if fonds else "*"
    )
    return removed


def _security(user: User) -> AccountSecurity:
    sec, _ = AccountSecurity.objects.get_or_create(user=user)
    return sec


@transaction.atomic
def create_account(
    actor: Actor, username: str, *, password: str | None = None, email: str = ""
) -> tuple[User, str]:
    """A new account without roles; returns (user, initial password), which must be changed at first login."""
    require(actor, Perm.MANAGE_ACCOUNTS)
    username = username.strip()
    if not username or len(username) > 150:
        raise AccountError("a user name of 1–150 characters is required")
    if User.objects.filter(username=username).exists():
        raise AccountError(f"user {username!r} already exists", code="USER_EXISTS")
    initial = password or secrets.token_urlsafe(12)
    user = User.objects.create_user(username=username, password=initial, email=email)
    AccountSecurity.objects.create(user=user, must_change_password=True)
    events.user_created(actor, user.pk, username=username)
    return user, initial


@transaction.atomic
def set_active(actor: Actor, user: User, active: bool, *, reason: str = "") -> None:
    """Disable (or re-enable) an account: a disabled account signs in nowhere and acts nowhere."""
    require(actor, Perm.MANAGE_ACCOUNTS)
    if actor.user_id is not None and actor.user_id == user.pk:
        raise AccountError("nobody disables his own account")
    user.is_active = active
    user.save(update_fields=["is_active"])
    events.account_state_changed(actor, user.pk, username=user.username, active=active, reason=reason)


@transaction.atomic
def reset_password(actor: Actor, user: User) -> str:
    """A new one-time password; the account must choose its own at the next login."""
    require(actor, Perm.MANAGE_ACCOUNTS)
    if actor.user_id is not None and actor.user_id == user.pk:
        raise AccountError("change your own password on the password page, not by a reset")
    initial = secrets.token_urlsafe(12)
    user.set_password(initial)
    user.save(update_fields=["password"])
    sec = _security(user)
    sec.must_change_password = True
    sec.failed_logins = 0
    sec.locked_until = None
    sec.save()
    events.password_reset(actor, user.pk, username=user.username)
    return initial


@transaction.atomic
def unlock(actor: Actor, user: User) -> None:
    """Lift a lockout after repeated failed logins."""
    require(actor, Perm.MANAGE_ACCOUNTS)
    sec = _security(user)
    sec.failed_logins = 0
    sec.locked_until = None
    sec.save(update_fields=["failed_logins", "locked_until"])
    events.account_unlocked(actor, user.pk, username=user.username)


@transaction.atomic
def create_user(
    username: str,
    roles: Sequence[Role],
    *,
    password: str | None = None,
    fonds: Sequence[Fonds] | None = None,
    actor: Actor | None = None,
    must_change_password: bool | None = None,
) -> tuple[User, str]:
    """Create an account and grant ``roles`` (in ``fonds``, or all fonds) in one step.

    Needs both ``accounts.manage`` and ``accounts.assign_roles``: in practice the local operator
    (``dangan user create``, quickstart, tests). A given password is taken as already chosen by the
    person (no forced change) unless ``must_change_password`` says otherwise.
    """
    operator = actor or Actor.system("local-operator")
    user, initial = create_account(operator, username, password=password)
    sec = user.security
    sec.must_change_password = password is None if must_change_password is None else must_change_password
    if password is not None:
        sec.password_changed_at = timezone.now()
    sec.save()
    for role in roles:
        if role in SEPARATED_ADMINS or not fonds:
            grant_role(operator, user, role)
        else:
            for f in fonds:
                grant_role(operator, user, role, fonds=f)
    return user, initial
