import uuid

from django.db import models

from dangan.ingest.states import CHOICES, SubmissionStatus


class Submission(models.Model):
    """One package as received (API upload, CLI, batch). Its outcome and check report are what the sender reads."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(max_length=16, default="cli")  # api | cli | web
    source_system = models.ForeignKey(
        "catalog.SourceSystem", null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    submitted_by = models.CharField(max_length=150)
    # The fonds the package turned out to belong to (once read), for per-fonds visibility; and the
    # fonds a sender without a source system (a person, the CLI) was allowed to send for when it
    # sent (None: all fonds) — checked when the package is read.
    fonds = models.ForeignKey(
        "catalog.Fonds", null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    allowed_fonds = models.JSONField(null=True, blank=True)
    package_name = models.CharField(max_length=255)
    batch = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=CHOICES, default=SubmissionStatus.RECEIVED)
    file_number = models.CharField(max_length=100, blank=True, db_index=True)
    content_digest = models.CharField(max_length=64, blank=True)
    container_sm3 = models.CharField(max_length=64, blank=True)
    errors = models.JSONField(default=list, blank=True)
    report = models.JSONField(null=True, blank=True)
    record = models.ForeignKey(
        "archive.Record", null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.package_name} ({self.status})"
