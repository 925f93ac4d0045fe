"""Account use-cases."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from dangan.accounts.roles import Role
from dangan.audit import events

# Django admin (管理) rights that go with each role: the admin screens call the same services, which
# check the role's own permissions; these only decide which screens a user sees.
ADMIN_SCREENS: dict[Role, list[tuple[str, str, tuple[str, ...]]]] = {
    Role.SYSTEM_ADMIN: [
        ("catalog", "fonds", ("view", "add", "change")),
        ("catalog", "serviceitem", ("view", "add", "change")),
        ("catalog", "sourcesystem", ("view",)),
        ("auth", "user", ("view", "add", "change")),
        ("auth", "group", ("view",)),
    ],
    Role.RECORDS_OFFICER: [
        ("archive", "record", ("view",)),
        ("ingest", "submission", ("view",)),
    ],
}


def ensure_role_groups() -> None:
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = [
            Permission.objects.get(content_type__app_label=app, codename=f"{action}_{model}")
            for app, model, actions in ADMIN_SCREENS.get(role, [])
            for action in actions
        ]
        group.permissions.add(*wanted)


@transaction.atomic
def create_user(
    username: str, roles: list[Role], *, password: str | None = None, superuser: bool = False
) -> tuple[User, str]:
    """Create a user with the given roles; returns (user, password). A generated password is one-time."""
    ensure_role_groups()
    password = password or secrets.token_urlsafe(12)
    user = User.objects.create_user(username=username, password=password)
    user.is_staff = superuser or bool(set(roles) & set(ADMIN_SCREENS))
    user.is_superuser = superuser
    user.save()
    for role in roles:
        user.groups.add(Group.objects.get(name=role.value))
    events.user_created(username=username, roles=[r.value for r in roles])
    return user, password
