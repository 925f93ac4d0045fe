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
