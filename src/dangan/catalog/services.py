"""Catalogue use-cases: fonds, service items, source systems (their API tokens: ``accounts.tokens``); the
classification scheme (分类方案), the versioned retention schedule (保管期限表) and the archiving scope
(归档范围).

Who may change what (DOMAIN.md §1): the system administrator (系统管理员, ``MANAGE_CATALOG``) registers
fonds, service items and source systems — technical configuration; the records officer (档案员,
``MANAGE_SCHEDULE``) decides the archiving-side business rules: classes, retention and scope. Both may read
the schedule (``VIEW_SCHEDULE``). Retention rules are insert-only: a change is a new version with a later
effective date and applies to records archived from that date on (docs/retention.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from dangan.accounts.roles import DEFAULT_TOKEN_SCOPES, Actor, Perm, require, require_all_fonds
from dangan.audit import events
from dangan.catalog.models import ArchiveClass, Fonds, RetentionCode, RetentionRule, ServiceItem, SourceSystem
from dangan.core import retention as rules
from dangan.core.checks.catalogue import StageProfile, default_profile, parse_profile_overrides
from dangan.core.checks.model import Stage
from dangan.core.checks.scheme import MetadataScheme, parse_overrides
from dangan.core.codes import CodePattern
from dangan.core.errors import DanganError
from dangan.core.package import schema

if TYPE_CHECKING:
    from dangan.archive.models import Record


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


# The metadata items whose enumeration is the retention codes (check 1-4).
_RETENTION_KEYS = frozenset(
    f"{e.group.value}/{e.name}" for e in schema.ELEMENTS if e.kind == schema.Kind.RETENTION
)


def metadata_scheme_for(item: ServiceItem | None) -> MetadataScheme:
    """The default scheme, with this installation's extra retention codes accepted by check 1-4, and the
    service item's own overrides (which win)."""
    scheme = MetadataScheme.default()
    codes = retention_scale().codes
    if any(
        r.key in _RETENTION_KEYS and r.enum is not None and set(codes) - set(r.enum) for r in scheme.fields
    ):
        scheme = replace(
            scheme,
            fields=tuple(
                replace(r, enum=codes) if r.key in _RETENTION_KEYS and r.enum is not None else r
                for r in scheme.fields
            ),
        )
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


# Fields of a service item that belong to the records officer's schedule, not to its registration.
SCHEDULE_FIELDS = ("retention", "scope", "class_code", "archive_class")


@transaction.atomic
def upsert_service_item(actor: Actor, fonds: Fonds, *, code: str, **fields: Any) -> ServiceItem:
    """Register or update a service item. On creation its retention, scope and class are the initial
    configuration (the retention becomes the first version of its schedule); changing them later is the
    records officer's (``MANAGE_SCHEDULE``) and goes through the schedule: a changed retention becomes a
    new version effective today."""
    require(actor, Perm.MANAGE_CATALOG)
    if fields.get("metadata_scheme"):
        parse_overrides(fields["metadata_scheme"])
    if fields.get("check_profile"):
        validate_check_profile(fields["check_profile"])
    planned = {k: fields.pop(k) for k in SCHEDULE_FIELDS if k in fields}
    if "retention" in planned:
        retention_scale().period(str(planned["retention"]))
    if "scope" in planned:
        planned["scope"] = normalise_scope(planned["scope"])
    existing = ServiceItem.objects.select_for_update().filter(fonds=fonds, code=code).first()
    if existing is None:
        initial = {k: planned[k] for k in ("retention", "scope", "class_code") if k in planned}
        item = ServiceItem.objects.create(fonds=fonds, code=code, **fields, **initial)
        events.catalog_changed(actor, "service_item", item.pk, code=code, created=True)
        _ensure_baseline(actor, item)
        cls = planned.get("archive_class") or _class_for_code(actor, fonds, item.class_code)
        _assign(actor, item, cls)
        return item
    item = existing
    if fields:
        for name, value in fields.items():
            setattr(item, name, value)
        item.save(update_fields=list(fields))
        events.catalog_changed(actor, "service_item", item.pk, code=code, created=False)
    if planned.get("scope") is not None and planned["scope"] != normalise_scope(item.scope):
        replace_scope(actor, item, planned["scope"])
    cls = planned.get("archive_class")
    if cls is None and planned.get("class_code") and planned["class_code"] != item.class_code:
        require(actor, Perm.MANAGE_SCHEDULE, item.fonds_id)
        cls = _class_for_code(actor, fonds, str(planned["class_code"]))
    if cls is not None and cls.pk != item.archive_class_id:
        assign_class(actor, item, cls)
    if planned.get("retention") and planned["retention"] != item.retention:
        add_retention_rule(
            actor,
            item,
            retention=str(planned["retention"]),
            effective_from=timezone.localdate(),
            basis=f"事项配置修改（{actor.name}）",
        )
        item.refresh_from_db()
    return item


