"""The pages under the Content-Security-Policy in a real browser (security issue, hardening).

The policy allows scripts and styles from the site's own static files only, so any inline script,
``style`` attribute or ``on…`` handler left in a template would be refused by the browser — and the
page would silently lose what it did. Here an officer and an administrator walk through the pages
and the Django admin; Chromium must report no refusal on the console, and what used to be inline
(confirm dialogs, "select all on this page", indentation, card colours, chart colours) must still
work from dangan.js and dangan.css.

Same Chromium and live-server set-up as test_ui_flow.py.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_ui_flow import (
    CHROMIUM,
    CHROMIUM_ARGS,
    accept_dialogs,
    csp_violations,
    log_in,
    pending_record,  # noqa: F401 (fixture)
    requests_elsewhere,
    require_chromium,
)

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "admin-password-4242"


@pytest.fixture(autouse=True)
def _allow_orm_next_to_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def site(pending_record):  # noqa: F811
    """The officer's pending case, a two-level classification scheme and a system administrator."""
    from dangan.accounts.roles import Actor, Role
    from dangan.accounts.services import create_user
    from dangan.catalog import services as catalog

    actor = Actor.system("test")
    fonds = pending_record.fonds
    parent = catalog.create_class(actor, fonds, code="ZZ", name="上级类目")
    catalog.create_class(actor, fonds, code="ZZA", name="下级类目", parent=parent)
    create_user("root", [Role.SYSTEM_ADMIN], password=ADMIN_PASSWORD)
    return pending_record


def test_pages_work_under_the_content_security_policy(live_server, site):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    record, base = site, live_server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            dialogs = accept_dialogs(page)
            outside = requests_elsewhere(page, base)
            csp = csp_violations(page)

            # The policy is there, strict, and the console check sees a refusal when there is one.
            response = page.goto(f"{base}/login/")
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "style-src 'self'" in policy
            assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
            page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
            page.wait_for_timeout(200)
            assert csp and "style" in csp[0], "the console listener must see a refused inline style"
            csp.clear()

            log_in(page, base, "/prearchive/")
            # "Select all on this page" (was an onclick attribute): dangan.js ticks the row boxes.
            boxes = page.locator("input[name='ids'][form='bulk-confirm']")
            assert boxes.count() >= 1
            page.locator("input.select-page").check()
            for i in range(boxes.count()):
                expect(boxes.nth(i)).to_be_checked()
            page.locator("input.select-page").uncheck()
            expect(boxes.first).not_to_be_checked()

            for path in (
                "/",
                "/records/",
                f"/records/{record.pk}/",
                "/deadlines/",
                "/deadlines/records/?kind=archive&band=overdue",
                "/rejected/",
                "/jobs/",
                "/records/catalogue/",
                "/catalog/",
                f"/catalog/classes/?fonds={record.fonds.code}",
                "/catalog/codes/",
                "/catalog/workbook/",
            ):
                resp = page.goto(f"{base}{path}")
                assert resp is not None and resp.status == 200, path
                page.wait_for_load_state("load")

            # The class tree's indentation comes from dangan.css (was a style attribute).
            page.goto(f"{base}/catalog/classes/?fonds={record.fonds.code}")
            child = page.locator("td.indent-1").first
            expect(child).to_be_visible()
            assert child.evaluate("e => getComputedStyle(e).paddingLeft") == "33px"  # 2.2rem of 15px

            # The deadline cards keep their band colours; chart segments keep theirs.
            page.goto(f"{base}/deadlines/")
            overdue = page.locator("li.card-overdue").first
            assert overdue.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(180, 35, 24)"
            segments = page.locator("svg.stacked-chart rect.segment")
            for i in range(segments.count()):
                seg = segments.nth(i)
                colour = seg.get_attribute("fill")
                assert seg.evaluate("e => getComputedStyle(e).fill") == _rgb(colour), colour

            # Confirming from the record page asks first (was an onsubmit attribute).
            page.goto(f"{base}/records/{record.pk}/")
            page.get_by_role("button", name="确认归档").click()
            expect(page.locator("h1.archival-code")).not_to_be_empty()
            assert len(dialogs) == 1 and "不可撤销" in dialogs[0]
            context.close()

            # The Django admin, as a system administrator.
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            outside += requests_elsewhere(page, base)
            admin_csp = csp_violations(page)
            page.goto(f"{base}/admin/login/?next=/admin/")
            page.locator("#id_username").fill("root")
            page.locator("#id_password").fill(ADMIN_PASSWORD)
            page.locator("input[type=submit]").click()
            expect(page.locator("#site-name")).to_be_visible()
            for path in (
                "/admin/",
                "/admin/catalog/fonds/",
                f"/admin/catalog/fonds/{record.fonds.pk}/change/",
                "/admin/catalog/serviceitem/",
                "/admin/catalog/serviceitem/add/",
                "/admin/catalog/sourcesystem/",
            ):
                resp = page.goto(f"{base}{path}")
                assert resp is not None and resp.status == 200, path
                page.wait_for_load_state("load")
            # The admin's own scripts run (nav_sidebar.js): the sidebar toggle folds the sidebar.
            page.goto(f"{base}/admin/catalog/fonds/")
            main = page.locator("#main")
            shifted = "shifted" in (main.get_attribute("class") or "")
            page.locator("#toggle-nav-sidebar").click()
            assert ("shifted" in (main.get_attribute("class") or "")) != shifted
            csp += admin_csp
        finally:
            browser.close()

    assert not csp, "\n".join(csp)
    assert not outside, outside


def _rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i : i + 2], 16) for i in (0, 2, 4)))
