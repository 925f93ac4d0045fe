"""Recovery after an interrupted ingest: abandoned CLI submissions are closed, orphan blobs and stale
temporary files in the store are found and removed — never a blob a record or AIP refers to."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from django.utils import timezone

from dangan.accounts.roles import Actor, Perm, PermissionDenied
from dangan.archive import services as archive
from dangan.audit.models import AuditEvent
from dangan.cli import main
from dangan.ingest import services as ingest
from dangan.ingest.models import Submission
from dangan.preservation.cleanup import find_leftovers, remove_leftovers
from dangan.preservation.services import verify_all
from dangan.storage.blobstore import default_store
from tests.factories import write_case

pytestmark = pytest.mark.django_db
DAY = 24 * 3600


@pytest.fixture(autouse=True)
def own_dirs(settings, tmp_path):
    settings.BLOB_DIR = tmp_path / "blobs"
    settings.QUARANTINE_DIR = tmp_path / "quarantine"


def _stuck(status: str, *, age: timedelta) -> Submission:
    """A CLI submission as a killed `dangan ingest` leaves it: unfinished, with its quarantine copy."""
    sub = Submission.objects.create(channel="cli", submitted_by="operator", package_name="p", status=status)
    Submission.objects.filter(pk=sub.pk).update(received_at=timezone.now() - age)
    qdir = ingest.quarantine_dir(sub)
    (qdir / "package").mkdir(parents=True)
    (qdir / "package" / "申请书.pdf").write_bytes(b"%PDF-1.4 personal data")
    (qdir / ingest.OWNER_LOCK).touch()
    return sub


def test_abandoned_cli_submissions_are_rejected_and_their_quarantine_removed(test_catalogue):
    dead = _stuck("checking", age=timedelta(minutes=5))
    dead_received = _stuck("received", age=timedelta(hours=3))
    young = _stuck("checking", age=timedelta(seconds=5))  # its process may not hold the lock yet
    alive = _stuck("checking", age=timedelta(minutes=5))
    finished = _stuck("accepted", age=timedelta(seconds=5))  # killed after filing, before clean-up
    with ingest._working_on(ingest.quarantine_dir(alive)):  # another process is still checking it
        assert ingest.recover_abandoned_cli() == 2
    for sub in (dead, dead_received):
        sub.refresh_from_db()
        assert sub.status == "rejected" and sub.errors[0]["code"] == "INTAKE_INTERRUPTED"
        assert "again" in sub.errors[0]["message"]
        assert not ingest.quarantine_dir(sub).exists()
        assert AuditEvent.objects.filter(kind="case.rejected", object_id=str(sub.pk)).count() == 1
    finished.refresh_from_db()
    assert finished.status == "accepted" and not ingest.quarantine_dir(finished).exists()
    for sub in (young, alive):
        sub.refresh_from_db()
        assert sub.status == "checking" and ingest.quarantine_dir(sub).is_dir()
    # Once its process has let go of the lock, the next start-up (resume_pending) closes it too.
    ingest.resume_pending()
    alive.refresh_from_db()
    assert alive.status == "rejected"


def test_a_running_ingest_holds_its_quarantine_lock(test_catalogue, operator, tmp_path, monkeypatch):
    seen: list[bool] = []
    real = ingest._check_and_file

    def spy(sub, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(ingest._abandoned(ingest.quarantine_dir(sub), unknown_if_older_than=0))
        return real(sub, *args, **kwargs)

    monkeypatch.setattr(ingest, "_check_and_file", spy)
    sub = ingest.ingest_path(
        operator, write_case(tmp_path / "c1", file_number="330899-A101-TEST-2025-D30-000001")
    )
    assert sub.status == "accepted" and seen == [False]
    assert ingest.recover_abandoned_cli(min_age=timedelta(0)) == 0


def _age(path: os.PathLike[str] | str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_cleanup_finds_and_removes_only_old_unreferenced_blobs(test_catalogue, operator, tmp_path):
    sub = ingest.ingest_path(
        operator, write_case(tmp_path / "c1", file_number="330899-A101-TEST-2025-D30-000001")
    )
    archive.confirm(operator, sub.record.pk)
    store = default_store()
    for digest in store.digests():  # everything a record uses is old too: age alone must not matter
        _age(store.path(digest), 2 * DAY)
    orphan = store.put_bytes(b"written by an ingest that was killed before its record committed")
    _age(store.path(orphan), 2 * DAY)
    fresh = store.put_bytes(b"an ingest in progress just wrote this")
    store.tmp.mkdir(parents=True, exist_ok=True)
    (store.tmp / "put-half").write_bytes(b"half a file")
    _age(store.tmp / "put-half", 2 * DAY)
    (store.tmp / "put-now").write_bytes(b"being written")

    found = find_leftovers(operator)
    assert found.orphan_blobs == [orphan] and found.temp_files == ["put-half"]
    assert found.orphan_bytes == store.size(orphan) and not found.removed

    # An ingest that meets the old orphan again claims it: it is no longer a candidate.
    store.put_bytes(b"written by an ingest that was killed before its record committed")
    assert find_leftovers(operator).orphan_blobs == []
    _age(store.path(orphan), 2 * DAY)

    done = remove_leftovers(operator)
    assert done.removed and done.orphan_blobs == [orphan]
    assert not store.exists(orphan) and store.exists(fresh)
    assert sorted(p.name for p in store.tmp.iterdir()) == ["put-now"]
    assert verify_all(operator).intact  # every record and AIP still complete
    event = AuditEvent.objects.get(kind="storage.cleaned")
    assert event.detail["orphan_blobs"] == 1 and event.detail["temp_files"] == 1
    assert find_leftovers(operator).empty


def test_cleanup_needs_verify_in_every_fonds(test_catalogue):
    clerk = Actor.system("clerk", frozenset({Perm.INGEST}))
    with pytest.raises(PermissionDenied):
        find_leftovers(clerk)


def test_cleanup_cli_reports_then_removes(test_catalogue, operator):
    store = default_store()
    orphan = store.put_bytes(b"orphan")
    _age(store.path(orphan), 2 * DAY)
    runner = CliRunner()
    report = runner.invoke(main, ["preserve", "cleanup", "--json"])
    assert report.exit_code == 1, report.output
    assert json.loads(report.output)["orphan_blobs"] == [orphan] and store.exists(orphan)
    removed = runner.invoke(main, ["preserve", "cleanup", "--remove"])
    assert removed.exit_code == 0, removed.output
    assert "orphan blobs removed: 1" in removed.output and not store.exists(orphan)


def test_dangan_ingest_closes_what_a_killed_run_left(test_catalogue, tmp_path):
    stuck = _stuck("checking", age=timedelta(minutes=5))
    package = write_case(tmp_path / "c2", file_number="330899-A101-TEST-2025-D30-000002")
    result = CliRunner().invoke(main, ["ingest", str(package)])
    assert result.exit_code == 0, result.output
    assert "interrupted ingest were closed" in result.output
    stuck.refresh_from_db()
    assert stuck.status == "rejected" and stuck.errors[0]["code"] == "INTAKE_INTERRUPTED"


def test_cleanup_keeps_an_orphan_an_ingest_claims_while_it_runs(test_catalogue, operator, monkeypatch):
    from dangan.preservation import cleanup

    store = default_store()
    data = b"an orphan the next ingest of the same package will reference again"
    orphan = store.put_bytes(data)
    _age(store.path(orphan), 2 * DAY)
    real_find = cleanup.find_leftovers

    def find_then_claim(actor, **kw):  # type: ignore[no-untyped-def]
        found = real_find(actor, **kw)
        assert found.orphan_blobs == [orphan]
        store.put_bytes(data)  # an ingest finds it there (and will commit a record referencing it)
        return found

    monkeypatch.setattr(cleanup, "find_leftovers", find_then_claim)
    done = remove_leftovers(operator)
    assert done.orphan_blobs == [] and store.exists(orphan)
    assert store.rehash(orphan) == orphan and not list((store.root / "trash").iterdir())


def test_a_submission_whose_owner_cannot_be_checked_is_left_for_hours(test_catalogue):
    # No lock file: e.g. the ingest runs on another machine that shares the database.
    remote = _stuck("checking", age=timedelta(minutes=30))
    (ingest.quarantine_dir(remote) / ingest.OWNER_LOCK).unlink()
    assert ingest.recover_abandoned_cli() == 0
    remote.refresh_from_db()
    assert remote.status == "checking"
    _age(ingest.quarantine_dir(remote), 7 * 3600)
    assert ingest.recover_abandoned_cli() == 1


def test_a_passing_database_fault_keeps_an_api_upload_for_the_retry(
    test_catalogue, operator, tmp_path, monkeypatch
):
    from django.db import OperationalError

    from dangan import jobs

    package = write_case(tmp_path / "c3", file_number="330899-A101-TEST-2025-D30-000003", as_zip=True)
    monkeypatch.setattr(jobs, "submit", lambda fn, *args: None)  # queued, not run yet
    with open(package, "rb") as f:
        sub = ingest.receive_upload(operator, f, filename=package.name, source=None)
    real = ingest._run_checks_and_file
    calls = []

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "_run_checks_and_file", flaky)
    with pytest.raises(OperationalError):  # the worker's retry policy takes it from here
        ingest.process_upload(str(sub.id))
    sub.refresh_from_db()
    assert sub.status == "checking" and (ingest.quarantine_dir(sub) / ingest.UPLOAD_NAME).is_file()
    ingest.process_upload(str(sub.id))  # the retry
    sub.refresh_from_db()
    assert sub.status == "accepted", sub.errors
    assert not ingest.quarantine_dir(sub).exists()
