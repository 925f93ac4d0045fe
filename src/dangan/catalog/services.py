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
from dangan.core.checks.catalogue import StageProfile, default_profile, parse_profile_overrides
from dangan.core.checks.model import Stage
from dangan.core.checks.scheme import MetadataScheme, parse_overrides
from dangan.core.codes import CodePattern
from dangan.core.errors import DanganError

TOKEN_PREFIX = "dgn_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_check_profile(value: Any) -> None:
    """``{stage: {item number: {"enabled": bool, "blocking": bool}}}``; raises DanganError naming the fault."""
    if not isinstance(value, dict):
        raise DanganError("the check profile must be an object keyed by stage", code="BAD_CHECK_PROFILE")
    for stage, overrides in value.items():
        try:
            parse_profile_overrides(Stage(stage), overrides)
        except ValueError:
            raise DanganError(
                f"unknown stage {stage!r}; stages: {', '.join(s.value for s in Stage)}",
                code="BAD_CHECK_PROFILE",
            ) from None


def check_profile_for(stage: Stage, item: ServiceItem | None) -> StageProfile:
    """The stage's default profile, adjusted by the fonds, then by the service item."""
    profile = default_profile(stage)
    if item is not None:
        profile = profile.apply_overrides(item.fonds.check_profile.get(stage.value))
        profile = profile.apply_overrides(item.check_profile.get(stage.value))
    return profile


def metadata_scheme_for(item: ServiceItem | None) -> MetadataScheme:
    scheme = MetadataScheme.default()
    return scheme.with_overrides(item.metadata_scheme) if item is not None else scheme


@transaction.atomic
def upsert_fonds(
    actor: Actor,
    *,
    code: str,
    name: str,
    region_code: str = "",
    pattern: str | None = None,
    check_profile: dict[str, Any] | None = None,
) -> Fonds:
    require(actor, Perm.MANAGE_CATALOG)
    if pattern:
        CodePattern.parse(pattern)
    if check_profile is not None:
        validate_check_profile(check_profile)
    fonds, created = Fonds.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "region_code": region_code,
            **({"archival_code_pattern": pattern} if pattern else {}),
            **({"check_profile": check_profile} if check_profile is not None else {}),
        },
    )
    events.catalog_changed(actor, "fonds", fonds.pk, code=code, created=created)
    return fonds


@transaction.atomic
def upsert_service_item(actor: Actor, fonds: Fonds, *, code: str, **fields: Any) -> ServiceItem:
    require(actor, Perm.MANAGE_CATALOG)
    if fields.get("metadata_scheme"):
        parse_overrides(fields["metadata_scheme"])
    if fields.get("check_profile"):
        validate_check_profile(fields["check_profile"])
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
