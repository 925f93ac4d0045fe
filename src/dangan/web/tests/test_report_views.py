"""The record page's check report (grouped by property) and the report and 归档登记表 downloads."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_record_page_shows_the_grouped_report_and_download_links(officer_client, demo):
    rec = demo.archived
    body = officer_client.get(reverse("web:record", args=[rec.pk])).content.decode()
    assert "四性汇总" in body and "检测项目明细" in body
    for label in ("真实性", "完整性", "可用性", "安全性"):
        assert label in body
    assert 'class="report-chart"' in body  # the inline SVG chart
    assert reverse("web:record-report-pdf", args=[rec.pk]) in body
    assert reverse("web:record-report-html", args=[rec.pk]) in body
    assert "下载报告 PDF" in body and "下载报告 HTML" in body
    assert reverse("web:registration-form") + "?fonds=" in body  # archived: that day's 归档登记表
    for r in rec.check_report["results"]:
        assert r["code"] in body


def test_pending_record_has_report_links_but_no_registration_form(officer_client, demo):
    rec = demo.pending
    body = officer_client.get(reverse("web:record", args=[rec.pk])).content.decode()
    assert reverse("web:record-report-pdf", args=[rec.pk]) in body
    assert reverse("web:registration-form") not in body


def test_record_page_in_english(officer_client, demo, settings):
    officer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = officer_client.get(reverse("web:record", args=[demo.archived.pk])).content.decode()
    assert "Summary by property" in body and "Authenticity" in body and "Download report (PDF)" in body


def test_report_pdf_download(officer_client, demo):
    rec = demo.archived
    response = officer_client.get(reverse("web:record-report-pdf", args=[rec.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    disposition = unquote(response["Content-Disposition"])
    assert disposition.startswith("attachment;") and "四性检测报告-" in disposition and ".pdf" in disposition
    assert response["X-Content-Type-Options"] == "nosniff"


def test_report_html_download_in_both_languages(officer_client, demo, settings):
    rec = demo.archived
    url = reverse("web:record-report-html", args=[rec.pk])
    response = officer_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "sandbox" in response["Content-Security-Policy"]
    body = response.content.decode()
    assert "电子文件四性检测报告" in body and rec.file_number in body
    officer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Four-property check report" in officer_client.get(url).content.decode()


def test_report_downloads_need_the_right_to_view_records(clerk_client, demo):
    rec = demo.archived
    for name in ("web:record-report-pdf", "web:record-report-html"):
        url = reverse(name, args=[rec.pk])
        assert clerk_client.get(url).status_code == 403
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert clerk_client.get(reverse("web:registration-form")).status_code == 403


def test_report_of_a_missing_record_is_404(officer_client, demo):
    assert officer_client.get(reverse("web:record-report-pdf", args=[999999])).status_code == 404


def test_registration_form_download(officer_client, demo):
    rec = demo.archived
    day = timezone.localtime(rec.archived_at).date().isoformat()
    url = reverse("web:registration-form")
    response = officer_client.get(url, {"fonds": rec.fonds.code, "from": day, "to": day})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert "归档登记表-" in unquote(response["Content-Disposition"])

    html = officer_client.get(url, {"fonds": rec.fonds.code, "from": day, "to": day, "format": "html"})
    body = html.content.decode()
    assert "电子文件归档登记表" in body and rec.archival_code in body and rec.fonds.name in body
    # Only archived records of that fonds and day are listed.
    assert demo.pending.file_number not in body


def test_registration_form_refuses_bad_dates_and_empty_sets(officer_client, demo):
    url = reverse("web:registration-form")
    assert officer_client.get(url, {"from": "yesterday"}).status_code == 400
    assert officer_client.get(url, {"to": "2025-02-30"}).status_code == 400
    assert officer_client.get(url, {"to": "2000-01-01"}).status_code == 404
    assert officer_client.get(url, {"fonds": "NO-SUCH-FONDS"}).status_code == 404