@transaction.atomic
def upsert_source_system(
    actor: Actor, *, code: str, name: str, fonds: list[Fonds]
) -> tuple[SourceSystem, bool]:
    """Register a source system (来源系统), or change its name and fonds; (system, created). Its API
    tokens are issued separately (``dangan.accounts.tokens``)."""
    require(actor, Perm.MANAGE_CATALOG)
    code, name = code.strip(), name.strip()
    if not code or len(code) > 64 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", code):
        raise DanganError(
            "a source-system code of 1–64 letters, digits, '.', '_' or '-' is required",
            code="BAD_SOURCE_CODE", target="code",
        )  # fmt: skip
    if not name or len(name) > 200:
        raise DanganError(
            "a source-system name of 1–200 characters is required", code="BAD_NAME", target="name"
        )
    system, created = SourceSystem.objects.update_or_create(
        code=code, defaults={"name": name, "active": True}
    )
    system.fonds.set(fonds)
    events.catalog_changed(
        actor, "source_system", system.pk, code=code, created=created, fonds=sorted(f.code for f in fonds)
    )
    return system, created


@transaction.atomic
def issue_source_token(
    actor: Actor,
    *,
    code: str,
    name: str,
    fonds: list[Fonds],
    scopes: Iterable[str] = DEFAULT_TOKEN_SCOPES,
    expires_in_days: int | None = None,
    revoke_others: bool = True,
) -> tuple[SourceSystem, str]:
    """Create (or re-key) a source system and issue it a token; returns the plaintext, shown once.

    Re-keying revokes the system's older tokens unless ``revoke_others`` is False (rotation: the new
    token first, the old one revoked once the sender uses the new one).
    """
    from dangan.accounts import tokens

    system, _ = upsert_source_system(actor, code=code, name=name, fonds=fonds)
    _, plaintext = tokens.issue_token(
        actor, system, scopes=scopes, expires_in_days=expires_in_days, revoke_others=revoke_others
    )
    return system, plaintext


# ---------------------------------------------------------------------------------------------
# Retention codes and the versioned retention schedule (保管期限表)

# The first version of every item's schedule: its retention as registered, in force from long before
# any record (records archived before the schedule was kept were decided by it).
BASELINE_FROM = date(1900, 1, 1)
BASELINE_BASIS = "事项初始配置（未注明依据）"


def retention_scale() -> rules.RetentionScale:
    """Y, D30, D10 and this installation's configured codes."""
    extra = [
        rules.RetentionPeriod(c.code, c.label, c.label_en or c.label, c.years)
        for c in RetentionCode.objects.order_by("id")
    ]
    return rules.RetentionScale().with_extra(extra)


def retention_label(code: str, *, zh: bool = True) -> str:
    try:
        return retention_scale().label(code, zh=zh)
    except rules.RetentionError:
        return code


@transaction.atomic
def define_retention_code(
    actor: Actor, *, code: str, label: str, years: int | None, label_en: str = ""
) -> RetentionCode:
    """Add a retention code (e.g. D5 定期5年). Codes are never changed or removed: records and 档号 use them."""
    require_all_fonds(actor, Perm.MANAGE_SCHEDULE)  # codes are instance-wide
    period = rules.RetentionPeriod(code.strip(), label.strip(), label_en.strip() or label.strip(), years)
    period.validate()
    if period.code in retention_scale():
        raise rules.RetentionError(f"retention code {period.code} exists already", target="code")
    row = RetentionCode.objects.create(
        code=period.code, label=period.label, label_en=label_en.strip(), years=years, created_by=actor.name
    )
    events.retention_code_defined(actor, row.pk, code=row.code, label=row.label, years=years)
    return row


def _as_rule(r: RetentionRule) -> rules.Rule:
    return rules.Rule(
        retention=r.retention,
        effective_from=r.effective_from,
        basis=r.basis,
        material_code=r.material_code,
        rule_id=r.pk,
        seq=r.pk,
    )


def schedule_rules(item: ServiceItem) -> list[rules.Rule]:
    """Every version of the item's schedule (item and material rules), oldest first."""
    return [
        _as_rule(r) for r in RetentionRule.objects.filter(service_item=item).order_by("effective_from", "id")
    ]


def retention_for(
    item: ServiceItem, *, on: date, material_codes: Iterable[str] = ()
) -> rules.RetentionDecision:
    """The retention of a record of ``item`` archived on ``on`` holding ``material_codes``: the longest of
    the item's rule in force and its materials' rules in force (see dangan.core.retention.resolve)."""
    return rules.resolve(
        schedule_rules(item),
        on=on,
        material_codes=material_codes,
        scale=retention_scale(),
        fallback=item.retention,
    )


def retention_for_record(record: Record, *, on: date | None = None) -> rules.RetentionDecision:
    """The retention of ``record`` if archived on ``on`` (default today): its item and its files'
    material codes (材料编码) decide."""
    codes = record.files.exclude(material_code="").values_list("material_code", flat=True)
    return retention_for(record.service_item, on=on or timezone.localdate(), material_codes=set(codes))


def last_archived_on(item: ServiceItem) -> date | None:
    """The latest day a record of ``item`` was archived (its retention then decided), or None."""
    latest = item.records.filter(archived_at__isnull=False).aggregate(m=Max("archived_at"))["m"]
    return timezone.localtime(latest).date() if latest is not None else None


def _ensure_baseline(actor: Actor, item: ServiceItem) -> None:
    """Give an item without an item-level rule its first version (its configured retention), so that
    later versions never change what records archived before them were decided by."""
    if RetentionRule.objects.filter(service_item=item, material_code="").exists():
        return
    _insert_rule(actor, item, retention=item.retention, basis=BASELINE_BASIS, effective_from=BASELINE_FROM)


