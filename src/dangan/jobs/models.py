from django.conf import settings
from django.db import models

from dangan.jobs.states import CHOICES, KIND_CHOICES, JobStatus


class Job(models.Model):
    """A piece of bulk work (confirm, re-classify or export many records) with its progress.

    ``items`` are the record ids in the order they are processed; ``position`` counts the items
    processed (each in its own transaction, ``position`` moving in the same transaction as the
    item's change), so a job resumed after a restart continues with the next one. ``done`` and
    ``failed`` count the processed items by outcome; ``errors`` lists the first ``MAX_ERRORS``
    failures. An export's ZIP lives under ``DANGAN_HOME/exports/jobs/<id>/`` and only the job's
    creator may download it.
    """

    kind = models.CharField("任务类型", max_length=32, choices=KIND_CHOICES)
    status = models.CharField("状态", max_length=16, choices=CHOICES, default=JobStatus.QUEUED, db_index=True)
    created_by = models.CharField("发起人", max_length=150)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who the job acts as: {"name", "kind", "user_id", "perms", "ip"} (a user's roles are read again
    # when the job runs, so a permission withdrawn meanwhile stops its items).
    actor = models.JSONField(default=dict)
    params = models.JSONField(default=dict, blank=True)  # {"class_code": …} or {"format": …}
    items = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"id", "ref", "code", "message"}]
    message = models.TextField(blank=True)  # why the job itself failed
    cancel_requested = models.BooleanField(default=False)
    # Set each time the job starts running; a runner whose token is no longer the job's (the job was
    # marked failed and resumed meanwhile) stops instead of processing items twice.
    run_token = models.CharField(max_length=32, blank=True)
    result_file = models.CharField(max_length=300, blank=True)  # relative to settings.EXPORT_DIR
    result_name = models.CharField(max_length=255, blank=True)
    result_size = models.BigIntegerField(default=0)
    result_sm3 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "后台任务 job"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"])]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.status} {self.position}/{self.total}"

    @property
    def finished(self) -> bool:
        return self.status in {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED}

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.finished else 0
        return min(100, self.position * 100 // self.total)
