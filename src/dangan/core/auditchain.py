"""The audit trail's SM3 hash chain and signed checkpoints: canonical bytes and the verifier (pure).

Every event has a ``seq`` (1, 2, 3, … without gaps), the ``prev_hash`` of the event before it
(:data:`GENESIS` for the first) and its own ``hash`` = SM3 of :func:`event_bytes`. A checkpoint
(``seq``, ``head_hash``, ``count``, ``at``) is signed with the instance's SM2 key over
:func:`checkpoint_bytes`. The canonical forms carry a version prefix; never change a version's bytes —
add a new version instead.

:class:`ChainVerifier` is fed the events in ``seq`` order (one at a time, so a table of any size is
checked in constant memory) and reports the first bad position and the kind of fault.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dangan.core.sm import sm3_hex

EVENT_VERSION = "dangan-audit-event/1"
CHECKPOINT_VERSION = "dangan-audit-checkpoint/1"
GENESIS = "0" * 64

# Kinds of fault, in the words `dangan audit verify` reports.
CHANGED = "changed"  # the event's content does not match its hash (edited row, forged hash)
MISSING = "missing"  # a seq is absent (deleted row)
INSERTED = "inserted"  # a row that is not part of the chain (extra or duplicate seq, forged row)
ORDER = "order"  # the prev_hash link is broken (rows swapped, reordered or replaced)
TRUNCATED = "truncated"  # events a signed checkpoint vouches for are gone from the end
CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # the chain at a checkpoint's seq has another hash
BAD_SIGNATURE = "bad_signature"  # a checkpoint's signature or signer is not valid


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_time(at: _dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds, e.g. ``2026-11-21T13:05:00.123456+00:00``."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(_dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class EventContent:
    """What an event's hash covers."""

    seq: int
    prev_hash: str
    at: _dt.datetime
    kind: str
    actor: str
    role: str
    object_type: str
    object_id: str
    outcome: str
    source_ip: str
    detail: Any


def event_bytes(e: EventContent) -> bytes:
    fields = [
        EVENT_VERSION, e.seq, e.prev_hash, canonical_time(e.at), e.kind, e.actor, e.role,
        e.object_type, e.object_id, e.outcome, e.source_ip, e.detail,
    ]  # fmt: skip
    return canonical_json(fields).encode("utf-8")


def event_hash(e: EventContent) -> str:
    return sm3_hex(event_bytes(e))


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: str
    count: int
    at: _dt.datetime


def checkpoint_bytes(c: Checkpoint) -> bytes:
    return canonical_json([CHECKPOINT_VERSION, c.seq, c.head_hash, c.count, canonical_time(c.at)]).encode(
        "utf-8"
    )


@dataclass(frozen=True)
class StoredEvent:
    """A row as read from the table: the content plus the hash stored with it."""

    content: EventContent
    hash: str

    @property
    def seq(self) -> int:
        return self.content.seq

    @property
    def prev_hash(self) -> str:
        return self.content.prev_hash


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint: Checkpoint
    signature: bytes
    signer_fingerprint: str


@dataclass(frozen=True)
class Fault:
    position: int
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "fault": self.kind, "message": self.message}


@dataclass
class Report:
    events: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    head_hash: str = GENESIS
    faults: list[Fault] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.faults

    @property
    def first(self) -> Fault | None:
        return min(self.faults, key=lambda f: f.position) if self.faults else None


def _pairs(rows: Iterable[StoredEvent]) -> Iterator[tuple[StoredEvent, StoredEvent | None]]:
    it = iter(rows)
    current = next(it, None)
    while current is not None:
        following = next(it, None)
        yield current, following
        current = following


def verify_chain(
    rows: Iterable[StoredEvent],
    checkpoints: Iterable[StoredCheckpoint],
    *,
    signature_ok: Callable[[StoredCheckpoint], str | None],
) -> Report:
    """Check ``rows`` (in ``seq`` order) against their hashes, links and the ``checkpoints``.

    ``signature_ok`` returns None for a checkpoint whose signature and signer are valid, else the reason.
    Stops at the first fault in the chain; every checkpoint's signature is checked.
    """
    report = Report()
    cps = sorted(checkpoints, key=lambda c: c.checkpoint.seq)
    report.checkpoints = len(cps)
    by_seq: dict[int, StoredCheckpoint] = {}
    for cp in cps:
        c = cp.checkpoint
        reason = signature_ok(cp)
        if reason is not None:
            report.faults.append(Fault(c.seq, BAD_SIGNATURE, f"checkpoint at seq {c.seq}: {reason}"))
        elif c.count != c.seq:
            report.faults.append(
                Fault(c.seq, CHECKPOINT_MISMATCH, f"checkpoint at seq {c.seq} counts {c.count} events")
            )
        else:
            by_seq[c.seq] = cp

    expected, prev, prev_prev = 1, GENESIS, GENESIS
    for row, following in _pairs(rows):
        report.events += 1
        fault = _row_fault(row, following, expected, prev, prev_prev)
        if fault is not None:
            report.faults.append(fault)
            return report
        signed = by_seq.get(row.seq)
        if signed is not None and signed.checkpoint.head_hash != row.hash:
            report.faults.append(
                Fault(row.seq, CHECKPOINT_MISMATCH,
                      f"the signed checkpoint at seq {row.seq} names another chain hash: the events up "
                      f"to here were rewritten")
            )  # fmt: skip
            return report
        prev_prev, prev = prev, row.hash
        report.last_seq, report.head_hash = row.seq, row.hash
        expected += 1

    for seq in sorted(by_seq):
        if seq > report.last_seq:
            report.faults.append(
                Fault(report.last_seq + 1, TRUNCATED,
                      f"a signed checkpoint vouches for {seq} events but the chain ends at seq "
                      f"{report.last_seq}: events deleted from the end")
            )  # fmt: skip
            break
    return report


def _row_fault(
    row: StoredEvent, following: StoredEvent | None, expected: int, prev: str, prev_prev: str
) -> Fault | None:
    if row.seq > expected:
        gap = f"seq {expected}" if row.seq == expected + 1 else f"seqs {expected}–{row.seq - 1}"
        return Fault(expected, MISSING, f"{gap} missing: deleted")
    if row.seq < expected:
        return Fault(row.seq, INSERTED, f"a second event with seq {row.seq}: inserted")
    content_ok = event_hash(row.content) == row.hash
    link_ok = row.prev_hash == prev
    if content_ok and link_ok:
        return None
    if following is not None and following.prev_hash == prev:
        if row.prev_hash == following.hash:
            return Fault(expected, ORDER, f"seq {expected} and seq {expected + 1} are swapped")
        return Fault(expected, INSERTED, f"seq {expected} is not part of the chain (the next event "
                                         f"links over it): inserted")  # fmt: skip
    if not link_ok and expected > 1 and row.prev_hash == prev_prev:
        return Fault(expected - 1, INSERTED, f"seq {expected - 1} is not part of the chain (seq {expected} "
                                             f"links over it): inserted")  # fmt: skip
    if not link_ok:
        return Fault(
            expected, ORDER, f"seq {expected} does not link to seq {expected - 1}: reordered or replaced"
        )
    return Fault(expected, CHANGED, f"seq {expected}: content does not match its hash: changed")
