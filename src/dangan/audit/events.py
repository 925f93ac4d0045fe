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


# --- Accounts and roles (accounts.services) ---


def user_created(actor: Actor, user_id: Any, *, username: str) -> AuditEvent:
    return _log("user.created", actor, "user", user_id, username=username)


def role_granted(actor: Actor, user_id: Any, *, username: str, role: str, fonds: str) -> AuditEvent:
    return _log("role.granted", actor, "user", user_id, username=username, granted_role=role, fonds=fonds)


def role_revoked(actor: Actor, user_id: Any, *, username: str, role: str, fonds: str) -> AuditEvent:
    return _log("role.revoked", actor, "user", user_id, username=username, revoked_role=role, fonds=fonds)


def account_state_changed(
    actor: Actor, user_id: Any, *, username: str, active: bool, reason: str
) -> AuditEvent:
    kind = "user.enabled" if active else "user.disabled"
    return _log(kind, actor, "user", user_id, username=username, reason=reason)


def password_reset(actor: Actor, user_id: Any, *, username: str) -> AuditEvent:
    return _log("user.password_reset", actor, "user", user_id, username=username)


def account_unlocked(actor: Actor, user_id: Any, *, username: str) -> AuditEvent:
    return _log("user.unlocked", actor, "user", user_id, username=username)


def access_denied(actor: Actor, *, method: str, path: str, needed: str, channel: str) -> AuditEvent:
    """A request refused for lack of a permission (a page, an action or an API call)."""
    return _log(
        "access.denied", actor, "request", path[:128], outcome="failure", method=method, needed=needed[:200],
        channel=channel,
    )  # fmt: skip


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


def record_viewed(actor: Actor, record_id: Any, *, channel: str, what: str, archival_code: str) -> AuditEvent:
    """Record content read on screen or through the API: the record page, its report, its metadata."""
    return _log(
        "record.viewed", actor, "record", record_id, channel=channel, what=what, archival_code=archival_code
    )


def records_listed(actor: Actor, *, channel: str, filters: dict[str, Any], count: int) -> AuditEvent:
    """A list or search of records was read (titles and numbers): one event per page, with the filter."""
    return _log("records.listed", actor, "record", "", channel=channel, filters=filters, count=count)


def records_exported(actor: Actor, *, what: str, fmt: str, filters: dict[str, Any], count: int) -> AuditEvent:
    """A catalogue or registration form (归档目录, 归档登记表) of many records was downloaded or printed."""
    return _log("records.exported", actor, "record", "", what=what, fmt=fmt, filters=filters, count=count)


def submission_viewed(actor: Actor, submission_id: Any, *, channel: str) -> AuditEvent:
    return _log("submission.viewed", actor, "submission", submission_id, channel=channel)


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


# --- Source-system API tokens (accounts.tokens). Never the token itself: only its prefix. ---


def token_issued(
    actor: Actor, token_id: Any, *, system: str, prefix: str, scopes: list[str], expires_at: str, name: str
) -> AuditEvent:
    return _log(
        "token.issued", actor, "api_token", token_id, system=system, prefix=prefix, scopes=scopes,
        expires_at=expires_at, name=name,
    )  # fmt: skip


def token_revoked(actor: Actor, token_id: Any, *, system: str, prefix: str, reason: str) -> AuditEvent:
    return _log("token.revoked", actor, "api_token", token_id, system=system, prefix=prefix, reason=reason)


def token_refused(actor: Actor, token_id: Any, *, system: str, prefix: str, reason: str) -> AuditEvent:
    """A revoked or expired token (or one of a disabled source system) was presented: refused (401)."""
    return _log(
        "token.refused", actor, "api_token", token_id, outcome="failure", system=system, prefix=prefix,
        reason=reason,
    )  # fmt: skip


# --- Signing in and out, passwords (accounts.backends, accounts.signals, accounts.auth_views) ---


