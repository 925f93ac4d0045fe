"""The whole path: package → quarantine → checks → pre-archive → confirm (档号, AIP) → fixity."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from dangan.archive import services as archive
from dangan.archive.models import Aip, ArchivalCodeCounter, Record
from dangan.archive.states import RecordStatus
from dangan.audit.models import AuditEvent
from dangan.core.states import InvalidTransition
from dangan.ingest import services as ingest
from dangan.ingest.models import Submission
from dangan.preservation import services as preservation
from dangan.storage.blobstore import default_store
from tests.factories import write_case
from tests.independent import bagit_validate, gmssl_verify_bag_signature

pytestmark = pytest.mark.django_db


def _blob_count() -> int:
    root = Path(settings.BLOB_DIR) / "sm3"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def _quarantine_empty() -> bool:
    q = Path(settings.QUARANTINE_DIR)
    return not [p for p in q.iterdir() if p.name != "uploads"] if q.exists() else True


def test_ingest_confirm_export_verify(tmp_path, test_catalogue, operator, officer_actor):
    pkg_dir = write_case(tmp_path / "in")
    sub = ingest.ingest_path(operator, pkg_dir)
    assert sub.status == "accepted", sub.errors
    record = sub.record
    assert record.status == RecordStatus.PRE_ARCHIVE and record.archival_code is None
    assert record.files.count() == 4  # three content files and the metadata XML
    assert _quarantine_empty()

    record = archive.confirm(officer_actor, record.pk)
    assert record.status == RecordStatus.ARCHIVED
    assert record.archival_code == "T001-WS·2025-D30-SP-0001"

    out = archive.export_aip(officer_actor, record.archival_code, tmp_path / "aip")
    bagit_validate(out)
    assert gmssl_verify_bag_signature(out)
    assert (out / "data" / "申报材料" / "申请书.pdf").read_bytes().startswith(b"%PDF")
    assert "T001-WS·2025-D30-SP-0001" in (out / "dangan" / "archival-description.xml").read_text()
    assert (out / "dangan" / "check-report.json").exists()

    report = preservation.verify_all(officer_actor)
    assert report.intact and report.aips == 1
    kinds = list(AuditEvent.objects.values_list("kind", flat=True))
    assert kinds[-6:] == [
        "case.received", "case.checking", "case.pre_archived", "record.archived", "aip.exported", "fixity.audit"
    ]  # fmt: skip


def test_duplicate_and_conflict(tmp_path, test_catalogue, operator):
    first = ingest.ingest_path(operator, write_case(tmp_path / "a"))
    assert first.status == "accepted"
    again_zip = ingest.ingest_path(operator, write_case(tmp_path / "b", as_zip=True))
    assert again_zip.status == "duplicate" and again_zip.record_id == first.record_id
    blobs = _blob_count()
    conflict = ingest.ingest_path(operator, write_case(tmp_path / "c", extra=b"changed"))
    assert conflict.status == "rejected"
    assert conflict.errors[0]["code"] == "CONFLICT"
    assert Record.objects.count() == 1 and _blob_count() == blobs


def test_rejected_package_leaves_nothing(tmp_path, test_catalogue, operator):
    folder = write_case(tmp_path / "in")
    (folder / "过程材料" / "受理通知书.pdf").write_bytes(b"tampered")
    sub = ingest.ingest_path(operator, folder)
    assert sub.status == "rejected"
    assert {e["code"] for e in sub.errors} == {"GD-1-1", "GD-1-10", "GD-2-2"}
    assert sub.report and not sub.report["passed"]
    assert Record.objects.count() == 0 and _blob_count() == 0 and ArchivalCodeCounter.objects.count() == 0
    assert _quarantine_empty()


def test_unknown_fonds_and_item(tmp_path, test_catalogue, operator):
    sub = ingest.ingest_path(operator, write_case(tmp_path / "a", fonds="NOPE"))
    assert [e["code"] for e in sub.errors] == ["UNKNOWN_FONDS"]
    sub = ingest.ingest_path(operator, write_case(tmp_path / "b", item="NOPE", file_number="X-2"))
    assert [e["code"] for e in sub.errors] == ["UNKNOWN_SERVICE_ITEM"]


def test_auto_confirm_rule(tmp_path, test_catalogue, operator):
    sub = ingest.ingest_path(operator, write_case(tmp_path / "a", item="AUTO-ITEM"))
    sub.record.refresh_from_db()
    assert sub.record.status == RecordStatus.ARCHIVED
    # The archive's schedule (D10 for AUTO-ITEM) applies, not the package's D30; 1-5 warns about it.
    assert sub.record.archival_code == "T001-WS·2025-D10-ZD-0001"
    assert sub.record.archived_by == "rule:auto-confirm:AUTO-ITEM"
    warnings = [r for r in sub.report["results"] if r["outcome"] == "warning" and r["code"] != "GD-3-5"]
    assert [(w["code"], w["evidence"]) for w in warnings] == [
        ("GD-1-5", {"declared": "D30", "configured": "D10"})
    ]


def test_failed_confirmation_consumes_no_code(tmp_path, test_catalogue, operator, officer_actor, monkeypatch):
    rec = ingest.ingest_path(operator, write_case(tmp_path / "a")).record

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(archive.bag, "build_bag", boom)
    with pytest.raises(OSError):
        archive.confirm(officer_actor, rec.pk)
    monkeypatch.undo()
    rec.refresh_from_db()
    assert rec.status == RecordStatus.PRE_ARCHIVE and rec.archival_code is None
    assert Aip.objects.count() == 0
    assert archive.confirm(officer_actor, rec.pk).archival_code.endswith("-0001")
    with pytest.raises(InvalidTransition):
        archive.confirm(officer_actor, rec.pk)


def test_return_needs_reason_and_blocks_confirm(tmp_path, test_catalogue, operator, officer_actor):
    rec = ingest.ingest_path(operator, write_case(tmp_path / "a")).record
    with pytest.raises(Exception, match="reason"):
        archive.return_record(officer_actor, rec.pk, reason="  ")
    archive.return_record(officer_actor, rec.pk, reason="材料不清晰")
    with pytest.raises(InvalidTransition):
        archive.confirm(officer_actor, rec.pk)


def test_fixity_finds_flipped_and_missing_blobs(tmp_path, test_catalogue, operator, officer_actor):
    rec = ingest.ingest_path(operator, write_case(tmp_path / "a")).record
    rec = archive.confirm(officer_actor, rec.pk)
    store = default_store()
    target = rec.files.get(path="申报材料/申请书.pdf")
    path = store.path(target.sm3)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.write_bytes(bytes(data))
    problems = preservation.verify_all(officer_actor).problems
    assert [(p.code, p.path) for p in problems] == [("DIGEST_MISMATCH", "data/申报材料/申请书.pdf")]
    path.unlink()
    problems = preservation.verify_all(officer_actor).problems
    assert [(p.code, p.path) for p in problems] == [("BLOB_MISSING", "data/申报材料/申请书.pdf")]


def test_fixity_finds_database_tampering(tmp_path, test_catalogue, operator, officer_actor):
    rec = ingest.ingest_path(operator, write_case(tmp_path / "a")).record
    rec = archive.confirm(officer_actor, rec.pk)
    aip = rec.aips.get()
    # Point a payload row at another (intact) blob: blob hashes fine, the signed manifest does not agree.
    other = aip.files.get(path="data/过程材料/受理通知书.pdf")
    aip.files.filter(path="data/申报材料/申请书.pdf").update(sm3=other.sm3)
    problems = preservation.verify_all(officer_actor).problems
    assert ("MANIFEST_MISMATCH", "data/申报材料/申请书.pdf") in [(p.code, p.path) for p in problems]


def test_batch_folder_with_manifest(tmp_path, test_catalogue, operator):
    from dangan.core.package.metadata import batch_manifest_xml
    from dangan.core.package.model import BatchManifest, BatchPackageEntry

    batch = tmp_path / "batch"
    a = write_case(batch, file_number="F-1")
    write_case(batch, file_number="F-2", as_zip=True)
    manifest = BatchManifest(
        batch_number="B1", packages=[BatchPackageEntry(name=a.name, digest="0" * 64, digest_algorithm="SM3")]
    )
    (batch / "批次清单.xml").write_bytes(batch_manifest_xml(manifest))
    sources, errors = ingest.expand_paths([batch])
    assert len(sources) == 2
    assert [(e["code"], e["target"]) for e in errors] == [("BATCH_PACKAGE_UNLISTED", "F-2.zip")]
    results = {
        s.path.name: ingest.ingest_path(operator, s.path, batch=s.batch, batch_entry=s.entry) for s in sources
    }
    assert results["F-1"].status == "rejected"
    codes = {e["code"] for e in results["F-1"].errors}
    assert "GD-1-14" in codes  # digest differs from the batch manifest
    assert "GD-2-10" in codes  # and the manifest entry lacks 全宗号, 事项编码
    assert results["F-2.zip"].status == "accepted"
    assert Submission.objects.filter(batch="B1").count() == 2


def test_returned_case_can_be_sent_again_corrected(tmp_path, test_catalogue, operator, officer_actor):
    first = ingest.ingest_path(operator, write_case(tmp_path / "a")).record
    archive.return_record(officer_actor, first.pk, reason="申请书缺少签名")
    corrected = ingest.ingest_path(operator, write_case(tmp_path / "b", extra=b"signed"))
    assert corrected.status == "accepted", corrected.errors
    assert corrected.record_id != first.pk
    assert Record.objects.filter(file_number=first.file_number).count() == 2
    # but a third, different copy while the corrected one is live is a conflict
    third = ingest.ingest_path(operator, write_case(tmp_path / "c", extra=b"other"))
    assert third.errors[0]["code"] == "CONFLICT"
