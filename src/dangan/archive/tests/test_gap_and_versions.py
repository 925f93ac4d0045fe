"""容缺归档 (archiving with a gap), supplements and corrections: new AIP versions that point to the
previous one, which stays exactly as it was."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from dangan.accounts.roles import Actor, PermissionDenied
from dangan.archive import services
from dangan.archive.models import Aip, AipFile, ArchivalCodeCounter, Record, RecordFile
from dangan.archive.states import GapStatus, RecordStatus, VersionKind
from dangan.archive.tests.conftest import pdf, upload
from dangan.audit.models import AuditEvent
from dangan.core.checks.model import Stage
from dangan.core.errors import DanganError
from dangan.core.package import aip as bag
from dangan.core.package import schema
from dangan.preservation import services as preservation
from dangan.storage.blobstore import default_store

pytestmark = pytest.mark.django_db
META = f"data/{schema.METADATA_FILENAME}"


def _description(aip: Aip) -> etree._Element:
    row = aip.files.get(path=services.DESCRIPTION_FILE)
    with default_store().open(row.sm3) as f:
        return etree.fromstring(f.read())


def _payload(aip: Aip) -> dict[str, str]:
    return {f.path: f.sm3 for f in aip.files.all() if f.path.startswith("data/")}


# --------------------------------------------------------------------------------------- intake


def test_missing_required_material_files_with_a_gap_when_the_item_allows_it(ingest_case):
    sub = ingest_case("T-1", omit=("申报材料/申请书.pdf",))
    assert sub.status == "accepted", sub.errors
    record = sub.record
    assert record.status == RecordStatus.PRE_ARCHIVE
    assert record.gap_status == GapStatus.OPEN
    assert record.gap_materials == [{"code": "A01", "name": "申请书"}]
    event = AuditEvent.objects.get(kind="case.pre_archived", object_id=str(record.pk))
    assert event.detail["gap"] == [{"code": "A01", "name": "申请书"}]


def test_missing_required_material_is_rejected_by_default(ingest_case):
    sub = ingest_case("T-2", item="STRICT-ITEM", omit=("申报材料/申请书.pdf",))
    assert sub.status == "rejected"
    assert [e["code"] for e in sub.errors] == ["GD-2-9"]
    assert Record.objects.count() == 0


def test_complete_case_has_no_gap(ingest_case):
    sub = ingest_case("T-3")
    assert sub.status == "accepted"
    assert sub.record.gap_status == GapStatus.NONE and sub.record.gap_materials == []


def test_a_gap_is_never_auto_confirmed(ingest_case):
    sub = ingest_case("T-4", item="AUTO-GAP", omit=("结果材料/决定书.pdf",))
    sub.record.refresh_from_db()
    assert sub.record.status == RecordStatus.PRE_ARCHIVE and sub.record.gap_status == GapStatus.OPEN
    complete = ingest_case("T-5", item="AUTO-GAP")
    complete.record.refresh_from_db()
    assert complete.record.status == RecordStatus.ARCHIVED


# ----------------------------------------------------------------------------------- confirmation


def test_archiving_with_a_gap_needs_a_reason(ingest_case, officer):
    sub = ingest_case("T-6", omit=("申报材料/申请书.pdf",))
    for reason in ("", "   "):
        with pytest.raises(DanganError) as err:
            services.confirm(officer, sub.record.pk, gap_reason=reason)
        assert err.value.code == "REASON_REQUIRED"
        assert "A01 申请书" in err.value.message
    record = Record.objects.get(pk=sub.record.pk)
    assert record.status == RecordStatus.PRE_ARCHIVE and record.archival_code is None
    assert ArchivalCodeCounter.objects.filter(last_piece__gt=0).count() == 0
    assert Aip.objects.count() == 0


def test_archived_with_gap_records_missing_materials_and_reason_in_the_aip(gap_record):
    record = gap_record
    assert record.status == RecordStatus.ARCHIVED and record.gap_reason == "申请人承诺五日内补交申请书"
    aip = services.aip_version(record)
    assert aip.version == 1 and aip.kind == VersionKind.ARCHIVED and aip.reason == record.gap_reason
    desc = _description(aip)
    assert desc.findtext("版本") == "1"
    gap = desc.find("容缺归档")
    assert gap is not None and gap.findtext("容缺原因") == "申请人承诺五日内补交申请书"
    assert [(m.get("编码"), m.text) for m in gap.findall("缺少材料")] == [("A01", "申请书")]
    event = AuditEvent.objects.get(kind="record.archived", object_id=str(record.pk))
    assert event.detail["gap"] == [{"code": "A01", "name": "申请书"}]
    assert event.detail["gap_reason"] == record.gap_reason


# -------------------------------------------------------------------------------------- supplement


def test_supplement_closes_the_gap_in_a_new_version(gap_record, officer, tmp_path):
    record = gap_record
    v1 = services.aip_version(record)
    v1_rows = list(AipFile.objects.filter(aip=v1).values_list("path", "size", "sm3", "sha256"))
    v1_payload = _payload(v1)
    data = pdf("supplied application form")

    v2 = services.supplement(
        officer, record.pk, uploads=[upload("扫描件.PDF", data, material_code="A01")], reason="申请人已补交"
    )

    record.refresh_from_db()
    assert (v2.version, v2.kind, v2.previous_id, v2.created_by) == (2, "supplement", v1.pk, "officer")
    assert v2.reason == "申请人已补交"
    assert record.archival_code == v1.record.archival_code
    assert record.gap_status == GapStatus.CLOSED and record.gap_materials == []
    # version 1 is unchanged, row for row
    assert list(AipFile.objects.filter(aip=v1).values_list("path", "size", "sm3", "sha256")) == v1_rows
    # version 2: every file of version 1 (same blobs) except the rewritten metadata, plus the supplied one
    v2_payload = _payload(v2)
    new_path = "data/申报材料/申请书.pdf"
    assert set(v2_payload) == set(v1_payload) | {new_path}
    for path, digest in v1_payload.items():
        if path != META:
            assert v2_payload[path] == digest, path
    assert v2_payload[META] != v1_payload[META]
    # the record describes the current version
    assert dict(RecordFile.objects.filter(record=record).values_list("path", "sm3")) == {
        p.removeprefix("data/"): d for p, d in v2_payload.items()
    }
    supplied = RecordFile.objects.get(record=record, path="申报材料/申请书.pdf")
    assert (supplied.material_code, supplied.category, supplied.name, supplied.format) == (
        "A01", "申报材料", "申请书", "PDF",
    )  # fmt: skip
    assert record.metadata["files"][-1]["actual_name"] == "扫描件.PDF"
    # the archival description names the previous version and says the gap is closed
    desc = _description(v2)
    assert desc.findtext("版本") == "2" and desc.findtext("档号") == record.archival_code
    prev = desc.find("版本信息/前一版本")
    assert prev is not None and prev.get("版本号") == "1" and prev.get("标签清单SM3") == v1.tagmanifest_sm3
    assert desc.findtext("版本信息/变更原因") == "申请人已补交"
    assert desc.findtext("版本信息/变更人") == "officer"
    assert desc.find("版本信息/补充材料").get("编码") == "A01"
    assert desc.findtext("容缺归档/容缺状态") == "closed"
    assert desc.findtext("容缺归档/容缺原因") == "申请人承诺五日内补交申请书"
    # the new version's check report passes 2-9 now
    assert any(r["code"] == "GD-2-9" and r["outcome"] == "pass" for r in record.check_report["results"])
    event = AuditEvent.objects.get(kind="record.supplemented", object_id=str(record.pk))
    assert event.detail["version"] == 2 and event.detail["remaining"] == []
    # the new bytes are served; every version verifies, and both export as valid signed bags
    _, stream = services.open_record_file(officer, record, "申报材料/申请书.pdf")
    with stream:
        assert stream.read() == data
    assert preservation.verify_all(officer).intact
    from dangan.ingest import checking

    for version in (1, 2):
        out = services.export_aip(officer, record.archival_code, tmp_path / f"v{version}", version=version)
        key = services.instance_key()
        assert bag.verify_bag_dir(out, trusted_cert_der=key.certificate_der) == []
        report, _ = checking.check_path(out, Stage.PRESERVE)
        assert report.passed, report.errors()
    assert (tmp_path / "v1" / "data" / "申报材料" / "申请书.pdf").exists() is False
    info = (tmp_path / "v2" / "bag-info.txt").read_text(encoding="utf-8")
    assert (
        "Dangan-AIP-Version: 2" in info and f"Dangan-Previous-Tagmanifest-SM3: {v1.tagmanifest_sm3}" in info
    )


def test_partial_supplement_keeps_the_gap_open(ingest_case, officer):
    sub = ingest_case("T-7", omit=("申报材料/申请书.pdf", "结果材料/决定书.pdf"))
    record = services.confirm(officer, sub.record.pk, gap_reason="两份材料待补")
    assert [m["code"] for m in record.gap_materials] == ["A01", "C01"]
    services.supplement(
        officer, record.pk, uploads=[upload("a.pdf", pdf("a"), material_code="A01")], reason="补一份"
    )
    record.refresh_from_db()
    assert record.gap_status == GapStatus.OPEN and record.gap_materials == [{"code": "C01", "name": "决定书"}]
    v2 = services.aip_version(record)
    assert _description(v2).findtext("容缺归档/容缺状态") == "open"
    assert [m.get("编码") for m in _description(v2).findall("容缺归档/缺少材料")] == ["C01"]
    v3 = services.supplement(
        officer,
        record.pk,
        uploads=[upload("c.pdf", pdf("c"), material_code="C01", category="结果材料")],
        reason="补齐",
    )
    record.refresh_from_db()
    assert v3.version == 3 and v3.previous.version == 2
    assert record.gap_status == GapStatus.CLOSED
    assert RecordFile.objects.get(record=record, material_code="C01").category == "结果材料"
    assert preservation.verify_all(officer).intact


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"uploads": [("a.pdf", "A09")], "reason": "x"}, "UNKNOWN_MATERIAL"),
        ({"uploads": [("a.pdf", "B01")], "reason": "x"}, "UNKNOWN_MATERIAL"),
        ({"uploads": [("a.pdf", "A01")], "reason": "  "}, "REASON_REQUIRED"),
        ({"uploads": [], "reason": "x"}, "NO_FILES"),
        ({"uploads": [("noextension", "A01")], "reason": "x"}, "FILE_NAME_INVALID"),
    ],
)
def test_bad_supplements_are_refused_and_leave_nothing(gap_record, officer, kwargs, code):
    before = (Aip.objects.count(), AipFile.objects.count(), AuditEvent.objects.count())
    uploads = [upload(name, pdf("x"), material_code=m) for name, m in kwargs["uploads"]]
    with pytest.raises(DanganError) as err:
        services.supplement(officer, gap_record.pk, uploads=uploads, reason=kwargs["reason"])
    assert err.value.code == code
    assert (Aip.objects.count(), AipFile.objects.count(), AuditEvent.objects.count()) == before
    gap_record.refresh_from_db()
    assert gap_record.gap_status == GapStatus.OPEN


def test_a_supplied_file_must_pass_the_archiving_checks(gap_record, officer, settings):
    before = Aip.objects.count()
    with pytest.raises(services.ChecksFailed) as err:
        services.supplement(
            officer, gap_record.pk, uploads=[upload("a.pdf", b"GIF89a not a pdf at all", material_code="A01")],
            reason="x",
        )  # fmt: skip
    codes = {e["code"] for e in err.value.errors}
    assert "GD-1-10" in codes, err.value.errors
    with pytest.raises(DanganError) as err2:
        services.supplement(
            officer, gap_record.pk, uploads=[upload("a.pdf", b"", material_code="A01")], reason="x"
        )
    assert err2.value.code == "EMPTY_FILE"
    settings.MAX_PACKAGE_BYTES = 100
    with pytest.raises(DanganError) as err3:
        services.supplement(
            officer, gap_record.pk, uploads=[upload("a.pdf", pdf("big"), material_code="A01")], reason="x"
        )
    assert err3.value.code == "FILE_TOO_LARGE"
    assert Aip.objects.count() == before
    quarantine = [p.name for p in (settings.QUARANTINE_DIR).iterdir() if p.name.startswith("version-")]
    assert quarantine == []


def test_supplement_needs_an_archived_record_with_a_gap_and_the_permission(ingest_case, officer, gap_record):
    pending = ingest_case("T-8", omit=("申报材料/申请书.pdf",)).record
    with pytest.raises(DanganError) as err:
        services.supplement(
            officer, pending.pk, uploads=[upload("a.pdf", pdf("a"), material_code="A01")], reason="x"
        )
    assert err.value.code == "NOT_ARCHIVED"
    complete = services.confirm(officer, ingest_case("T-9").record.pk)
    with pytest.raises(DanganError) as err:
        services.supplement(
            officer, complete.pk, uploads=[upload("a.pdf", pdf("a"), material_code="A01")], reason="x"
        )
    assert err.value.code == "NO_GAP"
    with pytest.raises(services.RecordNotFound):
        services.supplement(
            officer, 999999, uploads=[upload("a.pdf", pdf("a"), material_code="A01")], reason="x"
        )
    reader = Actor.system("reader", frozenset())
    with pytest.raises(PermissionDenied):
        services.supplement(
            reader, gap_record.pk, uploads=[upload("a.pdf", pdf("a"), material_code="A01")], reason="x"
        )
    with pytest.raises(PermissionDenied):
        services.correct(reader, gap_record.pk, changes={"办件基本信息/办件名称": "新"}, reason="x")


# -------------------------------------------------------------------------------------- corrections


def test_correction_changes_metadata_and_replaces_a_file_in_a_new_version(ingest_case, officer, tmp_path):
    record = services.confirm(officer, ingest_case("T-10").record.pk)
    v1 = services.aip_version(record)
    old_decision = v1.files.get(path="data/结果材料/决定书.pdf").sm3
    new_bytes = pdf("corrected decision")
    v2 = services.correct(
        officer,
        record.pk,
        changes={"办件基本信息/办件名称": "关于张三容缺测试事项的办件（更正）", "申请人/联系电话": "13800000000",
                 "办件基本信息/办理结果": "准予许可"},
        uploads=[upload("决定书-更正.pdf", new_bytes, replaces="结果材料/决定书.pdf")],
        reason="题名错字；决定书换为盖章版",
    )  # fmt: skip
    record.refresh_from_db()
    assert (v2.version, v2.kind, v2.previous_id) == (2, VersionKind.CORRECTION, v1.pk)
    assert record.title == "关于张三容缺测试事项的办件（更正）"
    assert record.metadata["case"]["applicant"]["phone"] == "13800000000"
    changed = {c["field"]: (c["old"], c["new"]) for c in v2.changes["metadata"]}
    assert changed == {
        "办件基本信息/办件名称": ("关于张三容缺测试事项的办件", "关于张三容缺测试事项的办件（更正）"),
        "申请人/联系电话": (None, "13800000000"),
    }  # the unchanged 办理结果 is no change
    assert v2.changes["replaced"][0]["old_sm3"] == old_decision
    # the old bytes stay in version 1, the new ones are current
    assert v1.files.get(path="data/结果材料/决定书.pdf").sm3 == old_decision
    assert v2.files.get(path="data/结果材料/决定书.pdf").sm3 != old_decision
    _, stream = services.open_record_file(officer, record, "结果材料/决定书.pdf")
    with stream:
        assert stream.read() == new_bytes
    desc = _description(v2)
    assert desc.findtext("版本信息/变更类型") == "correction"
    assert desc.findtext("题名") == "关于张三容缺测试事项的办件（更正）"
    assert desc.find("版本信息/元数据更正").findtext("新值") == "关于张三容缺测试事项的办件（更正）"
    assert desc.find("容缺归档") is None
    assert AuditEvent.objects.filter(kind="record.corrected", object_id=str(record.pk)).count() == 1
    assert preservation.verify_all(officer).intact
    # earlier versions stay readable as ZIP downloads
    buf = io.BytesIO()
    services.write_aip_zip(officer, record.pk, 1, buf)
    with zipfile.ZipFile(buf) as zf:
        name = f"{services.aip_zip_name(record, v1)}/data/结果材料/决定书.pdf"
        from dangan.core import sm

        assert sm.sm3_hex(zf.read(name)) == old_decision


@pytest.mark.parametrize(
    ("changes", "uploads", "code"),
    [
        ({"办件基本信息/电子文件号": "X"}, [], "UNKNOWN_FIELD"),
        ({"办件基本信息/不存在": "X"}, [], "UNKNOWN_FIELD"),
        ({"办件基本信息/办件名称": "关于张三容缺测试事项的办件"}, [], "NOTHING_TO_CHANGE"),
        ({}, [], "NOTHING_TO_CHANGE"),
        ({"办件基本信息/办结时间": "2024-03-05T16:40:00"}, [], "FIELD_CHANGES_ARCHIVAL_CODE"),
        ({"办件基本信息/办结时间": "not a date"}, [], "CHECKS_FAILED"),
        ({"办件基本信息/办件名称": ""}, [], "CHECKS_FAILED"),
        ({}, [("x.pdf", "过程材料/不存在.pdf")], "UNKNOWN_FILE"),
        ({}, [("x.pdf", schema.METADATA_FILENAME)], "UNKNOWN_FILE"),
        ({}, [("x.pdf", "")], "UNKNOWN_FILE"),
    ],
)
def test_bad_corrections_are_refused_and_leave_nothing(ingest_case, officer, changes, uploads, code):
    record = services.confirm(officer, ingest_case("T-11").record.pk)
    before = (Aip.objects.count(), AuditEvent.objects.count(), record.title)
    with pytest.raises(DanganError) as err:
        services.correct(
            officer, record.pk, changes=changes, reason="更正",
            uploads=[upload(name, pdf("x"), replaces=path) for name, path in uploads],
        )  # fmt: skip
    assert err.value.code == code, err.value.message
    record.refresh_from_db()
    assert (Aip.objects.count(), AuditEvent.objects.count(), record.title) == before


# ------------------------------------------------------------------------------------- concurrency


def test_two_officers_revising_at_once_cannot_both_write_version_2(gap_record, officer, monkeypatch):
    """The second revision was prepared on version 1 while the first committed version 2: refused."""
    seal = services._seal
    raced = []

    def seal_then_race(*args, **kwargs):
        files = seal(*args, **kwargs)
        if not raced:
            raced.append(True)
            services.correct(
                officer, gap_record.pk, changes={"申请人/地址": "示范市一路1号"}, reason="其他人"
            )
        return files

    monkeypatch.setattr(services, "_seal", seal_then_race)
    with pytest.raises(services.VersionConflict):
        services.supplement(
            officer, gap_record.pk, uploads=[upload("a.pdf", pdf("a"), material_code="A01")], reason="补交"
        )
    assert list(Aip.objects.filter(record=gap_record).values_list("version", "kind")) == [
        (1, "archived"), (2, "correction"),
    ]  # fmt: skip
    gap_record.refresh_from_db()
    assert gap_record.gap_status == GapStatus.OPEN
    assert preservation.verify_all(officer).intact


def test_verify_still_checks_every_version(gap_record, officer):
    v1 = services.aip_version(gap_record)
    services.supplement(
        officer, gap_record.pk, uploads=[upload("a.pdf", pdf("a"), material_code="A01")], reason="补交"
    )
    # tamper with version 1's tag file row: found although version 2 is current
    AipFile.objects.filter(aip=v1, path=services.DESCRIPTION_FILE).update(sm3="0" * 64)
    report = preservation.verify_all(officer)
    assert not report.intact
    assert {p.code for p in report.problems} >= {"BLOB_MISSING"}


@pytest.mark.django_db(transaction=True)
def test_parallel_supplements_write_one_version_2(gap_record, officer):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    workers = 4
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            services.supplement(
                officer,
                gap_record.pk,
                uploads=[upload("a.pdf", pdf(f"a{i}"), material_code="A01")],
                reason="补交",
            )
            outcomes.append("ok")
        except DanganError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "VERSION_CONFLICT", "NO_GAP"}, outcomes
    assert sorted(Aip.objects.filter(record=gap_record).values_list("version", flat=True)) == [1, 2]
    assert preservation.verify_all(officer).intact
