from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """One append-only event: who, in what role, did what to which object, from where, when, outcome.

    Events form an SM3 hash chain (``seq``, ``prev_hash``, ``hash``; see ``dangan.core.auditchain``).
    Rows are only ever appended through ``dangan.audit.chain.append`` (``save()`` of a new event goes
    there); the application never updates or deletes them, and on PostgreSQL a trigger refuses to.
    """

    seq = models.BigIntegerField(unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    kind = models.CharField(max_length=64, db_index=True)
    actor = models.CharField(max_length=150)
    role = models.CharField(max_length=200, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=128, blank=True, db_index=True)
    outcome = models.CharField(max_length=16, default="success")
    source_ip = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.kind} {self.object_type}:{self.object_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        """A new event is appended to the chain; an existing one is never written again."""
        if not self._state.adding:
            raise RuntimeError("audit events are append-only")
        from dangan.audit.chain import append

        append(self)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("audit events are append-only")


class AuditCheckpoint(models.Model):
    """A signed statement: the chain had ``count`` events and its head at ``seq`` was ``head_hash``."""

    seq = models.BigIntegerField(unique=True)
    head_hash = models.CharField(max_length=64)
    count = models.BigIntegerField()
    at = models.DateTimeField()
    signature = models.BinaryField()
    signer_fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"checkpoint seq {self.seq} {self.head_hash[:16]}…"
