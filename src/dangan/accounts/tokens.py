"""Source-system API tokens (接口令牌): issue, revoke, list, authenticate.

A source system (来源系统) may hold several tokens, each with its own scopes (``TOKEN_SCOPES``), an
optional expiry and a revocation. The plaintext is shown once, when issued; only its SHA-256 is kept,
and its first characters (``token_prefix``) to tell tokens apart in lists, logs and the CLI.
Issuing and revoking need ``tokens.manage`` (系统管理员) and are audited; a revoked or expired token
presented to the API is refused and audited too (at most once a minute per token).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dangan.accounts.models import ApiToken
from dangan.accounts.roles import TOKEN_SCOPES, Actor, Perm, require
from dangan.audit import events
from dangan.catalog.models import SourceSystem
from dangan.core.errors import DanganError

TOKEN_PREFIX = "dgn_"
PREFIX_LENGTH = 12  # "dgn_" and 8 random characters: shown in lists and logs, never enough to use
MAX_EXPIRY_DAYS = 3650
# last_used_at is written at most this often (a busy sender would otherwise write on every call).
LAST_USED_RESOLUTION = timedelta(minutes=1)
REFUSAL_LOG_SECONDS = 60


class TokenError(DanganError):
    code = "TOKEN_ERROR"


def hash_token(plaintext: str) -> str:
    """SHA-256 of the token (tokens are 256-bit random: a plain hash is enough, no salt or stretching)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in ``TOKEN_SCOPES`` order, without repeats; refuses unknown and empty lists."""
    chosen = list(dict.fromkeys(s.strip() for s in scopes))
    unknown = [s for s in chosen if s not in TOKEN_SCOPES]
    if unknown:
        raise TokenError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(TOKEN_SCOPES)}",
            code="BAD_SCOPE",
            target="scopes",
        )
    if not chosen:
        raise TokenError("a token needs at least one scope", code="BAD_SCOPE", target="scopes")
    return [s for s in TOKEN_SCOPES if s in chosen]


@transaction.atomic
def issue_token(
    actor: Actor,
    system: SourceSystem,
    *,
    scopes: Iterable[str],
    expires_in_days: int | None = None,
    name: str = "",
    revoke_others: bool = False,
) -> tuple[ApiToken, str]:
    """A new token for ``system``; returns (token, plaintext). The plaintext is never stored or shown again.

    ``revoke_others`` re-keys the system: its earlier tokens are revoked in the same transaction.
    """
    require(actor, Perm.MANAGE_TOKENS)
    chosen = validate_scopes(scopes)
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise TokenError(
            f"expiry must be 1–{MAX_EXPIRY_DAYS} days (or none)", code="BAD_EXPIRY", target="expires_in_days"
        )
    if not system.active:
        raise TokenError(f"source system {system.code} is disabled", code="SYSTEM_INACTIVE")
    name = name.strip()
    if len(name) > 100:
        raise TokenError("a token name has at most 100 characters", code="BAD_NAME", target="name")
    if revoke_others:
        for old in ApiToken.objects.filter(system=system, revoked_at__isnull=True):
            revoke_token(actor, old, reason="re-keyed")
    now = timezone.now()
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        system=system,
        name=name,
        token_hash=hash_token(plaintext),
        token_prefix=plaintext[:PREFIX_LENGTH],
        scopes=chosen,
        created_at=now,
        created_by=actor.name,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    events.token_issued(
        actor,
        token.pk,
        system=system.code,
        prefix=token.token_prefix,
        scopes=chosen,
        expires_at=token.expires_at.isoformat() if token.expires_at else "",
        name=name,
    )
    return token, plaintext


@transaction.atomic
def revoke_token(actor: Actor, token: ApiToken, *, reason: str = "") -> ApiToken:
    """Revoke ``token`` now: the next request with it is refused."""
    require(actor, Perm.MANAGE_TOKENS)
    token = ApiToken.objects.select_for_update().select_related("system").get(pk=token.pk)
    if token.revoked_at is not None:
        raise TokenError(
            f"token {token.token_prefix}… was already revoked by {token.revoked_by}", code="ALREADY_REVOKED"
        )
    token.revoked_at = timezone.now()
    token.revoked_by = actor.name
    token.save(update_fields=["revoked_at", "revoked_by"])
    events.token_revoked(
        actor, token.pk, system=token.system.code, prefix=token.token_prefix, reason=reason.strip()
    )
    return token


def list_tokens(actor: Actor, system: SourceSystem | None = None) -> QuerySet[ApiToken]:
    """Tokens (of ``system``, or of every system), newest first within each system."""
    require(actor, Perm.MANAGE_TOKENS)
    qs = ApiToken.objects.select_related("system")
    return qs.filter(system=system) if system is not None else qs


def token_by_prefix(actor: Actor, prefix: str) -> ApiToken:
    """The one token whose prefix starts with ``prefix`` (at least 6 characters; a full token works too)."""
    require(actor, Perm.MANAGE_TOKENS)
    prefix = prefix.strip()
    if len(prefix) < 6:
        raise TokenError("give at least 6 characters of the token prefix", code="TOKEN_NOT_FOUND")
    if len(prefix) > PREFIX_LENGTH:
        matches = list(ApiToken.objects.select_related("system").filter(token_hash=hash_token(prefix)))
    else:
        matches = list(ApiToken.objects.select_related("system").filter(token_prefix__startswith=prefix)[:2])
    if not matches:
        raise TokenError(f"no token {prefix}…", code="TOKEN_NOT_FOUND")
    if len(matches) > 1:
        raise TokenError(f"{prefix}… matches several tokens: give more characters", code="TOKEN_AMBIGUOUS")
    return matches[0]


def token_state(token: ApiToken, now: object = None) -> str:
    """active | expired | revoked | system_disabled (for lists and refusals)."""
    moment = now or timezone.now()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= moment:  # type: ignore[operator]
        return "expired"
    if not token.system.active:
        return "system_disabled"
    return "active"


def authenticate(plaintext: str, *, ip: str = "") -> ApiToken | None:
    """The usable token with this plaintext, or None: unknown, revoked, expired, or its system disabled.

    A known token that is refused writes a ``token.refused`` event (its prefix only), at most once a
    minute per token. ``last_used_at`` is written at most once a minute.
    """
    if not plaintext or len(plaintext) > 200:
        return None
    token = ApiToken.objects.select_related("system").filter(token_hash=hash_token(plaintext)).first()
    if token is None:
        return None
    now = timezone.now()
    state = token_state(token, now)
    if state != "active":
        # One event a minute per token: a misconfigured sender retrying in a loop cannot flood the trail.
        if cache.add(f"dangan:token-refused:{token.token_hash[:24]}", 1, REFUSAL_LOG_SECONDS):
            who = Actor(
                name=f"source:{token.system.code}",
                kind="source_system",
                source_system_id=token.system.pk,
                ip=ip,
            )
            events.token_refused(
                who, token.pk, system=token.system.code, prefix=token.token_prefix, reason=state
            )
        return None
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
