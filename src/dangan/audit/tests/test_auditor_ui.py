"""The auditor's pages: the list with its filters, the CSV and PDF downloads, the chain verification,
one audit event per request, 403 for everyone who is not the auditor, and no inline script or style
(the pages must work under a strict Content-Security-Policy)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dangan.accounts.roles import Actor, Role
from dangan.accounts.services import create_user
from dangan.audit import events
from dangan.audit.models import AuditEvent
from dangan.audit.tests.test_audit_services import SHANGHAI, at, pdf_pages, require_font, tamper

PASSWORD = "Long-enough-pw-1"
GET_URLS = ("audit:events", "audit:export-csv", "audit:export-pdf", "audit:verify")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(client: Client, name: str, role: Role) -> Client:
    user, _ = create_user(name, [role], password=PASSWORD)
    client.force_login(user)
    return client


@pytest.fixture
def auditor_client(db, client) -> Client:
    return login(client, "aud", Role.AUDITOR)


@pytest.fixture
def trail(db):
    clerk = Actor(name="张三", kind="user", ip="10.1.2.7")
    officer = Actor(name="officer", kind="user", ip="192.168.0.5", roles=frozenset({Role.RECORDS_OFFICER}))
    with at(dt.datetime(2026, 3, 1, 23, 30, tzinfo=SHANGHAI)):
        events._log("case.received", clerk, "submission", "s-1", package="办件一.zip", channel="api")
    with at(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        events._log(
            "record.archived", officer, "record", 7, archival_code="T001-WS·2026-Y-0001", note="营业执照"
        )
        events._log("records.listed", officer, "record", "", filters={"q": "x"}, count=3)
    with at(dt.datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)):
        events._log("case.rejected", clerk, "submission", "s-2", outcome="failure", errors=[{"code": "E1"}])
        events._log("x.unknown_kind", officer, "thing", "t-1", secret_word="紫禁城")


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def appended(before: int) -> list[tuple[str, str]]:
    return [(e.kind, e.actor) for e in AuditEvent.objects.filter(seq__gt=before).order_by("seq")]


def rows_of(html: str) -> list[str]:
    """The kind codes of the listed events, in page order."""
    body = html.split('<table class="data audit-events">', 1)[-1]
    return re.findall(r'<span class="(?:sub )?mono">([a-z_]+\.[a-z_.]+)</span></td>', body)


# --- who may ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.SYSTEM_ADMIN, Role.RECORDS_OFFICER, Role.SECURITY_ADMIN, Role.SERVICE_CLERK]
)
def test_everyone_but_the_auditor_gets_403_on_every_audit_url(db, client, role):
    login(client, "other", role)
    before = last_seq()
    for name in GET_URLS:
        assert client.get(reverse(name)).status_code == 403, name
    assert client.post(reverse("audit:verify")).status_code == 403
    # Nothing was read: the only events are the refusals themselves (one per request).
    assert appended(before) == [("access.denied", "other")] * (len(GET_URLS) + 1)
    page = client.get(reverse("web:dashboard")).content.decode()
    assert reverse("audit:events") not in page  # no navigation entry either


def test_anonymous_is_sent_to_the_login_page(db, client):
    for name in GET_URLS:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_auditor_has_a_navigation_entry(auditor_client):
    page = auditor_client.get(reverse("web:dashboard")).content.decode()
    assert f'href="{reverse("audit:events")}"' in page and "审计" in page


# --- the list ----------------------------------------------------------------------------------------


def test_list_newest_first_with_chinese_labels_and_details(trail, auditor_client):
    before = last_seq()
    response = auditor_client.get(reverse("audit:events"))
    assert response.status_code == 200
    html = response.content.decode()
    assert appended(before) == [("audit.read", "aud")]
    trail_kinds = ["x.unknown_kind", "case.rejected", "records.listed", "record.archived", "case.received"]
    assert [k for k in rows_of(html) if k in trail_kinds] == trail_kinds
    assert "归档确认" in html and "拒收办件" in html  # known kinds by their Chinese names
    assert "档案员" in html  # the role by its name
    assert "<details>" in html and "营业执照" in html and "紫禁城" in html  # the detail JSON, Chinese as is
    assert 'aria-current="true"' in html and "审计日志" in html
    assert "每日事件数" in html and "<svg" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"date_from": "2026-03-02", "date_to": "2026-03-02"}, ["records.listed", "record.archived"]),
        ({"date_to": "2026-03-01"}, ["case.received"]),
        ({"actor": "张三"}, ["case.rejected", "case.received"]),
        ({"kind": "record."}, ["record.archived"]),
        ({"kind": "case"}, ["case.rejected", "case.received"]),
        ({"outcome": "failure"}, ["case.rejected"]),
        ({"q": "营业执照"}, ["record.archived"]),  # free text inside the detail JSON
        ({"q": "紫禁城", "role": "records_officer"}, ["x.unknown_kind"]),
        ({"source_ip": "10.1.2.7"}, ["case.rejected", "case.received"]),
        ({"object_type": "submission", "object_id": "s-2"}, ["case.rejected"]),
    ],
)
def test_filters(trail, auditor_client, params, expected):
    before = last_seq()
    html = auditor_client.get(reverse("audit:events"), params).content.decode()
    assert rows_of(html) == expected
    logged = AuditEvent.objects.filter(seq__gt=before).get()
    assert logged.kind == "audit.read" and logged.detail["filters"] == params
    assert logged.detail["count"] == len(expected)


def test_pagination_keeps_the_filter_and_logs_once_per_page(db, auditor_client):
    for i in range(55):
        events._log("bulk.item", Actor.system("bulk"), "thing", i)
    before = last_seq()
    html = auditor_client.get(reverse("audit:events"), {"kind": "bulk."}).content.decode()
    assert len(rows_of(html)) == 50
    assert "kind=bulk." in html and "page=2" in html
    html = auditor_client.get(reverse("audit:events"), {"kind": "bulk.", "page": "2"}).content.decode()
    assert len(rows_of(html)) == 5
    assert appended(before) == [("audit.read", "aud"), ("audit.read", "aud")]
    assert AuditEvent.objects.get(seq=before + 2).detail == {
        "filters": {"kind": "bulk."},
        "count": 55,
        "page": 2,
    }


def test_an_invalid_filter_is_refused_without_reading(trail, auditor_client):
    before = last_seq()
    response = auditor_client.get(
        reverse("audit:events"), {"date_from": "2026-03-05", "date_to": "2026-03-01"}
    )
    assert response.status_code == 400 and "截止日期早于起始日期" in response.content.decode()
    assert auditor_client.get(reverse("audit:export-csv"), {"date_from": "yesterday"}).status_code == 400
    assert appended(before) == []


def test_english_labels(trail, auditor_client):
    auditor_client.cookies["django_language"] = "en"
    html = auditor_client.get(reverse("audit:events"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Record archived" in html and "Records officer" in html and "Events per day" in html


def test_the_chart_counts_per_day_and_links_to_the_day(trail, auditor_client):
    html = auditor_client.get(
        reverse("audit:events"), {"date_from": "2026-03-01", "date_to": "2026-03-03"}
    ).content.decode()
    assert "2026-03-02: 2" in html
    assert "?date_from=2026-03-02&amp;date_to=2026-03-02" in html


def test_pages_have_no_inline_script_style_or_handlers(trail, auditor_client):
    pages = [
        auditor_client.get(reverse("audit:events")).content.decode(),
        auditor_client.get(reverse("audit:events"), {"q": "x"}).content.decode(),
        auditor_client.get(reverse("audit:verify")).content.decode(),
        auditor_client.post(reverse("audit:verify")).content.decode(),
    ]
    for html in pages:
        main = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
        assert "<script" not in main and "<style" not in main
        assert not re.search(r"\sstyle\s*=", main)
        assert not re.search(r"\son[a-z]+\s*=", main)


# --- exports ----------------------------------------------------------------------------------------


def test_csv_download(trail, auditor_client):
    before = last_seq()
    response = auditor_client.get(reverse("audit:export-csv"), {"kind": "case"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"] and ".csv" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r["kind"] for r in rows] == ["case.received", "case.rejected"]
    assert rows[0]["actor"] == "张三" and json.loads(rows[0]["detail"])["package"] == "办件一.zip"
    assert appended(before) == [("audit.exported", "aud")]
    event = AuditEvent.objects.get(seq=before + 1)
    assert (
        event.detail["format"] == "csv"
        and event.detail["rows"] == 2
        and event.detail["filters"] == {"kind": "case"}
    )


def test_pdf_download(trail, auditor_client):
    require_font()
    before = last_seq()
    response = auditor_client.get(reverse("audit:export-pdf"), {"date_from": "2026-03-01"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = "".join(pdf_pages(response.content))
    assert "审计日志" in text and "张三" in text and "完好" in text
    assert appended(before) == [("audit.exported", "aud")]
    assert AuditEvent.objects.get(seq=before + 1).detail["format"] == "pdf"


# --- verification -----------------------------------------------------------------------------------


def test_verify_needs_a_post_with_csrf(trail, auditor_client):
    before = last_seq()
    html = auditor_client.get(reverse("audit:verify")).content.decode()
    assert "立即校验" in html and "csrfmiddlewaretoken" in html
    assert appended(before) == []  # showing the button reads nothing
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(User.objects.get(username="aud"))
    before = last_seq()
    assert strict.post(reverse("audit:verify")).status_code == 403
    assert appended(before) == []  # refused before anything was verified


def test_verify_shows_intact_then_the_first_bad_seq(trail, auditor_client):
    before = last_seq()
    html = auditor_client.post(reverse("audit:verify")).content.decode()
    assert "verdict-intact" in html and "完好" in html
    assert appended(before) == [("audit.verified", "aud")]

    tamper("UPDATE audit_auditevent SET actor = %s WHERE seq = 4", ["mallory"])
    before = last_seq()
    response = auditor_client.post(reverse("audit:verify"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "verdict-tampered" in html and "被篡改" in html and "verdict-intact" not in html
    assert "首个异常位置：序号 4（changed）" in html
    assert "seq_from=2&amp;seq_to=6" in html
    assert appended(before) == [("audit.verified", "aud")]
    assert AuditEvent.objects.get(seq=before + 1).outcome == "failure"
    # The tampered row is still listed (the list shows what is stored; the verifier judges it).
    assert (
        "mallory"
        in auditor_client.get(reverse("audit:events"), {"seq_from": 4, "seq_to": 4}).content.decode()
    )


# --- in a real browser, under the Content-Security-Policy --------------------------------------------


@pytest.mark.browser
def test_auditor_pages_in_chromium_under_the_csp(live_server, monkeypatch):
    from tests.e2e.test_ui_flow import CHROMIUM, CHROMIUM_ARGS, RESULTS, csp_violations, require_chromium

    require_chromium()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    create_user("aud", [Role.AUDITOR], password=PASSWORD)
    officer = Actor(name="officer", kind="user", ip="192.168.0.5", roles=frozenset({Role.RECORDS_OFFICER}))
    for i in range(12):
        events._log(
            "record.viewed", officer, "record", i, channel="web", what="page", archival_code=f"T001-{i:04d}"
        )
    events._log("record.returned", officer, "record", 3, reason="缺少申请表，请补充后重新报送")
    tamper("UPDATE audit_auditevent SET actor = %s WHERE seq = 5", ["mallory"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            refused = csp_violations(page)
            page.goto(f"{live_server.url}/audit/")
            page.get_by_label("用户名").fill("aud")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("审计日志")
            expect(page.locator(".main-nav a[aria-current]")).to_have_text("审计")
            page.get_by_label("事件类型").fill("record.")
            page.get_by_role("button", name="筛选").click()
            expect(page).to_have_url(re.compile(r"kind=record\."))
            expect(page.locator("table.audit-events tbody tr")).to_have_count(13)
            page.locator("table.audit-events details").first.locator("summary").click()
            expect(page.locator("table.audit-events pre.json").first).to_contain_text("缺少申请表")
            page.screenshot(path=str(RESULTS / "auditor-log.png"), full_page=True)
            with page.expect_download() as download:
                page.get_by_role("link", name="导出 CSV").click()
            assert download.value.suggested_filename.endswith(".csv")
            page.get_by_role("button", name="校验哈希链").click()
            expect(page.locator(".verdict-tampered h2")).to_contain_text("被篡改")
            expect(page.locator(".verdict-tampered .first-bad")).to_contain_text("序号 5")
            page.screenshot(path=str(RESULTS / "auditor-verify-tampered.png"), full_page=True)
            assert refused == []
        finally:
            browser.close()
