"""Subprocess side of the fault tests (tests/test_fault_ingest.py), run on a real DANGAN_HOME (SQLite).

``python -m tests.fault_driver setup BATCH``   migrate, instance key, demo catalogue
``python -m tests.fault_driver ingest BATCH``  ingest the batch folder, then confirm every pending case
                                               (the process the test kills with SIGKILL)
``python -m tests.fault_driver check BATCH``   check the invariants on what a kill left, recover
                                               (resume, re-run the batch), check again; print JSON
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ALLOWED_STATES = {"pre_archive", "archived"}


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()


def setup() -> None:
    from django.core.management import call_command

    from dangan.accounts.roles import Actor
    from dangan.archive.services import instance_key
    from dangan.quickstart import load_demo_catalogue

    call_command("migrate", interactive=False, verbosity=0)
    instance_key()
    load_demo_catalogue(Actor.system("fault-test"))


def ingest(batch: Path) -> list[dict[str, Any]]:
    """What `dangan ingest BATCH` + `dangan archive confirm --all-pending` do, in one process."""
    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive
    from dangan.archive.models import Record
    from dangan.ingest import services

    actor = Actor.system("fault-test")
    sources, errors = services.expand_paths([batch])
    assert not errors, errors
    results = []
    for src in sources:
        sub = services.ingest_path(actor, src.path, batch=src.batch, batch_entry=src.entry)
        results.append({"package": src.path.name, "status": sub.status, "errors": sub.errors})
    for pk in Record.objects.filter(status="pre_archive").order_by("id").values_list("id", flat=True):
        archive.confirm(actor, pk, gap_reason="故障测试补录 fault test")
    return results


def invariants() -> list[str]:
    """Everything a crash must never leave behind; returns the violations (empty: consistent)."""
    from django.db.models import Count

    from dangan.archive.models import Aip, ArchivalCodeCounter, Record
    from dangan.archive.services import code_values, instance_key
    from dangan.core import sm
    from dangan.core.codes import CodePattern
    from dangan.ingest.models import Submission
    from dangan.preservation import services as fixity
    from dangan.storage.blobstore import default_store

    bad: list[str] = []
    store = default_store()
    # 1. No partial blob is visible: every stored blob hashes to its address.
    for digest in store.digests():
        if sm.sm3_file(str(store.path(digest))) != digest:
            bad.append(f"blob {digest} does not hash to its address")
    # 2. No partial AIP: every AIP's blobs present and right, signature and manifests intact.
    trusted = instance_key().fingerprint
    cache: dict[str, str | None] = {}
    for aip in Aip.objects.select_related("record").prefetch_related("files"):
        bad += [f"AIP {aip.pk}: {p.code} {p.path}" for p in fixity.verify_aip(aip, store, trusted, cache)]
        if aip.record.status != "archived" or not aip.record.archival_code:
            bad.append(f"AIP {aip.pk} belongs to a record in state {aip.record.status}")
    # 3. Records: allowed states, their bytes present, archived ones have their AIP, one per 电子文件号.
    for rec in Record.objects.prefetch_related("files"):
        if rec.status not in ALLOWED_STATES:
            bad.append(f"record {rec.file_number} in state {rec.status}")
        for f in rec.files.all():
            if not store.exists(f.sm3):
                bad.append(f"record {rec.file_number}: blob of {f.path} missing")
        if rec.status == "archived" and not rec.aips.exists():
            bad.append(f"archived record {rec.file_number} has no AIP")
        if rec.status != "archived" and rec.archival_code:
            bad.append(f"record {rec.file_number} holds 档号 {rec.archival_code} without being archived")
    dupes = Record.objects.values("file_number").annotate(n=Count("id")).filter(n__gt=1)
    bad += [f"电子文件号 {d['file_number']} counted {d['n']} times" for d in dupes]
    # 4. 档号 unique and gap-free per group: the codes of a group are exactly pieces 1..last_piece.
    codes = [c for c in Record.objects.values_list("archival_code", flat=True) if c]
    if len(codes) != len(set(codes)):
        bad.append("档号 reused")
    groups: dict[str, set[str]] = {}
    expected: dict[str, set[str]] = {}
    for rec in Record.objects.filter(status="archived").select_related("fonds", "service_item"):
        pattern = CodePattern.parse(rec.fonds.archival_code_pattern)
        values = code_values(rec)
        key = pattern.group_key(values)
        groups.setdefault(key, set()).add(rec.archival_code)
        last = ArchivalCodeCounter.objects.filter(group_key=key).values_list("last_piece", flat=True).first()
        expected[key] = {pattern.format(values, n) for n in range(1, (last or 0) + 1)}
    for key, got in groups.items():
        if got != expected[key]:
            bad.append(f"group {key}: codes {sorted(got)} but counter says {sorted(expected[key])}")
    used = sum(ArchivalCodeCounter.objects.values_list("last_piece", flat=True))
    if used != len(codes):
        bad.append(f"counters used {used} pieces for {len(codes)} records with a 档号 (gap)")
    # 5. Submissions that say they made a record point to a live one; unfinished ones made none.
    for sub in Submission.objects.filter(status__in=["accepted", "duplicate"]):
        if sub.record_id is None:
            bad.append(f"submission {sub.pk} {sub.status} without a record")
    for sub in Submission.objects.filter(status__in=["received", "checking"]):
        if sub.record_id is not None:
            bad.append(f"unfinished submission {sub.pk} has a record")
    return bad


def _referenced() -> set[str]:
    from dangan.archive.models import Record

    return set(Record.objects.values_list("files__sm3", flat=True)) | set(
        Record.objects.values_list("aips__files__sm3", flat=True)
    )


def _quarantine() -> Path:
    from django.conf import settings

    return Path(settings.QUARANTINE_DIR)


def check(batch: Path) -> dict[str, Any]:
    from dangan.archive.models import Record
    from dangan.ingest import services
    from dangan.storage.blobstore import default_store

    after_kill = invariants()
    state = dict(Record.objects.values_list("status").annotate(n=__import__("django").db.models.Count("id")))
    from datetime import timedelta

    from dangan.accounts.roles import Actor
    from dangan.ingest.models import Submission
    from dangan.preservation.cleanup import remove_leftovers

    services.recover_abandoned_cli(
        min_age=timedelta(0), unknown_after=0
    )  # the killed process is known to be gone
    services.resume_pending()
    results = ingest(batch)  # re-running the batch completes it
    store = default_store()
    orphans_before_cleanup = sum(1 for d in store.digests() if d not in _referenced())
    remove_leftovers(Actor.system("fault-test"), older_than=0)
    referenced = _referenced()
    return {
        "after_kill": after_kill,
        "state_after_kill": state,
        "rerun": results,
        "after_recovery": invariants(),
        "records": Record.objects.count(),
        "archived": Record.objects.filter(status="archived").count(),
        "orphan_blobs": orphans_before_cleanup,
        "orphan_blobs_after_cleanup": sum(1 for d in store.digests() if d not in referenced),
        "unfinished_submissions": Submission.objects.filter(status__in=["received", "checking"]).count(),
        "quarantine_leftovers": sorted(p.name for p in _quarantine().glob("*") if p.name != "uploads"),
        "tmp_files": len(list(store.tmp.glob("*"))) if store.tmp.is_dir() else 0,
    }


def main(argv: list[str]) -> None:
    command, batch = argv[0], Path(argv[1])
    _django()
    if command == "setup":
        setup()
    elif command == "ingest":
        # Loaded before READY, so that the kill window is the work itself.
        import dangan.archive.services
        import dangan.ingest.services  # noqa: F401

        print("READY", flush=True)
        print(json.dumps(ingest(batch), ensure_ascii=False), flush=True)
    elif command == "check":
        print(json.dumps(check(batch), ensure_ascii=False), flush=True)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
