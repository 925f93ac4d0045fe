"""Roles and permissions as one table. Services call ``require``; views only mirror it.

The separated administrators (三员分立) and per-fonds scoping come with the accounts issue;
the table below is where they will be added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    RECORDS_OFFICER = "records_officer"  # 档案员
    SERVICE_CLERK = "service_clerk"  # 办理人员
    SYSTEM_ADMIN = "system_admin"  # 系统管理员


ROLE_LABELS = {
    Role.RECORDS_OFFICER: "档案员 Records officer",
    Role.SERVICE_CLERK: "办理人员 Service clerk",
    Role.SYSTEM_ADMIN: "系统管理员 System administrator",
}


class Perm(StrEnum):
    VIEW_RECORDS = "records.view"
    DOWNLOAD = "records.download"
    CONFIRM = "records.confirm"
    RETURN = "records.return"
    INGEST = "cases.ingest"
    VIEW_SUBMISSIONS = "cases.view"
    VERIFY = "preservation.verify"
    MANAGE_CATALOG = "catalog.manage"
    SUPPLEMENT = "records.supplement"  # 容缺补充: supply missing materials → new AIP version
    CORRECT = "records.correct"  # 更正: correct an archived record → new AIP version
    RECLASSIFY = "records.reclassify"  # 重新分类: another class (档号 机构(问题)代码) for a pre-archived case
    VIEW_SCHEDULE = "schedule.view"  # 分类方案, 保管期限表, 归档范围: read
    MANAGE_SCHEDULE = "schedule.manage"  # ... and change them (archiving-side business rules: 档案员)


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.RECORDS_OFFICER: frozenset(
        {
            Perm.VIEW_RECORDS,
            Perm.DOWNLOAD,
            Perm.CONFIRM,
            Perm.RETURN,
            Perm.INGEST,
            Perm.VIEW_SUBMISSIONS,
            Perm.VERIFY,
            Perm.SUPPLEMENT,
            Perm.CORRECT,
            Perm.RECLASSIFY,
            Perm.VIEW_SCHEDULE,
            Perm.MANAGE_SCHEDULE,
        }
    ),
    Role.SERVICE_CLERK: frozenset({Perm.INGEST, Perm.VIEW_SUBMISSIONS}),
    Role.SYSTEM_ADMIN: frozenset({Perm.MANAGE_CATALOG, Perm.VERIFY, Perm.VIEW_SCHEDULE}),
}


class PermissionDenied(Exception):
    code = "PERMISSION_DENIED"

    def __init__(self, actor: Actor, perm: Perm) -> None:
        super().__init__(f"{actor.name} may not {perm.value}")
        self.actor = actor
        self.perm = perm


@dataclass(frozen=True)
class Actor:
    """Who performs a use-case: a user, a source system, or the instance itself (CLI operator, rules)."""

    name: str
    kind: str = "user"  # user | source_system | system
    roles: frozenset[Role] = field(default_factory=frozenset)
    perms: frozenset[Perm] = field(default_factory=frozenset)
    user_id: int | None = None
    source_system_id: int | None = None
    ip: str = ""

    def can(self, perm: Perm) -> bool:
        return perm in self.perms

    @property
    def role_label(self) -> str:
        return ",".join(sorted(r.value for r in self.roles)) or self.kind

    @classmethod
    def from_user(cls, user: Any, ip: str = "") -> Actor:
        roles = frozenset(
            Role(g) for g in user.groups.values_list("name", flat=True) if g in Role._value2member_map_
        )
        perms: set[Perm] = set()
        for role in roles:
            perms |= ROLE_PERMISSIONS[role]
        return cls(
            name=user.get_username(), kind="user", roles=roles, perms=frozenset(perms), user_id=user.pk, ip=ip
        )

    @classmethod
    def system(cls, name: str, perms: frozenset[Perm] | None = None) -> Actor:
        """The local operator (shell access to the data directory) or an automatic rule."""
        return cls(name=name, kind="system", perms=perms if perms is not None else frozenset(Perm))

    @classmethod
    def source_system(cls, system_id: int, code: str, ip: str = "") -> Actor:
        return cls(
            name=f"source:{code}",
            kind="source_system",
            perms=frozenset({Perm.INGEST}),
            source_system_id=system_id,
            ip=ip,
        )


def require(actor: Actor, perm: Perm) -> None:
    if not actor.can(perm):
        raise PermissionDenied(actor, perm)
