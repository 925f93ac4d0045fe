"""Names of audit event kinds, outcomes and roles in Chinese and English, for the auditor's pages
and the PDF export. A kind not listed here is shown by its code: new event kinds need no entry to
be shown, only to be shown with a name.
"""

from __future__ import annotations

from dangan.accounts.roles import ROLE_LABELS, Role
from dangan.reports.labels import is_zh, pick

# kind → (中文, English)
KIND_LABELS: dict[str, tuple[str, str]] = {
    # accounts and roles
    "user.created": ("创建账户", "Account created"),
    "user.enabled": ("启用账户", "Account enabled"),
    "user.disabled": ("停用账户", "Account disabled"),
    "user.password_reset": ("重置密码", "Password reset"),
    "user.unlocked": ("解锁账户", "Account unlocked"),
    "user.locked": ("锁定账户", "Account locked"),
    "login.succeeded": ("登录成功", "Signed in"),
    "login.failed": ("登录失败", "Sign-in failed"),
    "logout": ("退出登录", "Signed out"),
    "session.expired": ("会话超时", "Session expired"),
    "password.changed": ("修改密码", "Password changed"),
    "role.granted": ("授予角色", "Role granted"),
    "role.revoked": ("撤销角色", "Role revoked"),
    "token.issued": ("签发接口令牌", "API token issued"),
    "token.revoked": ("吊销接口令牌", "API token revoked"),
    "token.refused": ("拒绝接口令牌", "API token refused"),
    # receiving cases
    "case.received": ("接收办件", "Case received"),
    "case.checking": ("四性检测", "Case being checked"),
    "case.resumed": ("继续处理办件", "Case processing resumed"),
    "case.rejected": ("拒收办件", "Case rejected"),
    "case.duplicate": ("重复办件", "Duplicate case"),
    "case.pre_archived": ("进入预归档库", "Case pre-archived"),
    "submission.viewed": ("查看接收记录", "Submission viewed"),
    # records
    "record.archived": ("归档确认", "Record archived"),
    "record.returned": ("退回办件", "Record returned"),
    "record.file_read": ("读取档案文件", "Record file read"),
    "record.viewed": ("查看档案", "Record viewed"),
    "records.listed": ("查询档案", "Records listed"),
    "records.exported": ("导出档案目录", "Records exported"),
    "record.supplemented": ("容缺补充", "Record supplemented"),
    "record.corrected": ("档案更正", "Record corrected"),
    "record.migrated": ("格式迁移", "Record formats migrated"),
    "record.reclassified": ("重新分类", "Record reclassified"),
    "aip.exported": ("导出归档信息包", "AIP exported"),
    "eep.exported": ("导出电子文件封装包", "EEP exported"),
    "fixity.audit": ("固定性检查", "Fixity audit"),
    # catalogue and schedule
    "catalog.changed": ("修改归档配置", "Catalogue changed"),
    "schedule.rule_added": ("新增保管期限规则", "Retention rule added"),
    "schedule.code_defined": ("定义保管期限代码", "Retention code defined"),
    "schedule.scope_changed": ("修改归档范围", "Archiving scope changed"),
    "schedule.class_changed": ("修改分类方案", "Classification changed"),
    "schedule.item_class": ("事项分类调整", "Service item class assigned"),
    "schedule.imported": ("导入保管期限表", "Schedule imported"),
    # background jobs
    "job.started": ("启动后台任务", "Job started"),
    "job.finished": ("后台任务结束", "Job finished"),
    "job.cancel_requested": ("请求取消任务", "Job cancel requested"),
    "job.resumed": ("继续后台任务", "Job resumed"),
    "job.result_read": ("下载任务结果", "Job result downloaded"),
    # the audit trail itself
    "audit.read": ("查阅审计日志", "Audit log read"),
    "audit.exported": ("导出审计日志", "Audit log exported"),
    "audit.verified": ("校验审计日志", "Audit chain verified"),
    "access.denied": ("拒绝访问", "Access denied"),
    "storage.replicated": ("复制到存储位置", "Copied to storage locations"),
    "storage.copies_checked": ("核对存储副本", "Stored copies checked"),
    "storage.repaired": ("修复存储副本", "Stored copies repaired"),
    "storage.cleaned": ("清理孤立数据", "Orphan blobs removed"),
    "backup.created": ("创建备份", "Backup created"),
    "backup.restored": ("恢复备份", "Backup restored"),
}

OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "success": ("成功", "Success"),
    "failure": ("失败", "Failure"),
}

# Actors that are not users: the role column holds the actor's kind.
ACTOR_KIND_LABELS: dict[str, tuple[str, str]] = {
    "system": ("系统", "System"),
    "source_system": ("业务系统", "Source system"),
    "user": ("用户（无角色）", "User (no role)"),
}


def kind_label(kind: str, lang: str) -> str:
    """The kind's name in ``lang``, or "" when it has none (show the code then)."""
    pair = KIND_LABELS.get(kind)
    return pick(pair, lang) if pair else ""


def outcome_label(outcome: str, lang: str) -> str:
    pair = OUTCOME_LABELS.get(outcome)
    return pick(pair, lang) if pair else outcome


def _role_pair(value: str) -> tuple[str, str] | None:
    if value in Role._value2member_map_:
        zh, _, en = ROLE_LABELS[Role(value)].partition(" ")
        return zh, en
    return ACTOR_KIND_LABELS.get(value)


def role_label(role: str, lang: str) -> str:
    """The stored role column ("auditor", "approver,records_officer", "system") as names."""
    if not role:
        return ""
    names = []
    for part in role.split(","):
        pair = _role_pair(part.strip())
        names.append(pick(pair, lang) if pair else part.strip())
    return ("、" if is_zh(lang) else ", ").join(names)


def role_choices(lang: str) -> list[tuple[str, str]]:
    """What the role filter offers: every role, then the actor kinds that are not users."""
    out = [(r.value, pick(_role_pair(r.value) or (r.value, r.value), lang)) for r in Role]
    out += [(k, pick(v, lang)) for k, v in ACTOR_KIND_LABELS.items() if k != "user"]
    return out


def kind_prefixes() -> list[str]:
    """The families of known kinds ("record.", "user." …) for the kind filter's suggestions."""
    return sorted({k.split(".", 1)[0] + "." for k in KIND_LABELS if "." in k})
