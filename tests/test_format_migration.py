"""Format migration (格式迁移): office documents of archived records → PDF/A-2b, originals kept.

Real files: an XLSX written by openpyxl and a DOCX made once per session by LibreOffice from text.
Tests that convert need LibreOffice and Ghostscript (``require_tool``: skipped locally without them,
failing in CI, which installs them). One LibreOffice start per conversion, one per test at most.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from dangan.accounts.roles import Actor, Perm, PermissionDenied
from dangan.core import migration as core
from dangan.core.formats.identify import identify
from dangan.core.package import writer
from dangan.core.package.model import FileEntry
from dangan.testing.tools import require_tool
from tests.factories import make_case

pytestmark = pytest.mark.django_db

PACKAGES = "libreoffice-writer-nogui libreoffice-calc-nogui"
# Office formats are not archival formats (GD-3-3 blocks them by default): this service item lets
# them in, as records archived before the format rule or under a relaxed profile have them.
OFFICE_ITEM = "OFFICE-ITEM"


@pytest.fixture
def test_catalogue(test_catalogue, operator):
    from dangan.catalog import services

    services.upsert_service_item(
        operator, test_catalogue, code=OFFICE_ITEM, name="办公文档事项", retention="D30", class_code="SP",
        check_profile={"archive": {"3-3": {"blocking": False}}},
    )  # fmt: skip
    return test_catalogue


def _xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["项目", "金额"])
    ws.append(["申请费", 100])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _tools() -> None:
    require_tool("soffice", debian_package=PACKAGES)
    require_tool("gs", debian_package="ghostscript")


@pytest.fixture(scope="session")
def docx_bytes(tmp_path_factory) -> bytes:
    """A DOCX made by LibreOffice from a text file (once per session)."""
    _tools()
    work = tmp_path_factory.mktemp("docx")
    (work / "letter.txt").write_text("申请书\n本人申请办理测试事项。\n", encoding="utf-8")
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--norestore",
         "--convert-to", "docx", "--outdir", str(work), str(work / "letter.txt")],
        check=True, capture_output=True, timeout=180, env={"PATH": "/usr/bin:/bin", "HOME": str(work)},
    )  # fmt: skip
    return (work / "letter.docx").read_bytes()


def _archive(tmp_path: Path, operator: Actor, number: str, office: dict[str, tuple[str, bytes]]) -> object:
    """Ingest and confirm a case holding the usual PDFs plus ``office`` ({path: (material code, bytes)})."""
    from dangan.archive import services
    from dangan.ingest import services as ingest

    pkg, files = make_case(f"330899-A101-TEST-2025-D30-{number}", item=OFFICE_ITEM)
    for path, (code, data) in office.items():
        files[path] = data
        pkg.files.append(
            FileEntry(material_code=code, category=path.split("/")[0], standard_name="附件",
                      actual_name=path.rsplit("/", 1)[1], path=path)
        )  # fmt: skip
    pkg.case.total_pieces = None
    writer.complete(pkg, files)
    sub = ingest.ingest_path(operator, writer.write_folder(pkg, files, tmp_path / number))
    assert sub.status == "pre_archived" or sub.record is not None, sub.errors
    return services.confirm(operator, sub.record.pk)


def test_identify_office_by_content(tmp_path):
    p = tmp_path / "noext"
    p.write_bytes(_xlsx())
    assert identify(p).name == "XLSX" and core.is_office("XLSX")
    assert not core.is_office("PDF")


def test_convert_not_run_without_libreoffice(tmp_path):
    p = tmp_path / "a.xlsx"
    p.write_bytes(_xlsx())
    result = core.convert(p, "XLSX", tmp_path / "w", tools=core.Toolset(None, None))
    assert result.status == "not_run" and "LibreOffice is not installed" in result.reason
    assert "apt-get install" in result.reason and result.output is None


def test_ghostscript_normalises_when_libreoffice_output_lacks_claim(tmp_path, monkeypatch):
    _tools()
    monkeypatch.setattr(core, "LO_PDF_VERSION", 0)  # LibreOffice writes a plain PDF
    p = tmp_path / "a.xlsx"
    p.write_bytes(_xlsx())
    result = core.convert(p, "XLSX", tmp_path / "w")
    assert result.status == "converted", result.reason
    assert [s.tool.split()[0] for s in result.steps] == ["LibreOffice", "Ghostscript"]
    assert result.validation["pdfa"] == "2B" and result.validation["status"] == "valid"


def test_migrate_record_adds_checked_pdfa_version(tmp_path, test_catalogue, operator, docx_bytes):
    from dangan.archive.models import RecordFile
    from dangan.archive.services import DESCRIPTION_FILE, latest_aip
    from dangan.audit.models import AuditEvent
    from dangan.core.formats.validate import validate
    from dangan.preservation.migration import migrate_all, migrate_record
    from dangan.preservation.models import EventType, PreservationEvent
    from dangan.preservation.services import verify_all
    from dangan.storage.blobstore import default_store

    xlsx = _xlsx()
    record = _archive(
        tmp_path, operator, "000101",
        {"申报材料/申请书附件.docx": ("A09", docx_bytes), "过程材料/费用表.xlsx": ("A09", xlsx)},
    )  # fmt: skip
    result = migrate_record(operator, record.pk)
    assert result.status == "migrated", (result.reason, [f.reason for f in result.files])
    assert result.version == 2
    assert {f.derived_path for f in result.files} == {
        "申报材料/申请书附件.docx.pdf",
        "过程材料/费用表.xlsx.pdf",
    }

    aip = latest_aip(record)
    assert aip.kind == "migration" and aip.previous.version == 1
    store = default_store()
    rows = {f.path: f for f in RecordFile.objects.filter(record=record)}
    # originals kept byte-identical, derived PDF/A beside them, same category
    assert store.path(rows["申报材料/申请书附件.docx"].sm3).read_bytes() == docx_bytes
    assert store.path(rows["过程材料/费用表.xlsx"].sm3).read_bytes() == xlsx
    for src in ("申报材料/申请书附件.docx", "过程材料/费用表.xlsx"):
        derived = rows[src + ".pdf"]
        assert derived.category == rows[src].category and derived.format == "PDF"
        v = validate(store.path(derived.sm3))
        assert v.ok and v.details["pdfa"] == "2B"
    # the link original -> derived: change log and archival description
    links = {d["source"]: d for d in aip.changes["migrated"]}
    assert links["过程材料/费用表.xlsx"]["source_sm3"] == rows["过程材料/费用表.xlsx"].sm3
    assert links["过程材料/费用表.xlsx"]["sm3"] == rows["过程材料/费用表.xlsx.pdf"].sm3
    assert links["过程材料/费用表.xlsx"]["validation"]["accepted"] is True
    description = store.path(aip.files.get(path=DESCRIPTION_FILE).sm3).read_text(encoding="utf-8")
    assert "格式迁移" in description and rows["过程材料/费用表.xlsx.pdf"].sm3 in description
    # events: one MIGRATION preservation event per derived file, one audit event
    events = PreservationEvent.objects.filter(record=record, event_type=EventType.MIGRATION)
    assert events.count() == 2 and {e.outcome for e in events} == {"success"}
    e = events.get(detail__source__path="过程材料/费用表.xlsx")
    assert e.aip_id == aip.pk and e.detail["derived"]["sm3"] == rows["过程材料/费用表.xlsx.pdf"].sm3
    assert "LibreOffice" in e.agent and e.detail["validation"]["pdfa"] == "2B"
    assert AuditEvent.objects.filter(kind="record.migrated", object_id=str(record.pk)).count() == 1
    # fixity over every version holds
    assert verify_all(operator).intact
    # the record page shows the link original → derived in the version list
    from django.test import Client
    from django.urls import reverse

    from dangan.accounts.roles import Role
    from dangan.accounts.services import create_user

    create_user("officer", [Role.RECORDS_OFFICER], password="officer-password-42")
    web = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert web.login(username="officer", password="officer-password-42")
    page = web.get(reverse("web:record", args=[record.pk])).content.decode()
    assert "格式迁移" in page and "过程材料/费用表.xlsx.pdf" in page
    # idempotent: a second run adds nothing
    again = migrate_all(operator)
    assert [r.status for r in again] == ["nothing_to_do"]
    assert record.aips.count() == 2 and events.count() == 2


def test_tools_absent_not_run_no_version(tmp_path, test_catalogue, operator, monkeypatch):
    from dangan.preservation.migration import migrate_record
    from dangan.preservation.models import EventType, PreservationEvent

    record = _archive(tmp_path, operator, "000102", {"过程材料/费用表.xlsx": ("A09", _xlsx())})
    monkeypatch.setattr(core, "find_tools", lambda: core.Toolset(None, None))
    result = migrate_record(operator, record.pk)
    assert result.status == "not_run" and "LibreOffice is not installed" in result.reason
    assert [f.status for f in result.files] == ["not_run"]
    assert record.aips.count() == 1
    event = PreservationEvent.objects.get(record=record, event_type=EventType.MIGRATION)
    assert event.outcome == "warning" and event.detail["status"] == "not_run"


def test_migration_needs_correct_permission(tmp_path, test_catalogue, operator):
    from dangan.preservation.migration import migrate_record

    record = _archive(tmp_path, operator, "000103", {})
    verifier = Actor.system("verifier", frozenset({Perm.VERIFY, Perm.VIEW_RECORDS}))
    with pytest.raises(PermissionDenied):
        migrate_record(verifier, record.pk)
    assert migrate_record(operator, record.pk).status == "nothing_to_do"


def test_cli_migrate_not_run_json(tmp_path, test_catalogue, operator, monkeypatch):
    from click.testing import CliRunner

    from dangan.cli import main

    record = _archive(tmp_path, operator, "000104", {"过程材料/费用表.xlsx": ("A09", _xlsx())})
    monkeypatch.setattr(core, "find_tools", lambda: core.Toolset(None, None))
    res = CliRunner().invoke(main, ["preserve", "migrate", record.archival_code, "--json"])
    assert res.exit_code == 1, res.output
    data = json.loads(res.output)
    assert data["results"][0]["status"] == "not_run"
    assert CliRunner().invoke(main, ["preserve", "migrate"]).exit_code == 2
