"""Appending to the audit hash chain, signing checkpoints and verifying the table.

``append`` runs inside the caller's transaction (the event commits or rolls back with the change
it records). On PostgreSQL it first takes a transaction-scoped advisory lock
(``pg_advisory_xact_lock``); on SQLite the transaction already holds the database's write lock
(``transaction_mode=IMMEDIATE``). Only then does it read the last event (through the unique index
on ``seq``), so two writers never take the same ``seq`` or fork the chain. The lock is held until the
caller's transaction ends. (A one-row head table updated per event was tried first: PostgreSQL
slows down quadratically when one transaction updates the same row thousands of times.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from dangan.audit.models import AuditCheckpoint, AuditEvent
from dangan.core import auditchain
from dangan.core.auditchain import Checkpoint, EventContent, Report, StoredCheckpoint, StoredEvent

#: pg_advisory_xact_lock key of the append lock ("dang" "audt" as two 32-bit halves).
APPEND_LOCK = 0x64616E67_61756474
DEFAULT_CHECKPOINT_EVERY = 1000


def checkpoint_every() -> int:
    """``DANGAN_AUDIT_CHECKPOINT_EVERY`` (default 1000; 0 turns automatic checkpoints off)."""
    value = getattr(settings, "AUDIT_CHECKPOINT_EVERY", None)
    if value is None:
        value = int(os.environ.get("DANGAN_AUDIT_CHECKPOINT_EVERY", DEFAULT_CHECKPOINT_EVERY))
    return int(value)


def content_of(event: AuditEvent) -> EventContent:
    return EventContent(
        seq=event.seq, prev_hash=event.prev_hash, at=event.at, kind=event.kind, actor=event.actor,
        role=event.role, object_type=event.object_type, object_id=event.object_id, outcome=event.outcome,
        source_ip=event.source_ip, detail=event.detail,
    )  # fmt: skip


def _locked_head() -> tuple[int, str]:
    """The last (seq, hash), read under the append lock (held until the transaction ends)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last else (0, auditchain.GENESIS)


def append(event: AuditEvent) -> AuditEvent:
    """Give ``event`` the next seq, link and hash it, and insert it (inside a transaction)."""
    with transaction.atomic():
        seq, prev_hash = _locked_head()
        event.seq = seq + 1
        event.prev_hash = prev_hash
        event.at = timezone.now()  # the time of appending, so times never go back along the chain
        # Store exactly what is hashed: the detail as it will read back from the JSON column.
        event.detail = json.loads(auditchain.canonical_json(event.detail))
        event.hash = auditchain.event_hash(content_of(event))
        models.Model.save(event, force_insert=True)
        every = checkpoint_every()
        if every > 0 and event.seq % every == 0:
            _write_checkpoint(event.seq, event.hash)
    return event


def _instance_key() -> Any:
    from dangan.archive.services import instance_key

    return instance_key()


def _write_checkpoint(seq: int, head_hash: str) -> AuditCheckpoint:
    key = _instance_key()
    cp = Checkpoint(seq=seq, head_hash=head_hash, count=seq, at=timezone.now())
    return AuditCheckpoint.objects.create(
        seq=cp.seq, head_hash=cp.head_hash, count=cp.count, at=cp.at,
        signature=key.sign(auditchain.checkpoint_bytes(cp)), signer_fingerprint=key.fingerprint,
    )  # fmt: skip


def checkpoint() -> AuditCheckpoint | None:
    """Sign a checkpoint at the current head now (None if the chain is empty); reuses an existing one."""
    with transaction.atomic():
        seq, head_hash = _locked_head()
        if seq == 0:
            return None
        existing = AuditCheckpoint.objects.filter(seq=seq).first()
        return existing or _write_checkpoint(seq, head_hash)


EVENT_FIELDS = ("seq", "prev_hash", "hash", "at", "kind", "actor", "role", "object_type", "object_id",
                "outcome", "source_ip", "detail")  # fmt: skip


def _stream(chunk_size: int) -> Iterator[StoredEvent]:
    rows = AuditEvent.objects.order_by("seq").values_list(*EVENT_FIELDS).iterator(chunk_size=chunk_size)
    for seq, prev_hash, digest, at, kind, actor, role, otype, oid, outcome, ip, detail in rows:
        content = EventContent(seq, prev_hash, at, kind, actor, role, otype, oid, outcome, ip, detail)
        yield StoredEvent(content, digest)


def _stored_checkpoints() -> list[StoredCheckpoint]:
    return [
        StoredCheckpoint(
            Checkpoint(c.seq, c.head_hash, c.count, c.at), bytes(c.signature), c.signer_fingerprint
        )
        for c in AuditCheckpoint.objects.order_by("seq")
    ]


def verify(*, chunk_size: int = 2000) -> Report:
    """Recompute the whole chain in seq order (streamed) and check every checkpoint."""
    checkpoints = _stored_checkpoints()
    key = _instance_key() if checkpoints else None

    def signature_ok(cp: StoredCheckpoint) -> str | None:
        assert key is not None
        if cp.signer_fingerprint != key.fingerprint:
            return "signed by another key than this instance's"
        if not key.verify(auditchain.checkpoint_bytes(cp.checkpoint), cp.signature):
            return "the SM2 signature does not verify"
        return None

    return auditchain.verify_chain(_stream(chunk_size), checkpoints, signature_ok=signature_ok)
