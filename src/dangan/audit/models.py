from django.db import models


class AuditEvent(models.Model):
    """One append-only event: who, in what role, did what to which object, from where, when, outcome.

    The SM3 hash chain and signed checkpoints come with the audit-trail issue; the application never
    updates or deletes rows.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=64, db_index=True)
    actor = models.CharField(max_length=150)
    role = models.CharField(max_length=200, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=128, blank=True, db_index=True)
    outcome = models.CharField(max_length=16, default="success")
    source_ip = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.kind} {self.object_type}:{self.object_id}"