def _insert_rule(
    actor: Actor,
    item: ServiceItem,
    *,
    retention: str,
    basis: str,
    effective_from: date,
    material_code: str = "",
    material_name: str = "",
    supersedes: RetentionRule | None = None,
) -> RetentionRule:
    rule = RetentionRule.objects.create(
        fonds=item.fonds,
        service_item=item,
        material_code=material_code,
        material_name=material_name,
        retention=retention,
        basis=basis,
        effective_from=effective_from,
        supersedes=supersedes,
        created_by=actor.name,
    )
    events.retention_rule_added(
        actor,
        rule.pk,
        fonds=item.fonds.code,
        item_code=item.code,
        material_code=material_code,
        retention=retention,
        effective_from=effective_from.isoformat(),
        basis=basis,
        supersedes=supersedes.pk if supersedes else None,
    )
    return rule


def validate_material_code(code: str, *, target: str = "material_code") -> str:
    code = (code or "").strip()
    if not MATERIAL_CODE_RE.match(code):
        raise DanganError(
            f"material code {code!r} must be 1–32 characters without spaces or / \\ {{ }}",
            code="BAD_MATERIAL_CODE",
            target=target,
        )
    return code


@transaction.atomic
def add_retention_rule(
    actor: Actor,
    item: ServiceItem,
    *,
    retention: str,
    basis: str,
    effective_from: date,
    material_code: str = "",
    material_name: str = "",
) -> RetentionRule:
    """Add a new version of the item's (or one material's) retention rule. Never edits an old one.

    Refused (RetentionError, code RETENTION_HISTORY) when it would start before the newest version or on
    or before a day records of the item were already archived: their retention is sealed in their AIPs.
    """
    require(actor, Perm.MANAGE_SCHEDULE, item.fonds_id)
    item = ServiceItem.objects.select_for_update().select_related("fonds").get(pk=item.pk)
    material_code = validate_material_code(material_code) if material_code.strip() else ""
    retention = retention.strip()
    basis = basis.strip()
    if len(basis) > 500:
        raise rules.RetentionError("the basis (依据) is longer than 500 characters", target="basis")
    if not material_code:
        _ensure_baseline(actor, item)
    versions = schedule_rules(item)
    new = rules.Rule(
        retention=retention, effective_from=effective_from, basis=basis, material_code=material_code
    )
    rules.check_new_version(versions, new, scale=retention_scale(), last_archived_on=last_archived_on(item))
    previous = rules.latest(versions, material_code=material_code)
    rule = _insert_rule(
        actor,
        item,
        retention=retention,
        basis=basis,
        effective_from=effective_from,
        material_code=material_code,
        material_name=material_name.strip()[:200],
        supersedes=RetentionRule.objects.get(pk=previous.rule_id) if previous and previous.rule_id else None,
    )
    _refresh_item_retention(item)
    return rule


def _refresh_item_retention(item: ServiceItem) -> None:
    """Keep ``ServiceItem.retention`` equal to the item-level rule in force today (what intake shows
    and check 1-5 compares with until confirmation decides)."""
    current = rules.in_force(schedule_rules(item), on=timezone.localdate())
    if current is not None and current.retention != item.retention:
        item.retention = current.retention
        item.save(update_fields=["retention"])


def schedule_history(item: ServiceItem) -> dict[str, list[RetentionRule]]:
    """All versions per key ("" = the item, else a material code), newest first, for people."""
    out: dict[str, list[RetentionRule]] = {}
    for r in RetentionRule.objects.filter(service_item=item).order_by(
        "material_code", "-effective_from", "-id"
    ):
        out.setdefault(r.material_code, []).append(r)
    return out


# ---------------------------------------------------------------------------------------------
# Archiving scope (归档范围): check 2-9 reads ServiceItem.scope

MATERIAL_CODE_RE = re.compile(r"^[^\s/\\{}]{1,32}$")


def normalise_scope(value: Any) -> list[dict[str, Any]]:
    """``[{"code", "name", "required"}]`` validated: codes unique, names given; raises DanganError."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise DanganError("the archiving scope must be a list of materials", code="BAD_SCOPE")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, m in enumerate(value, 1):
        if not isinstance(m, dict):
            raise DanganError(f"scope entry {n} must be an object", code="BAD_SCOPE", target=str(n))
        code = validate_material_code(str(m.get("code") or ""), target=f"scope[{n}].code")
        name = str(m.get("name") or "").strip()
        if not name or len(name) > 200:
            raise DanganError(
                f"scope entry {code}: a name (材料名称) of 1–200 characters is required",
                code="BAD_SCOPE",
                target=f"scope[{n}].name",
            )
        if code in seen:
            raise DanganError(f"material {code} is listed twice", code="BAD_SCOPE", target=f"scope[{n}].code")
        seen.add(code)
        out.append({"code": code, "name": name, "required": bool(m.get("required"))})
    return out


@transaction.atomic
def replace_scope(actor: Actor, item: ServiceItem, materials: Any) -> bool:
    """Set the item's archiving scope to ``materials``; False (and nothing written) when unchanged."""
    require(actor, Perm.MANAGE_SCHEDULE, item.fonds_id)
    after = normalise_scope(materials)
    item = ServiceItem.objects.select_for_update().get(pk=item.pk)
    before = list(item.scope or [])
    if after == normalise_scope(before):
        return False
    item.scope = after
    item.save(update_fields=["scope"])
    events.archiving_scope_changed(actor, item.pk, item_code=item.code, before=before, after=after)
    return True


