"""Catalogue use-cases: fonds, service items, source systems and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from dangan.accounts.roles import Actor, Perm, require
from dangan.audit import events
from dangan.catalog.models import Fonds, ServiceItem, SourceSystem
from dangan.core.codes import CodePattern

TOKEN_PREFIX = "dgn_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def upsert_fonds(
    actor: Actor, *, code: str, name: str, region_code: str = "", pattern: str | None = None
) -> Fonds:
    require(actor, Perm.MANAGE_CATALOG)
    if pattern:
        CodePattern.parse(pattern)
    fonds, created = Fonds.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "region_code": region_code,
            **({"archival_code_pattern": pattern} if pattern else {}),
        },
    )
    events.catalog_changed(actor, "fonds", fonds.pk, code=code, created=created)
    return fonds


@transaction.atomic
def upsert_service_item(actor: Actor, fonds: Fonds, *, code: str, **fields: Any) -> ServiceItem:
    require(actor, Perm.MANAGE_CATALOG)
    item, created = ServiceItem.objects.update_or_create(fonds=fonds, code=code, defaults=fields)
    events.catalog_changed(actor, "service_item", item.pk, code=code, created=created)
    return item


@transaction.atomic
def issue_source_token(actor: Actor, *, code: str, name: str, fonds: list[Fonds]) -> tuple[SourceSystem, str]:
    """Create (or re-key) a source system; returns the token, shown once and stored only hashed."""
    require(actor, Perm.MANAGE_CATALOG)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    system, _ = SourceSystem.objects.update_or_create(
        code=code,
        defaults={"name": name, "token_hash": hash_token(token), "token_prefix": token[:12], "active": True},
    )
    system.fonds.set(fonds)
    events.source_token_issued(actor, system.pk, code=code)
    return system, token


def authenticate_token(token: str) -> SourceSystem | None:
    system = SourceSystem.objects.filter(token_hash=hash_token(token), active=True).first()
    if system is None:
        return None
    if system.expires_at is not None and system.expires_at <= timezone.now():
        return None
    SourceSystem.objects.filter(pk=system.pk).update(last_used_at=timezone.now())
    return system
