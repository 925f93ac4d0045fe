"""Job lifecycle: queued → running → done | failed | cancelled; a failed job may be resumed (→ queued).

``done`` means every item was tried: some may have failed (they are counted and listed on the job).
``failed`` means the job itself stopped: an unexpected error, or the process was restarted while it
ran (``dangan serve`` marks such jobs failed on start-up; resuming continues after the last item
processed). Cancelling a queued job is immediate; a running job stops before its next item.
"""

from __future__ import annotations

from enum import StrEnum

from dangan.accounts.roles import Perm
from dangan.core.states import StateMachine, Transition


class JobKind(StrEnum):
    BULK_CONFIRM = "bulk_confirm"  # 批量归档确认
    BULK_RECLASSIFY = "bulk_reclassify"  # 批量重新分类 (pre-archived cases)
    BULK_EXPORT = "bulk_export"  # 批量导出 AIP (BagIt ZIP) or EEP


KIND_LABELS = {
    JobKind.BULK_CONFIRM: "批量归档确认 Bulk confirm",
    JobKind.BULK_RECLASSIFY: "批量重新分类 Bulk re-classify",
    JobKind.BULK_EXPORT: "批量导出 Bulk export",
}
KIND_CHOICES = [(kind.value, label) for kind, label in KIND_LABELS.items()]

# What an actor needs to start a job of each kind (each item is checked again by its service).
KIND_PERMS = {
    JobKind.BULK_CONFIRM: Perm.CONFIRM,
    JobKind.BULK_RECLASSIFY: Perm.RECLASSIFY,
    JobKind.BULK_EXPORT: Perm.DOWNLOAD,
}


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


LABELS = {
    JobStatus.QUEUED: "排队中 Queued",
    JobStatus.RUNNING: "运行中 Running",
    JobStatus.DONE: "已完成 Done",
    JobStatus.FAILED: "已中断 Failed",
    JobStatus.CANCELLED: "已取消 Cancelled",
}
CHOICES = [(status.value, label) for status, label in LABELS.items()]
FINISHED = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})

# The job's creator, holding the permission of the job's kind (KIND_PERMS); checked by the services.
OWNER = "job.owner"

_J = JobStatus
JOB = StateMachine(
    "job",
    [
        Transition(_J.QUEUED, _J.RUNNING, None),
        Transition(_J.RUNNING, _J.DONE, None),
        Transition(_J.RUNNING, _J.FAILED, None),  # unexpected error, or interrupted by a restart
        Transition(_J.QUEUED, _J.FAILED, None),  # interrupted by a restart before it started
        Transition(_J.RUNNING, _J.CANCELLED, None),  # the runner stops after a cancel request
        Transition(_J.QUEUED, _J.CANCELLED, OWNER),
        Transition(_J.FAILED, _J.QUEUED, OWNER),  # resume after the last processed item
    ],
)
