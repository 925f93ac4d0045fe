"""DRF authentication for source systems: ``Authorization: Token <token>`` (an ``accounts.ApiToken``)."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from dangan.accounts import tokens
from dangan.accounts.models import ApiToken
from dangan.catalog.models import SourceSystem


class SourceSystemPrincipal:
    """Stands in for request.user when a source system calls the API; carries the token it used."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        self.system: SourceSystem = token.system
        self.pk = None

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.token.scopes)

    def get_username(self) -> str:
        return f"source:{self.system.code}"

    def __str__(self) -> str:
        return self.get_username()


class SourceSystemTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Any) -> tuple[SourceSystemPrincipal, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <token>'")
        try:
            plaintext = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header") from exc
        token = tokens.authenticate(plaintext, ip=request.META.get("REMOTE_ADDR", ""))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token")
        return SourceSystemPrincipal(token), token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
