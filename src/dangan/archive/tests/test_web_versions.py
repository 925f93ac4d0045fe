"""The record page and pre-archive library for 容缺归档, supplements, corrections and AIP versions."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dangan.accounts.roles import Role
from dangan.accounts.services import create_user
from dangan.archive.models import Aip, Record
from dangan.archive.states import GapStatus, RecordStatus
from dangan.archive.tests.conftest import pdf

pytestmark = pytest.mark.django_db
PASSWORD = "officer-password-42"


@pytest.fixture
def officer_client(client):
    create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)
    assert client.login(username="officer", password=PASSWORD)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    return client


@pytest.fixture
def pending_gap(ingest_case) -> Record:
    sub = ingest_case("T-WEB-1", omit=("申报材料/申请书.pdf",))
    assert sub.status == "accepted", sub.errors
    return sub.record


def test_prearchive_row_of_a_gap_sends_the_officer_to_the_record(officer_client, pending_gap):
    body = officer_client.get(reverse("web:prearchive")).content.decode()
    row = body[body.index(f'id="rec-{pending_gap.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "容缺" in row and "申请书" in row
    assert 'name="ids"' not in row  # not in the bulk confirmation
    assert reverse("web:record", args=[pending_gap.pk]) + "#gap" in row


def test_archive_with_gap_supplement_and_correct_through_the_pages(officer_client, pending_gap):
    url = reverse("web:record", args=[pending_gap.pk])
    page = officer_client.get(url).content.decode()
    assert "缺少必要材料" in page and 'name="gap_reason"' in page

    # without a reason: refused, nothing archived
    resp = officer_client.post(reverse("web:confirm", args=[pending_gap.pk]), {"next": url}, follow=True)
    assert "REASON_REQUIRED" in resp.content.decode()
    assert Record.objects.get(pk=pending_gap.pk).status == RecordStatus.PRE_ARCHIVE

    resp = officer_client.post(
        reverse("web:confirm", args=[pending_gap.pk]),
        {"next": url, "gap_reason": "申请人承诺补交"},
        follow=True,
    )
    record = Record.objects.get(pk=pending_gap.pk)
    assert record.status == RecordStatus.ARCHIVED and record.gap_reason == "申请人承诺补交"
    page = resp.content.decode()
    assert "容缺归档" in page and "申请人承诺补交" in page and 'id="supplement-form"' in page

    resp = officer_client.post(
        reverse("web:supplement", args=[record.pk]),
        {
            "material_code": "A01",
            "category": "",
            "reason": "申请人已补交申请书",
            "files": [
                SimpleUploadedFile("申请书扫描.pdf", pdf("web supplied"), content_type="application/pdf")
            ],
        },
    )
    assert resp.status_code == 302 and resp["Location"].endswith("#aip")
    record.refresh_from_db()
    assert record.gap_status == GapStatus.CLOSED
    page = officer_client.get(url).content.decode()
    assert "容缺已补齐" in page and 'id="supplement-form"' not in page
    assert 'id="version-1"' in page and 'id="version-2"' in page and "申请人已补交申请书" in page

    for version in (1, 2):
        resp = officer_client.get(reverse("web:aip-download", args=[record.pk, version]))
        assert resp.status_code == 200 and resp["Content-Type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(b"".join(resp.streaming_content))) as zf:
            names = zf.namelist()
            assert any(n.endswith("/tagmanifest-sm3.txt.sig") for n in names)
            assert any(n.endswith("data/申报材料/申请书.pdf") for n in names) == (version == 2)
    assert officer_client.get(reverse("web:aip-download", args=[record.pk, 9])).status_code == 404

    assert reverse("web:correct", args=[record.pk]) in page
    form = officer_client.get(reverse("web:correct", args=[record.pk])).content.decode()
    assert 'name="meta:办件基本信息/办件名称"' in form and ">关于张三容缺测试事项的办件</textarea>" in form
    assert 'name="meta:办件基本信息/电子文件号"' not in form  # identity and 档号 parts are not correctable
    resp = officer_client.post(
        reverse("web:correct", args=[record.pk]),
        {
            "meta:办件基本信息/办件名称": "更正后的题名",
            "meta:申请人/名称": "张三",
            "reason": "题名有误",
            "replace_path": "",
        },
    )
    assert resp.status_code == 302
    record.refresh_from_db()
    assert record.title == "更正后的题名"
    assert list(Aip.objects.filter(record=record).values_list("version", "kind")) == [
        (1, "archived"), (2, "supplement"), (3, "correction"),
    ]  # fmt: skip

    # a wrong file is refused with the check's code, and no version is written
    resp = officer_client.post(
        reverse("web:correct", args=[record.pk]),
        {"reason": "换文件", "replace_path": "结果材料/决定书.pdf",
         "replace_file": [SimpleUploadedFile("决定书.pdf", b"not a pdf")]},
        follow=True,
    )  # fmt: skip
    body = resp.content.decode()
    assert (
        resp.status_code == 200 and "CHECKS_FAILED" in body and "换文件" in body
    )  # the form keeps the input
    assert Aip.objects.filter(record=record).count() == 3


def test_clerks_may_not_supplement_or_correct(client, pending_gap):
    create_user("clerk", [Role.SERVICE_CLERK], password=PASSWORD)
    client.login(username="clerk", password=PASSWORD)
    assert client.post(reverse("web:supplement", args=[pending_gap.pk]), {}).status_code == 403
    assert client.post(reverse("web:correct", args=[pending_gap.pk]), {}).status_code == 403
    assert client.get(reverse("web:correct", args=[pending_gap.pk])).status_code == 403
    assert client.get(reverse("web:aip-download", args=[pending_gap.pk, 1])).status_code == 403