def login_succeeded(actor: Actor, user_id: Any, *, username: str, method: str) -> AuditEvent:
    """A person signed in; ``method``: password | oidc. ``actor.ip`` is where from."""
    return _log("login.succeeded", actor, "user", user_id, username=username, method=method)


def login_failed(
    actor: Actor, user_id: Any, *, username: str, reason: str, method: str = "password"
) -> AuditEvent:
    """A refused sign-in. ``username`` is what was typed (never the password); ``user_id`` is empty
    for a name no account has. ``reason``: bad_password | unknown_user | inactive | locked |
    rate_limited | sso_refused."""
    return _log(
        "login.failed", actor, "user", user_id if user_id is not None else "", outcome="failure",
        username=username[:150], reason=reason, method=method,
    )  # fmt: skip


def user_locked(actor: Actor, user_id: Any, *, username: str, failures: int, until: str) -> AuditEvent:
    """Locked after ``failures`` consecutive failed sign-ins, until ``until`` (ISO 8601)."""
    return _log(
        "user.locked", actor, "user", user_id, username=username, failures=failures, locked_until=until
    )


def logged_out(actor: Actor, user_id: Any, *, username: str) -> AuditEvent:
    return _log("logout", actor, "user", user_id, username=username)


def session_expired(actor: Actor, user_id: Any, *, username: str, reason: str) -> AuditEvent:
    """A session ended by the timeout policy; ``reason``: idle | absolute."""
    return _log("session.expired", actor, "user", user_id, username=username, reason=reason)


def password_changed(actor: Actor, user_id: Any, *, username: str, reason: str) -> AuditEvent:
    """A person changed his own password; ``reason``: initial (forced) | expired | voluntary."""
    return _log("password.changed", actor, "user", user_id, username=username, reason=reason)


def user_created_by_sso(
    actor: Actor, user_id: Any, *, username: str, method: str, subject: str
) -> AuditEvent:
    """An account created at its first single sign-on: no roles, no usable password."""
    return _log("user.created", actor, "user", user_id, username=username, method=method, subject=subject)


# --- The auditor's pages (audit.services): reading the trail is itself audited, once per request ---


def audit_read(actor: Actor, *, filters: dict[str, str], count: int, page: int) -> AuditEvent:
    """A page of the audit list was shown: the filter, how many events matched, which page."""
    return _log("audit.read", actor, "audit_trail", "", filters=filters, count=count, page=page)


def audit_exported(
    actor: Actor, *, fmt: str, filters: dict[str, str], rows: int, head_seq: int, head_hash: str,
    **extra: Any,
) -> AuditEvent:  # fmt: skip
    """The trail (or the filtered part of it, up to ``head_seq``) was exported as CSV or PDF."""
    return _log(
        "audit.exported", actor, "audit_trail", "", format=fmt, filters=filters, rows=rows, head_seq=head_seq,
        head_hash=head_hash, **extra,
    )  # fmt: skip


def audit_verified(
    actor: Actor, *, intact: bool, events: int, checkpoints: int, last_seq: int, head_hash: str,
    first_bad: dict[str, Any] | None, milliseconds: int,
) -> AuditEvent:  # fmt: skip
    """The hash chain was verified from the auditor's pages; outcome ``failure`` when not intact."""
    return _log(
        "audit.verified", actor, "audit_trail", "", outcome="success" if intact else "failure", intact=intact,
        events=events, checkpoints=checkpoints, last_seq=last_seq, head_hash=head_hash, first_bad=first_bad,
        milliseconds=milliseconds,
    )  # fmt: skip


# --- Storage locations, replication and repair (preservation.replication) ---


def replication_run(
    actor: Actor, *, locations: list[str], aips: int, copied: int, bytes_copied: int, failures: int,
    record_id: Any = "",
) -> AuditEvent:  # fmt: skip
    """AIP blobs were copied to the replica / off-site locations; outcome ``failure`` if any copy failed."""
    return _log(
        "storage.replicated", actor, "record" if record_id else "instance", record_id,
        outcome="success" if failures == 0 else "failure", locations=locations, aips=aips, copied=copied,
        bytes=bytes_copied, failures=failures,
    )  # fmt: skip


