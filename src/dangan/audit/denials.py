"""Refused requests are audited too: who tried what, from where, lacking which permission.

Web pages raise ``django.core.exceptions.PermissionDenied`` (a 403); the middleware hook records it.
The API answers 403 through DRF's exception handler, which records it the same way. A request
without a signed-in user is not recorded here (it goes to the login page or gets a 401).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from dangan.accounts.roles import Actor
from dangan.accounts.roles import PermissionDenied as RolePermissionDenied

log = logging.getLogger(__name__)


def _actor_of(request: Any) -> Actor | None:
    from dangan.ingest.api import request_actor

    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        return request_actor(request)
    except Exception:  # an audit record must never turn a 403 into a 500
        log.exception("could not build the actor of a refused request")
        return None


def record_denial(request: Any, reason: str, channel: str) -> None:
    actor = _actor_of(request)
    if actor is None:
        return
    from dangan.audit import events

    try:
        events.access_denied(
            actor, method=request.method or "", path=request.path, needed=reason, channel=channel
        )
    except Exception:
        log.exception("could not audit a refused request to %s", request.path)


class DeniedAccessAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied | RolePermissionDenied):
            record_denial(request, str(exception), "web")
        if isinstance(exception, RolePermissionDenied):  # a service's refusal a view did not catch: 403
            raise PermissionDenied(str(exception)) from exception
        return None  # Django answers 403 as before


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus an audit event for every refusal of a signed-in caller."""
    if isinstance(exc, RolePermissionDenied):  # a service's refusal the view did not translate: 403
        exc = drf_exceptions.PermissionDenied(str(exc))
    response = exception_handler(exc, context)
    if isinstance(exc, drf_exceptions.PermissionDenied | PermissionDenied):
        record_denial(context.get("request"), str(getattr(exc, "detail", exc)), "api")
    return response
