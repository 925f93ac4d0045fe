"""`dangan check`, `POST /api/v1/checks` and the checks inside the running archive (profiles, schemes, ClamAV)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from rest_framework.test import APIClient

from dangan.archive.models import Record
from dangan.catalog import services as catalog
from dangan.catalog.models import ServiceItem
from dangan.cli import main
from dangan.core.package import writer
from dangan.ingest import services as ingest
from dangan.ingest.models import Submission
from dangan.testing.tools import require_tool
from tests.factories import make_case, write_case

pytestmark = pytest.mark.django_db


def _json(res) -> dict:
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return json.loads(res.stdout)


def _broken(tmp_path: Path) -> Path:
    pkg, files = make_case(file_number="BROKEN-1")
    pkg.files[0].digest = "0" * 64
    return writer.write_folder(pkg, files, tmp_path / "broken")


def test_check_passes_fails_and_stores_nothing(tmp_path, test_catalogue):
    runner = CliRunner()
    good = write_case(tmp_path / "good")
    res = runner.invoke(main, ["check", "--json", str(good), str(_broken(tmp_path))])
    assert res.exit_code == 1
    doc = _json(res)
    by_name = {Path(p["package"]).name: p for p in doc["packages"]}
    assert by_name[good.name]["passed"] is True
    broken = next(p for p in doc["packages"] if not p["passed"])
    failures = [r for r in broken["report"]["results"] if r["outcome"] == "fail"]
    assert [r["code"] for r in failures] == ["GD-1-1"]
    # 4-7 cannot know the channel of a package checked on the command line: it says so
    [channel] = [r for r in by_name[good.name]["report"]["results"] if r["code"] == "GD-4-7"]
    assert channel["outcome"] == "not_run"
    assert Submission.objects.count() == 0 and Record.objects.count() == 0

    res = runner.invoke(main, ["check", str(good)])
    assert res.exit_code == 0 and "通过" in res.output


def test_check_reports_and_usage_errors(tmp_path, test_catalogue):
    runner = CliRunner()
    good = write_case(tmp_path / "good")
    for name in ("r.pdf", "r.html", "r.json"):
        res = runner.invoke(main, ["check", str(good), "--report", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert "四性检测" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))[0]["passed"] is True
    assert runner.invoke(main, ["check"]).exit_code == 2
    assert runner.invoke(main, ["check", str(good), "--report", str(tmp_path / "r.txt")]).exit_code == 2
    assert runner.invoke(main, ["check", str(good), "--stage", "later"]).exit_code == 2
    assert runner.invoke(main, ["check", str(tmp_path / "missing")]).exit_code == 2


def test_unreadable_package_is_a_failure_not_a_crash(tmp_path, test_catalogue):
    import zipfile

    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../evil", b"x")
    res = CliRunner().invoke(main, ["check", "--json", str(slip)])
    assert res.exit_code == 1
    assert _json(res)["packages"][0]["error"]["code"] == "ZIP_PATH_TRAVERSAL"
    assert not (tmp_path.parent / "evil").exists()


def test_aip_checked_at_preservation_stage_and_tampering_found(tmp_path, test_catalogue):
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(write_case(tmp_path / "a"))]).exit_code == 0
    code = json.loads(runner.invoke(main, ["archive", "confirm", "--all-pending", "--json"]).stdout)[
        "archival_code"
    ]
    bag = tmp_path / "aip"
    assert runner.invoke(main, ["export-aip", code, "--out", str(bag)]).exit_code == 0
    for stage in ("transfer", "receive", "preserve"):
        res = runner.invoke(main, ["check", "--json", "--stage", stage, str(bag)])
        assert res.exit_code == 0, [
            (r["code"], r["message"])
            for r in _json(res)["packages"][0]["report"]["results"]
            if r["outcome"] == "fail"
        ]
    report = _json(res)["packages"][0]["report"]
    assert {r["code"] for r in report["results"]} >= {"CQ-1-1", "CQ-1-7", "CQ-1-11", "CQ-3-4", "CQ-4-8"}
    assert (
        next(r for r in report["results"] if r["code"] == "CQ-1-7")["outcome"] == "pass"
    )  # 档号 rule of T001

    payload = next((bag / "data" / "结果材料").iterdir())
    data = bytearray(payload.read_bytes())
    data[-3] ^= 1
    payload.write_bytes(bytes(data))
    res = runner.invoke(main, ["check", "--json", "--stage", "preserve", str(bag)])
    assert res.exit_code == 1
    failed = {r["code"] for r in _json(res)["packages"][0]["report"]["results"] if r["outcome"] == "fail"}
    assert {"CQ-1-1", "CQ-1-11"} <= failed


def test_service_item_profile_and_scheme_apply(tmp_path, test_catalogue, operator):
    item = ServiceItem.objects.get(code="TEST-ITEM")
    catalog.upsert_service_item(
        operator,
        test_catalogue,
        code=item.code,
        metadata_scheme={"required_steps": ["审核"]},
        check_profile={"archive": {"3-5": {"blocking": True}}},
    )
    res = CliRunner().invoke(main, ["check", "--json", str(write_case(tmp_path / "a"))])
    assert res.exit_code == 1
    failures = {
        r["code"]: r
        for r in _json(res)["packages"][0]["report"]["results"]
        if r["outcome"] in ("fail", "warning")
    }
    assert "审核" in failures["GD-2-5"]["message"]
    assert failures["GD-3-5"]["blocking"] is True  # the item made the PDF/A warning blocking

    from dangan.core.errors import DanganError

    with pytest.raises(DanganError, match="not a metadata item"):
        catalog.upsert_service_item(
            operator, test_catalogue, code=item.code, metadata_scheme={"fields": {"x/y": {}}}
        )
    with pytest.raises(DanganError, match="not a check item"):
        catalog.upsert_service_item(
            operator, test_catalogue, code=item.code, check_profile={"archive": {"0-0": {}}}
        )


@pytest.fixture
def token(test_catalogue, operator):
    _, token = catalog.issue_source_token(operator, code="SYS1", name="示范办件系统", fonds=[test_catalogue])
    return token


def test_api_precheck(tmp_path, token, settings):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    good = write_case(tmp_path / "good", as_zip=True)
    with open(good, "rb") as f:
        res = client.post("/api/v1/checks", {"package": f}, format="multipart")
    assert res.status_code == 200, res.content
    assert res.json()["passed"] is True
    [channel] = [r for r in res.json()["report"]["results"] if r["code"] == "GD-4-7"]
    assert channel["outcome"] == "pass" and "SYS1" in channel["message"]

    pkg, files = make_case(file_number="BROKEN-2")
    pkg.case.completed_at = "2025-01-01T00:00:00"
    broken = writer.write_zip(pkg, files, tmp_path / "broken")
    with open(broken, "rb") as f:
        res = client.post("/api/v1/checks", {"package": f, "stage": "archive"}, format="multipart")
    assert res.status_code == 200 and res.json()["passed"] is False
    assert "GD-1-5" in {e["code"] for e in res.json()["report"]["results"] if e["outcome"] == "fail"}

    assert client.post("/api/v1/checks", {}, format="multipart").status_code == 400
    with open(good, "rb") as f:
        assert (
            client.post("/api/v1/checks", {"package": f, "stage": "x"}, format="multipart").status_code == 400
        )
    not_zip = tmp_path / "n.zip"
    not_zip.write_bytes(b"not a zip")
    with open(not_zip, "rb") as f:
        res = client.post("/api/v1/checks", {"package": f}, format="multipart")
    assert res.status_code == 400 and res.json()["code"] == "ZIP_CORRUPT"
    # nothing kept: no submission, no record, no quarantine leftovers
    assert Submission.objects.count() == 0 and Record.objects.count() == 0
    assert not [p for p in Path(settings.QUARANTINE_DIR).rglob("*") if p.is_file()]
    anonymous = APIClient()
    with open(good, "rb") as f:
        assert anonymous.post("/api/v1/checks", {"package": f}, format="multipart").status_code in (401, 403)


def test_clamav_rejects_the_infected_package(tmp_path, test_catalogue, settings, operator):
    """4-2 through a real clamscan with a signature database this test writes (no public feed here)."""
    require_tool("clamscan", debian_package="clamav")
    from dangan.ingest import checking

    pkg, files = make_case(file_number="INFECTED-1")
    marker = b"%PDF-1.4\n% dangan test virus 7f3a9c\n"
    files["申报材料/申请书.pdf"] = marker
    pkg.files[0].size = pkg.files[0].digest = None
    writer.complete(pkg, files)
    infected = writer.write_folder(pkg, files, tmp_path / "infected")
    db = tmp_path / "clamdb"
    db.mkdir()
    (db / "dangan-test.hdb").write_text(
        f"{hashlib.md5(marker).hexdigest()}:{len(marker)}:Dangan.Test.Marker\n"
    )
    settings.CLAMAV = f"clamscan:{db}"
    checking.configured_scanner.cache_clear()
    try:
        sub = ingest.ingest_path(operator, infected)
        clean = ingest.ingest_path(operator, write_case(tmp_path / "clean"))
    finally:
        checking.configured_scanner.cache_clear()
    assert sub.status == "rejected"
    [virus] = [e for e in sub.errors if e["code"] == "GD-4-2"]
    assert "Dangan.Test.Marker" in virus["message"] and virus["target"] == "申报材料/申请书.pdf"
    assert clean.status == "accepted", clean.errors
    results = {r["code"]: r for r in clean.report["results"]}
    assert results["GD-4-1"]["outcome"] == "pass" and results["GD-4-2"]["outcome"] == "pass"
    assert "ClamAV" in results["GD-4-2"]["message"]
    version = subprocess.run(["clamscan", "--version"], capture_output=True, text=True).stdout
    assert version.startswith("ClamAV")


def test_unreachable_scanner_fails_4_1(tmp_path, test_catalogue, settings, operator):
    from dangan.ingest import checking

    settings.CLAMAV = f"clamd:{tmp_path / 'no-such.sock'}"
    checking.configured_scanner.cache_clear()
    try:
        sub = ingest.ingest_path(operator, write_case(tmp_path / "a"))
    finally:
        checking.configured_scanner.cache_clear()
    assert sub.status == "rejected"
    assert [e["code"] for e in sub.errors] == ["GD-4-1"]


# --- regressions from the review of the checks ------------------------------------------------------


def test_precheck_shows_a_source_only_its_own_fonds(tmp_path, test_catalogue, operator):
    """A source system of fonds B002 learns nothing about T001's records, and may not pre-check T001 cases."""
    from dangan.catalog.services import upsert_fonds, upsert_service_item

    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(write_case(tmp_path / "t001"))]).exit_code == 0
    other = upsert_fonds(operator, code="B002", name="另一单位", region_code="330899")
    upsert_service_item(operator, other, code="TEST-ITEM", name="测试事项", retention="D30", class_code="SP")
    _, token_b = catalog.issue_source_token(operator, code="SYS-B", name="B系统", fonds=[other])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_b}")
    same_case_number = write_case(tmp_path / "b", file_number="B-1", fonds="B002", as_zip=True)
    with open(same_case_number, "rb") as f:
        res = client.post("/api/v1/checks", {"package": f}, format="multipart")
    assert res.status_code == 200, res.content
    [dup] = [r for r in res.json()["report"]["results"] if r["code"] == "GD-1-8"]
    assert dup["outcome"] == "pass" and "330899-A101" not in json.dumps(res.json(), ensure_ascii=False)
    t001 = write_case(tmp_path / "t", file_number="T-2", as_zip=True)
    with open(t001, "rb") as f:
        res = client.post("/api/v1/checks", {"package": f}, format="multipart")
    assert res.status_code == 400 and res.json()["code"] == "FONDS_NOT_ALLOWED"


