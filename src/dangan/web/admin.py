"""The Django admin screens serve only the system administrator's catalogue registration.

Records, submissions and the audit trail are not there: they have their own pages, which scope by
fonds and audit every read. Accounts and groups are not there either: roles are granted only through
``dangan.accounts.services`` (三员分立 rules, audited). A Django superuser flag opens nothing.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from dangan.accounts.roles import Actor, Perm

for model in (User, Group):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


def _admin_site_permission(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and Actor.from_user(user).can(Perm.MANAGE_CATALOG))


admin.site.has_permission = _admin_site_permission  # type: ignore[method-assign]
