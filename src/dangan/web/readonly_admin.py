"""Read-only admin views of records, submissions and audit events: they change only through services."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from dangan.archive.models import Record
from dangan.audit.models import AuditEvent
from dangan.ingest.models import Submission


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Record)
class RecordAdmin(ReadOnlyAdmin):
    list_display = ["archival_code", "file_number", "title", "status", "fonds", "year", "retention"]
    list_filter = ["status", "retention", "fonds"]
    search_fields = ["archival_code", "file_number", "title"]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "package_name", "status", "file_number", "channel", "submitted_by"]
    list_filter = ["status", "channel"]
    search_fields = ["package_name", "file_number"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "actor", "role", "object_type", "object_id", "outcome", "source_ip"]
    list_filter = ["kind", "outcome"]
    search_fields = ["actor", "object_id"]