def copies_checked(
    actor: Actor, *, locations: list[str], blobs: int, missing: int, damaged: int, unreachable: list[str]
) -> AuditEvent:
    """Every stored copy of every AIP blob was re-hashed on every location."""
    bad = missing + damaged + len(unreachable)
    return _log(
        "storage.copies_checked", actor, "instance", "", outcome="success" if bad == 0 else "failure",
        locations=locations, blobs=blobs, missing=missing, damaged=damaged, unreachable=unreachable,
    )  # fmt: skip


def blob_repaired(
    actor: Actor, *, blob: str, location: str, problem: str, source: str, repaired: bool, message: str
) -> AuditEvent:
    """A missing or damaged copy was restored from an intact one (or could not be: ``failure``)."""
    return _log(
        "storage.repaired", actor, "blob", blob, outcome="success" if repaired else "failure",
        location=location, problem=problem, source=source, message=message,
    )  # fmt: skip


def storage_cleaned(
    actor: Actor, *, orphan_blobs: int, orphan_bytes: int, temp_files: int, older_than_hours: float
) -> AuditEvent:
    """Orphan blobs (referenced by no record or AIP) and stale temporary files were removed."""
    return _log(
        "storage.cleaned", actor, "instance", "", orphan_blobs=orphan_blobs, orphan_bytes=orphan_bytes,
        temp_files=temp_files, older_than_hours=older_than_hours,
    )  # fmt: skip


# --- Backup and restore (preservation.backup) ---


def backup_created(
    actor: Actor, backup_id: str, *, kind: str, files: int, bytes_written: int, blobs: int, volumes: int,
    manifest_sm3: str, base: str,
) -> AuditEvent:  # fmt: skip
    """A full or incremental backup was written (database dump, blobs, keys, signed manifest)."""
    return _log(
        "backup.created", actor, "backup", backup_id, backup_kind=kind, files=files, bytes=bytes_written,
        blobs=blobs, volumes=volumes, manifest_sm3=manifest_sm3, base=base,
    )  # fmt: skip


def backup_restored(
    actor: Actor, backup_id: str, *, kind: str, rows: int, blobs: int, keys: int, manifest_sm3: str,
    bases: list[str],
) -> AuditEvent:  # fmt: skip
    """This (previously empty) instance was restored from a verified backup."""
    return _log(
        "backup.restored", actor, "backup", backup_id, backup_kind=kind, rows=rows, blobs=blobs, keys=keys,
        manifest_sm3=manifest_sm3, bases=bases,
    )  # fmt: skip


# --- Scheduled fixity audits (preservation.audit) ---


def fixity_audit_finished(
    actor: Actor, run_id: Any, *, scope: str, aips: int, total: int, problems: int, overdue: int
) -> AuditEvent:
    """A fixity audit run (all AIPs or the rotating sample) ended; ``failure`` if it found problems."""
    return _log(
        "fixity.audit", actor, "fixity_run", run_id, outcome="success" if problems == 0 else "failure",
        scope=scope, aips=aips, total=total, problems=problems, overdue=overdue,
    )  # fmt: skip


# --- Format migration (preservation.migration) ---


def record_migrated(
    actor: Actor,
    record_id: Any,
    *,
    version: int,
    aip_digest: str,
    migrated: list[dict[str, Any]],
    reason: str,
) -> AuditEvent:
    """Derived PDF/A files were added beside their office originals: a new AIP version (格式迁移)."""
    return _log(
        "record.migrated", actor, "record", record_id, version=version, aip=aip_digest,
        migrated=[{k: d.get(k) for k in ("source", "source_sm3", "path", "sm3")} for d in migrated],
        reason=reason,
    )  # fmt: skip
