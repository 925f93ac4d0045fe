"""Preservation events (PREMIS-like): what happened to which stored object, when, by which agent,
with what outcome. They are the record's preservation history, shown on its page; the audit trail
(``dangan.audit``) separately records who changed what."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class EventType(models.TextChoices):
    INGEST = "ingest", "接收 ingest"
    FIXITY = "fixity", "固定性检查 fixity check"
    REPLICATION = "replication", "复制 replication"
    REPAIR = "repair", "修复 repair"
    MIGRATION = "migration", "格式迁移 format migration"
    BACKUP = "backup", "备份 backup"
    RESTORE = "restore", "恢复 restore"


class Outcome(models.TextChoices):
    SUCCESS = "success", "成功 success"
    WARNING = "warning", "警告 warning"
    FAILURE = "failure", "失败 failure"


class PreservationEvent(models.Model):
    event_type = models.CharField(max_length=16, choices=EventType.choices, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    agent = models.CharField(max_length=200)  # person or system, and the tool with its version
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    # Linked objects: the record and AIP version concerned, the blob (SM3) and the storage location.
    record = models.ForeignKey(
        "archive.Record", null=True, blank=True, on_delete=models.PROTECT, related_name="preservation_events"
    )
    aip = models.ForeignKey(
        "archive.Aip", null=True, blank=True, on_delete=models.PROTECT, related_name="preservation_events"
    )
    blob_sm3 = models.CharField(max_length=64, blank=True, db_index=True)
    location = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["record", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.event_type} {self.outcome}"


class FixityScope(models.TextChoices):
    ALL = "all", "全部 all AIPs"
    ROTATING = "rotating", "轮换抽样 rotating sample"


class FixityRun(models.Model):
    """One fixity audit (固定性检查, 长期保存 CQ): which AIPs were re-hashed, what was found.

    Per AIP the outcome is a FIXITY PreservationEvent (linked by ``detail.run``); this row keeps the
    counts and a compact list of the problems (the first ``PROBLEM_LIMIT``) for the preservation page.
    """

    PROBLEM_LIMIT = 500

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=150)
    scope = models.CharField(max_length=16, choices=FixityScope.choices)
    period_days = models.PositiveIntegerField()
    aips_total = models.PositiveIntegerField(default=0)  # AIPs in the archive when the run started
    aips_checked = models.PositiveIntegerField(default=0)
    aips_failed = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True)
    overdue = models.PositiveIntegerField(default=0)  # AIPs not checked within the period, after the run
    duration_ms = models.PositiveIntegerField(default=0)
    completed = models.BooleanField(default=False)  # False: the run was cut off (crash, kill)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"fixity {self.scope} {self.started_at:%Y-%m-%d %H:%M}: {self.problem_count} problem(s)"

    @property
    def intact(self) -> bool:
        return self.completed and self.problem_count == 0
