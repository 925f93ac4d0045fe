"""The API for 容缺归档 and AIP versions: confirm with gap_reason, supplement, correct, list versions."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from dangan.accounts.roles import Role
from dangan.accounts.services import create_user
from dangan.archive.tests.conftest import pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db) -> APIClient:
    officer, _ = create_user("officer", [Role.RECORDS_OFFICER], password="x-Very-long-pw-2")
    client = APIClient()
    client.force_authenticate(officer)
    return client


def test_gap_confirm_supplement_correct_and_versions(api, ingest_case):
    rid = ingest_case("T-API-1", omit=("申报材料/申请书.pdf",)).record.pk
    resp = api.post(f"/api/v1/records/{rid}/confirm")
    assert resp.status_code == 400 and resp.json()["code"] == "REASON_REQUIRED"
    resp = api.post(f"/api/v1/records/{rid}/confirm", {"gap_reason": "承诺补交"}, format="json")
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["gap_status"] == "open" and body["gap_materials"] == [{"code": "A01", "name": "申请书"}]

    bad = api.post(
        f"/api/v1/records/{rid}/supplement",
        {"material_code": "A01", "reason": "补交", "files": [SimpleUploadedFile("a.pdf", b"not a pdf")]},
        format="multipart",
    )
    assert bad.status_code == 400 and bad.json()["code"] == "CHECKS_FAILED" and bad.json()["errors"]
    resp = api.post(
        f"/api/v1/records/{rid}/supplement",
        {"material_code": "A01", "reason": "补交", "files": [SimpleUploadedFile("a.pdf", pdf("api"))]},
        format="multipart",
    )
    assert resp.status_code == 200, resp.json()
    assert resp.json()["version"] == 2 and resp.json()["changes"]["gap"] == []

    resp = api.post(
        f"/api/v1/records/{rid}/correct",
        {"reason": "更正", "changes": json.dumps({"办件基本信息/办件名称": "API 更正"})},
        format="multipart",
    )
    assert resp.status_code == 200, resp.json()
    assert resp.json()["kind"] == "correction"
    resp = api.post(f"/api/v1/records/{rid}/correct", {"reason": "x", "changes": "[1]"}, format="multipart")
    assert resp.status_code == 400 and resp.json()["code"] == "BAD_CHANGES"

    versions = api.get(f"/api/v1/records/{rid}/versions").json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    detail = api.get(f"/api/v1/records/{rid}").json()
    assert detail["title"] == "API 更正" and detail["gap_status"] == "closed" and len(detail["versions"]) == 3
    assert api.post("/api/v1/records/999999/correct", {"reason": "x", "changes": "{}"}).status_code == 400


def test_clerk_may_not_revise(ingest_case, db):
    rid = ingest_case("T-API-2").record.pk
    clerk, _ = create_user("clerk", [Role.SERVICE_CLERK], password="x-Very-long-pw-1")
    client = APIClient()
    client.force_authenticate(clerk)
    assert client.get(f"/api/v1/records/{rid}/versions").status_code == 403
    resp = client.post(f"/api/v1/records/{rid}/correct", {"reason": "x", "changes": "{}"}, format="multipart")
    assert resp.status_code == 403
