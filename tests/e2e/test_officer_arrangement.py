"""The records officer's whole arrangement flow in a real browser (issue 4, "Done when"):

set up a service item's archiving scope and retention on the catalogue pages, archive a case with a
gap (容缺) and a reason, supplement it later, see both AIP versions and download each; then confirm
several pre-archived cases as one background job and watch its page reach 100 %, and export the
formal library as one ZIP of AIPs.

What is not done in the browser, and why:

* The cases arrive through the intake services (a service system sends them; there is no upload page).

Same Chromium and live-server set-up as test_ui_flow.py. The bulk job runs in the in-process thread
pool, as under ``dangan serve`` (DANGAN_JOBS_EAGER off for that step), so the page really polls it.
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
ITEM = "GAP-ITEM"


@pytest.fixture(autouse=True)
def _allow_orm_next_to_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def arrangement(transactional_db, settings):
    """An officer and a service item whose scope lacks the 申请书 (A01); 容缺 is allowed in the browser."""
    from dangan.accounts.roles import Actor, Role
    from dangan.accounts.services import create_user
    from dangan.catalog import services as catalog

    settings.JOBS_EAGER = True
    create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)
    actor = Actor.system("test")
    fonds = catalog.upsert_fonds(actor, code="T001", name="示范市行政审批服务局", region_code="330899")
    return catalog.upsert_service_item(
        actor, fonds, code=ITEM, name="容缺测试事项", retention="D30", class_code="SP",
        scope=[{"code": "B01", "name": "受理通知书", "required": True},
               {"code": "C01", "name": "决定书", "required": True}],
    )  # fmt: skip


def _ingest(tmp_path, number: str, *, omit: tuple[str, ...] = ()):
    from dangan.accounts.roles import Actor
    from dangan.archive.tests.conftest import case_package
    from dangan.core.package import writer
    from dangan.ingest import services as ingest

    pkg, files = case_package(number, item=ITEM, omit=omit)
    sub = ingest.ingest_path(
        Actor.system("service-system"), writer.write_folder(pkg, files, tmp_path / number)
    )
    assert sub.status == "accepted", sub.errors
    return sub.record


def test_officer_sets_up_the_item_archives_with_a_gap_supplements_and_bulk_confirms(
    live_server, arrangement, settings, tmp_path
):
    require_chromium()
    from django.utils import timezone
    from playwright.sync_api import expect, sync_playwright

    from dangan import jobs
    from dangan.archive.models import Record
    from dangan.archive.tests.conftest import pdf
    from dangan.jobs.models import Job

    item = arrangement
    today = timezone.localdate().isoformat()
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
            log_in(page, live_server.url, "/catalog/")

            # 1. The catalogue: the item's archiving scope gets the 申请书 as a required material.
            expect(page.get_by_role("heading", level=1)).to_have_text("归档配置信息")
            page.get_by_role("link", name="容缺测试事项").click()
            expect(page).to_have_url(f"{live_server.url}/catalog/items/{item.pk}/")
            scope_form = page.locator("#scope-form")
            scope_form.get_by_label("材料编码").fill("A01")
            scope_form.get_by_label("材料名称").fill("申请书")
            scope_form.get_by_label("必要性").select_option(label="必要")
            scope_form.get_by_role("button", name="保存材料").click()
            expect(page.locator("table.scope tr[data-material='A01']")).to_contain_text("必要")
            # ... and 容缺归档 allowed for the item (part of its archiving configuration).
            expect(page.locator("#gap-state")).to_contain_text("不允许")
            page.locator("#gap-form").get_by_role("button", name="允许容缺归档").click()
            expect(page.locator("#gap-state")).to_contain_text("允许：")

            # 2. ... and a new retention version (permanent) with its basis and effective date.
            retention_form = page.locator("#retention-form")
            retention_form.get_by_label("保管期限").select_option("Y")
            retention_form.get_by_label("依据").fill("《示范市政务服务档案保管期限表》第12条")
            retention_form.get_by_label("生效日期").fill(today)
            retention_form.get_by_role("button", name="新增版本").click()
            expect(page.locator("#current-retention")).to_contain_text("Y")
            expect(page.locator("#current-basis")).to_contain_text("第12条")
            expect(page.locator("table.retention-history tr.version-in_force")).to_contain_text("第12条")
            page.screenshot(path=str(RESULTS / "officer-catalog-item.png"), full_page=True)

            # 3. A case arrives without the 申请书: filed in the pre-archive library with a gap.
            gap_record = _ingest(tmp_path, "330899-GAP-2025-000101", omit=("申报材料/申请书.pdf",))
            assert gap_record.gap_status == "open" and gap_record.retention == "Y"
            page.goto(f"{live_server.url}/prearchive/")
            row = page.locator(f"#rec-{gap_record.pk}")
            expect(row.locator(".gap-chip")).to_contain_text("申请书")
            row.get_by_role("link", name="容缺归档…").click()
            expect(page.locator("#gap")).to_contain_text("A01")

            # 4. Archive it with the gap and a reason.
            page.get_by_label("容缺原因").fill("申请人承诺三个工作日内补交申请书")
            page.get_by_role("button", name="容缺归档", exact=True).click()
            expect(page.locator("h1.archival-code")).to_have_text(re.compile(r"-Y-SP-\d+$"))
            code = page.locator("h1.archival-code").inner_text().strip()
            assert len(dialogs) == 1
            expect(page.locator("#gap")).to_contain_text("申请人承诺三个工作日内补交申请书")
            page.screenshot(path=str(RESULTS / "officer-gap-archived.png"), full_page=True)

            # 5. Later: supplement the missing file, a second AIP version.
            form = page.locator("#supplement-form")
            form.get_by_label("缺少的材料").select_option("A01")
            form.get_by_label("文件").set_input_files(str(supplied))
            form.get_by_label("补充原因").fill("申请人已补交申请书")
            form.get_by_role("button", name="补充并生成新版本").click()
            expect(page.locator(".messages")).to_contain_text("已生成第 2 版档案信息包")
            expect(page.locator("#gap")).to_contain_text("容缺已补齐")
            expect(page.locator("h1.archival-code")).to_have_text(code)

            # 6. Both versions on the record page, each downloadable.
            v2, v1 = page.locator("#version-2"), page.locator("#version-1")
            expect(page.locator("tr.version-row")).to_have_count(2)
            expect(v2).to_contain_text("申请人已补交申请书")
            expect(v1).to_contain_text("申请人承诺三个工作日内补交申请书")
            page.locator("#aip").scroll_into_view_if_needed()
            page.screenshot(path=str(RESULTS / "officer-versions.png"), full_page=True)
            contents = {}
            for version, row_el in ((1, v1), (2, v2)):
                with page.expect_download() as info:
                    row_el.get_by_role("link", name=re.compile("下载")).click()
                assert info.value.suggested_filename == f"{code}-v{version}.zip"
                with zipfile.ZipFile(info.value.path()) as zf:
                    contents[version] = zf.namelist()
            assert not any(n.endswith("data/申报材料/申请书.pdf") for n in contents[1])
            assert any(n.endswith("data/申报材料/申请书.pdf") for n in contents[2])

            # 7. Bulk: four complete cases confirmed as one background job (the thread pool runs it).
            pending = [_ingest(tmp_path, f"330899-GAP-2025-00020{n}") for n in range(1, 5)]
            settings.JOBS_EAGER = False
            page.goto(f"{live_server.url}/prearchive/")
            expect(page.locator("#waiting-count")).to_have_text("4 件待确认")
            for record in pending[:3]:
                page.locator(f"#rec-{record.pk} input[name='ids']").check()
            page.get_by_label("全选 4 件待确认办件（最多 1000 件）").check()
            page.screenshot(path=str(RESULTS / "officer-bulk-prearchive.png"), full_page=True)
            page.locator("#bulk-confirm").get_by_role("button", name="批量确认归档").click()
            expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
            assert len(dialogs) == 2 and "所选办件" in dialogs[1]
            expect(page.get_by_role("heading", level=1)).to_contain_text("批量归档确认")
            expect(page.locator("#job-percent")).to_have_text("100%", timeout=30_000)
            expect(page.locator("#job-status")).to_have_text("已完成")
            expect(page.locator("#job-counts")).to_have_text("已处理 4 / 4 件：成功 4 件，失败 0 件。")
            page.screenshot(path=str(RESULTS / "officer-bulk-job.png"), full_page=True)
            page.get_by_role("link", name="正式库").last.click()
            expect(page.locator("table.records tbody tr")).to_have_count(5)
            codes = [c.strip() for c in page.locator("table.records tbody td.mono a").all_inner_texts()]
            page.screenshot(path=str(RESULTS / "officer-formal-library.png"), full_page=True)

            # 8. Export them all as one ZIP of AIPs; only its creator gets the download link.
            page.get_by_label("全选符合筛选条件的 5 件档案（最多 1000 件）").check()
            page.get_by_role("button", name="导出档案信息包（ZIP）").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("批量导出")
            expect(page.locator("#job-percent")).to_have_text("100%", timeout=30_000)
            with page.expect_download() as info:
                page.locator("#job-download").click()
            with zipfile.ZipFile(info.value.path()) as zf:
                names = set(zf.namelist())
            assert names == {"manifest.json", *(f"{c}-v1.zip" for c in codes if c != code), f"{code}-v2.zip"}
        finally:
            browser.close()
            jobs.wait_idle()

    confirm_job, export_job = Job.objects.order_by("id")
    assert (confirm_job.kind, confirm_job.status, confirm_job.done, confirm_job.failed) == (
        "bulk_confirm",
        "done",
        4,
        0,
    )
    assert (export_job.kind, export_job.status, export_job.done) == ("bulk_export", "done", 5)
    assert not Record.objects.filter(status="pre_archive").exists()
    gap_record.refresh_from_db()
    assert gap_record.archival_code == code and gap_record.gap_status == "closed"
    assert list(gap_record.aips.order_by("version").values_list("kind", flat=True)) == [
        "archived",
        "supplement",
    ]
    assert not outside, outside
    assert not csp, csp  # every page works under the Content-Security-Policy
