"""Fault tests of ingest (长期保存): SIGKILL at random points while a batch is taken in and archived,
and a full disk during ingest.

(a) One instance (SQLite under a fresh DANGAN_HOME) takes in 21 small batches in a subprocess
(``tests/fault_driver.py ingest``: ingest each case, auto-confirm where the item says so, then confirm
every pending case). The first run is timed; each later one is killed with SIGKILL after a seeded
random share of that time. After each kill ``fault_driver check`` asserts on what the kill left —
every visible blob hashes to its address, every AIP is complete and verifies (blobs, SM2 signature,
manifests), records are in allowed states and hold their bytes, one record per 电子文件号, 档号 unique
and gap-free per group (exactly pieces 1..counter) — then recovers (``resume_pending`` and the batch
run again) and asserts that the batch is complete and everything still holds.

(b) Blobs and quarantine on a 2 MiB tmpfs; a package larger than that is rejected with a clear
"disk full" error, nothing half-written stays (no partial blob, no record, no AIP, no 档号), and after
space is freed the same instance takes the package in.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KILLS = 20
CASES = 4
SEED = 20261121


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DANGAN_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env |= {"DANGAN_HOME": str(home), "DANGAN_JOBS_EAGER": "1", "PYTHONPATH": str(ROOT)}
    return env


def _driver(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fault_driver", *args],
        cwd=ROOT,
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: SIGKILL reaches any child too
    )


def _run(home: Path, *args: str) -> object:
    proc = _driver(home, *args)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else None


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> list[Path]:
    from dangan.demo.generator import generate

    root = tmp_path_factory.mktemp("fault-batches")
    out = []
    for i in range(KILLS + 1):
        generate(root / f"batch{i:02d}", cases=CASES, seed=SEED % 1000 + i)
        out.append(root / f"batch{i:02d}")
    return out


def test_sigkill_during_batch_ingest_leaves_nothing_partial(tmp_path, batches):
    home = tmp_path / "home"
    _run(home, "setup", str(batches[0]))
    proc = _driver(home, "ingest", str(batches[0]))
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"READY"
    started = time.monotonic()
    out, err = proc.communicate(timeout=120)
    baseline = time.monotonic() - started  # the work itself, after interpreter and Django start-up
    assert proc.returncode == 0, err.decode()[-3000:]
    first = json.loads(out.decode().strip().splitlines()[-1])
    assert isinstance(first, list) and {r["status"] for r in first} == {"accepted"}, first

    rng = random.Random(SEED)
    interrupted = 0
    mid_batch = 0  # kills that left the batch partly taken in or partly archived
    orphans = 0
    total_cases = CASES
    for i, batch in enumerate(batches[1:], 1):
        delay = rng.uniform(0.0, 1.1) * baseline  # a few land after the end: a clean finish is fine too
        proc = _driver(home, "ingest", str(batch))
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"READY"
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.communicate()
        interrupted += proc.returncode == -signal.SIGKILL
        report = _run(home, "check", str(batch))
        assert isinstance(report, dict)
        context = f"kill {i} after {delay:.2f}s (state {report['state_after_kill']})"
        assert report["after_kill"] == [], context
        assert report["after_recovery"] == [], context
        assert {r["status"] for r in report["rerun"]} <= {"accepted", "duplicate"}, (context, report["rerun"])
        before = report["state_after_kill"]
        mid_batch += sum(before.values()) not in (total_cases, total_cases + CASES) or bool(
            before.get("pre_archive")
        )
        orphans = max(orphans, report["orphan_blobs"])
        # Recovery closes what the killed run left: no unfinished submission, no quarantine copy, and
        # the clean-up leaves no orphan blob and no temporary file in the store.
        assert report["unfinished_submissions"] == 0, context
        assert report["quarantine_leftovers"] == [], context
        assert report["orphan_blobs_after_cleanup"] == 0 and report["tmp_files"] == 0, context
        total_cases += CASES
        assert report["records"] == report["archived"] == total_cases, context
    # The kills must really have cut runs short, spread over the run (not all before or after it).
    print(f"{interrupted} of {KILLS} runs interrupted, {mid_batch} mid-batch; orphan blobs at most {orphans}")
    assert interrupted >= KILLS // 2, f"only {interrupted} of {KILLS} runs were interrupted"
    assert mid_batch >= 3, f"only {mid_batch} kills landed inside the batch's work"

    # Finally the whole instance verifies, through the fixity audit as cron would run it.
    proc = subprocess.run(
        [sys.executable, "-m", "dangan.cli", "preserve", "audit", "--json"],
        cwd=ROOT, env=_env(home), capture_output=True, timeout=120,
    )  # fmt: skip
    if proc.returncode != 0 and b"No module named dangan.cli.__main__" in proc.stderr:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "dangan"), "preserve", "audit", "--json"],
            cwd=ROOT, env=_env(home), capture_output=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout.decode()[-2000:] + proc.stderr.decode()[-2000:]
    result = json.loads(proc.stdout)
    assert result["intact"] and result["aips_checked"] == total_cases


# ------------------------------------------------------------------------------------- full disk


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path("/tmp") / f"dg-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True
        )
        if ok.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    finally:
        probe.rmdir()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root only). Skipped locally without it; CI must be able to mount."""
    if not _can_mount():
        message = "mounting a tmpfs needs root (the full-disk test runs as root in CI's container)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the full-disk test: {message}")
        pytest.skip(message)
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.django_db
@pytest.mark.parametrize("quarantine_on", ["small-disk", "other-disk"])
def test_full_disk_during_ingest_is_a_clear_error_and_leaves_nothing(
    quarantine_on, small_disk, settings, tmp_path, test_catalogue, operator, monkeypatch
):
    from dangan.archive.models import Aip, ArchivalCodeCounter, Record
    from dangan.core import sm
    from dangan.ingest import checking
    from dangan.ingest import services as ingest
    from dangan.storage.blobstore import default_store
    from tests.factories import write_case

    # Check 3-7 refuses a package when free space is short; here the disk fills *after* that check
    # (another writer, a second instance): the probe is told there is room, the writes find none.
    real_usage = shutil.disk_usage
    monkeypatch.setattr(checking.shutil, "disk_usage", lambda p: real_usage(p)._replace(free=1 << 40))
    settings.BLOB_DIR = small_disk / "blobs"
    quarantine = small_disk / "quarantine" if quarantine_on == "small-disk" else tmp_path / "quarantine"
    settings.QUARANTINE_DIR = quarantine
    # A small case first: it fits, and its blobs must survive the failure of the big one.
    small = ingest.ingest_path(
        operator, write_case(tmp_path / "small", file_number="330899-A101-TEST-2025-D30-000001")
    )
    assert small.status == "accepted", small.errors
    # ~3 MiB of payload (hex text inside a PDF) on a 2 MiB file system.
    big_path = write_case(
        tmp_path / "big", file_number="330899-A101-TEST-2025-D30-000002", extra=os.urandom(1_600_000)
    )
    sub = ingest.ingest_path(operator, big_path)
    assert sub.status == "rejected"
    message = " ".join(f"{e.get('code')} {e.get('message')}" for e in sub.errors)
    assert "DISK_FULL" in message and ("disk" in message.lower() or "space" in message.lower()), sub.errors
    # Nothing half-written: no record, AIP or 档号 for it; every blob left is complete and right.
    assert list(Record.objects.values_list("file_number", flat=True)) == [small.file_number]
    assert not Aip.objects.exclude(record=small.record).exists()
    assert not ArchivalCodeCounter.objects.filter(last_piece__gt=0).exists()
    store = default_store()
    for digest in store.digests():
        assert sm.sm3_file(str(store.path(digest))) == digest
    assert not store.tmp.exists() or not list(store.tmp.iterdir()), "temp files left in the blob store"
    assert not list(quarantine.glob("*/*")), "quarantine copy left behind"
    for f in small.record.files.all():
        assert store.rehash(f.sm3) == f.sm3

    # Space freed (the blobs move to a larger disk): the same instance takes the package in.
    shutil.copytree(small_disk / "blobs", tmp_path / "blobs-big", symlinks=True)
    settings.BLOB_DIR = tmp_path / "blobs-big"
    settings.QUARANTINE_DIR = tmp_path / "quarantine-big"
    again = ingest.ingest_path(operator, big_path)
    assert again.status == "accepted", again.errors
    assert Record.objects.count() == 2
