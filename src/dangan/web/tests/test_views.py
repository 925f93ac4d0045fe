"""Web UI pages: rendering, permissions, confirm/return through the services, downloads, language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from dangan.accounts.roles import Actor
from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.audit.models import AuditEvent
from dangan.catalog.services import issue_source_token
from dangan.ingest.models import Submission
from dangan.storage.blobstore import default_store
from dangan.web.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def page_urls(demo) -> dict[str, str]:
    accepted = next(s for s in demo.submissions if s.record_id)
    return {
        "dashboard": reverse("web:dashboard"),
        "prearchive": reverse("web:prearchive"),
        "records": reverse("web:records"),
        "record-archived": reverse("web:record", args=[demo.archived.pk]),
        "record-pending": reverse("web:record", args=[demo.pending.pk]),
        "rejected": reverse("web:rejected"),
        "submission-rejected": reverse("web:submission", args=[demo.rejected.pk]),
        "submission-accepted": reverse("web:submission", args=[accepted.pk]),
    }


def test_every_page_renders_for_a_records_officer(officer_client, demo):
    for name, url in page_urls(demo).items():
        response = officer_client.get(url)
        assert response.status_code == 200, name
        body = response.content.decode()
        assert "档案" in body and "预归档库" in body, name  # Chinese by default
        assert 'lang="zh-Hans"' in body


def test_anonymous_user_is_sent_to_login(client, demo):
    for name, url in page_urls(demo).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith("/login/?next="), name
    f = demo.archived.files.first()
    response = client.get(reverse("web:record-file", args=[demo.archived.pk, f.path]))
    assert response.status_code == 302


def test_login_page_and_login(client, officer):
    response = client.get(reverse("web:login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()
    response = client.post(reverse("web:login"), {"username": "officer", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    client.logout()
    bad = client.post(reverse("web:login"), {"username": "officer", "password": "wrong"})
    assert bad.status_code == 200
    assert "用户名或密码不正确" in bad.content.decode()


def test_logout_is_a_post(officer_client):
    assert officer_client.get(reverse("web:logout")).status_code == 405
    response = officer_client.post(reverse("web:logout"))
    assert response.status_code == 302
    assert officer_client.get(reverse("web:dashboard")).status_code == 302


def test_dashboard_counts_and_charts(officer_client, demo):
    body = officer_client.get(reverse("web:dashboard")).content.decode()
    assert "<svg" in body and 'role="img"' in body
    archived = Record.objects.filter(status=RecordStatus.ARCHIVED)
    assert f"?year={archived.first().year}" in body
    assert f"?service_item={archived.first().service_item_id}" in body
    assert reverse("web:rejected") in body


def test_a_user_without_the_officer_role_gets_403(clerk_client, demo):
    record = demo.pending
    response = clerk_client.post(reverse("web:confirm", args=[record.pk]))
    assert response.status_code == 403
    assert "无权访问" in response.content.decode()
    response = clerk_client.post(reverse("web:return", args=[record.pk]), {"reason": "x"})
    assert response.status_code == 403
    record.refresh_from_db()
    assert record.status == RecordStatus.PRE_ARCHIVE and record.archival_code is None

    archived = demo.archived
    f = archived.files.first()
    response = clerk_client.get(reverse("web:record-file", args=[archived.pk, f.path]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(kind="record.file_read").exists()
    for url in (reverse("web:records"), reverse("web:prearchive"), reverse("web:record", args=[archived.pk])):
        assert clerk_client.get(url).status_code == 403
    # The clerk may see submissions.
    assert clerk_client.get(reverse("web:rejected")).status_code == 200
    assert clerk_client.get(reverse("web:dashboard")).status_code == 200


def test_confirm_through_the_view_archives_the_record(officer_client, demo):
    record = demo.pending
    response = officer_client.post(
        reverse("web:confirm", args=[record.pk]), {"next": reverse("web:prearchive")}, follow=True
    )
    assert response.status_code == 200
    record.refresh_from_db()
    assert record.status == RecordStatus.ARCHIVED
    assert record.archival_code
    assert record.archived_by == "officer"
    body = response.content.decode()
    assert record.archival_code in body  # the success message names the 档号 ...
    assert f'<a class="code-link" href="{reverse("web:record", args=[record.pk])}">' in body  # ... linked
    assert AuditEvent.objects.filter(
        kind="record.archived", object_id=str(record.pk), actor="officer"
    ).exists()

    again = officer_client.post(reverse("web:confirm", args=[record.pk]), follow=True)
    assert "INVALID_TRANSITION" in again.content.decode()


def test_confirm_with_htmx_returns_the_row(officer_client, demo):
    record = demo.pending
    response = officer_client.post(reverse("web:confirm", args=[record.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    record.refresh_from_db()
    body = response.content.decode()
    assert body.strip().startswith("<tr")
    assert record.archival_code in body


def test_bulk_confirm(officer_client, demo):
    """The selected cases are confirmed by a background job (inline in tests); the answer is its page."""
    record = demo.pending
    response = officer_client.post(
        reverse("web:confirm-selected"), {"ids": [str(record.pk), "nonsense"]}, follow=True
    )
    record.refresh_from_db()
    assert record.status == RecordStatus.ARCHIVED
    assert response.redirect_chain[-1][0].startswith("/jobs/")
    assert "已处理 1 / 1 件：成功 1 件，失败 0 件。" in response.content.decode()
    empty = officer_client.post(reverse("web:confirm-selected"), {}, follow=True)
    assert "请至少选择" in empty.content.decode()


def test_open_redirects_are_ignored(officer_client, demo):
    response = officer_client.post(
        reverse("web:confirm", args=[demo.pending.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("web:prearchive")


def test_return_requires_a_reason(officer_client, demo):
    record = demo.pending
    url = reverse("web:return", args=[record.pk])
    response = officer_client.post(url, {"reason": "   "}, follow=True)
    record.refresh_from_db()
    assert record.status == RecordStatus.PRE_ARCHIVE
    assert "退回必须填写原因" in response.content.decode()

    response = officer_client.post(url, {"reason": "缺少申请人签字页"}, follow=True)
    record.refresh_from_db()
    assert record.status == RecordStatus.RETURNED
    assert record.returned_reason == "缺少申请人签字页"
    assert record.archival_code is None
    assert AuditEvent.objects.filter(kind="record.returned", object_id=str(record.pk)).exists()


def test_download_streams_the_bytes_and_audits_the_read(officer_client, demo, demo_batch):
    record = demo.archived
    f = record.files.exclude(format="XML").first()
    response = officer_client.get(reverse("web:record-file", args=[record.pk, f.path]))
    assert response.status_code == 200
    assert response.streaming
    data = b"".join(response.streaming_content)
    with default_store().open(f.sm3) as stored:
        assert data == stored.read()
    assert len(data) == f.size
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''" in disposition.lower()
    assert "\n" not in disposition and "/" not in disposition.split("filename", 1)[1]
    event = AuditEvent.objects.get(kind="record.file_read")
    assert event.actor == "officer"
    assert event.object_id == str(record.pk)
    assert event.detail["path"] == f.path


def test_download_of_an_unknown_path_is_404(officer_client, demo):
    response = officer_client.get(reverse("web:record-file", args=[demo.archived.pk, "申报材料/none.pdf"]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(kind="record.file_read").exists()


def test_record_page_shows_the_package(officer_client, demo):
    record = demo.archived
    body = officer_client.get(reverse("web:record", args=[record.pk])).content.decode()
    assert record.archival_code in body
    for heading in (
        "归档配置信息",
        "办件基本信息",
        "申请人",
        "办理流程信息",
        "电子证照信息",
        "文件信息",
        "四性检测报告",
    ):
        assert heading in body, heading
    f = record.files.first()
    assert f.sm3 in body
    aip = record.aips.get()
    assert aip.tagmanifest_sm3 in body and aip.signer_fingerprint in body
    assert "固化信息有效性检测" in body  # check item name from the catalogue
    assert 'class="outcome outcome-pass"' in body


def test_records_filters_and_sort(officer_client, demo):
    archived = list(Record.objects.filter(status=RecordStatus.ARCHIVED).order_by("archival_code"))
    url = reverse("web:records")
    body = officer_client.get(url, {"sort": "code"}).content.decode()
    codes = re.findall(r'<td class="mono nowrap"><a href="/records/\d+/">([^<]+)</a>', body)
    assert codes == [r.archival_code for r in archived]
    body = officer_client.get(url, {"sort": "-code"}).content.decode()
    codes = re.findall(r'<td class="mono nowrap"><a href="/records/\d+/">([^<]+)</a>', body)
    assert codes == [r.archival_code for r in reversed(archived)]

    target = archived[0]
    body = officer_client.get(url, {"q": target.archival_code}).content.decode()
    assert target.archival_code in body
    others = [r for r in archived if r.pk != target.pk]
    assert all(r.archival_code not in body for r in others)
    body = officer_client.get(url, {"year": "1999"}).content.decode()
    assert all(r.archival_code not in body for r in archived)
    body = officer_client.get(
        url, {"retention": target.retention, "fonds": target.fonds.code, "year": target.year}
    ).content.decode()
    assert target.archival_code in body
    body = officer_client.get(url, {"service_item": target.service_item_id}).content.decode()
    assert target.archival_code in body
    assert officer_client.get(url, {"year": "abc", "page": "99"}).status_code == 200


def test_rejected_list_and_submission_page(officer_client, demo):
    body = officer_client.get(reverse("web:rejected")).content.decode()
    error = demo.rejected.errors[0]
    assert error["code"] in body
    assert reverse("web:submission", args=[demo.rejected.pk]) in body
    accepted = next(s for s in demo.submissions if s.record_id)
    body = officer_client.get(reverse("web:submission", args=[accepted.pk])).content.decode()
    assert "GD-1-1" in body and "固化信息有效性检测" in body


def test_english_when_the_language_cookie_or_header_says_en(officer_client, demo, settings):
    url = reverse("web:prearchive")
    officer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = officer_client.get(url).content.decode()
    assert "Pre-archive library" in body and "预归档库" not in body
    assert 'lang="en"' in body
    record_body = officer_client.get(reverse("web:record", args=[demo.archived.pk])).content.decode()
    assert "Fixity information valid" in record_body
    assert "Service item code" in record_body

    del officer_client.cookies[settings.LANGUAGE_COOKIE_NAME]
    body = officer_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Pre-archive library" in body
    body = officer_client.get(url).content.decode()
    assert "预归档库" in body


def test_language_switch(officer_client, settings):
    response = officer_client.post("/i18n/setlang/", {"language": "en", "next": "/records/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    body = officer_client.get(reverse("web:dashboard")).content.decode()
    assert "Overview" in body


def test_return_with_htmx_returns_the_row(officer_client, demo):
    record = demo.pending
    url = reverse("web:return", args=[record.pk])
    response = officer_client.post(url, {"reason": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    record.refresh_from_db()
    assert record.status == RecordStatus.PRE_ARCHIVE
    response = officer_client.post(url, {"reason": "材料不全"}, HTTP_HX_REQUEST="true")
    record.refresh_from_db()
    assert record.status == RecordStatus.RETURNED
    assert "材料不全" in response.content.decode()


def test_unknown_pages_are_404(officer_client, demo):
    assert officer_client.get(reverse("web:record", args=[999999])).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert officer_client.get(reverse("web:submission", args=[missing])).status_code == 404


# ---------------------------------------------------------------------------------------------
# New-user review: navigation by status, labels, returned notice, counters, favicon, sources, sort


def _breadcrumb(body: str) -> str:
    match = re.search(r'<nav class="breadcrumb".*?</nav>', body, re.S)
    assert match, "no breadcrumb"
    return match.group(0)


def _current_nav(body: str) -> list[str]:
    nav = re.search(r'<nav class="main-nav".*?</nav>', body, re.S)
    assert nav, "no main navigation"
    return re.findall(r'<a href="([^"]+)" aria-current="[^"]+">', nav.group(0))


def test_record_page_nav_and_breadcrumb_follow_the_status(officer_client, demo):
    pending, archived = demo.pending, demo.archived
    body = officer_client.get(reverse("web:record", args=[pending.pk])).content.decode()
    assert _current_nav(body) == [reverse("web:prearchive")]
    crumb = _breadcrumb(body)
    assert f'<a href="{reverse("web:prearchive")}">预归档库</a>' in crumb and "正式库" not in crumb

    body = officer_client.get(reverse("web:record", args=[archived.pk])).content.decode()
    assert _current_nav(body) == [reverse("web:records")]
    crumb = _breadcrumb(body)
    assert f'<a href="{reverse("web:records")}">正式库</a>' in crumb and "预归档库" not in crumb

    officer_client.post(reverse("web:return", args=[pending.pk]), {"reason": "缺少申请人签字页"})
    body = officer_client.get(reverse("web:record", args=[pending.pk])).content.decode()
    assert _current_nav(body) == []
    crumb = _breadcrumb(body)
    assert "已退回" in crumb and "正式库" not in crumb and "<a " not in crumb

    # The library pages themselves are the current page, not just the current section.
    body = officer_client.get(reverse("web:records")).content.decode()
    assert f'<a href="{reverse("web:records")}" aria-current="page">' in body


def test_returned_record_says_who_returned_it_when_and_why(officer_client, demo):
    record = demo.pending
    officer_client.post(reverse("web:return", args=[record.pk]), {"reason": "缺少申请人签字页"})
    event = AuditEvent.objects.get(kind="record.returned", object_id=str(record.pk))
    body = officer_client.get(reverse("web:record", args=[record.pk])).content.decode()
    notice = re.search(r'<section class="notice notice-returned".*?</section>', body, re.S)
    assert notice, "no returned notice"
    text = notice.group(0)
    when = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M")
    assert f"由 officer 于 {when} 退回" in text
    assert "缺少申请人签字页" in text
    assert body.index("notice-returned") < body.index('<header class="record-head">')  # at the top
    assert "无归档信息包：该办件已退回" in body

    officer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = officer_client.get(reverse("web:record", args=[record.pk])).content.decode()
    assert f"Returned by officer at {when}." in body


def test_returned_notice_without_an_audit_event(officer_client, demo):
    record = demo.pending
    Record.objects.filter(pk=record.pk).update(status=RecordStatus.RETURNED, returned_reason="旧数据")
    body = officer_client.get(reverse("web:record", args=[record.pk])).content.decode()
    assert "notice-returned" in body and "旧数据" in body
    assert "审计记录中没有退回人和退回时间" in body


def test_sender_archiving_time_is_labelled_and_date_times_are_readable(officer_client, demo):
    record = demo.archived
    metadata = dict(record.metadata)
    metadata["case"] = {**metadata.get("case", {}), "archived_at": "2024-09-20T11:30:23"}
    steps = [dict(s) for s in metadata.get("steps") or [{"name": "受理", "handler": "张三"}]]
    steps[0]["started_at"] = "2024-09-21T08:05:00+08:00"
    metadata["steps"] = steps
    Record.objects.filter(pk=record.pk).update(metadata=metadata)
    url = reverse("web:record", args=[record.pk])

    body = officer_client.get(url).content.decode()
    assert "<dt>移交方归档时间</dt><dd>2024-09-20 11:30:23</dd>" in body
    assert "<dt>归档时间</dt>" in body  # dangan's own confirmation time keeps its label
    assert body.count("<dt>归档时间</dt>") == 1
    assert '<td class="nowrap">2024-09-21 08:05:00 +08:00</td>' in body
    assert "2024-09-20T11:30:23" not in body and "2024-09-21T08:05:00" not in body

    officer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = officer_client.get(url).content.decode()
    assert "<dt>Archived at (sender)</dt><dd>2024-09-20 11:30:23</dd>" in body


def _waiting(body: str) -> re.Match[str] | None:
    return re.search(r'<span id="waiting-count"[^>]*>(\d+) 件待确认</span>', body)


def test_prearchive_list_columns_and_counter(officer_client, demo):
    record = demo.pending
    waiting = Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).count()
    body = officer_client.get(reverse("web:prearchive")).content.decode()
    assert '<th scope="col">保管期限</th>' in body and '<th scope="col">接收时间</th>' in body
    row = re.search(rf'<tr id="rec-{record.pk}".*?</tr>', body, re.S).group(0)
    assert f"{record.retention} 定期" in row or f"{record.retention} 永久" in row
    assert timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M") in row
    match = _waiting(body)
    assert match and int(match.group(1)) == waiting
    assert "hx-swap-oob" not in match.group(0)


def test_confirming_asks_first(officer_client, demo):
    record = demo.pending
    body = officer_client.get(reverse("web:prearchive")).content.decode()
    row = re.search(rf'<tr id="rec-{record.pk}".*?</tr>', body, re.S).group(0)
    assert f'hx-confirm="确认将 {record.file_number} 归档？' in row
    # htmx not loaded: dangan.js asks with plain confirm() (no inline handlers under the CSP)
    assert f'data-confirm="确认将 {record.file_number} 归档？' in row and " onsubmit=" not in body
    bulk = re.search(r'<form id="bulk-confirm".*?>', body, re.S).group(0)
    assert 'data-confirm="确认将所选办件归档？' in bulk and 'data-confirm-op="confirm"' in bulk

    body = officer_client.get(reverse("web:record", args=[record.pk])).content.decode()
    assert 'data-confirm="确认归档？' in body

    officer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = officer_client.get(reverse("web:prearchive")).content.decode()
    assert f'hx-confirm="Confirm archiving of {record.file_number}? ' in body


def test_htmx_confirm_and_return_update_the_waiting_counter(officer_client, demo):
    first = demo.pending
    waiting = Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).count()
    response = officer_client.post(reverse("web:confirm", args=[first.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="rec-{first.pk}"')
    match = _waiting(body)
    assert match and 'hx-swap-oob="true"' in match.group(0)
    assert int(match.group(1)) == waiting - 1

    # A failed action keeps the count as it is.
    again = officer_client.post(reverse("web:confirm", args=[first.pk]), HTTP_HX_REQUEST="true")
    assert "INVALID_TRANSITION" in again.content.decode()
    assert int(_waiting(again.content.decode()).group(1)) == waiting - 1

    # Without htmx the list page's counter is current as well.
    page = officer_client.get(reverse("web:prearchive")).content.decode()
    if waiting - 1:
        assert int(_waiting(page).group(1)) == waiting - 1


def test_htmx_return_updates_the_waiting_counter(officer_client, demo):
    record = demo.pending
    waiting = Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).count()
    url = reverse("web:return", args=[record.pk])
    body = officer_client.post(url, {"reason": ""}, HTTP_HX_REQUEST="true").content.decode()
    assert 'role="alert"' in body and int(_waiting(body).group(1)) == waiting  # refused: unchanged
    body = officer_client.post(url, {"reason": "材料不全"}, HTTP_HX_REQUEST="true").content.decode()
    assert body.strip().startswith(f'<tr id="rec-{record.pk}" class="row-returned"')
    match = _waiting(body)
    assert match and 'hx-swap-oob="true"' in match.group(0)
    assert int(match.group(1)) == waiting - 1


def test_htmx_action_on_a_missing_record_still_updates_the_counter(officer_client, demo):
    response = officer_client.post(reverse("web:confirm", args=[999999]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<tr" not in body
    assert _waiting(body)


def test_favicon(officer_client, client, demo):
    body = officer_client.get(reverse("web:dashboard")).content.decode()
    icon = static("web/favicon.svg")
    assert f'<link rel="icon" href="{icon}" type="image/svg+xml">' in body
    response = client.get("/favicon.ico")  # no login needed
    assert response.status_code == 302 and response["Location"] == icon
    path = finders.find("web/favicon.svg")
    assert path, "favicon.svg is not in the static files"
    svg = Path(path).read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "http://www.w3.org/2000/svg" in svg
    assert "href=" not in svg  # self-contained: no external requests


def test_source_system_and_cli_operator_are_named(officer_client, demo):
    accepted = next(s for s in demo.submissions if s.record_id)
    body = officer_client.get(reverse("web:submission", args=[accepted.pk])).content.decode()
    assert f"<dd>命令行 {accepted.submitted_by}</dd>" in body
    record_body = officer_client.get(reverse("web:record", args=[accepted.record_id])).content.decode()
    assert f"命令行 {accepted.submitted_by}" in record_body

    system, _token = issue_source_token(Actor.system("test"), code="SX-TEST", name="示范办件系统", fonds=[])
    Submission.objects.filter(pk=accepted.pk).update(
        source_system=system, submitted_by="source:SX-TEST", channel="api"
    )
    body = officer_client.get(reverse("web:submission", args=[accepted.pk])).content.decode()
    assert "<dd>示范办件系统 (SX-TEST)</dd>" in body
    assert "source:SX-TEST" not in body
    record_body = officer_client.get(reverse("web:record", args=[accepted.record_id])).content.decode()
    assert "示范办件系统 (SX-TEST)" in record_body and "source:SX-TEST" not in record_body


def test_formal_library_is_sorted_by_archival_code_by_default(officer_client, demo):
    for pk in Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).values_list("pk", flat=True):
        officer_client.post(reverse("web:confirm", args=[pk]))
    archived = list(Record.objects.filter(status=RecordStatus.ARCHIVED).order_by("archival_code"))
    assert len(archived) >= 2
    url = reverse("web:records")
    for params in ({}, {"q": ""}, {"sort": "code"}, {"sort": "bogus"}):
        body = officer_client.get(url, params).content.decode()
        codes = re.findall(r'<td class="mono nowrap"><a href="/records/\d+/">([^<]+)</a>', body)
        assert codes == [r.archival_code for r in archived], params
        assert 'aria-sort="ascending"' in body and "▲" in body and "↕" not in body
        assert "sort=-code" in body  # the header link reverses the order
    body = officer_client.get(url, {"sort": "-code"}).content.decode()
    codes = re.findall(r'<td class="mono nowrap"><a href="/records/\d+/">([^<]+)</a>', body)
    assert codes == [r.archival_code for r in reversed(archived)]
    assert 'aria-sort="descending"' in body and "▼" in body
