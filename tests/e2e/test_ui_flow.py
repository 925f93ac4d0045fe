"""End to end in a real browser: log in, confirm a pre-archived case, read its record page; return a case.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright's sync API against pytest-django's
live server. Without Chromium the test is skipped, except under CI (env CI set), where it fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
PASSWORD = "officer-password-42"


@pytest.fixture(autouse=True)
def _allow_orm_next_to_playwright(monkeypatch):
    """Playwright's sync API keeps an event loop in this thread; the ORM calls of the test and of
    the live server are plain synchronous code, so allow them (tests of this module only)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pending_record(transactional_db, settings, tmp_path):
    """An officer, the demo catalogue and one ingested case of an item without auto-confirm."""
    from dangan.accounts.roles import Actor, Role
    from dangan.accounts.services import create_user
    from dangan.archive.states import RecordStatus
    from dangan.demo.catalog import SERVICE_ITEMS
    from dangan.demo.generator import generate
    from dangan.ingest import services as ingest_services
    from dangan.quickstart import load_demo_catalogue

    settings.JOBS_EAGER = True
    create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)
    actor = Actor.system("test")
    load_demo_catalogue(actor)
    item = next(i for i in SERVICE_ITEMS if not i.auto_confirm)
    (package,) = generate(tmp_path / "batch", cases=1, seed=11, items=(item,), batch=False)
    submission = ingest_services.ingest_path(actor, package)
    assert submission.status == "accepted", submission.errors
    record = submission.record
    assert record.status == RecordStatus.PRE_ARCHIVE
    return record


@pytest.mark.browser
def test_officer_confirms_a_case_and_reads_its_record(live_server, pending_record):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    record = pending_record
    RESULTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.set_default_timeout(15_000)
            dialogs = accept_dialogs(page)
            outside = requests_elsewhere(page, live_server.url)
            csp = csp_violations(page)

            page.goto(f"{live_server.url}/prearchive/")
            expect(page).to_have_url(re.compile(r"/login/\?next=/prearchive/$"))
            page.get_by_label("用户名").fill("officer")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(f"{live_server.url}/prearchive/")
            expect(page.get_by_role("heading", level=1)).to_have_text("预归档库")

            row = page.locator(f"#rec-{record.pk}")
            expect(row).to_contain_text(record.file_number)
            expect(page.locator("#waiting-count")).to_have_text("1 件待确认")
            page.screenshot(path=str(RESULTS / "ui-prearchive.png"), full_page=True)
            row.get_by_role("button", name="确认归档").click()

            # With htmx the row turns into the archived row; without JS the success message links it.
            code_link = page.locator("a.code-link").first
            expect(code_link).to_be_visible()
            code = code_link.inner_text().strip()
            assert code
            # Confirming asked first (the irreversible step), and the counter followed the row.
            assert len(dialogs) == 1 and "不可撤销" in dialogs[0] and record.file_number in dialogs[0]
            expect(page.locator("#waiting-count")).to_have_text("0 件待确认")
            page.screenshot(path=str(RESULTS / "ui-prearchive-confirmed.png"), full_page=True)
            code_link.click()

            expect(page).to_have_url(f"{live_server.url}/records/{record.pk}/")
            expect(page.locator("h1.archival-code")).to_have_text(code)
            expect(page.locator(".main-nav a[aria-current]")).to_have_text("正式库")
            files = page.locator("table.files tr.file-row")
            expect(files.first).to_be_visible()
            assert files.count() >= 1
            expect(page.locator("#report")).to_contain_text("固化信息有效性检测")
            expect(page.locator("table.report-summary")).to_contain_text("真实性")
            page.screenshot(path=str(RESULTS / "ui-record.png"), full_page=True)
            # The report for people downloads as a PDF (Chinese, font embedded: tests/test_reports.py).
            with page.expect_download() as download:
                page.locator('a[href$="report.pdf"]').click()
            assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

            page.goto(f"{live_server.url}/")
            expect(page.locator("svg.bar-chart").first).to_be_visible()
            page.screenshot(path=str(RESULTS / "ui-dashboard.png"), full_page=True)

            # The language switch in the header turns the UI to English (and back).
            page.get_by_role("button", name="English").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
            page.goto(f"{live_server.url}/records/{record.pk}/")
            expect(page.locator("#files-heading")).to_have_text("Files")
            page.screenshot(path=str(RESULTS / "ui-record-en.png"))
            page.get_by_role("button", name="中文").click()
            expect(page.locator("#files-heading")).to_have_text("文件信息")
        finally:
            browser.close()

    record.refresh_from_db()
    assert record.status == "archived"
    assert record.archival_code == code
    assert not outside, outside
    assert not csp, csp  # every page works under the Content-Security-Policy


@pytest.mark.browser
def test_officer_returns_a_case_and_reads_why(live_server, pending_record):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    record = pending_record
    RESULTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            dialogs = accept_dialogs(page)
            outside = requests_elsewhere(page, live_server.url)
            csp = csp_violations(page)
            log_in(page, live_server.url, "/prearchive/")

            # The record page of a pre-archived case belongs to the pre-archive library.
            page.goto(f"{live_server.url}/records/{record.pk}/")
            expect(page.locator(".main-nav a[aria-current]")).to_have_text("预归档库")
            expect(page.locator(".breadcrumb a")).to_have_text("预归档库")

            page.goto(f"{live_server.url}/prearchive/")
            expect(page.locator("#waiting-count")).to_have_text("1 件待确认")
            row = page.locator(f"#rec-{record.pk}")
            row.locator("summary").click()
            row.get_by_label("退回原因").fill("缺少申请人签字页")
            row.get_by_role("button", name="退回发送方").click()
            expect(row).to_contain_text("已退回")
            expect(page.locator("#waiting-count")).to_have_text("0 件待确认")
            assert not dialogs  # returning is not irreversible: no confirmation dialog

            page.goto(f"{live_server.url}/records/{record.pk}/")
            notice = page.locator(".notice-returned")
            expect(notice).to_be_visible()
            expect(notice).to_contain_text("缺少申请人签字页")
            expect(notice).to_contain_text("officer")
            expect(page.locator(".main-nav a[aria-current]")).to_have_count(0)
            expect(page.locator(".breadcrumb")).to_contain_text("已退回")
            page.screenshot(path=str(RESULTS / "ui-record-returned.png"), full_page=True)
        finally:
            browser.close()

    record.refresh_from_db()
    assert record.status == "returned"
    assert not outside, outside
    assert not csp, csp  # every page works under the Content-Security-Policy


def accept_dialogs(page) -> list[str]:
    """Accept every confirm() dialog and keep its text (Playwright dismisses them by default)."""
    seen: list[str] = []

    def accept(dialog) -> None:
        seen.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return seen


def csp_violations(page) -> list[str]:
    """What the browser refused under the Content-Security-Policy (inline script, style or handler,
    eval, a foreign source): Chromium reports each refusal on the console."""
    seen: list[str] = []

    def check(message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            where = message.location or {}
            seen.append(f"{page.url}: {message.text} [{where.get('url', '')}:{where.get('lineNumber', '')}]")

    page.on("console", check)
    return seen


def requests_elsewhere(page, base_url: str) -> list[str]:
    """URLs the page asked for outside the live server (the UI makes no external requests)."""
    seen: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base_url, "data:")) else seen.append(r.url))
    return seen


def log_in(page, base_url: str, next_path: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}{next_path}")
    page.get_by_label("用户名").fill("officer")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base_url}{next_path}")