@transaction.atomic
def set_scope_material(actor: Actor, item: ServiceItem, *, code: str, name: str, required: bool) -> bool:
    """Add a material to the item's scope, or change its name or necessity (必要/非必要)."""
    require(actor, Perm.MANAGE_SCHEDULE, item.fonds_id)
    code = validate_material_code(code)
    current = ServiceItem.objects.select_for_update().get(pk=item.pk)
    scope = [dict(m) for m in normalise_scope(current.scope)]
    for m in scope:
        if m["code"] == code:
            m.update(name=name, required=required)
            break
    else:
        scope.append({"code": code, "name": name, "required": required})
    return replace_scope(actor, current, scope)


def gap_allowed(item: ServiceItem) -> bool:
    """容缺归档 allowed: a missing required material (2-9) does not block the archiving checks."""
    return check_profile_for(Stage.ARCHIVE, item).blocking_of("2-9") is False


@transaction.atomic
def set_gap_allowed(actor: Actor, item: ServiceItem, allowed: bool) -> None:
    """Allow or forbid 容缺归档 for the service item (its archive-stage profile: 2-9 blocking or not).

    A case lacking a required material then reaches the pre-archive library flagged with its gap;
    the officer archives it only with a reason, or returns it.
    """
    require(actor, Perm.MANAGE_SCHEDULE, item.fonds_id)
    current = ServiceItem.objects.select_for_update().get(pk=item.pk)
    profile = {stage: dict(items) for stage, items in (current.check_profile or {}).items()}
    archive = profile.setdefault(Stage.ARCHIVE.value, {})
    archive["2-9"] = {**archive.get("2-9", {}), "blocking": not allowed}
    validate_check_profile(profile)
    current.check_profile = profile
    current.save(update_fields=["check_profile"])
    item.check_profile = profile
    events.catalog_changed(actor, "service_item", current.pk, code=current.code, gap_allowed=allowed)


@transaction.atomic
def remove_scope_material(actor: Actor, item: ServiceItem, code: str) -> bool:
    require(actor, Perm.MANAGE_SCHEDULE, item.fonds_id)
    current = ServiceItem.objects.select_for_update().get(pk=item.pk)
    scope = normalise_scope(current.scope)
    if not any(m["code"] == code for m in scope):
        raise DanganError(
            f"material {code} is not in the scope of {current.code}", code="NOT_IN_SCOPE", target=code
        )
    return replace_scope(actor, current, [m for m in scope if m["code"] != code])


# ---------------------------------------------------------------------------------------------
# Classification scheme (分类方案)

# A class code is the 机构(问题)代码 of the 档号: no separators or spaces (see core.codes.CodePattern).
CLASS_CODE_RE = re.compile(r"^[^\s\-/\\{}·]{1,16}$")


def validate_class_code(code: str) -> str:
    code = (code or "").strip()
    if not CLASS_CODE_RE.match(code):
        raise DanganError(
            f"class code {code!r} must be 1–16 characters without spaces, '-', '·', '/', '\\', '{{' or '}}' "
            "(it is part of the 档号)",
            code="BAD_CLASS_CODE",
            target="code",
        )
    return code


def _check_parent(cls_fonds: Fonds, parent: ArchiveClass | None, own: ArchiveClass | None) -> None:
    if parent is None:
        return
    if parent.fonds_id != cls_fonds.pk:
        raise DanganError(
            "the parent class belongs to another fonds", code="BAD_CLASS_PARENT", target="parent"
        )
    node: ArchiveClass | None = parent
    depth = 0
    while node is not None:
        if own is not None and node.pk == own.pk:
            raise DanganError(
                "a class cannot be placed under itself or its own subclass",
                code="BAD_CLASS_PARENT",
                target="parent",
            )
        node = node.parent
        depth += 1
        if depth > 50:
            raise DanganError("the class tree is too deep", code="BAD_CLASS_PARENT", target="parent")


@transaction.atomic
def create_class(
    actor: Actor, fonds: Fonds, *, code: str, name: str, parent: ArchiveClass | None = None, order: int = 0
) -> ArchiveClass:
    require(actor, Perm.MANAGE_SCHEDULE, fonds.pk)
    code = validate_class_code(code)
    name = name.strip()
    if not name or len(name) > 200:
        raise DanganError("a class name of 1–200 characters is required", code="BAD_CLASS", target="name")
    if ArchiveClass.objects.filter(fonds=fonds, code=code).exists():
        raise DanganError(
            f"class {code} exists already in fonds {fonds.code}", code="CLASS_EXISTS", target="code"
        )
    _check_parent(fonds, parent, None)
    cls = ArchiveClass.objects.create(fonds=fonds, code=code, name=name, parent=parent, order=max(0, order))
    events.archive_class_changed(
        actor,
        cls.pk,
        fonds=fonds.code,
        code=code,
        action="created",
        changes={"name": name, "parent": parent.code if parent else "", "order": cls.order},
    )
    return cls


