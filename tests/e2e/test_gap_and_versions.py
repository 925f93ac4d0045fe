"""End to end in a real browser: an officer archives a case with a gap (容缺归档) and a reason, supplies
the missing material later, sees both AIP versions with who, when and why, downloads each, and
corrects the title (a third version).

The service item's scope and its 容缺 permission (the archive-stage profile making GD-2-9 non-blocking)
are set through the catalogue services in the fixture. Same Chromium and live-server set-up as
test_ui_flow.py.
"""

from __future__ import annotations

import re
import zipfile

import pytest

from tests.e2e.test_ui_flow import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    RESULTS,
    accept_dialogs,
    csp_violations,
    log_in,
    requests_elsewhere,
    require_chromium,
)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _allow_orm_next_to_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def gap_case(transactional_db, settings, tmp_path):
    """An officer, a service item that allows 容缺, and one case whose 申请书 (A01, required) is missing."""
    from dangan.accounts.roles import Actor, Role
    from dangan.accounts.services import create_user
    from dangan.archive.tests.conftest import ALLOW_GAP, case_package
    from dangan.catalog import services as catalog
    from dangan.core.package import writer
    from dangan.ingest import services as ingest

    settings.JOBS_EAGER = True
    create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)
    actor = Actor.system("test")
    fonds = catalog.upsert_fonds(actor, code="T001", name="示范市行政审批服务局", region_code="330899")
    catalog.upsert_service_item(
        actor, fonds, code="GAP-ITEM", name="容缺测试事项", retention="D30", class_code="SP",
        scope=[{"code": "A01", "name": "申请书", "required": True},
               {"code": "B01", "name": "受理通知书", "required": True},
               {"code": "C01", "name": "决定书", "required": True}],
        check_profile=ALLOW_GAP,
    )  # fmt: skip
    pkg, files = case_package("330899-GAP-2025-000001", item="GAP-ITEM", omit=("申报材料/申请书.pdf",))
    sub = ingest.ingest_path(actor, writer.write_folder(pkg, files, tmp_path / "in"))
    assert sub.status == "accepted", sub.errors
    assert sub.record.gap_status == "open"
    return sub.record


def test_officer_archives_with_a_gap_supplements_and_sees_both_versions(live_server, gap_case, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from dangan.archive.tests.conftest import pdf

    record = gap_case
    supplied = tmp_path / "申请书扫描件.pdf"
    supplied.write_bytes(pdf("supplied in the browser"))
    RESULTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            dialogs = accept_dialogs(page)
            outside = requests_elsewhere(page, live_server.url)
            csp = csp_violations(page)
            log_in(page, live_server.url, "/prearchive/")

            # The pre-archive library shows the gap and sends the officer to the record for a reason.
            row = page.locator(f"#rec-{record.pk}")
            expect(row.locator(".gap-chip")).to_contain_text("申请书")
            expect(row.locator('input[name="ids"]')).to_have_count(0)
            row.get_by_role("link", name="容缺归档…").click()
            expect(page).to_have_url(re.compile(rf"/records/{record.pk}/#gap$"))
            banner = page.locator("#gap")
            expect(banner).to_contain_text("缺少必要材料")
            expect(banner).to_contain_text("A01")
            page.screenshot(path=str(RESULTS / "ui-gap-prearchive-record.png"), full_page=True)

            # Archive with the gap: the reason is required (the browser refuses an empty one).
            page.get_by_label("容缺原因").fill("申请人承诺五个工作日内补交申请书原件扫描件")
            page.get_by_role("button", name="容缺归档", exact=True).click()
            code_link = page.locator(".messages a.code-link, a.code-link").first
            expect(code_link).to_be_visible()
            code = code_link.inner_text().strip()
            assert code and len(dialogs) == 1
            expect(page.locator("h1.archival-code")).to_have_text(code)
            expect(page.locator("#gap")).to_contain_text("容缺归档")
            expect(page.locator("#gap")).to_contain_text("申请人承诺五个工作日内补交申请书原件扫描件")
            expect(page.locator("tr.version-row")).to_have_count(1)

            # Supply the missing material later: a new version of the AIP.
            form = page.locator("#supplement-form")
            form.get_by_label("缺少的材料").select_option("A01")
            form.get_by_label("文件").set_input_files(str(supplied))
            form.get_by_label("补充原因").fill("申请人已补交申请书")
            form.get_by_role("button", name="补充并生成新版本").click()
            expect(page).to_have_url(re.compile(rf"/records/{record.pk}/#aip$"))
            expect(page.locator(".messages")).to_contain_text("已生成第 2 版档案信息包")
            expect(page.locator("#gap")).to_contain_text("容缺已补齐")
            expect(page.locator("h1.archival-code")).to_have_text(code)  # the 档号 stays

            # Both versions, newest first, with who, when and why; each one downloads.
            rows = page.locator("tr.version-row")
            expect(rows).to_have_count(2)
            v2, v1 = page.locator("#version-2"), page.locator("#version-1")
            expect(v2).to_contain_text("补充材料")
            expect(v2).to_contain_text("申请人已补交申请书")
            expect(v2).to_contain_text("officer")
            expect(v2).to_contain_text("申报材料/申请书.pdf")
            expect(v1).to_contain_text("归档")
            expect(v1).to_contain_text("申请人承诺五个工作日内补交申请书原件扫描件")
            expect(page.locator("table.files")).to_contain_text("申报材料/申请书.pdf")
            page.locator("#aip").scroll_into_view_if_needed()
            page.screenshot(path=str(RESULTS / "ui-gap-versions.png"), full_page=True)

            contents = {}
            for version, row_el in ((1, v1), (2, v2)):
                with page.expect_download() as info:
                    row_el.get_by_role("link", name=re.compile("下载")).click()
                download = info.value
                assert download.suggested_filename.endswith(f"-v{version}.zip")
                with zipfile.ZipFile(download.path()) as zf:
                    contents[version] = zf.namelist()
            assert not any(n.endswith("data/申报材料/申请书.pdf") for n in contents[1])
            assert any(n.endswith("data/申报材料/申请书.pdf") for n in contents[2])

            # A correction (更正) of the title: a third version with its reason.
            page.get_by_role("link", name="更正本档案…").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("更正本档案")
            page.get_by_label("办件名称").fill("关于张三容缺测试事项的办件（更正）")
            page.get_by_label("更正原因").fill("题名漏写“更正”二字")
            page.get_by_role("button", name="更正并生成新版本").click()
            expect(page.locator(".messages")).to_contain_text("已生成第 3 版档案信息包")
            expect(page.locator(".record-title")).to_have_text("关于张三容缺测试事项的办件（更正）")
            expect(page.locator("tr.version-row")).to_have_count(3)
            expect(page.locator("#version-3")).to_contain_text("题名漏写“更正”二字")
        finally:
            browser.close()

    record.refresh_from_db()
    assert record.status == "archived" and record.archival_code == code
    assert record.gap_status == "closed"
    assert list(record.aips.order_by("version").values_list("version", "kind")) == [
        (1, "archived"),
        (2, "supplement"),
        (3, "correction"),
    ]
    assert not outside, outside
    assert not csp, csp  # every page works under the Content-Security-Policy
