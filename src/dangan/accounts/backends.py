"""Password sign-in with lockout after repeated failures and a failure limit per client address.

``LockoutModelBackend`` is Django's ``ModelBackend`` plus:

* **lockout** — after ``LOGIN_MAX_FAILURES`` consecutive failures a user name is locked for
  ``LOGIN_LOCK_MINUTES``; while locked even the right password is refused (without being checked).
  For an account the state is ``AccountSecurity`` (``accounts.services.unlock`` lifts it early); for a
  name no account has, the same counting happens in the cache, so the answers — "wrong name or
  password", then "locked until …" — and their timing do not tell whether an account exists.
* **rate limit** — more than ``LOGIN_IP_MAX_FAILURES`` failures from one address within
  ``LOGIN_IP_WINDOW_MINUTES`` refuse every further attempt from it until the window ends (cache;
  Redis when ``DANGAN_REDIS_URL`` is set, else per process).

Every attempt with a user name and password is audited (``login.failed`` here, ``login.succeeded``
in ``accounts.signals``). A refusal the person should be told about is left on the request
(``refusal_of``) for the login form's message. Every sign-in path that calls ``authenticate()``
goes through here: the login page, the admin login, ``Client.login`` in tests.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.settings import api_settings

from dangan.accounts.models import AccountSecurity
from dangan.accounts.passwords import security_of
from dangan.accounts.roles import Actor
from dangan.audit import events

REFUSAL_ATTR = "dangan_login_refusal"
LOCKED = "locked"
RATE_LIMITED = "rate_limited"
UNKNOWN_NAME_TTL = 24 * 3600  # how long failures of a name no account has are remembered


@dataclass(frozen=True)
class LoginRefusal:
    """Why a sign-in was refused without looking at the password, and until when."""

    reason: str  # LOCKED | RATE_LIMITED
    until: datetime


def refusal_of(request: HttpRequest | None) -> LoginRefusal | None:
    return getattr(request, REFUSAL_ATTR, None) if request is not None else None


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: REMOTE_ADDR, or behind ``NUM_PROXIES`` proxies (DANGAN_BEHIND_PROXY,
    DANGAN_PROXY_COUNT) the one the nearest proxy appended to X-Forwarded-For — never an address
    the client wrote itself. The same rule as the API's rate limits (DRF ``get_ident``)."""
    if request is None:
        return ""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = api_settings.NUM_PROXIES
    forwarded = [a.strip() for a in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if a.strip()]
    if not proxies or not forwarded:
        return remote
    return forwarded[-min(int(proxies), len(forwarded))]


def max_failures() -> int:
    return max(1, int(getattr(settings, "LOGIN_MAX_FAILURES", 5)))


def lock_duration() -> timedelta:
    return timedelta(minutes=max(1, int(getattr(settings, "LOGIN_LOCK_MINUTES", 15))))


# --- Per-address limit (cache) ----------------------------------------------------------------------


def _ip_keys(ip: str) -> tuple[str, str]:
    digest = hashlib.sha256(ip.encode()).hexdigest()[:32]
    return f"dangan:login:ip:{digest}:n", f"dangan:login:ip:{digest}:until"


def ip_blocked_until(ip: str) -> datetime | None:
    """When the address may try again, if it has used up its failures for the current window."""
    limit = int(getattr(settings, "LOGIN_IP_MAX_FAILURES", 30))
    if not ip or limit <= 0:
        return None
    count_key, until_key = _ip_keys(ip)
    if int(cache.get(count_key, 0)) < limit:
        return None
    until = cache.get(until_key)
    return datetime.fromtimestamp(float(until), tz=UTC) if until else timezone.now()


def _count_ip_failure(ip: str) -> None:
    if not ip or int(getattr(settings, "LOGIN_IP_MAX_FAILURES", 30)) <= 0:
        return
    window = max(60, int(getattr(settings, "LOGIN_IP_WINDOW_MINUTES", 15)) * 60)
    count_key, until_key = _ip_keys(ip)
    cache.add(until_key, time.time() + window, window)  # the window starts at the first failure
    if cache.add(count_key, 1, window):
        return
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.add(count_key, 1, window)


def _first_refusal(ip: str, until: datetime) -> bool:
    """True for the first refusal of an address in its current window (that one is audited)."""
    remaining = max(1, int((until - timezone.now()).total_seconds()))
    return bool(cache.add(_ip_keys(ip)[0] + ":refused", 1, remaining))


