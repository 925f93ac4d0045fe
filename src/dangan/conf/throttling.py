"""API rate limits (DRF throttles), counted in the default cache — Redis when DANGAN_REDIS_URL is set,
so all workers share the counts; the per-process memory cache otherwise.

* ``source_system``: per source system (its token), DANGAN_API_RATE_SOURCE (default 600/min);
* ``user``: per signed-in person using the API with a session, DANGAN_API_RATE_USER (300/min);
* ``anon``: per client address for requests without credentials, DANGAN_API_RATE_ANON (30/min).
  DRF checks throttles only after authentication, so a wrong token would never reach them: failed
  token attempts (API answers 401 to a request with an ``Authorization`` header) are counted at the
  same rate in a counter of their own by the hardening middleware, and once an address has used it
  up, its API requests with an ``Authorization`` header are refused with 429 *before* the token is
  looked up, so tokens cannot be guessed at speed.

An over-limit request gets 429 with ``Retry-After`` (seconds). Rates are read on every request
(``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``), so tests and settings overrides take effect at once.
The client address is REMOTE_ADDR, or with DANGAN_BEHIND_PROXY the address the proxy appended to
X-Forwarded-For (``NUM_PROXIES``): a client cannot pick its own counter by sending that header.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from rest_framework import throttling
from rest_framework.settings import api_settings

from dangan.catalog.auth import SourceSystemPrincipal


class _RateFromSettings(throttling.SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES or {}
        rate = rates.get(self.scope or "")
        return str(rate) if rate else None


class SourceSystemRateThrottle(_RateFromSettings):
    scope = "source_system"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if not isinstance(user, SourceSystemPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.system.pk}


class UserRateThrottle(_RateFromSettings):
    scope = "user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or isinstance(user, SourceSystemPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class AnonRateThrottle(_RateFromSettings):
    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class FailedTokenLimiter(_RateFromSettings):
    """Failed token attempts per client address, at the ``anon`` rate (see the module docstring).

    Used by :func:`refuse_guessing` before the view and :func:`count_failure` after it.
    """

    scope = "anon"
    cache_format = "throttle_failed-token_%(ident)s"

    def __init__(self, request: Any) -> None:
        super().__init__()
        limit, window = self.parse_rate(self.rate)
        self.limit, self.window = limit or 0, window or 60
        self.key = self.cache_format % {"ident": self.get_ident(request)}

    def _history(self) -> list[float]:
        self.now = self.timer()
        history: list[float] = self.cache.get(self.key, [])
        while history and history[-1] <= self.now - self.window:
            history.pop()
        return history

    def wait_seconds(self) -> int | None:
        """Seconds until this address may try a token again; None while it has attempts left."""
        if not self.limit:
            return None
        history = self._history()
        if len(history) < self.limit:
            return None
        # The oldest failure that still counts must age out before the next attempt.
        oldest = history[self.limit - 1]
        return max(1, math.ceil(oldest + self.window - self.now))

    def record(self) -> None:
        if not self.limit:
            return
        history = self._history()
        history.insert(0, self.now)
        self.cache.set(self.key, history[: self.limit], self.window)


def _token_request(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/") and bool(request.META.get("HTTP_AUTHORIZATION"))


def refuse_guessing(request: HttpRequest) -> JsonResponse | None:
    """429 for an API request with credentials from an address out of failed attempts."""
    if not _token_request(request):
        return None
    wait = FailedTokenLimiter(request).wait_seconds()
    if wait is None:
        return None
    response = JsonResponse(
        {"detail": f"Too many failed authentication attempts. Expected available in {wait} seconds."},
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def count_failure(request: HttpRequest, response: HttpResponseBase) -> None:
    if response.status_code == 401 and _token_request(request):
        FailedTokenLimiter(request).record()