def test_check_honours_the_batch_manifest(tmp_path, test_catalogue):
    from dangan.core.package.metadata import batch_manifest_xml
    from dangan.core.package.model import BatchManifest, BatchPackageEntry

    batch = tmp_path / "batch"
    a = write_case(batch, file_number="F-1")
    entry = BatchPackageEntry(name=a.name, fonds_code="T001", item_code="TEST-ITEM", digest="0" * 64)
    (batch / "批次清单.xml").write_bytes(
        batch_manifest_xml(BatchManifest(batch_number="B1", packages=[entry]))
    )
    res = CliRunner().invoke(main, ["check", "--json", str(batch)])
    assert res.exit_code == 1
    failed = {r["code"] for r in _json(res)["packages"][0]["report"]["results"] if r["outcome"] == "fail"}
    assert "GD-1-14" in failed


def test_carrier_extra_files_and_names_with_markup(tmp_path, test_catalogue):
    carrier = tmp_path / "cdrom"
    write_case(carrier, file_number="C-1")
    (carrier / "autorun.inf").write_text("[autorun]\nopen=evil.exe\n")
    res = CliRunner().invoke(main, ["check", "--json", "--medium", "DVD-R", str(carrier)])
    assert res.exit_code == 1
    results = {r["code"]: r for r in _json(res)["packages"][0]["report"]["results"]}
    assert results["GD-4-3"]["outcome"] == "fail" and results["GD-4-3"]["target"] == "autorun.inf"
    assert results["GD-4-4"]["outcome"] == "pass"
    assert results["GD-4-5"]["outcome"] == "not_run" and results["GD-4-6"]["outcome"] == "pass"

    pkg, files = make_case(file_number="M-1")
    odd = writer.write_folder(pkg, files, tmp_path / "m").rename(tmp_path / "m" / "pkg[bold]x")
    res = CliRunner().invoke(main, ["check", str(odd)])
    assert res.exit_code == 0 and "pkg[bold]x" in res.output, res.output


def test_stale_check_folders_are_swept(tmp_path):
    import os
    import time

    from dangan.ingest.checking import sweep_stale_work

    old, fresh, other = tmp_path / "dangan-check-old", tmp_path / "precheck-new", tmp_path / "keep-me"
    for d in (old, fresh, other):
        d.mkdir()
        (d / "personal.pdf").write_bytes(b"x")
    past = time.time() - 7 * 3600
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    assert sweep_stale_work(tmp_path) == 1
    assert not old.exists() and fresh.exists() and other.exists()
