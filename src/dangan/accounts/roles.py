"""Roles and permissions as one table. Services call ``require``; views only mirror it.

Business roles are granted per fonds (全宗) or for all fonds; the three separated administrators
(三员分立: 系统管理员, 安全保密管理员, 安全审计员) are instance-wide and exclusive of one another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from django.db.models import Model, QuerySet


class Role(StrEnum):
    SERVICE_CLERK = "service_clerk"  # 办理人员: sends finished cases
    RECORDS_OFFICER = "records_officer"  # 档案员: arranges, confirms, keeps
    APPROVER = "approver"  # 利用审批人: decides on access requests
    REQUESTER = "requester"  # 利用者: asks to use records
    ARCHIVE_RECEIVER = "archive_receiver"  # 档案接收人员 (综合档案馆): receives transfers
    SYSTEM_ADMIN = "system_admin"  # 系统管理员: accounts, catalogue, source systems; no audit, no roles
    SECURITY_ADMIN = "security_admin"  # 安全保密管理员: grants and revokes roles
    AUDITOR = "auditor"  # 安全审计员: reads the audit trail, nothing else


ROLE_LABELS = {
    Role.SERVICE_CLERK: "办理人员 Service clerk",
    Role.RECORDS_OFFICER: "档案员 Records officer",
    Role.APPROVER: "利用审批人 Approver",
    Role.REQUESTER: "利用者 Requester",
    Role.ARCHIVE_RECEIVER: "档案接收人员 Archive receiver",
    Role.SYSTEM_ADMIN: "系统管理员 System administrator",
    Role.SECURITY_ADMIN: "安全保密管理员 Security administrator",
    Role.AUDITOR: "安全审计员 Security auditor",
}

# 三员: no account holds two of them; they are granted for the whole instance, never per fonds.
SEPARATED_ADMINS = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR})
# The auditor reads the audit trail and nothing else: the role excludes every other role.
EXCLUSIVE_ROLES = frozenset({Role.AUDITOR})
BUSINESS_ROLES = frozenset(Role) - SEPARATED_ADMINS


class Perm(StrEnum):
    VIEW_RECORDS = "records.view"
    DOWNLOAD = "records.download"
    CONFIRM = "records.confirm"
    RETURN = "records.return"
    INGEST = "cases.ingest"
    PRECHECK = "cases.precheck"  # run the archiving checks on a package without keeping anything
    VIEW_SUBMISSIONS = "cases.view"
    VERIFY = "preservation.verify"
    MANAGE_CATALOG = "catalog.manage"
    SUPPLEMENT = "records.supplement"  # 容缺补充: supply missing materials → new AIP version
    CORRECT = "records.correct"  # 更正: correct an archived record → new AIP version
    RECLASSIFY = "records.reclassify"  # 重新分类: another class (档号 机构(问题)代码) for a pre-archived case
    VIEW_SCHEDULE = "schedule.view"  # 分类方案, 保管期限表, 归档范围: read
    MANAGE_SCHEDULE = "schedule.manage"  # ... and change them (archiving-side business rules: 档案员)
    REQUEST_ACCESS = "access.request"  # 利用申请
    APPROVE_ACCESS = "access.approve"  # 利用审批
    RECEIVE_TRANSFER = "transfer.receive"  # 接收进馆
    MANAGE_ACCOUNTS = "accounts.manage"  # create, disable, unlock accounts; reset passwords
    MANAGE_TOKENS = "tokens.manage"  # issue and revoke source-system API tokens
    ASSIGN_ROLES = "accounts.assign_roles"  # grant and revoke roles (never one's own)
    READ_AUDIT = "audit.read"


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.SERVICE_CLERK: frozenset({Perm.INGEST, Perm.PRECHECK, Perm.VIEW_SUBMISSIONS}),
    Role.RECORDS_OFFICER: frozenset(
        {
            Perm.VIEW_RECORDS,
            Perm.DOWNLOAD,
            Perm.CONFIRM,
            Perm.RETURN,
            Perm.INGEST,
            Perm.PRECHECK,
            Perm.VIEW_SUBMISSIONS,
            Perm.VERIFY,
            Perm.SUPPLEMENT,
            Perm.CORRECT,
            Perm.RECLASSIFY,
            Perm.VIEW_SCHEDULE,
            Perm.MANAGE_SCHEDULE,
        }
    ),
    Role.APPROVER: frozenset({Perm.VIEW_RECORDS, Perm.APPROVE_ACCESS}),
    Role.REQUESTER: frozenset({Perm.REQUEST_ACCESS}),
    Role.ARCHIVE_RECEIVER: frozenset({Perm.VIEW_RECORDS, Perm.VERIFY, Perm.RECEIVE_TRANSFER, Perm.PRECHECK}),
    Role.SYSTEM_ADMIN: frozenset(
        {Perm.MANAGE_CATALOG, Perm.MANAGE_ACCOUNTS, Perm.MANAGE_TOKENS, Perm.VERIFY, Perm.VIEW_SCHEDULE}
    ),
    Role.SECURITY_ADMIN: frozenset({Perm.ASSIGN_ROLES}),
    Role.AUDITOR: frozenset({Perm.READ_AUDIT}),
}

# Source-system token scopes and the permission each gives (always limited to the system's fonds).
TOKEN_SCOPES: dict[str, Perm] = {
    "cases:submit": Perm.INGEST,
    "cases:check": Perm.PRECHECK,
    "submissions:read": Perm.VIEW_SUBMISSIONS,
}
DEFAULT_TOKEN_SCOPES = ("cases:submit", "cases:check", "submissions:read")


class PermissionDenied(Exception):
    code = "PERMISSION_DENIED"

    def __init__(self, actor: Actor, perm: Perm, fonds: Any = None) -> None:
        where = f" in fonds {fonds}" if fonds is not None else ""
        super().__init__(f"{actor.name} may not {perm.value}{where}")
        self.actor = actor
        self.perm = perm


# For every permission the actor holds: the fonds ids it holds it in, or None for all fonds.
FondsScopes = Mapping[Perm, frozenset[int] | None]


@dataclass(frozen=True, eq=False)
class Actor:
    """Who performs a use-case: a user, a source system, or the instance itself (CLI operator, rules)."""

    name: str
    kind: str = "user"  # user | source_system | system
    roles: frozenset[Role] = field(default_factory=frozenset)
    scopes: FondsScopes = field(default_factory=dict)
    user_id: int | None = None
    source_system_id: int | None = None
    ip: str = ""

    @property
    def perms(self) -> frozenset[Perm]:
        return frozenset(self.scopes)

    def can(self, perm: Perm, fonds_id: int | None = None) -> bool:
        """Holds ``perm`` — in ``fonds_id`` when given, otherwise in at least one fonds."""
        if perm not in self.scopes:
            return False
        allowed = self.scopes[perm]
        return allowed is None or fonds_id is None or fonds_id in allowed

    def fonds_ids(self, perm: Perm) -> frozenset[int] | None:
        """The fonds ``perm`` is held in: None means all; an empty set means none."""
        return self.scopes.get(perm, frozenset())

    @property
    def role_label(self) -> str:
        return ",".join(sorted(r.value for r in self.roles)) or self.kind

    @classmethod
    def from_user(cls, user: Any, ip: str = "") -> Actor:
        """The roles an active account holds now (read from its grants on every call)."""
        if not getattr(user, "is_active", False) or getattr(user, "pk", None) is None:
            return cls(name=user.get_username() if hasattr(user, "get_username") else "anonymous", ip=ip)
        from dangan.accounts.models import RoleGrant

        grants = list(RoleGrant.objects.filter(user_id=user.pk).values_list("role", "fonds_id"))
        roles: set[Role] = set()
        scopes: dict[Perm, frozenset[int] | None] = {}
        for role_name, fonds_id in grants:
            if role_name not in Role._value2member_map_:
                continue  # a role this version no longer knows gives nothing
            role = Role(role_name)
            roles.add(role)
            for perm in ROLE_PERMISSIONS[role]:
                scopes[perm] = _widen(scopes.get(perm, frozenset()), fonds_id)
        return cls(
            name=user.get_username(),
            kind="user",
            roles=frozenset(roles),
            scopes=scopes,
            user_id=user.pk,
            ip=ip,
        )

    @classmethod
    def system(cls, name: str, perms: frozenset[Perm] | None = None) -> Actor:
        """The local operator (shell access to the data directory) or an automatic rule."""
        chosen = perms if perms is not None else frozenset(Perm)
        return cls(name=name, kind="system", scopes=dict.fromkeys(chosen))

    @classmethod
    def source_system(
        cls,
        system_id: int,
        code: str,
        ip: str = "",
        *,
        fonds_ids: frozenset[int] | None = None,
        token_scopes: tuple[str, ...] | list[str] = DEFAULT_TOKEN_SCOPES,
    ) -> Actor:
        """A service system calling with a token: only its token's scopes, only in its fonds."""
        if fonds_ids is None:
            from dangan.catalog.models import SourceSystem

            fonds_ids = frozenset(SourceSystem.objects.get(pk=system_id).fonds.values_list("pk", flat=True))
        perms = {TOKEN_SCOPES[s] for s in token_scopes if s in TOKEN_SCOPES}
        return cls(
            name=f"source:{code}",
            kind="source_system",
            scopes=dict.fromkeys(perms, fonds_ids),
            source_system_id=system_id,
            ip=ip,
        )


def _widen(current: frozenset[int] | None, fonds_id: int | None) -> frozenset[int] | None:
    if current is None or fonds_id is None:
        return None
    return current | {fonds_id}


def require(actor: Actor, perm: Perm, fonds_id: int | None = None) -> None:
    """Refuse unless ``actor`` holds ``perm`` (in ``fonds_id`` when given)."""
    if not actor.can(perm, fonds_id):
        raise PermissionDenied(actor, perm, fonds_id)


def require_all_fonds(actor: Actor, perm: Perm) -> None:
    """Refuse unless ``actor`` holds ``perm`` in every fonds (instance-wide settings, cross-fonds files)."""
    require(actor, perm)
    if actor.fonds_ids(perm) is not None:
        raise PermissionDenied(actor, perm, "every fonds")


M = TypeVar("M", bound=Model)


def scoped(qs: QuerySet[M], actor: Actor, perm: Perm, field: str = "fonds_id") -> QuerySet[M]:
    """``qs`` limited to the fonds where ``actor`` holds ``perm`` (nothing when it holds it nowhere)."""
    allowed = actor.fonds_ids(perm)
    if allowed is None:
        return qs
    if not allowed:
        return qs.none()
    return qs.filter(**{f"{field}__in": allowed})
