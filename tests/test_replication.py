"""Replication (复制, 异地备份) to a file replica and to an S3 replica (moto's standalone S3 server on
loopback), check-copies, repair, and the fault tests: a flipped byte and a deleted blob on the primary
are reported by the fixity audit and repaired from a replica; an unreachable replica is reported and
retried, and nothing is lost."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from dangan.accounts.roles import Actor, Perm, PermissionDenied
from dangan.archive import services as archive
from dangan.archive.models import Aip, AipFile
from dangan.audit.models import AuditEvent
from dangan.cli import main
from dangan.ingest import services as ingest
from dangan.preservation import replication
from dangan.preservation.models import EventType, PreservationEvent
from dangan.preservation.services import verify_all
from dangan.storage import locations
from dangan.storage.blobstore import FileBlobStore, default_store
from tests.factories import write_case
from tests.s3server import KEYS, moto_server, new_bucket

pytestmark = pytest.mark.django_db
PRIMARY = {"name": "local", "role": "primary", "type": "file"}


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(replication, "BACKOFF", 0.01)


@pytest.fixture
def file_replica(settings, tmp_path):
    settings.BLOB_DIR = tmp_path / "primary"
    settings.STORAGE_LOCATIONS = [
        PRIMARY,
        {"name": "nas", "role": "replica", "type": "file", "path": str(tmp_path / "nas")},
    ]
    return locations.by_name("nas")


def s3_entry(endpoint: str, bucket: str, name: str = "oss", **kw):
    return {"name": name, "role": "offsite", "type": "s3", "endpoint_url": endpoint, "bucket": bucket,
            "prefix": "dangan", "access_key_env": "DG_TEST_AK", "secret_key_env": "DG_TEST_SK"} | kw  # fmt: skip


@pytest.fixture
def s3_replica(settings, tmp_path, s3_endpoint, monkeypatch):
    monkeypatch.setenv("DG_TEST_AK", KEYS["access_key"])
    monkeypatch.setenv("DG_TEST_SK", KEYS["secret_key"])
    settings.BLOB_DIR = tmp_path / "primary"
    settings.STORAGE_LOCATIONS = [PRIMARY, s3_entry(s3_endpoint, new_bucket(s3_endpoint))]
    return locations.by_name("oss")


def archive_cases(tmp_path, actor: Actor, count: int, *, start: int = 1) -> list[Aip]:
    aips = []
    for i in range(start, start + count):
        path = write_case(
            tmp_path / f"case{i}",
            file_number=f"330899-A101-TEST-2025-D30-{i:06d}",
            extra=i.to_bytes(3, "big"),
        )
        sub = ingest.ingest_path(actor, path)
        assert sub.status == "accepted", sub.errors
        record = archive.confirm(actor, sub.record.pk)
        aips.append(Aip.objects.get(record=record))
    return aips


def blobs_of(aip: Aip) -> set[str]:
    return set(aip.files.values_list("sm3", flat=True))


def own_blob(aip: Aip) -> AipFile:
    """A payload blob that belongs to this AIP only (bagit.txt and the signer are shared by all)."""
    for f in aip.files.filter(path__startswith="data/").order_by("path"):
        if AipFile.objects.filter(sm3=f.sm3).count() == 1:
            return f
    raise AssertionError("no blob of its own")


def flip_byte(store: FileBlobStore, digest: str) -> None:
    path = store.path(digest)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)


# ------------------------------------------------------------------------------------ replicate


def test_confirm_queues_replication_after_commit(
    tmp_path, test_catalogue, operator, file_replica, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        (aip,) = archive_cases(tmp_path, operator, 1)
    assert [cb for cb in callbacks if cb.__qualname__.startswith("after_aip_written")]
    assert all(file_replica.store.rehash(d) == d for d in blobs_of(aip))
    event = PreservationEvent.objects.get(event_type=EventType.REPLICATION, aip=aip)
    assert (event.outcome, event.location, event.detail["copied"]) == ("success", "nas", len(blobs_of(aip)))
    assert AuditEvent.objects.filter(kind="storage.replicated", object_id=str(aip.record_id)).exists()
    assert replication.check_copies(operator).ok


def test_new_version_is_replicated_after_commit(
    tmp_path, test_catalogue, operator, file_replica, django_capture_on_commit_callbacks
):
    (aip,) = archive_cases(tmp_path, operator, 1)
    with django_capture_on_commit_callbacks(execute=True):
        v2 = archive.correct(
            operator, aip.record_id, changes={"申请人/联系电话": "13800000000"}, reason="电话更正"
        )
    assert v2.version == 2
    assert all(file_replica.store.rehash(d) == d for d in blobs_of(v2) | blobs_of(aip))
    assert PreservationEvent.objects.filter(
        event_type=EventType.REPLICATION, aip=v2, outcome="success"
    ).exists()


def test_no_replicas_no_replication(tmp_path, test_catalogue, operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        archive_cases(tmp_path, operator, 1)
    assert callbacks is not None
    assert not [cb for cb in callbacks if cb.__qualname__.startswith("after_aip_written")]
    report = replication.replicate(operator)
    assert report.ok and report.locations == [] and report.copied == 0
    assert not PreservationEvent.objects.filter(event_type=EventType.REPLICATION).exists()


def test_replicate_to_file_replica_then_nothing_more(tmp_path, test_catalogue, operator, file_replica):
    aips = archive_cases(tmp_path, operator, 3)
    everything = set().union(*(blobs_of(a) for a in aips))
    report = replication.replicate(operator)
    assert report.ok and report.copied == len(everything) and report.aips == 3
    assert set(file_replica.store.digests()) == everything
    assert PreservationEvent.objects.filter(event_type=EventType.REPLICATION, outcome="success").count() == 3
    again = replication.replicate(operator)
    assert again.ok and again.copied == 0  # nothing missing: nothing copied, no new events
    assert PreservationEvent.objects.filter(event_type=EventType.REPLICATION).count() == 3


def test_replicate_to_s3_replica_and_new_version(tmp_path, test_catalogue, operator, s3_replica):
    aips = archive_cases(tmp_path, operator, 2)
    report = replication.replicate(operator, record=aips[0].record_id)
    assert report.ok and report.aips == 1 and report.copied == len(blobs_of(aips[0]))
    report = replication.replicate(operator)
    assert report.ok and report.copied == len(blobs_of(aips[1]) - blobs_of(aips[0]))
    store = s3_replica.store
    for digest in blobs_of(aips[0]) | blobs_of(aips[1]):
        assert store.rehash(digest) == digest and store.stored_sm3(digest) == digest
    assert replication.check_copies(operator).ok


def test_the_primary_copy_is_never_propagated_when_damaged(tmp_path, test_catalogue, operator, file_replica):
    (aip,) = archive_cases(tmp_path, operator, 1)
    victim = own_blob(aip)
    flip_byte(default_store(), victim.sm3)
    report = replication.replicate(operator)
    assert not report.ok
    (failure,) = report.failures
    assert failure.attempts == 1 and "damaged" in failure.errors[0]  # not retried: retrying cannot help
    assert not file_replica.store.exists(victim.sm3)
    event = PreservationEvent.objects.get(event_type=EventType.REPLICATION, aip=aip)
    assert event.outcome == "failure" and victim.sm3 in event.detail["errors"][0]


# ------------------------------------------------------------------------------- fault tests


def test_flipped_byte_on_primary_is_found_and_repaired_from_replica(
    tmp_path, test_catalogue, operator, file_replica
):
    aips = archive_cases(tmp_path, operator, 3)
    assert replication.replicate(operator).ok
    victim_aip = aips[1]
    victim = own_blob(victim_aip)
    flip_byte(default_store(), victim.sm3)

    fixity = verify_all(operator)
    assert {p.archival_code for p in fixity.problems} == {victim_aip.record.archival_code}
    assert [(p.path, p.code) for p in fixity.problems] == [(victim.path, "DIGEST_MISMATCH")]
    check = replication.check_copies(operator)
    primary = next(loc for loc in check.locations if loc.name == "local")
    assert (primary.damaged, primary.missing) == ([victim.sm3], [])
    assert not check.ok

    report = replication.repair(operator)
    assert [(a.location, a.blob, a.problem, a.source) for a in report.repaired] == [
        ("local", victim.sm3, "damaged", "nas")
    ]
    assert report.ok and verify_all(operator).intact and replication.check_copies(operator).ok
    assert oct(default_store().path(victim.sm3).stat().st_mode & 0o777) == "0o444"
    event = PreservationEvent.objects.get(event_type=EventType.REPAIR)
    assert (event.outcome, event.location, event.blob_sm3, event.aip_id) == (
        "success", "local", victim.sm3, victim_aip.pk
    )  # fmt: skip
    assert event.detail["source"] == "nas"
    audit = AuditEvent.objects.get(kind="storage.repaired")
    assert (audit.object_id, audit.outcome, audit.detail["problem"]) == (victim.sm3, "success", "damaged")


def test_deleted_blob_is_reported_and_repaired(tmp_path, test_catalogue, operator, s3_replica):
    (aip,) = archive_cases(tmp_path, operator, 1)
    assert replication.replicate(operator).ok
    victim = own_blob(aip)
    default_store().delete(victim.sm3)
    fixity = verify_all(operator)
    assert [(p.archival_code, p.path, p.code) for p in fixity.problems] == [
        (aip.record.archival_code, victim.path, "BLOB_MISSING")
    ]
    report = replication.repair(operator)
    assert [(a.location, a.problem, a.source) for a in report.repaired] == [("local", "missing", "oss")]
    assert verify_all(operator).intact


def test_damaged_copy_on_replica_is_repaired_from_primary(tmp_path, test_catalogue, operator, s3_replica):
    (aip,) = archive_cases(tmp_path, operator, 1)
    assert replication.replicate(operator).ok
    victim = own_blob(aip)
    store = s3_replica.store
    store.client.put_object(Bucket=store.bucket, Key=store.key(victim.sm3), Body=b"rotten")
    check = replication.check_copies(operator)
    (oss,) = [loc for loc in check.locations if loc.name == "oss"]
    assert oss.damaged == [victim.sm3] and not check.ok
    report = replication.repair(operator)
    assert [(a.location, a.source) for a in report.repaired] == [("oss", "local")]
    assert store.rehash(victim.sm3) == victim.sm3


def test_nothing_intact_anywhere_is_reported_not_repaired(tmp_path, test_catalogue, operator, file_replica):
    (aip,) = archive_cases(tmp_path, operator, 1)
    assert replication.replicate(operator).ok
    victim = own_blob(aip)
    flip_byte(default_store(), victim.sm3)
    file_replica.store.delete(victim.sm3)
    report = replication.repair(operator)
    assert not report.ok and report.repaired == []
    assert sorted((a.location, a.problem) for a in report.failed) == [
        ("local", "damaged"),
        ("nas", "missing"),
    ]
    assert all("no location holds an intact copy" in a.message for a in report.failed)
    assert PreservationEvent.objects.filter(event_type=EventType.REPAIR, outcome="failure").count() == 2
    assert not verify_all(operator).intact


def test_unreachable_replica_is_reported_retried_and_nothing_lost(
    tmp_path, test_catalogue, operator, settings, monkeypatch
):
    monkeypatch.setenv("DG_TEST_AK", KEYS["access_key"])
    monkeypatch.setenv("DG_TEST_SK", KEYS["secret_key"])
    settings.BLOB_DIR = tmp_path / "primary"
    with moto_server() as endpoint:  # a server of its own, to be stopped
        bucket = new_bucket(endpoint)
        settings.STORAGE_LOCATIONS = [
            PRIMARY,
            s3_entry(endpoint, bucket, connect_timeout=0.5, read_timeout=1),
        ]
        aips = archive_cases(tmp_path, operator, 2)
        assert replication.replicate(operator, record=aips[0].record_id).ok
    # the server is gone: pings are retried, then every AIP's copy to it is reported as failed
    pings = []
    store = locations.by_name("oss").store
    real_ping = store.ping
    monkeypatch.setattr(store, "ping", lambda: (pings.append(1), real_ping()))
    report = replication.replicate(operator)
    assert len(pings) == replication.ATTEMPTS
    assert not report.ok and len(report.failures) == 2
    assert all("unreachable" in f.errors[0] for f in report.failures)
    failed = PreservationEvent.objects.filter(event_type=EventType.REPLICATION, outcome="failure")
    assert failed.count() == 2
    assert AuditEvent.objects.filter(kind="storage.replicated", outcome="failure").exists()
    check = replication.check_copies(operator)
    assert [loc.name for loc in check.locations if not loc.reachable] == ["oss"] and not check.ok
    assert verify_all(operator).intact  # nothing lost on the primary
    # back on a working server (the copy is redone there in full)
    with moto_server() as endpoint:
        settings.STORAGE_LOCATIONS = [PRIMARY, s3_entry(endpoint, new_bucket(endpoint))]
        report = replication.replicate(operator)
        assert report.ok and report.copied == len(blobs_of(aips[0]) | blobs_of(aips[1]))
        assert replication.check_copies(operator).ok


def test_transient_failure_is_retried(tmp_path, test_catalogue, operator, file_replica, monkeypatch):
    (aip,) = archive_cases(tmp_path, operator, 1)
    real = FileBlobStore.replace
    calls = {"n": 0}

    def flaky(self, digest, stream):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError("disk went away for a moment")
        return real(self, digest, stream)

    monkeypatch.setattr(FileBlobStore, "replace", flaky)
    report = replication.replicate(operator)
    assert report.ok and report.copied == len(blobs_of(aip))
    assert report.results[0].attempts == 3


def test_permission(operator, file_replica):
    clerk = Actor.system("clerk", frozenset({Perm.INGEST}))
    for call in (replication.replicate, replication.check_copies, replication.repair):
        with pytest.raises(PermissionDenied):
            call(clerk)


# ---------------------------------------------------------------------------------------- CLI


def test_cli_locations_check_copies_and_repair(tmp_path, test_catalogue, operator, file_replica):
    (aip,) = archive_cases(tmp_path, operator, 1)
    runner = CliRunner()
    result = runner.invoke(main, ["preserve", "replicate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["copied"] == len(blobs_of(aip))
    result = runner.invoke(main, ["preserve", "locations", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["locations"]
    assert [(r["name"], r["role"], r["reachable"], r["blobs"]) for r in rows] == [
        ("local", "primary", True, len(list(default_store().digests()))),
        ("nas", "replica", True, len(blobs_of(aip))),
    ]
    victim = own_blob(aip)
    flip_byte(default_store(), victim.sm3)
    result = runner.invoke(main, ["preserve", "check-copies", "--json"])
    assert result.exit_code == 1
    (local,) = [loc for loc in json.loads(result.output)["locations"] if loc["name"] == "local"]
    assert local["damaged"] == [{"blob": victim.sm3, "aips": [f"{aip.record.archival_code} v1"]}]
    result = runner.invoke(main, ["preserve", "repair"])
    assert result.exit_code == 0, result.output
    assert "REPAIRED" in result.output and victim.sm3 in result.output
    assert runner.invoke(main, ["preserve", "check-copies"]).exit_code == 0


def test_cli_configuration_error_is_one_line(settings):
    settings.STORAGE_LOCATIONS = [{"name": "x", "role": "replica", "type": "s3", "bucket": "A"}]
    result = CliRunner().invoke(main, ["preserve", "check-copies"])
    assert result.exit_code == 1 and "'bucket' must be an S3 bucket name" in result.output
    assert "Traceback" not in result.output


def test_writing_an_aip_starts_the_preservation_history_shown_on_the_record_page(
    tmp_path, test_catalogue, operator
):
    from django.test import Client

    from dangan.accounts.roles import Role
    from dangan.accounts.services import create_user
    from dangan.archive import services as archive
    from dangan.ingest import services as ingest
    from dangan.preservation.models import EventType, PreservationEvent
    from tests.factories import write_case

    sub = ingest.ingest_path(operator, write_case(tmp_path / "case"))
    record = archive.confirm(operator, sub.record.pk)
    event = PreservationEvent.objects.get(record=record, event_type=EventType.INGEST)
    assert (event.outcome, event.aip.version, event.detail["kind"]) == ("success", 1, "archived")
    assert event.blob_sm3 == event.aip.tagmanifest_sm3 and "test-operator" in event.agent
    user, _ = create_user("history-officer", [Role.RECORDS_OFFICER], password="History-pw-2026x")
    client = Client()
    client.force_login(user)
    page = client.get(f"/records/{record.pk}/").content.decode()
    assert "保存历史" in page and "AIP v1" in page
