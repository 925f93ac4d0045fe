"""Replication (复制, 异地备份) and repair (修复) of AIP blobs across the storage locations.

* ``replicate`` copies every blob of every AIP (or of one record's AIPs) that a replica / off-site
  location lacks, or holds with the wrong size, from the primary; each copy is read back from the
  location and re-hashed (SM3) before it counts. Transient failures are retried (``ATTEMPTS`` with
  doubling back-off); a primary copy that does not hash right is never propagated. One preservation
  event per AIP and location where something was copied or failed, one audit event per run.
* ``check_copies`` re-hashes every copy of every AIP blob on every location and reports per location
  what is missing, damaged or unreadable, and which locations cannot be reached.
* ``repair`` restores each missing or damaged copy — on any location, the primary included — from a
  location whose copy hashes right, atomically (``BlobStore.replace``), re-hashes the result, and
  records a REPAIR preservation event and an audit event per blob. A blob with no intact copy anywhere
  is reported as unrepairable, never as repaired.

Permission: ``Perm.VERIFY`` (preservation.verify: records officer, system administrator, archive
receiver) for all three. Copying and repairing change no record and no AIP — they only make stored
copies equal to what the signed manifests already say — so they are the same duty as fixity checking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from django.db import transaction

from dangan import jobs
from dangan.accounts.roles import Actor, Perm, require
from dangan.archive.models import Aip, AipFile, Record
from dangan.audit import events
from dangan.preservation.events import record_event
from dangan.preservation.models import EventType, Outcome
from dangan.storage import locations
from dangan.storage.base import BlobMissing, DigestMismatch
from dangan.storage.locations import Location

log = logging.getLogger(__name__)
AGENT = "dangan.preservation.replication"
ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the 2nd attempt; doubled before each further one
Progress = Callable[[int, int], None]


class SourceBad(Exception):
    """The copy being read from is missing or does not hash right: retrying cannot help."""


def _agent(actor: Actor) -> str:
    return f"{actor.name} ({AGENT})"


def _retry(fn: Callable[[], Any], *, attempts: int | None = None) -> tuple[Any, int]:
    """Run ``fn``; on a transient error try again (back-off 0.5 s, 1 s, …). Returns (result, attempts)."""
    tries = attempts or ATTEMPTS
    for attempt in range(1, tries + 1):
        try:
            return fn(), attempt
        except SourceBad:
            raise
        except Exception:
            if attempt == tries:
                raise
            time.sleep(BACKOFF * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _copy(source: Location, target: Location, digest: str) -> int:
    """Copy one blob and prove it: the target re-hashes what it now holds. Returns the bytes copied."""
    try:
        with source.store.open(digest) as stream:
            size = target.store.replace(digest, stream)
    except BlobMissing:
        raise SourceBad(f"the copy on {source.name} is missing") from None
    except DigestMismatch as exc:  # what was read from the source does not hash to its address
        raise SourceBad(f"the copy on {source.name} is damaged (SM3 {exc.actual})") from None
    actual = target.store.rehash(digest)
    if actual != digest:
        raise OSError(f"read back from {target.name}, the copy hashes to {actual}")
    return size


def _error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


# --------------------------------------------------------------------------------- replicate


@dataclass
class AipCopy:
    location: str
    archival_code: str
    aip_id: int
    version: int
    copied: int = 0
    present: int = 0
    bytes: int = 0
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ReplicationReport:
    locations: list[str]
    aips: int = 0
    copied: int = 0
    bytes: int = 0
    seconds: float = 0.0
    results: list[AipCopy] = field(default_factory=list)

    @property
    def failures(self) -> list[AipCopy]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "locations": self.locations,
            "aips": self.aips,
            "copied": self.copied,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "failures": [asdict(r) for r in self.failures],
        }


def replicate(
    actor: Actor, *, record: Record | int | None = None, progress: Progress | None = None
) -> ReplicationReport:
    require(actor, Perm.VERIFY)
    targets = locations.copies()
    report = ReplicationReport(locations=[t.name for t in targets])
    if not targets:
        return report
    started = time.monotonic()
    source = locations.primary()
    aips = Aip.objects.select_related("record").prefetch_related("files").order_by("id")
    record_id = record.pk if isinstance(record, Record) else record
    if record_id is not None:
        aips = aips.filter(record_id=record_id)
    total = aips.count() * len(targets)
    report.aips = aips.count()
    down: dict[str, str] = {}
    for target in targets:
        try:
            _retry(target.store.ping)
        except Exception as exc:
            down[target.name] = f"location unreachable: {_error(exc)}"
            log.warning("replication: %s unreachable: %s", target.name, _error(exc))
    done_here: dict[str, set[str]] = {t.name: set() for t in targets}  # verified present in this run
    step = 0
    for aip in aips.iterator(chunk_size=100):
        blobs = sorted({(f.sm3, f.size) for f in aip.files.all()})
        code = aip.record.archival_code or aip.record.file_number
        for target in targets:
            result = AipCopy(target.name, code, aip.pk, aip.version)
            if target.name in down:
                result.errors.append(down[target.name])
            else:
                for digest, size in blobs:
                    if digest in done_here[target.name]:
                        result.present += 1
                        continue
                    try:
                        copied, tries = _retry(partial(_ensure, source, target, digest, size))
                        result.attempts = max(result.attempts, tries)
                    except Exception as exc:
                        result.attempts = ATTEMPTS if not isinstance(exc, SourceBad) else 1
                        result.errors.append(f"{digest}: {_error(exc)}")
                        continue
                    done_here[target.name].add(digest)
                    if copied is None:
                        result.present += 1
                    else:
                        result.copied += 1
                        result.bytes += copied
            report.results.append(result)
            report.copied += result.copied
            report.bytes += result.bytes
            if result.copied or result.errors:
                with transaction.atomic():
                    record_event(
                        EventType.REPLICATION,
                        agent=_agent(actor),
                        outcome=Outcome.SUCCESS if result.ok else Outcome.FAILURE,
                        record_id=aip.record_id,
                        aip_id=aip.pk,
                        location=target.name,
                        role=target.role,
                        version=aip.version,
                        copied=result.copied,
                        present=result.present,
                        bytes=result.bytes,
                        attempts=result.attempts,
                        errors=result.errors[:20],
                    )
            step += 1
            if progress:
                progress(step, total)
    report.seconds = time.monotonic() - started
    events.replication_run(
        actor,
        locations=report.locations,
        aips=report.aips,
        copied=report.copied,
        bytes_copied=report.bytes,
        failures=len(report.failures),
        record_id=record_id or "",
    )
    return report


def _ensure(source: Location, target: Location, digest: str, size: int) -> int | None:
    """None when the target holds the blob with the right size already, else the bytes copied."""
    try:
        if target.store.size(digest) == size:
            return None
    except BlobMissing:
        pass
    return _copy(source, target, digest)


# ------------------------------------------------------------------------ background hook


def after_aip_written(record_id: int) -> None:
    """Queue the replication of a record's AIPs once the transaction that wrote one commits (only
    when replica / off-site locations are configured). Called by archive.services."""
    if locations.has_copies():
        transaction.on_commit(lambda: jobs.submit(replicate_record_job, record_id))


def replicate_record_job(record_id: int) -> None:
    """The background job: failures are recorded as events by ``replicate``; nothing here may break the
    confirmation that queued it."""
    try:
        replicate(Actor.system("replication", frozenset({Perm.VERIFY})), record=record_id)
    except Exception:
        log.exception("replication of record %s failed", record_id)


# ------------------------------------------------------------------------------ check copies


@dataclass
class LocationCopies:
    name: str
    role: str
    type: str
    where: str
    reachable: bool = True
    error: str = ""
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and not (self.missing or self.damaged or self.unreadable)


@dataclass
class CopiesReport:
    blobs: int
    locations: list[LocationCopies]
    owners: dict[str, list[tuple[int, int, str]]]  # blob → [(aip id, record id, 档号 vN)]
    good: dict[str, list[str]]  # blob → locations whose copy hashes right

    @property
    def ok(self) -> bool:
        return all(loc.ok for loc in self.locations)

    def as_dict(self) -> dict[str, Any]:
        def codes(digest: str) -> list[str]:
            return [c for _, _, c in self.owners.get(digest, [])][:20]

        return {
            "ok": self.ok,
            "blobs": self.blobs,
            "locations": [
                {
                    "name": loc.name,
                    "role": loc.role,
                    "type": loc.type,
                    "where": loc.where,
                    "reachable": loc.reachable,
                    "error": loc.error,
                    "checked": loc.checked,
                    "missing": [{"blob": d, "aips": codes(d)} for d in loc.missing],
                    "damaged": [{"blob": d, "aips": codes(d)} for d in loc.damaged],
                    "unreadable": [{"blob": d, "aips": codes(d)} for d in loc.unreadable],
                }
                for loc in self.locations
            ],
        }


def _owners() -> dict[str, list[tuple[int, int, str]]]:
    owners: dict[str, list[tuple[int, int, str]]] = {}
    rows = AipFile.objects.order_by("aip_id", "path").values_list(
        "sm3", "aip_id", "aip__record_id", "aip__record__archival_code", "aip__record__file_number",
        "aip__version",
    )  # fmt: skip
    for digest, aip_id, record_id, code, number, version in rows.iterator(chunk_size=2000):
        entries = owners.setdefault(digest, [])
        if not entries or entries[-1][0] != aip_id:
            entries.append((aip_id, record_id, f"{code or number} v{version}"))
    return owners


def _scan(where: Iterable[Location], progress: Progress | None) -> CopiesReport:
    owners = _owners()
    digests = sorted(owners)
    where = list(where)
    report = CopiesReport(blobs=len(digests), locations=[], owners=owners, good={})
    total = len(digests) * len(where)
    step = 0
    for loc in where:
        entry = LocationCopies(loc.name, loc.role, loc.type, loc.where)
        report.locations.append(entry)
        try:
            _retry(loc.store.ping)
        except Exception as exc:
            entry.reachable, entry.error = False, _error(exc)
            step += len(digests)
            if progress:
                progress(step, total)
            continue
        for digest in digests:
            try:
                actual, _ = _retry(partial(_rehash_or_none, loc.store, digest))
            except Exception as exc:
                entry.unreadable.append(digest)
                log.warning("check-copies: %s on %s unreadable: %s", digest, loc.name, _error(exc))
            else:
                if actual is None:
                    entry.missing.append(digest)
                elif actual != digest:
                    entry.damaged.append(digest)
                else:
                    report.good.setdefault(digest, []).append(loc.name)
            entry.checked += 1
            step += 1
            if progress:
                progress(step, total)
    return report


def _rehash_or_none(store: Any, digest: str) -> str | None:
    try:
        return str(store.rehash(digest))
    except BlobMissing:
        return None


def check_copies(actor: Actor, *, progress: Progress | None = None) -> CopiesReport:
    require(actor, Perm.VERIFY)
    report = _scan(locations.configured(), progress)
    events.copies_checked(
        actor,
        locations=[loc.name for loc in report.locations],
        blobs=report.blobs,
        missing=sum(len(loc.missing) for loc in report.locations),
        damaged=sum(len(loc.damaged) for loc in report.locations),
        unreachable=[loc.name for loc in report.locations if not loc.reachable],
    )
    return report


# ------------------------------------------------------------------------------------ repair


@dataclass
class RepairAction:
    blob: str
    location: str
    problem: str  # missing | damaged | unreadable
    source: str = ""
    repaired: bool = False
    message: str = ""
    aips: list[str] = field(default_factory=list)


@dataclass
class RepairReport:
    check: CopiesReport
    actions: list[RepairAction] = field(default_factory=list)

    @property
    def repaired(self) -> list[RepairAction]:
        return [a for a in self.actions if a.repaired]

    @property
    def failed(self) -> list[RepairAction]:
        return [a for a in self.actions if not a.repaired]

    @property
    def unreachable(self) -> list[str]:
        return [loc.name for loc in self.check.locations if not loc.reachable]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unreachable

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "blobs": self.check.blobs,
            "repaired": [asdict(a) for a in self.repaired],
            "failed": [asdict(a) for a in self.failed],
            "unreachable": self.unreachable,
        }


def repair(actor: Actor, *, progress: Progress | None = None) -> RepairReport:
    require(actor, Perm.VERIFY)
    configured = locations.configured()
    by_name = {loc.name: loc for loc in configured}
    check = _scan(configured, progress)
    report = RepairReport(check=check)
    for entry in check.locations:
        target = by_name[entry.name]
        problems = (
            [(d, "missing") for d in entry.missing]
            + [(d, "damaged") for d in entry.damaged]
            + [(d, "unreadable") for d in entry.unreadable]
        )
        for digest, problem in problems:
            owners = check.owners.get(digest, [])
            action = RepairAction(digest, target.name, problem, aips=[c for _, _, c in owners][:20])
            sources = [by_name[n] for n in check.good.get(digest, []) if n != target.name]
            if not sources:
                action.message = "no location holds an intact copy: not repairable here"
            for source in sources:
                try:
                    _retry(partial(_copy, source, target, digest))
                except Exception as exc:
                    action.message = f"from {source.name}: {_error(exc)}"
                    continue
                action.source, action.repaired, action.message = source.name, True, ""
                break
            report.actions.append(action)
            aip_id, record_id = (owners[0][0], owners[0][1]) if owners else (None, None)
            with transaction.atomic():
                record_event(
                    EventType.REPAIR,
                    agent=_agent(actor),
                    outcome=Outcome.SUCCESS if action.repaired else Outcome.FAILURE,
                    record_id=record_id,
                    aip_id=aip_id,
                    blob_sm3=digest,
                    location=target.name,
                    problem=problem,
                    source=action.source,
                    message=action.message,
                    aips=action.aips,
                )
                events.blob_repaired(
                    actor,
                    blob=digest,
                    location=target.name,
                    problem=problem,
                    source=action.source,
                    repaired=action.repaired,
                    message=action.message,
                )
    return report