@transaction.atomic
def update_class(
    actor: Actor, cls: ArchiveClass, *, name: str, parent: ArchiveClass | None, order: int
) -> bool:
    """Change a class's name, parent or order (its code is fixed: 档号 already use it). False if unchanged."""
    require(actor, Perm.MANAGE_SCHEDULE, cls.fonds_id)
    cls = ArchiveClass.objects.select_for_update().select_related("fonds").get(pk=cls.pk)
    name = name.strip()
    if not name or len(name) > 200:
        raise DanganError("a class name of 1–200 characters is required", code="BAD_CLASS", target="name")
    _check_parent(cls.fonds, parent, cls)
    changes: dict[str, Any] = {}
    if name != cls.name:
        changes["name"] = [cls.name, name]
    if (parent.pk if parent else None) != cls.parent_id:
        changes["parent"] = [cls.parent.code if cls.parent else "", parent.code if parent else ""]
    if max(0, order) != cls.order:
        changes["order"] = [cls.order, max(0, order)]
    if not changes:
        return False
    cls.name, cls.parent, cls.order = name, parent, max(0, order)
    cls.save(update_fields=["name", "parent", "order"])
    events.archive_class_changed(
        actor, cls.pk, fonds=cls.fonds.code, code=cls.code, action="changed", changes=changes
    )
    return True


def _class_for_code(actor: Actor, fonds: Fonds, code: str) -> ArchiveClass:
    """The fonds' class with ``code``; an item registered with a code not yet in the scheme adds that
    class (named by its code, for the records officer to name and place). Callers check permissions."""
    cls = ArchiveClass.objects.filter(fonds=fonds, code=code).first()
    if cls is not None:
        return cls
    code = validate_class_code(code)
    cls = ArchiveClass.objects.create(fonds=fonds, code=code, name=code)
    events.archive_class_changed(
        actor,
        cls.pk,
        fonds=fonds.code,
        code=code,
        action="created",
        changes={"name": code, "parent": "", "order": 0},
    )
    return cls


def _assign(actor: Actor, item: ServiceItem, cls: ArchiveClass) -> None:
    if cls.fonds_id != item.fonds_id:
        raise DanganError("the class belongs to another fonds", code="BAD_CLASS", target="archive_class")
    previous = item.class_code
    item.archive_class = cls
    item.class_code = cls.code
    item.save(update_fields=["archive_class", "class_code"])
    events.item_class_assigned(actor, item.pk, item_code=item.code, class_code=cls.code, previous=previous)


@transaction.atomic
def assign_class(actor: Actor, item: ServiceItem, cls: ArchiveClass) -> bool:
    """Put the item in class ``cls``; its 机构(问题)代码 in 档号 assigned from now on is the class's code."""
    require(actor, Perm.MANAGE_SCHEDULE, item.fonds_id)
    item = ServiceItem.objects.select_for_update().get(pk=item.pk)
    if item.archive_class_id == cls.pk and item.class_code == cls.code:
        return False
    _assign(actor, item, cls)
    return True


