"""长期保存 Preservation page, the dashboard's fixity alert and the record page's preservation history."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.urls import reverse

from dangan.accounts.roles import Actor
from dangan.archive.models import Aip, AipFile
from dangan.preservation.audit import run_audit
from dangan.preservation.models import EventType, PreservationEvent
from dangan.storage.blobstore import default_store

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_blobs(settings, tmp_path):
    settings.BLOB_DIR = tmp_path / "blobs"


def rot_one(aip: Aip) -> None:
    f = next(
        f
        for f in aip.files.filter(path__startswith="data/")
        if AipFile.objects.filter(sm3=f.sm3).count() == 1
    )
    path = default_store().path(f.sm3)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))


def test_preservation_page_lists_runs_and_problems(officer_client, demo):
    page = officer_client.get(reverse("web:preservation"))
    assert page.status_code == 200
    assert "尚无检查记录" in page.content.decode()
    run_audit(Actor.system("test"))
    aip = Aip.objects.filter(record=demo.archived).first()
    rot_one(aip)
    run_audit(Actor.system("test"), sample="rotating")
    html = officer_client.get(reverse("web:preservation")).content.decode()
    assert "检查记录 Check runs" in html and "DIGEST_MISMATCH" in html
    assert demo.archived.archival_code in html and "固定性检查告警 Fixity alert" in html
    assert "<script>" not in html and "style=" not in html


def test_preservation_page_needs_verify(clerk_client, demo):
    assert clerk_client.get(reverse("web:preservation")).status_code == 403


def test_dashboard_alert_for_problems_and_overdue(officer_client, demo):
    run_audit(Actor.system("test"))
    html = officer_client.get(reverse("web:dashboard")).content.decode()
    assert "fixity-alert" not in html and "最近检查完好" in html
    Aip.objects.update(created_at=Aip.objects.first().created_at - timedelta(days=400))
    PreservationEvent.objects.filter(event_type=EventType.FIXITY).delete()
    html = officer_client.get(reverse("web:dashboard")).content.decode()
    assert "fixity-alert" in html and "天未检查" in html
    run_audit(Actor.system("test"))
    rot_one(Aip.objects.filter(record=demo.archived).first())
    run_audit(Actor.system("test"))
    html = officer_client.get(reverse("web:dashboard")).content.decode()
    assert "fixity-alert" in html and "最近一次检查发现 1 个问题" in html


def test_dashboard_no_fixity_for_clerk(clerk_client, demo):
    run_audit(Actor.system("test"))
    rot_one(Aip.objects.filter(record=demo.archived).first())
    run_audit(Actor.system("test"))
    assert "fixity-alert" not in clerk_client.get(reverse("web:dashboard")).content.decode()


def test_record_page_shows_preservation_history(officer_client, demo):
    run_audit(Actor.system("auditor"))
    html = officer_client.get(reverse("web:record", args=[demo.archived.pk])).content.decode()
    assert 'id="preservation"' in html
    assert "固定性检查 fixity check" in html and "接收 ingest" in html
    assert "auditor (dangan.preservation.audit)" in html and "AIP v1" in html and "primary" in html
