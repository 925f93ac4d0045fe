"""Typed audit events: one function per kind of state change or content read.

Services call these inside the same transaction as the change they record, so an event exists
exactly when its change does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.audit.models import AuditEvent

if TYPE_CHECKING:
    from dangan.accounts.roles import Actor


def _log(
    kind: str, actor: Actor | None, obj_type: str, obj_id: Any, outcome: str = "success", **detail: Any
) -> AuditEvent:
    return AuditEvent.objects.create(
        kind=kind,
        actor=actor.name if actor else "system",
        role=actor.role_label if actor else "system",
        source_ip=actor.ip if actor else "",
        object_type=obj_type,
        object_id=str(obj_id),
        outcome=outcome,
        detail=detail,
    )


def user_created(*, username: str, roles: list[str]) -> AuditEvent:
    return _log("user.created", None, "user", username, roles=roles)


def case_received(actor: Actor, submission_id: Any, *, package: str, channel: str) -> AuditEvent:
    return _log("case.received", actor, "submission", submission_id, package=package, channel=channel)


def case_checking(actor: Actor, submission_id: Any, *, files: int, content_digest: str) -> AuditEvent:
    return _log(
        "case.checking", actor, "submission", submission_id, files=files, content_digest=content_digest
    )


def case_resumed(actor: Actor, submission_id: Any) -> AuditEvent:
    return _log("case.resumed", actor, "submission", submission_id)


def case_rejected(actor: Actor, submission_id: Any, *, errors: list[dict[str, str]]) -> AuditEvent:
    return _log("case.rejected", actor, "submission", submission_id, outcome="failure", errors=errors[:50])


def case_duplicate(actor: Actor, submission_id: Any, *, record_id: Any) -> AuditEvent:
    return _log("case.duplicate", actor, "submission", submission_id, record_id=record_id)


def case_pre_archived(actor: Actor, record_id: Any, *, file_number: str, submission_id: Any) -> AuditEvent:
    return _log(
        "case.pre_archived",
        actor,
        "record",
        record_id,
        file_number=file_number,
        submission=str(submission_id),
    )


def record_archived(
    actor: Actor, record_id: Any, *, archival_code: str, aip_digest: str, rule: str = ""
) -> AuditEvent:
    return _log(
        "record.archived", actor, "record", record_id, archival_code=archival_code, aip=aip_digest, rule=rule
    )


def record_returned(actor: Actor, record_id: Any, *, reason: str) -> AuditEvent:
    return _log("record.returned", actor, "record", record_id, reason=reason)


def record_file_read(actor: Actor, record_id: Any, *, path: str, purpose: str) -> AuditEvent:
    return _log("record.file_read", actor, "record", record_id, path=path, purpose=purpose)


def aip_exported(actor: Actor, record_id: Any, *, archival_code: str, destination: str) -> AuditEvent:
    return _log(
        "aip.exported", actor, "record", record_id, archival_code=archival_code, destination=destination
    )


def fixity_audit_run(actor: Actor, *, aips: int, problems: int) -> AuditEvent:
    return _log(
        "fixity.audit",
        actor,
        "instance",
        "",
        outcome="success" if problems == 0 else "failure",
        aips=aips,
        problems=problems,
    )


def catalog_changed(actor: Actor, obj_type: str, obj_id: Any, **detail: Any) -> AuditEvent:
    return _log("catalog.changed", actor, obj_type, obj_id, **detail)


def source_token_issued(actor: Actor, system_id: Any, *, code: str) -> AuditEvent:
    return _log("source.token_issued", actor, "source_system", system_id, code=code)


# --- 容缺归档 and AIP versions (archive.services) ---------------------------------------------------


def case_pre_archived_with_gap(
    actor: Actor, record_id: Any, *, file_number: str, submission_id: Any, missing: list[dict[str, str]]
) -> AuditEvent:
    """Filed in the pre-archive library although required materials are missing (GD-2-9 not blocking)."""
    return _log(
        "case.pre_archived",
        actor,
        "record",
        record_id,
        file_number=file_number,
        submission=str(submission_id),
        gap=missing,
    )


def record_archived_with_gap(
    actor: Actor,
    record_id: Any,
    *,
    archival_code: str,
    aip_digest: str,
    missing: list[dict[str, str]],
    reason: str,
) -> AuditEvent:
    """Confirmed with required materials missing (容缺归档); same kind as record.archived, plus the gap."""
    return _log(
        "record.archived",
        actor,
        "record",
        record_id,
        archival_code=archival_code,
        aip=aip_digest,
        rule="",
        gap=missing,
        gap_reason=reason,
    )


def record_supplemented(
    actor: Actor,
    record_id: Any,
    *,
    version: int,
    aip_digest: str,
    supplied: list[dict[str, str]],
    remaining: list[dict[str, str]],
    reason: str,
) -> AuditEvent:
    return _log(
        "record.supplemented",
        actor,
        "record",
        record_id,
        version=version,
        aip=aip_digest,
        supplied=supplied,
        remaining=remaining,
        reason=reason,
    )


def record_corrected(
    actor: Actor, record_id: Any, *, version: int, aip_digest: str, changes: dict[str, Any], reason: str
) -> AuditEvent:
    return _log(
        "record.corrected",
        actor,
        "record",
        record_id,
        version=version,
        aip=aip_digest,
        changes=changes,
        reason=reason,
    )


# --- Classification scheme, retention schedule and archiving scope (catalog) ---


def retention_rule_added(
    actor: Actor,
    rule_id: Any,
    *,
    fonds: str,
    item_code: str,
    material_code: str,
    retention: str,
    effective_from: str,
    basis: str,
    supersedes: Any,
) -> AuditEvent:
    return _log(
        "schedule.rule_added",
        actor,
        "retention_rule",
        rule_id,
        fonds=fonds,
        item=item_code,
        material=material_code,
        retention=retention,
        effective_from=effective_from,
        basis=basis,
        supersedes=supersedes,
    )


def retention_code_defined(
    actor: Actor, code_id: Any, *, code: str, label: str, years: int | None
) -> AuditEvent:
    return _log(
        "schedule.code_defined", actor, "retention_code", code_id, code=code, label=label, years=years
    )


def archiving_scope_changed(
    actor: Actor, item_id: Any, *, item_code: str, before: list[Any], after: list[Any]
) -> AuditEvent:
    return _log(
        "schedule.scope_changed", actor, "service_item", item_id, item=item_code, before=before, after=after
    )


def archive_class_changed(
    actor: Actor, class_id: Any, *, fonds: str, code: str, action: str, changes: dict[str, Any]
) -> AuditEvent:
    return _log(
        "schedule.class_changed", actor, "archive_class", class_id, fonds=fonds, code=code, action=action,
        changes=changes,
    )  # fmt: skip


def item_class_assigned(
    actor: Actor, item_id: Any, *, item_code: str, class_code: str, previous: str
) -> AuditEvent:
    return _log(
        "schedule.item_class", actor, "service_item", item_id, item=item_code, class_code=class_code,
        previous=previous,
    )  # fmt: skip


def schedule_imported(actor: Actor, *, filename: str, sha256: str, counts: dict[str, int]) -> AuditEvent:
    return _log(
        "schedule.imported", actor, "schedule", sha256[:16], filename=filename, sha256=sha256, counts=counts
    )


def eep_exported(
    actor: Actor, record_id: Any, *, archival_code: str, destination: str, aip_version: int, files: int,
    bytes_embedded: int, signed_digest: str,
) -> AuditEvent:  # fmt: skip
    return _log(
        "eep.exported", actor, "record", record_id, archival_code=archival_code, destination=destination,
        aip_version=aip_version, files=files, bytes=bytes_embedded, signed_digest=signed_digest,
    )  # fmt: skip


# --- Re-classification and bulk jobs (archive.services.reclassify, jobs.services) ---


def record_reclassified(
    actor: Actor, record_id: Any, *, file_number: str, class_code: str, previous: str
) -> AuditEvent:
    """A pre-archived case put into another class (the 机构(问题)代码 of the 档号 it will get)."""
    return _log(
        "record.reclassified", actor, "record", record_id, file_number=file_number, class_code=class_code,
        previous=previous,
    )  # fmt: skip


def job_started(actor: Actor, job_id: Any, *, kind: str, total: int, params: dict[str, Any]) -> AuditEvent:
    return _log("job.started", actor, "job", job_id, job_kind=kind, total=total, params=params)


def job_finished(
    actor: Actor | None, job_id: Any, *, kind: str, status: str, total: int, done: int, failed: int,
    message: str = "", result: str = "", result_sm3: str = "",
) -> AuditEvent:  # fmt: skip
    """A job ended: done (every item tried), failed (stopped: error or restart) or cancelled."""
    return _log(
        "job.finished", actor, "job", job_id, outcome="success" if status == "done" and not failed else "failure",
        job_kind=kind, status=status, total=total, done=done, failed=failed, message=message, result=result,
        result_sm3=result_sm3,
    )  # fmt: skip


def job_cancel_requested(actor: Actor, job_id: Any, *, kind: str, position: int, total: int) -> AuditEvent:
    return _log("job.cancel_requested", actor, "job", job_id, job_kind=kind, position=position, total=total)


def job_resumed(actor: Actor, job_id: Any, *, kind: str, position: int, total: int) -> AuditEvent:
    return _log("job.resumed", actor, "job", job_id, job_kind=kind, position=position, total=total)


def job_result_read(actor: Actor, job_id: Any, *, name: str, sha: str, size: int) -> AuditEvent:
    """The ZIP of a bulk export was downloaded (it holds record content)."""
    return _log("job.result_read", actor, "job", job_id, name=name, sm3=sha, size=size)
