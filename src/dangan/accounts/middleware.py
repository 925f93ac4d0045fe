"""Session timeouts and the forced password change, for every request of a signed-in person.

* **Idle timeout** — ``SESSION_IDLE_MINUTES`` (30) without a request ends the session.
* **Absolute lifetime** — ``SESSION_COOKIE_AGE`` (``DANGAN_SESSION_SECONDS``, 8 h) after signing in
  the session ends however busy it is (Django alone would extend a session that keeps changing).
  An ended session is signed out (audited as ``session.expired``) and the person sent to the login
  page, which says why; an API call gets 401 ``SESSION_EXPIRED``.
* **Forced password change** — a person whose password was chosen by someone else (first sign-in,
  after a reset) or has expired (``PASSWORD_MAX_AGE_DAYS``) is sent to the password page from every
  URL but that page, logout, static files and the health check; an API call gets 403
  ``PASSWORD_CHANGE_REQUIRED``. Sessions opened by single sign-on are exempt (no local password).

Goes after ``AuthenticationMiddleware`` and ``MessageMiddleware``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, reverse

SESSION_AUTH_AT = "dangan_auth_at"  # when the person signed in (epoch seconds)
SESSION_SEEN_AT = "dangan_seen_at"  # the last request, to a minute's precision
LOGOUT_REASON_ATTR = "dangan_logout_reason"
SEEN_PRECISION = 60.0  # seconds: the session is written at most once a minute for the idle clock

API_PREFIX = "/api/"


def idle_seconds() -> float:
    return max(0, int(getattr(settings, "SESSION_IDLE_MINUTES", 30))) * 60.0


def absolute_seconds() -> float:
    return max(0, int(getattr(settings, "SESSION_COOKIE_AGE", 8 * 3600))) * 1.0


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _send_to(request: HttpRequest, url: str) -> HttpResponse:
    if _is_htmx(request):  # htmx would swap a redirected page into a fragment: have it load the page
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def _with_next(url: str, request: HttpRequest, **extra: str) -> str:
    params = dict(extra)
    if request.method == "GET" and not _is_htmx(request):
        params = {"next": request.get_full_path(), **params}
    return f"{url}?{urlencode(params)}" if params else url


class AccountSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._exempt: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response = self._session_timeout(request) or self._password_change(request)
            if response is not None:
                return response
        return self.get_response(request)

    # --- timeouts ---

    def _session_timeout(self, request: HttpRequest) -> HttpResponse | None:
        session = request.session
        now = time.time()
        auth_at = session.get(SESSION_AUTH_AT)
        seen_at = session.get(SESSION_SEEN_AT)
        if not isinstance(auth_at, int | float) or not isinstance(seen_at, int | float):
            session[SESSION_AUTH_AT] = session[SESSION_SEEN_AT] = now  # a session from before this rule
            return None
        reason = ""
        if absolute_seconds() and now - auth_at > absolute_seconds():
            reason = "absolute"
        elif idle_seconds() and now - seen_at > idle_seconds():
            reason = "idle"
        if not reason:
            if now - seen_at >= min(SEEN_PRECISION, idle_seconds() / 10 or SEEN_PRECISION):
                session[SESSION_SEEN_AT] = now
            return None
        setattr(request, LOGOUT_REASON_ATTR, reason)  # the logout signal audits session.expired
        login_url = str(settings.LOGIN_URL)
        next_url = _with_next(login_url, request, expired=reason)
        logout(request)
        if request.path.startswith(API_PREFIX):
            return JsonResponse(
                {
                    "code": "SESSION_EXPIRED",
                    "message": "会话已过期，请重新登录。The session has expired; sign in again.",
                },
                status=401,
            )
        return _send_to(request, next_url)

    # --- forced password change ---

    def _exempt_prefixes(self) -> tuple[str, ...]:
        if self._exempt is None:
            names = [
                "web:password-change",
                "web:logout",
                "healthz",
                "set_language",
                "admin:logout",
                "oidc_logout",
            ]
            found = []
            for name in names:
                with contextlib.suppress(NoReverseMatch):  # e.g. single sign-on off: no oidc_logout
                    found.append(reverse(name))
            self._exempt = (*found, str(settings.STATIC_URL), "/favicon.ico")
        return self._exempt

    def _password_change(self, request: HttpRequest) -> HttpResponse | None:
        if request.path.startswith(self._exempt_prefixes()):
            return None
        if str(request.session.get(BACKEND_SESSION_KEY, "")).endswith("OIDCBackend"):
            return None
        from dangan.accounts.passwords import change_required

        reason = change_required(request.user)
        if reason is None:
            return None
        if request.path.startswith(API_PREFIX):
            return JsonResponse(
                {
                    "code": "PASSWORD_CHANGE_REQUIRED",
                    "message": "请先修改密码。Change your password first (on the password page).",
                    "reason": reason,
                },
                status=403,
            )
        return _send_to(request, _with_next(reverse("web:password-change"), request))
