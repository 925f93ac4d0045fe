"""Audit of signing in and out, the session's clock, and each new account's first password in its
history (connected in ``AccountsConfig.ready``).

``user_logged_in`` fires for every way in (password page, admin login, single sign-on, tests'
``force_login``); ``user_logged_out`` for the logout button and for a session the timeout policy
ends (``accounts.middleware`` marks the request, and the event is then ``session.expired``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from dangan.accounts.backends import client_ip
from dangan.accounts.middleware import LOGOUT_REASON_ATTR, SESSION_AUTH_AT, SESSION_SEEN_AT
from dangan.accounts.passwords import remember_password
from dangan.accounts.roles import Actor
from dangan.audit import events


def sign_in_method(backend_path: str) -> str:
    return "oidc" if backend_path.endswith("OIDCBackend") else "password"


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="dangan.accounts.first_password")
def on_user_created(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """A new account's first password goes into its history (``create_user`` does not call
    ``set_password``, so the validators' ``password_changed`` hook does not see it)."""
    if created and not raw:
        remember_password(instance)


@receiver(user_logged_in, dispatch_uid="dangan.accounts.login_audit")
def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[SESSION_AUTH_AT] = now
        request.session[SESSION_SEEN_AT] = now
    ip = client_ip(request)
    events.login_succeeded(
        Actor.from_user(user, ip), user.pk, username=user.get_username(),
        method=sign_in_method(getattr(user, "backend", "") or ""),
    )  # fmt: skip


@receiver(user_logged_out, dispatch_uid="dangan.accounts.logout_audit")
def on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None or getattr(user, "pk", None) is None:
        return
    actor = Actor.from_user(user, client_ip(request))
    reason = getattr(request, LOGOUT_REASON_ATTR, None)
    if reason:
        events.session_expired(actor, user.pk, username=user.get_username(), reason=reason)
    else:
        events.logged_out(actor, user.pk, username=user.get_username())