def class_tree(fonds: Fonds) -> list[tuple[ArchiveClass, int]]:
    """The fonds' classes in tree order (parents before children, siblings by order and code) with depth."""
    classes = list(ArchiveClass.objects.filter(fonds=fonds).order_by("order", "code"))
    children: dict[int | None, list[ArchiveClass]] = {}
    for c in classes:
        children.setdefault(c.parent_id, []).append(c)
    out: list[tuple[ArchiveClass, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for c in children.get(parent, []):
            out.append((c, depth))
            walk(c.pk, depth + 1)

    walk(None, 0)
    return out


# ---------------------------------------------------------------------------------------------
# XLSX export and import of the schedule, the classification scheme and the scope

README_LINES = (
    "保管期限表 · 分类方案 · 归档范围 — dangan retention schedule workbook",
    "保管期限表: 每行一条规则（事项，或事项下某材料编码）。修改保管期限或依据时请填写新的生效日期："
    "导入只新增版本，从不改写旧版本；与现有版本相同的行不产生变化。",
    "Retention schedule: one rule per row (a service item, or one material code of it). To change a rule, "
    "give a new effective date: an import only adds versions, never edits old ones; unchanged rows add nothing.",
    "生效日期不得早于该规则的最新版本，也不得早于或等于该事项已有档案的最后归档日（已归档档案的保管期限不变）。",
    "The effective date may not be before the rule's newest version, nor on or before the last day records "
    "of the item were archived (archived records keep their retention).",
    "档案的保管期限取事项规则与其所含材料规则中最长者。A record takes the longest of its item's rule and its "
    "materials' rules.",
    "归档范围: 出现在本表中的事项，其归档范围以本表为准（未列出的材料将被移除）；必要性填 必要 或 非必要。",
    "Archiving scope: for every item listed, the listed materials become its whole scope; 必要性 is 必要 "
    "(required) or 非必要 (optional).",
    "分类方案: 分类代码即档号中的机构(问题)代码，导入后不可更改；上级分类代码为空表示顶级分类。",
    "Classification: the class code is the 机构(问题)代码 in the 档号 and cannot change; an empty parent "
    "code makes a top-level class. 事项分类 puts service items into classes.",
    "保管期限历史: 仅供查阅，导入时忽略。History: for reference, ignored on import.",
)


def export_schedule(actor: Actor, *, fonds: Fonds | None = None) -> bytes:
    """The workbook of one fonds (or all): current versions, classes, scope, item classes, history."""
    if fonds is not None:
        require(actor, Perm.VIEW_SCHEDULE, fonds.pk)
    else:
        require_all_fonds(actor, Perm.VIEW_SCHEDULE)
    from dangan.catalog import xlsx

    items = list(
        ServiceItem.objects.select_related("fonds", "archive_class")
        .filter(**({"fonds": fonds} if fonds else {}))
        .order_by("fonds__code", "code")
    )
    all_rules: dict[int, list[RetentionRule]] = {}
    for r in RetentionRule.objects.filter(service_item__in=items).order_by("effective_from", "id"):
        all_rules.setdefault(r.service_item_id, []).append(r)
    schedule, history, scope, item_classes = [], [], [], []
    for item in items:
        versions = all_rules.get(item.pk, [])
        keys = sorted({r.material_code for r in versions} | {""})
        for key in keys:
            newest = rules.latest([_as_rule(r) for r in versions], material_code=key)
            if newest is None:  # an item registered before the schedule: its configured retention
                schedule.append(
                    [
                        item.fonds.code,
                        item.code,
                        item.name,
                        "",
                        "",
                        item.retention,
                        BASELINE_BASIS,
                        BASELINE_FROM,
                    ]
                )
                continue
            row = next(r for r in versions if r.pk == newest.rule_id)
            schedule.append(
                [
                    item.fonds.code,
                    item.code,
                    item.name,
                    key,
                    row.material_name,
                    row.retention,
                    row.basis,
                    row.effective_from,
                ]
            )
        for r in versions:
            history.append(
                [
                    item.fonds.code,
                    item.code,
                    item.name,
                    r.material_code,
                    r.retention,
                    r.basis,
                    r.effective_from,
                    r.pk,
                    r.supersedes_id or "",
                    r.created_by,
                    timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                ]
            )
        for m in normalise_scope(item.scope):
            scope.append(
                [
                    item.fonds.code,
                    item.code,
                    item.name,
                    m["code"],
                    m["name"],
                    "必要" if m["required"] else "非必要",
                ]
            )
        item_classes.append([item.fonds.code, item.code, item.name, item.class_code])
    classes = []
    for f in [fonds] if fonds else Fonds.objects.order_by("code"):
        for cls, _depth in class_tree(f):
            classes.append([f.code, cls.code, cls.name, cls.parent.code if cls.parent else "", cls.order])
    return xlsx.write_workbook(
        schedule=schedule,
        classes=classes,
        scope=scope,
        item_classes=item_classes,
        history=history,
        retention_codes=retention_scale().codes,
        readme=README_LINES,
    )


class ImportResult:
    """What an import found and did: ``errors`` (each with sheet, row, column, cell, message), the
    ``changes`` it made or would make, and whether they were ``applied``."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.changes: list[dict[str, Any]] = []
        self.applied = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c["kind"]] = out.get(c["kind"], 0) + 1
        return out


class _Plan:
    def __init__(self) -> None:
        self.errors: list[Any] = []
        self.actions: list[tuple[Any, dict[str, Any]]] = []  # (callable(actor), change description)

    def add(self, change: dict[str, Any], apply: Any) -> None:
        self.actions.append((apply, change))


def _lookup_item(
    row: Any, plan: _Plan, fonds_by_code: dict[str, Fonds], items: dict[tuple[str, str], ServiceItem]
) -> ServiceItem | None:
    fonds_code, item_code = row.text("全宗号"), row.text("事项编码")
    if fonds_code not in fonds_by_code:
        plan.errors.append(row.error("全宗号", f"unknown fonds {fonds_code!r}", "UNKNOWN_FONDS"))
        return None
    item = items.get((fonds_code, item_code))
    if item is None:
        plan.errors.append(
            row.error("事项编码", f"unknown service item {item_code!r} in fonds {fonds_code}", "UNKNOWN_ITEM")
        )
    return item


def _plan_classes(book: Any, plan: _Plan, fonds_by_code: dict[str, Fonds]) -> dict[tuple[str, str], str]:
    """Classes to create or change; returns the parent code of every class after the import."""
    from dangan.catalog import xlsx

    existing = {(c.fonds.code, c.code): c for c in ArchiveClass.objects.select_related("fonds", "parent")}
    parents = {key: (c.parent.code if c.parent else "") for key, c in existing.items()}
    rows = book.sheets.get(xlsx.SHEET_CLASSES, [])
    wanted: dict[tuple[str, str], tuple[Any, str, str, int]] = {}
    for row in rows:
        fonds_code, code = row.text("全宗号"), row.text("分类代码")
        if fonds_code not in fonds_by_code:
            plan.errors.append(row.error("全宗号", f"unknown fonds {fonds_code!r}", "UNKNOWN_FONDS"))
            continue
        try:
            validate_class_code(code)
        except DanganError as exc:
            plan.errors.append(row.error("分类代码", exc.message, exc.code))
            continue
        name = row.text("分类名称")
        if not name or len(name) > 200:
            plan.errors.append(
                row.error("分类名称", "a class name of 1–200 characters is required", "BAD_CLASS")
            )
            continue
        order_text = row.text("排序") or "0"
        if not order_text.isdigit():
            plan.errors.append(row.error("排序", f"{order_text!r} is not a whole number ≥ 0", "BAD_VALUE"))
            continue
        if (fonds_code, code) in wanted:
            plan.errors.append(row.error("分类代码", f"class {code} is listed twice", "DUPLICATE"))
            continue
        wanted[(fonds_code, code)] = (row, name, row.text("上级分类代码"), int(order_text))
        parents[(fonds_code, code)] = row.text("上级分类代码")
    for (fonds_code, code), (row, _name, parent, _order) in wanted.items():
        if parent and (fonds_code, parent) not in parents:
            plan.errors.append(row.error("上级分类代码", f"unknown parent class {parent!r}", "UNKNOWN_CLASS"))
            continue
        seen, node = {code}, parent
        while node:
            if node in seen:
                plan.errors.append(row.error("上级分类代码", "the classes form a cycle", "BAD_CLASS_PARENT"))
                break
            seen.add(node)
            node = parents.get((fonds_code, node), "")
    # Parents first, so every class is created after the class it hangs under.
    done: set[tuple[str, str]] = set(existing)

    def depth(key: tuple[str, str]) -> int:
        n, node, guard = 0, parents.get(key, ""), 0
        while node and guard < 60:
            n, node, guard = n + 1, parents.get((key[0], node), ""), guard + 1
        return n

    for key in sorted(wanted, key=depth):
        row, name, parent, order = wanted[key]
        fonds = fonds_by_code[key[0]]
        cls = existing.get(key)
        if cls is None:
            change = {
                "kind": "class_created",
                "sheet": row.sheet,
                "row": row.number,
                "text": f"{key[0]} {key[1]} {name}",
            }

            def create(
                actor: Actor,
                fonds: Fonds = fonds,
                key: Any = key,
                name: str = name,
                parent: str = parent,
                order: int = order,
            ) -> None:
                parent_cls = ArchiveClass.objects.get(fonds=fonds, code=parent) if parent else None
                create_class(actor, fonds, code=key[1], name=name, parent=parent_cls, order=order)

            plan.add(change, create)
            done.add(key)
        elif (name, parent, order) != (cls.name, cls.parent.code if cls.parent else "", cls.order):
            change = {
                "kind": "class_changed",
                "sheet": row.sheet,
                "row": row.number,
                "text": f"{key[0]} {key[1]} {name}",
            }

            def change_class(
                actor: Actor,
                cls: ArchiveClass = cls,
                fonds: Fonds = fonds,
                name: str = name,
                parent: str = parent,
                order: int = order,
            ) -> None:
                parent_cls = ArchiveClass.objects.get(fonds=fonds, code=parent) if parent else None
                update_class(actor, cls, name=name, parent=parent_cls, order=order)

            plan.add(change, change_class)
    return parents


def _plan_item_classes(
    book: Any,
    plan: _Plan,
    fonds_by_code: dict[str, Fonds],
    items: dict[tuple[str, str], ServiceItem],
    parents: dict[tuple[str, str], str],
) -> None:
    from dangan.catalog import xlsx

    seen: set[tuple[str, str]] = set()
    for row in book.sheets.get(xlsx.SHEET_ITEM_CLASSES, []):
        item = _lookup_item(row, plan, fonds_by_code, items)
        if item is None:
            continue
        key = (item.fonds.code, item.code)
        if key in seen:
            plan.errors.append(
                row.error("事项编码", f"service item {item.code} is listed twice", "DUPLICATE")
            )
            continue
        seen.add(key)
        code = row.text("分类代码")
        if (item.fonds.code, code) not in parents:
            plan.errors.append(row.error("分类代码", f"unknown class {code!r}", "UNKNOWN_CLASS"))
            continue
        if code == item.class_code and item.archive_class_id is not None:
            continue

        def assign(actor: Actor, item: ServiceItem = item, code: str = code) -> None:
            assign_class(actor, item, ArchiveClass.objects.get(fonds=item.fonds, code=code))

        plan.add(
            {"kind": "item_class", "sheet": row.sheet, "row": row.number, "text": f"{item.code} → {code}"},
            assign,
        )


def _plan_scope(
    book: Any, plan: _Plan, fonds_by_code: dict[str, Fonds], items: dict[tuple[str, str], ServiceItem]
) -> None:
    from dangan.catalog import xlsx

    wanted: dict[int, tuple[ServiceItem, Any, list[dict[str, Any]]]] = {}
    for row in book.sheets.get(xlsx.SHEET_SCOPE, []):
        item = _lookup_item(row, plan, fonds_by_code, items)
        if item is None:
            continue
        _, first, materials = wanted.setdefault(item.pk, (item, row, []))
        try:
            code = validate_material_code(row.text("材料编码"))
        except DanganError as exc:
            plan.errors.append(row.error("材料编码", exc.message, exc.code))
            continue
        name = row.text("材料名称")
        if not name or len(name) > 200:
            plan.errors.append(
                row.error("材料名称", "a material name of 1–200 characters is required", "BAD_SCOPE")
            )
            continue
        need = row.text("必要性")
        if need.lower() not in {k.lower() for k in xlsx.REQUIRED_VALUES}:
            plan.errors.append(row.error("必要性", f"{need!r}: write 必要 or 非必要", "BAD_VALUE"))
            continue
        if any(m["code"] == code for m in materials):
            plan.errors.append(
                row.error("材料编码", f"material {code} is listed twice for {item.code}", "DUPLICATE")
            )
            continue
        required = next(v for k, v in xlsx.REQUIRED_VALUES.items() if k.lower() == need.lower())
        materials.append({"code": code, "name": name, "required": required})
    for item, first, materials in wanted.values():
        if materials == normalise_scope(item.scope):
            continue

        def set_scope(
            actor: Actor, item: ServiceItem = item, materials: list[dict[str, Any]] = materials
        ) -> None:
            replace_scope(actor, item, materials)

        plan.add(
            {
                "kind": "scope_changed",
                "sheet": first.sheet,
                "row": first.number,
                "text": f"{item.code}: {len(materials)} materials",
            },
            set_scope,
        )


def _plan_rules(
    book: Any, plan: _Plan, fonds_by_code: dict[str, Fonds], items: dict[tuple[str, str], ServiceItem]
) -> None:
    from dangan.catalog import xlsx

    scale = retention_scale()
    versions: dict[int, list[rules.Rule]] = {}
    archived: dict[int, date | None] = {}
    seen: set[tuple[int, str, date]] = set()
    for row in book.sheets.get(xlsx.SHEET_SCHEDULE, []):
        item = _lookup_item(row, plan, fonds_by_code, items)
        errors_before = len(plan.errors)
        material = row.text("材料编码")
        if material:
            try:
                material = validate_material_code(material)
            except DanganError as exc:
                plan.errors.append(row.error("材料编码", exc.message, exc.code))
        code = row.text("保管期限")
        if code not in scale:
            plan.errors.append(
                row.error(
                    "保管期限",
                    f"unknown retention code {code!r}; known: {', '.join(scale.codes)}",
                    "BAD_RETENTION",
                )
            )
        basis = row.text("依据")
        if not basis or len(basis) > 500:
            plan.errors.append(
                row.error("依据", "the basis (依据) of 1–500 characters is required", "BAD_VALUE")
            )
        try:
            effective = xlsx.parse_date(row, "生效日期")
            if effective is None:
                plan.errors.append(
                    row.error("生效日期", "an effective date (YYYY-MM-DD) is required", "BAD_DATE")
                )
        except ValueError as exc:
            effective = None
            plan.errors.append(row.error("生效日期", str(exc), "BAD_DATE"))
        if item is None or effective is None or len(plan.errors) > errors_before:
            continue
        if (item.pk, material, effective) in seen:
            plan.errors.append(
                row.error("生效日期", "the same rule and effective date are listed twice", "DUPLICATE")
            )
            continue
        seen.add((item.pk, material, effective))
        if item.pk not in versions:
            current = schedule_rules(item)
            if not any(r.material_code == "" for r in current):  # what _ensure_baseline will add
                current.insert(0, rules.Rule(item.retention, BASELINE_FROM, BASELINE_BASIS))
            versions[item.pk] = current
            archived[item.pk] = last_archived_on(item)
        new = rules.Rule(
            retention=code,
            effective_from=effective,
            basis=basis,
            material_code=material,
            seq=10**12 + row.number,
        )
        if any(rules.same_version(new, r) for r in versions[item.pk]):
            continue
        try:
            rules.check_new_version(versions[item.pk], new, scale=scale, last_archived_on=archived[item.pk])
        except DanganError as exc:
            plan.errors.append(row.error("生效日期", exc.message, exc.code))
            continue
        versions[item.pk].append(new)
        name = row.text("材料名称")

        def add(
            actor: Actor,
            item: ServiceItem = item,
            code: str = code,
            basis: str = basis,
            effective: date = effective,
            material: str = material,
            name: str = name,
        ) -> None:
            add_retention_rule(
                actor,
                item,
                retention=code,
                basis=basis,
                effective_from=effective,
                material_code=material,
                material_name=name,
            )

        target = f"{item.code}/{material}" if material else item.code
        plan.add(
            {
                "kind": "rule_added",
                "sheet": row.sheet,
                "row": row.number,
                "text": f"{target} {code} from {effective.isoformat()} ({basis})",
            },
            add,
        )


def import_schedule(actor: Actor, data: bytes, *, filename: str = "", dry_run: bool = False) -> ImportResult:
    """Import a workbook: validate every row, then apply everything in one transaction — or nothing,
    when any row is wrong (``result.errors`` names sheet, row and column). Retention rows add versions
    (never edit); rows equal to an existing version change nothing. ``dry_run`` only reports."""
    require_all_fonds(
        actor, Perm.VIEW_SCHEDULE if dry_run else Perm.MANAGE_SCHEDULE
    )  # a workbook spans fonds
    from dangan.catalog import xlsx

    result = ImportResult()
    try:
        book = xlsx.read_workbook(data)
    except xlsx.ScheduleFileError as exc:
        result.errors.append(
            {"sheet": "", "row": 0, "column": "", "cell": "", "code": exc.code, "message": exc.message}
        )
        return result
    plan = _Plan()
    plan.errors.extend(book.errors)
    fonds_by_code = {f.code: f for f in Fonds.objects.all()}
    items = {(i.fonds.code, i.code): i for i in ServiceItem.objects.select_related("fonds")}
    parents = _plan_classes(book, plan, fonds_by_code)
    _plan_item_classes(book, plan, fonds_by_code, items, parents)
    _plan_scope(book, plan, fonds_by_code, items)
    _plan_rules(book, plan, fonds_by_code, items)
    result.errors = [e.as_dict() for e in plan.errors]
    result.changes = [change for _, change in plan.actions]
    if result.errors or dry_run or not plan.actions:
        return result
    current: dict[str, Any] = {}
    try:
        with transaction.atomic():
            for apply, change in plan.actions:
                current = change
                apply(actor)
            events.schedule_imported(
                actor, filename=filename, sha256=hashlib.sha256(data).hexdigest(), counts=result.counts()
            )
    except DanganError as exc:  # changed since it was planned (e.g. a record archived meanwhile)
        result.errors = [
            {
                "sheet": current.get("sheet", ""),
                "row": current.get("row", 0),
                "column": "",
                "cell": "",
                "code": exc.code,
                "message": exc.message,
            }
        ]
        return result
    result.applied = True
    return result
