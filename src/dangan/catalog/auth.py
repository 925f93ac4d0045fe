"""DRF authentication for source systems: ``Authorization: Token <token>``."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from dangan.catalog.models import SourceSystem
from dangan.catalog.services import authenticate_token


class SourceSystemPrincipal:
    """Stands in for request.user when a source system calls the API."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, system: SourceSystem) -> None:
        self.system = system
        self.pk = None

    def get_username(self) -> str:
        return f"source:{self.system.code}"

    def __str__(self) -> str:
        return self.get_username()


class SourceSystemTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Any) -> tuple[SourceSystemPrincipal, SourceSystem] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <token>'")
        try:
            token = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header") from exc
        system = authenticate_token(token)
        if system is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token")
        return SourceSystemPrincipal(system), system

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
