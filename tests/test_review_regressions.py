"""Regressions for defects found in review: each input must be rejected precisely, leaving nothing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from dangan.archive.models import Record
from dangan.core.package import schema, writer
from dangan.core.package.intake import receive_folder, receive_zip
from dangan.core.package.metadata import metadata_xml, parse_metadata
from dangan.ingest import services as ingest
from tests.factories import make_case, write_case, zip_with_raw_names

pytestmark = pytest.mark.django_db


def _blobs() -> int:
    root = Path(settings.BLOB_DIR) / "sm3"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def _codes(sub) -> list[str]:
    return [e["code"] for e in sub.errors]


def test_impossible_date_is_a_check_failure_not_a_hang(tmp_path, test_catalogue, operator):
    pkg, files = make_case()
    pkg.case.completed_at = "2025-02-30T16:40:00"
    sub = ingest.ingest_path(operator, writer.write_folder(pkg, files, tmp_path))
    assert sub.status == "rejected" and "GD-1-3" in _codes(sub)
    assert any("办结时间" in e["target"] for e in sub.errors)
    assert _blobs() == 0 and Record.objects.count() == 0


def test_completed_before_accepted_fails_1_5(tmp_path, test_catalogue, operator):
    pkg, files = make_case()
    pkg.case.completed_at = "2025-03-01T08:00:00"
    sub = ingest.ingest_path(operator, writer.write_folder(pkg, files, tmp_path))
    assert _codes(sub) == ["GD-1-5"]


def test_corrupt_deflate_stream(tmp_path, test_catalogue, operator):
    path = write_case(tmp_path / "z", as_zip=True)
    raw = bytearray(path.read_bytes())
    marker = raw.find("申请书.pdf".encode()) + 40  # inside that entry's compressed data
    raw[marker : marker + 8] = b"\xff" * 8
    path.write_bytes(bytes(raw))
    sub = ingest.ingest_path(operator, path)
    assert sub.status == "rejected" and _codes(sub)[0] in {"ZIP_CORRUPT"}


def test_utf8_flag_with_invalid_name(tmp_path, test_catalogue, operator):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xxxx.pdf", b"x")
    raw = bytearray(path.read_bytes())
    for sig, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        i = raw.find(sig)
        raw[i + flag_at + 1] |= 0x08  # UTF-8 flag (bit 11)
        raw[i + name_at : i + name_at + 2] = b"\xff\xfe"  # invalid UTF-8
    path.write_bytes(bytes(raw))
    sub = ingest.ingest_path(operator, path)
    assert sub.status == "rejected" and _codes(sub) == ["ZIP_CORRUPT"]


def test_comment_inside_value_does_not_truncate_it():
    pkg, _ = make_case()
    xml = metadata_xml(pkg).replace(b"-2025-D30-", b"-2025<!-- x -->-D30-")
    assert parse_metadata(xml).case.file_number == pkg.case.file_number


def test_unicode_normalisation_duplicates_refused(tmp_path):
    nfc, nfd = "申报材料/caf\u00e9.pdf", "申报材料/cafe\u0301.pdf"
    path = tmp_path / "n.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(nfc, b"1")
        zf.writestr(nfd, b"2")
    (tmp_path / "q").mkdir()
    with pytest.raises(Exception) as exc:
        receive_zip(path, tmp_path / "q")
    assert exc.value.code == "ZIP_DUPLICATE_ENTRY"
    folder = tmp_path / "f" / "申报材料"
    folder.mkdir(parents=True)
    (folder / "A.pdf").write_bytes(b"1")
    (folder / "a.pdf").write_bytes(b"2")
    with pytest.raises(Exception) as exc:
        receive_folder(tmp_path / "f", tmp_path / "q2")
    assert exc.value.code == "PACKAGE_DUPLICATE_ENTRY"


def test_utf8_names_without_flag_as_info_zip_writes_them(tmp_path, test_catalogue, operator):
    pkg, files = make_case()
    entries = {schema.METADATA_FILENAME: metadata_xml(pkg), **files}
    path = zip_with_raw_names(tmp_path / "infozip.zip", entries, "utf-8")
    sub = ingest.ingest_path(operator, path)
    assert sub.status == "accepted", sub.errors


def test_unexpected_failure_rejects_with_reason_and_continues(
    tmp_path, test_catalogue, operator, monkeypatch
):
    def boom(*a, **k):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(ingest, "_create_record", boom)
    sub = ingest.ingest_path(operator, write_case(tmp_path / "a"))
    assert sub.status == "rejected"
    assert sub.errors == [{"code": "INTERNAL_ERROR", "message": "RuntimeError: simulated bug"}]
    monkeypatch.undo()
    assert ingest.ingest_path(operator, write_case(tmp_path / "b")).status == "accepted"


def test_error_names_the_senders_file(tmp_path, test_catalogue, operator):
    path = tmp_path / "送来的包.zip"
    path.write_bytes(b"not a zip")
    sub = ingest.ingest_path(operator, path)
    assert sub.errors[0]["code"] == "ZIP_CORRUPT" and sub.errors[0]["target"] == "送来的包.zip"


# ----------------------------------------------------------------------------- fixity and storage


def _archived(tmp_path, operator, officer_actor):
    from dangan.archive import services as archive

    rec = ingest.ingest_path(operator, write_case(tmp_path / "a")).record
    return archive.confirm(officer_actor, rec.pk)


def test_verify_reports_a_bad_signer_row_and_goes_on(tmp_path, test_catalogue, operator, officer_actor):
    from dangan.preservation import services as preservation

    rec = _archived(tmp_path, operator, officer_actor)
    aip = rec.aips.get()
    other = aip.files.get(path="bagit.txt")
    aip.files.filter(path="dangan/signer.pem").update(sm3=other.sm3)
    report = preservation.verify_all(officer_actor)
    assert not report.intact
    assert any(p.path == "dangan/signer.pem" for p in report.problems)


def test_verify_finds_archived_record_without_aip(tmp_path, test_catalogue, operator, officer_actor):
    from dangan.archive.models import Aip, AipFile
    from dangan.preservation import services as preservation

    rec = _archived(tmp_path, operator, officer_actor)
    from dangan.preservation.models import PreservationEvent

    # Tampering directly in the database (the application never deletes an AIP or its history).
    PreservationEvent.objects.filter(record=rec).delete()
    AipFile.objects.filter(aip__record=rec).delete()
    Aip.objects.filter(record=rec).delete()
    problems = preservation.verify_all(officer_actor).problems
    assert [(p.code, p.archival_code) for p in problems] == [("AIP_MISSING", rec.archival_code)]


def test_edited_file_row_is_found_and_never_served(tmp_path, test_catalogue, operator, officer_actor):
    from dangan.archive import services as archive
    from dangan.preservation import services as preservation

    rec = _archived(tmp_path, operator, officer_actor)
    meta = rec.files.get(path=schema.METADATA_FILENAME)
    rec.files.filter(path="申报材料/申请书.pdf").update(sm3=meta.sm3)
    problems = preservation.verify_all(officer_actor).problems
    assert [(p.code, p.path) for p in problems] == [("RECORD_MISMATCH", "申报材料/申请书.pdf")]
    _, stream = archive.open_record_file(officer_actor, rec, "申报材料/申请书.pdf")
    with stream:
        assert stream.read().startswith(b"%PDF")  # the AIP's bytes, not the edited row's


def test_confirm_refuses_when_a_payload_blob_is_gone(tmp_path, test_catalogue, operator, officer_actor):
    from dangan.archive import services as archive
    from dangan.archive.models import ArchivalCodeCounter
    from dangan.core.errors import DanganError
    from dangan.storage.blobstore import default_store

    rec = ingest.ingest_path(operator, write_case(tmp_path / "a")).record
    default_store().path(rec.files.get(path="申报材料/申请书.pdf").sm3).unlink()
    with pytest.raises(DanganError) as exc:
        archive.confirm(officer_actor, rec.pk)
    assert exc.value.code == "BLOB_MISSING"
    assert ArchivalCodeCounter.objects.count() == 0


def test_new_data_directory_is_private(tmp_path):
    import os
    import subprocess
    import sys

    home = tmp_path / "fresh"
    env = {**os.environ, "DANGAN_HOME": str(home)}
    subprocess.run([sys.executable, "-c", "import dangan.conf.settings"], env=env, check=True)
    assert (home.stat().st_mode & 0o777) == 0o700
    assert ((home / "secret_key").stat().st_mode & 0o777) == 0o600
