"""Web UI pages: rendering, permissions, confirm/return through the services, downloads, language."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.audit.models import AuditEvent
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
    record = demo.pending
    response = officer_client.post(
        reverse("web:confirm-selected"), {"ids": [str(record.pk), "nonsense"]}, follow=True
    )
    record.refresh_from_db()
    assert record.status == RecordStatus.ARCHIVED
    assert record.archival_code in response.content.decode()
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
