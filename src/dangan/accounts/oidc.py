"""Optional single sign-on (统一身份认证) through OpenID Connect, with mozilla-django-oidc.

Off unless the client and the provider's endpoints are configured (``DANGAN_OIDC_*``, see
``conf/settings.py`` and docs/security.md): then the settings add ``DanganOIDCBackend`` to the
authentication backends and this module's ``urlpatterns`` (included at ``/oidc/``) serve
``/oidc/authenticate/``, ``/oidc/callback/`` and ``/oidc/logout/``. Otherwise they are empty.

The account is the one whose user name equals the claim ``OIDC_USERNAME_CLAIM``
(``preferred_username``). One that does not exist yet is created at the first sign-on with no
roles (the security administrator grants them) and no usable password.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, include, path
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from dangan.accounts.backends import client_ip
from dangan.accounts.models import AccountSecurity
from dangan.accounts.roles import Actor
from dangan.audit import events

METHOD = "oidc"
logger = logging.getLogger(__name__)


def enabled() -> bool:
    return bool(getattr(settings, "OIDC_ENABLED", False))


def username_claim() -> str:
    return str(getattr(settings, "OIDC_USERNAME_CLAIM", "") or "preferred_username")


class DanganOIDCBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """Accounts matched by user name (from a configurable claim); new ones without roles."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        if "password" in kwargs or "username" in kwargs:
            return None  # a password sign-in: not ours (and never exchange a code found in its URL)
        try:
            user = super().authenticate(request, **kwargs)
        except (SuspiciousOperation, requests.RequestException) as exc:  # bad token, provider unreachable
            logger.warning("single sign-on refused: %s", exc)
            user = None
        if request is None or not request.GET.get("code"):
            return user
        if user is None or not user.is_active:
            name = self.claim_username(getattr(self, "_claims", {}) or {}) or ""
            events.login_failed(
                Actor(name="anonymous", kind="anonymous", ip=client_ip(request)),
                user.pk if user is not None else None, username=name,
                reason="inactive" if user is not None else "sso_refused", method=METHOD,
            )  # fmt: skip
            return None
        return user

    @staticmethod
    def claim_username(claims: dict[str, Any]) -> str:
        value = claims.get(username_claim())
        return value.strip() if isinstance(value, str) else ""

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        self._claims = claims
        name = self.claim_username(claims)
        return 0 < len(name) <= 150

    def describe_user_by_claims(self, claims: dict[str, Any]) -> str:
        return f"{username_claim()} {self.claim_username(claims)}"

    def get_username(self, claims: dict[str, Any]) -> str:
        return self.claim_username(claims)

    def filter_users_by_claims(self, claims: dict[str, Any]) -> QuerySet[Any]:
        name = self.claim_username(claims)
        User = get_user_model()
        if not name:
            return User.objects.none()
        return User.objects.filter(**{User.USERNAME_FIELD: name})

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> Any:
        User = get_user_model()
        user = User(**{User.USERNAME_FIELD: self.claim_username(claims)})
        _copy_profile(user, claims)
        user.set_unusable_password()
        user.save()
        AccountSecurity.objects.create(user=user, must_change_password=False)
        request = getattr(self, "request", None)
        events.user_created_by_sso(
            Actor(name="oidc", kind="system", ip=client_ip(request)), user.pk, username=user.get_username(),
            method=METHOD, subject=str(claims.get("sub", ""))[:255],
        )  # fmt: skip
        return user

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        changed = _copy_profile(user, claims)
        if changed:
            user.save(update_fields=changed)
        return user


def _copy_profile(user: Any, claims: dict[str, Any]) -> list[str]:
    """E-mail and names from the claims, where given; returns the fields that changed."""
    changed = []
    for field_name, claim, limit in (
        ("email", "email", 254),
        ("first_name", "given_name", 150),
        ("last_name", "family_name", 150),
    ):
        value = claims.get(claim)
        if (
            isinstance(value, str)
            and value.strip()
            and getattr(user, field_name, None) != value.strip()[:limit]
        ):
            setattr(user, field_name, value.strip()[:limit])
            changed.append(field_name)
    return changed


def _urlpatterns() -> list[URLPattern | URLResolver]:
    if not enabled():
        return []
    return [path("", include("mozilla_django_oidc.urls"))]


urlpatterns = _urlpatterns()
