"""Retention schedule (保管期限表), archiving scope (归档范围) and classification scheme (分类方案) through the
whole path: versions apply only to records archived after them, the longest rule wins, history is never
rewritten, the 档号 takes the item's class, and the XLSX workbook round-trips (CLI included)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
import pytest
from click.testing import CliRunner
from django.utils import timezone

from dangan.accounts.roles import Actor, Perm, PermissionDenied
from dangan.archive import services as archive
from dangan.archive.models import Record
from dangan.audit.models import AuditEvent
from dangan.catalog import services as catalog
from dangan.catalog import xlsx
from dangan.catalog.models import ArchiveClass, ImmutableRowError, RetentionRule, ServiceItem
from dangan.commands.schedule import schedule
from dangan.core.retention import RetentionError
from dangan.ingest import services as ingest
from tests.factories import write_case

pytestmark = pytest.mark.django_db

OFFICER = Actor.system("档案员", frozenset({Perm.VIEW_SCHEDULE, Perm.MANAGE_SCHEDULE, Perm.CONFIRM}))


def _ingest(tmp_path, operator, n: int) -> Record:
    sub = ingest.ingest_path(
        operator, write_case(tmp_path / f"c{n}", file_number=f"330899-A101-TEST-2025-D30-{n:06d}")
    )
    assert sub.status == "accepted", sub.errors
    return sub.record


def _item() -> ServiceItem:
    return ServiceItem.objects.get(code="TEST-ITEM")


def test_items_get_a_baseline_version_and_a_class(test_catalogue):
    item = _item()
    (rule,) = RetentionRule.objects.filter(service_item=item)
    assert (rule.retention, rule.effective_from, rule.basis) == (
        "D30",
        catalog.BASELINE_FROM,
        catalog.BASELINE_BASIS,
    )
    assert item.archive_class is not None and item.archive_class.code == item.class_code == "SP"
    decision = catalog.retention_for(item, on=timezone.localdate())
    assert decision.code == "D30" and decision.rule_id == rule.pk


def test_a_change_applies_only_to_records_archived_after_it(tmp_path, test_catalogue, operator, monkeypatch):
    item = _item()
    today = timezone.localdate()
    first = archive.confirm(OFFICER, _ingest(tmp_path, operator, 1).pk)
    assert first.retention == "D30" and "-D30-" in first.archival_code

    # Records were archived today under D30: a change taking effect today would alter their rule.
    with pytest.raises(RetentionError) as refused:
        catalog.add_retention_rule(
            OFFICER, item, retention="Y", basis="《示范保管期限表》第3条", effective_from=today
        )
    assert refused.value.code == "RETENTION_HISTORY"
    rule = catalog.add_retention_rule(
        OFFICER,
        item,
        retention="Y",
        basis="《示范保管期限表》第3条",
        effective_from=today + timedelta(days=1),
    )
    assert rule.supersedes is not None and rule.supersedes.retention == "D30"

    second = archive.confirm(OFFICER, _ingest(tmp_path, operator, 2).pk)
    assert second.retention == "D30", "the new version is not in force yet"

    tomorrow = today + timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: tomorrow)
    third = archive.confirm(OFFICER, _ingest(tmp_path, operator, 3).pk)
    assert third.retention == "Y" and "-Y-" in third.archival_code
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.retention, second.retention) == ("D30", "D30"), "records archived before keep theirs"
    assert catalog.retention_for(item, on=today).code == "D30"
    assert catalog.retention_for(item, on=tomorrow).code == "Y"
    # The AIP's archival description says the same as the record.
    from dangan.storage.blobstore import default_store

    for record, code in ((first, "D30"), (third, "Y")):
        description = archive.latest_aip(record).files.get(path=archive.DESCRIPTION_FILE)
        with default_store().open(description.sm3) as f:
            text = f.read().decode()
        assert f"<保管期限>{code}</保管期限>" in text
        assert "<保管期限依据>" in text and record.retention_basis in text  # the rule that decided it
    assert "第3条" in third.retention_basis
    assert AuditEvent.objects.filter(kind="schedule.rule_added", object_id=str(rule.pk)).count() == 1


def test_history_is_never_rewritten(test_catalogue):
    item = _item()
    today = timezone.localdate()
    later = catalog.add_retention_rule(
        OFFICER, item, retention="D10", basis="第5条", effective_from=today + timedelta(days=30)
    )
    # Not before the newest version ...
    with pytest.raises(RetentionError, match="before the current version"):
        catalog.add_retention_rule(
            OFFICER, item, retention="Y", basis="第6条", effective_from=today + timedelta(days=10)
        )
    # ... and no other way to change a version: rows refuse updates and deletes, even in bulk.
    later.retention = "Y"
    with pytest.raises(ImmutableRowError):
        later.save()
    with pytest.raises(ImmutableRowError):
        RetentionRule.objects.filter(pk=later.pk).update(retention="Y")
    with pytest.raises(ImmutableRowError):
        RetentionRule.objects.filter(pk=later.pk).delete()
    with pytest.raises(ImmutableRowError):
        later.delete()
    assert RetentionRule.objects.get(pk=later.pk).retention == "D10"
    # A not-yet-used version may be superseded by one of the same day: the later-created one wins.
    fix = catalog.add_retention_rule(
        OFFICER, item, retention="Y", basis="第5条（更正）", effective_from=today + timedelta(days=30)
    )
    assert catalog.retention_for(item, on=today + timedelta(days=30)).rule_id == fix.pk
    assert RetentionRule.objects.filter(service_item=item).count() == 3


def test_the_longest_of_item_and_material_rules_wins(tmp_path, test_catalogue, operator):
    item = _item()
    today = timezone.localdate()
    catalog.add_retention_rule(OFFICER, item, retention="D10", basis="第1条", effective_from=today)
    rule = catalog.add_retention_rule(
        OFFICER, item, retention="Y", basis="第2条 决定书永久", effective_from=today, material_code="C01"
    )
    assert catalog.retention_for(item, on=today).code == "D10"
    decision = catalog.retention_for(item, on=today, material_codes={"A01", "C01"})
    assert (decision.code, decision.rule_id, decision.material_code) == ("Y", rule.pk, "C01")
    assert "第2条" in decision.describe() and f"规则#{rule.pk}" in decision.describe()
    record = _ingest(tmp_path, operator, 7)  # holds A01, B01 and C01
    assert catalog.retention_for_record(record).code == "Y"
    assert archive.confirm(OFFICER, record.pk).retention == "Y"


def test_configured_codes_compare_by_years_and_are_accepted_by_check_1_4(test_catalogue):
    catalog.define_retention_code(OFFICER, code="D5", label="定期5年", years=5)
    with pytest.raises(RetentionError):
        catalog.define_retention_code(OFFICER, code="D7", label="定期7年", years=8)  # D7 names 7 years
    with pytest.raises(RetentionError, match="exists"):
        catalog.define_retention_code(OFFICER, code="D10", label="x", years=10)
    item = _item()
    today = timezone.localdate()
    catalog.add_retention_rule(OFFICER, item, retention="D5", basis="第9条", effective_from=today)
    catalog.add_retention_rule(
        OFFICER, item, retention="D10", basis="第9条", effective_from=today, material_code="B01"
    )
    assert catalog.retention_for(item, on=today, material_codes={"B01"}).code == "D10"
    assert catalog.retention_for(item, on=today).code == "D5"
    item.refresh_from_db()
    assert item.retention == "D5", "the item's cached retention follows the version in force"
    enum = catalog.metadata_scheme_for(item).rule("归档配置信息/保管期限").enum
    assert enum is not None and "D5" in enum and "Y" in enum
    with pytest.raises(RetentionError):
        catalog.add_retention_rule(OFFICER, item, retention="D7", basis="x", effective_from=today)


def test_scope_drives_check_2_9(tmp_path, test_catalogue, operator):
    item = _item()
    catalog.replace_scope(OFFICER, item, [{"code": "A01", "name": "申请书", "required": True}])
    catalog.set_scope_material(OFFICER, item, code="Z99", name="现场核查记录", required=True)
    sub = ingest.ingest_path(operator, write_case(tmp_path / "x"))
    assert sub.status == "rejected"
    assert [(e["code"], e["target"]) for e in sub.errors] == [("GD-2-9", "归档范围/Z99")]
    catalog.remove_scope_material(OFFICER, item, "Z99")
    assert [m["code"] for m in _item().scope] == ["A01"]
    assert AuditEvent.objects.filter(kind="schedule.scope_changed").count() == 3


def test_class_code_in_the_archival_code_comes_from_the_items_class(tmp_path, test_catalogue, operator):
    parent = catalog.create_class(OFFICER, test_catalogue, code="XK", name="行政许可")
    child = catalog.create_class(OFFICER, test_catalogue, code="SPJ", name="审批局", parent=parent)
    catalog.assign_class(OFFICER, _item(), child)
    record = archive.confirm(OFFICER, _ingest(tmp_path, operator, 9).pk)
    assert "-SPJ-" in record.archival_code
    with pytest.raises(Exception, match="under itself"):
        catalog.update_class(OFFICER, parent, name="行政许可", parent=child, order=0)
    with pytest.raises(Exception, match="档号"):
        catalog.create_class(OFFICER, test_catalogue, code="A-B", name="bad")


def test_permissions_are_enforced_by_the_services(test_catalogue):
    admin = Actor.system("sysadmin", frozenset({Perm.MANAGE_CATALOG, Perm.VIEW_SCHEDULE}))
    item = _item()
    for call in (
        lambda: catalog.add_retention_rule(
            admin, item, retention="Y", basis="x", effective_from=date(2100, 1, 1)
        ),
        lambda: catalog.replace_scope(admin, item, []),
        lambda: catalog.create_class(admin, test_catalogue, code="N", name="n"),
        lambda: catalog.define_retention_code(admin, code="D5", label="定期5年", years=5),
        lambda: catalog.import_schedule(admin, b"PK"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    # The system administrator registers items but may not change a registered item's retention.
    with pytest.raises(PermissionDenied):
        catalog.upsert_service_item(admin, test_catalogue, code="TEST-ITEM", retention="Y")
    catalog.upsert_service_item(
        admin, test_catalogue, code="NEW-ITEM", name="新事项", retention="Y", class_code="NEW"
    )
    assert catalog.retention_for(ServiceItem.objects.get(code="NEW-ITEM"), on=date.today()).code == "Y"


# ---------------------------------------------------------------------------------------------
# XLSX


def _book(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _save(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_round_trip(test_catalogue):
    item = _item()
    catalog.replace_scope(OFFICER, item, [{"code": "A01", "name": "申请书", "required": True},
                                          {"code": "A09", "name": "其他材料", "required": False}])  # fmt: skip
    catalog.add_retention_rule(OFFICER, item, retention="Y", basis="第2条", effective_from=timezone.localdate(),
                               material_code="C01", material_name="决定书")  # fmt: skip
    data = catalog.export_schedule(OFFICER, fonds=test_catalogue)
    assert {xlsx.SHEET_SCHEDULE, xlsx.SHEET_CLASSES, xlsx.SHEET_SCOPE, xlsx.SHEET_HISTORY} <= set(
        _book(data).sheetnames
    )
    rules_before = RetentionRule.objects.count()
    events_before = AuditEvent.objects.count()

    unchanged = catalog.import_schedule(OFFICER, data, filename="same.xlsx")
    assert unchanged.ok and unchanged.changes == [] and not unchanged.applied
    assert RetentionRule.objects.count() == rules_before and AuditEvent.objects.count() == events_before

    book = _book(data)
    ws = book[xlsx.SHEET_SCHEDULE]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cells = dict(zip(header, row, strict=False))
        if cells["事项编码"].value == "TEST-ITEM" and not cells["材料编码"].value:
            cells["保管期限"].value = "D10"
            cells["依据"].value = "《示范保管期限表》（2026版）第4条"
            cells["生效日期"].value = timezone.localdate() + timedelta(days=3)
    edited = _save(book)
    dry = catalog.import_schedule(OFFICER, edited, dry_run=True)
    assert dry.ok and len(dry.changes) == 1 and RetentionRule.objects.count() == rules_before
    done = catalog.import_schedule(OFFICER, edited, filename="edited.xlsx")
    assert done.ok and done.applied and [c["kind"] for c in done.changes] == ["rule_added"]
    assert RetentionRule.objects.count() == rules_before + 1
    newest = RetentionRule.objects.order_by("-id").first()
    assert (newest.retention, newest.basis) == ("D10", "《示范保管期限表》（2026版）第4条")
    assert AuditEvent.objects.filter(kind="schedule.imported").count() == 1
    again = catalog.import_schedule(OFFICER, edited)
    assert again.ok and again.changes == [], "importing the same workbook twice adds nothing"


def test_xlsx_scope_and_classes_import(test_catalogue):
    book = _book(catalog.export_schedule(OFFICER, fonds=test_catalogue))
    book[xlsx.SHEET_CLASSES].append(["T001", "XK", "行政许可", "", 1])
    book[xlsx.SHEET_CLASSES].append(["T001", "XK01", "企业登记", "XK", 2])
    ws = book[xlsx.SHEET_ITEM_CLASSES]
    for row in ws.iter_rows(min_row=2):
        if row[1].value == "TEST-ITEM":
            row[3].value = "XK01"
    book[xlsx.SHEET_SCOPE].append(["T001", "TEST-ITEM", "测试事项", "A01", "申请书", "必要"])
    book[xlsx.SHEET_SCOPE].append(["T001", "TEST-ITEM", "测试事项", "A09", "其他材料", "非必要"])
    result = catalog.import_schedule(OFFICER, _save(book))
    assert result.ok and result.applied, result.errors
    item = _item()
    assert item.class_code == "XK01" and ArchiveClass.objects.get(code="XK01").parent.code == "XK"
    assert item.scope == [{"code": "A01", "name": "申请书", "required": True},
                          {"code": "A09", "name": "其他材料", "required": False}]  # fmt: skip


def _schedule_book(
    rows: list[list[object]], header: tuple[str, ...] = xlsx.COLUMNS[xlsx.SHEET_SCHEDULE]
) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = xlsx.SHEET_SCHEDULE
    ws.append(list(header))
    for r in rows:
        ws.append(r)
    return _save(book)


def test_bad_rows_are_reported_by_cell_and_nothing_is_written(test_catalogue):
    future = timezone.localdate() + timedelta(days=5)
    data = _schedule_book(
        [
            ["T001", "TEST-ITEM", "测试事项", "", "", "Y", "第1条", future],  # valid on its own
            ["T001", "TEST-ITEM", "测试事项", "", "", "D7", "第1条", future + timedelta(days=1)],
            ["T001", "NO-SUCH", "", "", "", "Y", "第1条", future],
            ["T001", "AUTO-ITEM", "", "", "", "Y", "第1条", "2025-13-45"],
            ["T001", "AUTO-ITEM", "", "", "", "Y", "", future],
            ["X999", "AUTO-ITEM", "", "", "", "Y", "第1条", future],
        ]
    )
    before = RetentionRule.objects.count()
    result = catalog.import_schedule(OFFICER, data)
    assert not result.ok and not result.applied
    found = {(e["cell"], e["code"]) for e in result.errors}
    assert {("F3", "BAD_RETENTION"), ("B4", "UNKNOWN_ITEM"), ("H5", "BAD_DATE"), ("G6", "BAD_VALUE"),
            ("A7", "UNKNOWN_FONDS")} <= found, result.errors  # fmt: skip
    assert all(e["sheet"] == xlsx.SHEET_SCHEDULE and e["column"] for e in result.errors)
    assert RetentionRule.objects.count() == before


def test_missing_column_and_non_workbooks_are_refused(test_catalogue, monkeypatch):
    no_basis = tuple(c for c in xlsx.COLUMNS[xlsx.SHEET_SCHEDULE] if c != "依据")
    result = catalog.import_schedule(
        OFFICER, _schedule_book([["T001", "TEST-ITEM", "", "", "", "Y", date(2100, 1, 1)]], no_basis)
    )
    assert [(e["code"], e["column"]) for e in result.errors] == [("MISSING_COLUMN", "依据")]

    assert catalog.import_schedule(OFFICER, b"this is not a workbook").errors[0]["code"] == "XLSX_INVALID"
    plain_zip = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("hello.txt", "hi")
    assert catalog.import_schedule(OFFICER, plain_zip.getvalue()).errors[0]["code"] == "XLSX_INVALID"
    empty = openpyxl.Workbook()
    assert catalog.import_schedule(OFFICER, _save(empty)).errors[0]["code"] == "XLSX_NO_SHEETS"


def test_zip_bombs_and_entity_tricks_are_refused_before_parsing(test_catalogue, monkeypatch):
    import zipfile

    good = catalog.export_schedule(OFFICER)

    def with_extra(name: str, chunks) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            with dst.open(name, "w") as f:
                for chunk in chunks:
                    f.write(chunk)
        return out.getvalue()

    # A part that inflates far beyond the limit (the limit lowered so the test stays small and fast).
    monkeypatch.setattr(xlsx, "MAX_UNCOMPRESSED", 4 * 1024 * 1024)
    bomb = with_extra("xl/bomb.bin", (b"\0" * (1024 * 1024) for _ in range(8)))
    assert len(bomb) < len(good) + 64 * 1024  # tiny on disk
    assert catalog.import_schedule(OFFICER, bomb).errors[0]["code"] == "XLSX_TOO_LARGE"

    entity = with_extra("xl/evil.xml", [b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'])
    assert catalog.import_schedule(OFFICER, entity).errors[0]["code"] == "XLSX_UNSAFE"

    monkeypatch.setattr(xlsx, "MAX_BYTES", 1000)
    assert catalog.import_schedule(OFFICER, good).errors[0]["code"] == "XLSX_TOO_LARGE"


def test_huge_sheet_dimensions_and_rows_are_capped(test_catalogue, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 5)
    future = timezone.localdate() + timedelta(days=5)
    rows = [["T001", "TEST-ITEM", "", "", "", "Y", "第1条", future + timedelta(days=i)] for i in range(10)]
    result = catalog.import_schedule(OFFICER, _schedule_book(rows))
    assert any(e["code"] == "TOO_MANY_ROWS" for e in result.errors)
    assert RetentionRule.objects.filter(service_item=_item()).count() == 1


def test_cli_export_and_import(tmp_path, test_catalogue):
    out = tmp_path / "schedule.xlsx"
    runner = CliRunner()
    res = runner.invoke(schedule, ["export", "--out", str(out), "--fonds", "T001"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(schedule, ["import", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert '"changes": []' in res.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(_schedule_book([["T001", "TEST-ITEM", "", "", "", "Q", "第1条", date(2100, 1, 1)]]))
    res = runner.invoke(schedule, ["import", str(bad), "--dry-run"])
    assert res.exit_code == 1 and "BAD_RETENTION" in res.output and "F2" in res.output


def test_a_package_declaring_a_configured_code_passes_the_checks(tmp_path, test_catalogue, operator):
    from dangan.core.package import writer
    from tests.factories import make_case

    catalog.define_retention_code(OFFICER, code="D5", label="定期5年", years=5)
    item = _item()
    catalog.add_retention_rule(
        OFFICER, item, retention="D5", basis="第9条", effective_from=timezone.localdate()
    )
    pkg, files = make_case(file_number="330899-A101-TEST-2025-D5-000001")
    pkg.config.retention = pkg.case.retention = "D5"
    writer.complete(pkg, files)
    sub = ingest.ingest_path(operator, writer.write_folder(pkg, files, tmp_path / "d5"))
    assert sub.status == "accepted", sub.errors
    flagged = [r for r in sub.record.check_report["results"] if r["outcome"] in ("fail", "warning")]
    assert not [r for r in flagged if r["code"].endswith(("1-4", "1-5", "1-12"))], flagged
    record = archive.confirm(OFFICER, sub.record.pk)
    assert record.retention == "D5" and "-D5-" in record.archival_code
