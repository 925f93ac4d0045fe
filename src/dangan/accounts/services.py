"""Account use-cases."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, User
from django.db import transaction

from dangan.accounts.roles import Role
from dangan.audit import events


def ensure_role_groups() -> None:
    for role in Role:
        Group.objects.get_or_create(name=role.value)


@transaction.atomic
def create_user(
    username: str, roles: list[Role], *, password: str | None = None, superuser: bool = False
) -> tuple[User, str]:
    """Create a user with the given roles; returns (user, password). A generated password is one-time."""
    ensure_role_groups()
    password = password or secrets.token_urlsafe(12)
    user = User.objects.create_user(username=username, password=password)
    user.is_staff = superuser
    user.is_superuser = superuser
    user.save()
    for role in roles:
        user.groups.add(Group.objects.get(name=role.value))
    events.user_created(username=username, roles=[r.value for r in roles])
    return user, password
