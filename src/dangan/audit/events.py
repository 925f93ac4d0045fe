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