def clear_ip(ip: str) -> None:
    cache.delete_many([*_ip_keys(ip), _ip_keys(ip)[0] + ":refused"])


# --- Names no account has (cache), so they behave like accounts -------------------------------------


def _name_key(username: str) -> str:
    return "dangan:login:name:" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _unknown_locked_until(username: str, now: datetime) -> datetime | None:
    state = cache.get(_name_key(username)) or {}
    until = state.get("until")
    if until and until > now.timestamp():
        return datetime.fromtimestamp(until, tz=UTC)
    return None


def _count_unknown_failure(username: str, now: datetime) -> datetime | None:
    """Count a failure for a name no account has; returns the lock's end when this one locks it."""
    key = _name_key(username)
    state = cache.get(key) or {}
    failures = 0 if state.get("until") else int(state.get("failures", 0))  # an ended lock starts afresh
    failures += 1
    if failures >= max_failures():
        until = now + lock_duration()
        cache.set(key, {"failures": failures, "until": until.timestamp()}, UNKNOWN_NAME_TTL)
        return until
    cache.set(key, {"failures": failures}, UNKNOWN_NAME_TTL)
    return None


# --- Accounts (AccountSecurity) ----------------------------------------------------------------------


def _locked_until(user: Any, now: datetime) -> datetime | None:
    until = AccountSecurity.objects.filter(user_id=user.pk).values_list("locked_until", flat=True).first()
    return until if until is not None and until > now else None


@transaction.atomic
def _count_account_failure(user: Any, now: datetime, ip: str) -> datetime | None:
    """Count a failure for an account; returns the lock's end when this one locks it (audited)."""
    security_of(user)
    sec = AccountSecurity.objects.select_for_update().get(user_id=user.pk)
    if sec.locked_until is not None and sec.locked_until <= now:
        sec.failed_logins, sec.locked_until = 0, None  # the lock ran out: count afresh
    sec.failed_logins += 1
    sec.last_failed_at = now
    locked = None
    if sec.failed_logins >= max_failures() and sec.locked_until is None:
        locked = sec.locked_until = now + lock_duration()
        events.user_locked(
            Actor(name="login-policy", kind="system", ip=ip), user.pk, username=user.get_username(),
            failures=sec.failed_logins, until=locked.isoformat(),
        )  # fmt: skip
    sec.save(update_fields=["failed_logins", "last_failed_at", "locked_until"])
    return locked


def reset_failures(user: Any) -> None:
    """A successful sign-in ends the run of failures."""
    AccountSecurity.objects.filter(user_id=user.pk).exclude(failed_logins=0, locked_until=None).update(
        failed_logins=0, locked_until=None
    )


class LockoutModelBackend(ModelBackend):
    """``ModelBackend`` with lockout, a per-address failure limit and audit (see the module doc)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None  # not a password sign-in (e.g. the single sign-on callback)
        username = str(username)
        ip = client_ip(request)
        now = timezone.now()
        anonymous = Actor(name="anonymous", kind="anonymous", ip=ip)

        blocked = ip_blocked_until(ip)
        if blocked is not None:
            if _first_refusal(ip, blocked):  # one event per address and window: no audit flood
                events.login_failed(anonymous, None, username=username, reason=RATE_LIMITED)
            self._refuse(request, RATE_LIMITED, blocked)

        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        locked = _locked_until(user, now) if user is not None else _unknown_locked_until(username, now)
        if locked is not None:
            events.login_failed(anonymous, user.pk if user else None, username=username, reason=LOCKED)
            _count_ip_failure(ip)
            self._refuse(request, LOCKED, locked)

        if user is None:
            User().set_password(password)  # the same hashing work as for an account (#20760)
            reason = "unknown_user"
        elif not user.check_password(password):
            reason = "bad_password"
        elif not self.user_can_authenticate(user):
            reason = "inactive"
        else:
            reset_failures(user)
            return user

        events.login_failed(anonymous, user.pk if user else None, username=username, reason=reason)
        _count_ip_failure(ip)
        locked = (
            _count_account_failure(user, now, ip)
            if user is not None
            else _count_unknown_failure(username, now)
        )
        if locked is not None:
            self._refuse(request, LOCKED, locked)
        return None

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)

    @staticmethod
    def _refuse(request: HttpRequest | None, reason: str, until: datetime) -> None:
        if request is not None:
            setattr(request, REFUSAL_ATTR, LoginRefusal(reason, until))
        raise PermissionDenied(reason)
