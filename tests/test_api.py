"""The intake API as a service system uses it, and the records API as staff use it."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from dangan.accounts.roles import Role
from dangan.accounts.services import create_user
from dangan.catalog.services import issue_source_token
from dangan.ingest.models import Submission
from tests.factories import write_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(test_catalogue, operator):
    _, token = issue_source_token(operator, code="SYS1", name="示范办件系统", fonds=[test_catalogue])
    return token


@pytest.fixture(autouse=True)
def _run_jobs_on_commit(django_capture_on_commit_callbacks):
    """The upload schedules its check job on commit; run it as a committed request would."""
    global _capture
    _capture = django_capture_on_commit_callbacks


def _upload(client: APIClient, path, token: str | None):
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with _capture(execute=True), open(path, "rb") as f:
        return client.post("/api/v1/cases", {"package": f}, format="multipart")


def test_upload_202_then_status(tmp_path, token):
    client = APIClient()
    resp = _upload(client, write_case(tmp_path, as_zip=True), token)
    assert resp.status_code == 202, resp.content
    assert resp["Location"] == resp.json()["status_url"]
    status = client.get(resp.json()["status_url"])
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "accepted" and body["record"]["status"] == "pre_archive"
    assert body["report"]["passed"] is True
    # idempotent re-send
    again = _upload(client, write_case(tmp_path / "again", as_zip=True), token)
    assert client.get(again.json()["status_url"]).json()["status"] == "duplicate"


def test_rejected_upload_explains(tmp_path, token):
    bad = tmp_path / "slip.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../evil.txt", b"x")
    client = APIClient()
    resp = _upload(client, bad, token)
    assert resp.status_code == 202
    body = client.get(resp.json()["status_url"]).json()
    assert body["status"] == "rejected"
    assert body["errors"][0]["code"] == "ZIP_PATH_TRAVERSAL"


@pytest.mark.parametrize("header", [None, "Token dgn_wrong", "Token", "Bearer x"])
def test_bad_credentials_refused(tmp_path, token, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    resp = client.post("/api/v1/cases", {"package": io.BytesIO(b"PK")}, format="multipart")
    assert resp.status_code in (401, 403)
    assert Submission.objects.count() == 0


def test_missing_file_is_400(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    resp = client.post("/api/v1/cases", {}, format="multipart")
    assert resp.status_code == 400 and "package" in resp.json()


def test_source_sees_only_its_own_submissions(tmp_path, token, test_catalogue, operator):
    client = APIClient()
    url = _upload(client, write_case(tmp_path, as_zip=True), token).json()["status_url"]
    _, other = issue_source_token(operator, code="SYS2", name="其他系统", fonds=[test_catalogue])
    intruder = APIClient()
    intruder.credentials(HTTP_AUTHORIZATION=f"Token {other}")
    assert intruder.get(url).status_code == 404


def test_source_limited_to_its_fonds(tmp_path, test_catalogue, operator):
    from dangan.catalog.services import upsert_fonds

    elsewhere = upsert_fonds(operator, code="T002", name="别的单位")
    _, token = issue_source_token(operator, code="SYS3", name="别的系统", fonds=[elsewhere])
    client = APIClient()
    url = _upload(client, write_case(tmp_path, as_zip=True), token).json()["status_url"]
    body = client.get(url).json()
    assert body["status"] == "rejected" and body["errors"][0]["code"] == "FONDS_NOT_ALLOWED"


def test_staff_confirm_through_api(tmp_path, token):
    client = APIClient()
    body = client.get(_upload(client, write_case(tmp_path, as_zip=True), token).json()["status_url"]).json()
    rid = body["record"]["id"]
    clerk, _ = create_user("clerk", [Role.SERVICE_CLERK], password="x-Very-long-pw-1")
    officer, _ = create_user("officer", [Role.RECORDS_OFFICER], password="x-Very-long-pw-2")
    staff = APIClient()
    staff.force_authenticate(clerk)
    assert staff.post(f"/api/v1/records/{rid}/confirm").status_code == 403
    staff.force_authenticate(officer)
    resp = staff.post(f"/api/v1/records/{rid}/confirm")
    assert resp.status_code == 200 and resp.json()["archival_code"].endswith("-0001")
    assert staff.post(f"/api/v1/records/{rid}/confirm").json()["code"] == "INVALID_TRANSITION"
    listing = staff.get("/api/v1/records?status=archived").json()
    assert listing["count"] == 1
    detail = staff.get(f"/api/v1/records/{rid}").json()
    assert len(detail["files"]) == 4 and detail["check_report"]["passed"]
    # a source system's token cannot confirm
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post(f"/api/v1/records/{rid}/return", {"reason": "x"}).status_code == 403
    assert User.objects.count() == 2


def test_openapi_schema(db):
    resp = APIClient().get("/api/schema/")
    assert resp.status_code == 200
    assert b"/api/v1/cases" in resp.content


def test_oversized_upload_is_413(tmp_path, token, settings):
    settings.MAX_PACKAGE_BYTES = 100
    client = APIClient()
    resp = _upload(client, write_case(tmp_path, as_zip=True), token)
    assert resp.status_code == 413 and resp.json()["code"] == "PACKAGE_TOO_LARGE"
    assert Submission.objects.count() == 0


def test_sender_reads_why_a_case_was_returned(tmp_path, token, operator, officer_actor):
    from dangan.archive import services as archive

    client = APIClient()
    url = _upload(client, write_case(tmp_path, as_zip=True), token).json()["status_url"]
    rid = client.get(url).json()["record"]["id"]
    archive.return_record(officer_actor, rid, reason="申请书缺少签名")
    record = client.get(url).json()["record"]
    assert record["status"] == "returned" and record["returned_reason"] == "申请书缺少签名"
