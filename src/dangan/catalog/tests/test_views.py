"""The archiving-configuration pages with the Django test client: what an officer does in the browser
(scope, retention versions, classes, codes, XLSX), and who is refused."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dangan.audit.models import AuditEvent
from dangan.catalog import xlsx
from dangan.catalog.models import ArchiveClass, RetentionCode, RetentionRule, ServiceItem

pytestmark = pytest.mark.django_db


def _item(code: str = "ITEM-1") -> ServiceItem:
    return ServiceItem.objects.get(code=code)


def test_officer_sees_items_and_the_navigation(officer_client, fonds):
    body = officer_client.get("/catalog/").content.decode()
    assert "食品经营许可" in body and "公积金提取" in body
    assert "D30 定期30年" in body and "D10 定期10年" in body
    assert 'href="/catalog/"' in officer_client.get("/").content.decode(), "main navigation links the pages"
    page = officer_client.get(f"/catalog/items/{_item().pk}/").content.decode()
    assert 'id="retention-form"' in page and 'id="scope-form"' in page and 'id="class-form"' in page
    assert "申请书" in page and "事项初始配置" in page


def test_officer_changes_retention_as_a_new_version(officer_client, fonds):
    item = _item()
    url = f"/catalog/items/{item.pk}/retention/"
    start = timezone.localdate() + timedelta(days=10)
    resp = officer_client.post(
        url, {"retention": "Y", "basis": "《示范保管期限表》第3条", "effective_from": start.isoformat()}
    )
    assert resp.status_code == 302 and resp["Location"].endswith("#retention")
    assert RetentionRule.objects.filter(service_item=item).count() == 2
    page = officer_client.get(f"/catalog/items/{item.pk}/").content.decode()
    assert "《示范保管期限表》第3条" in page and "version-scheduled" in page and "version-in_force" in page
    # An earlier date than the newest version is refused with the reason, and nothing is added.
    resp = officer_client.post(
        url, {"retention": "D10", "basis": "x", "effective_from": (start - timedelta(days=1)).isoformat()}
    )
    assert resp.status_code == 400 and "RETENTION_HISTORY" in resp.content.decode()
    resp = officer_client.post(url, {"retention": "Q", "basis": "x", "effective_from": start.isoformat()})
    assert resp.status_code == 400
    assert RetentionRule.objects.filter(service_item=item).count() == 2
    # A material rule.
    resp = officer_client.post(
        url, {"material_code": "A01", "retention": "Y", "basis": "第4条", "effective_from": start.isoformat()}
    )
    assert resp.status_code == 302
    rule = RetentionRule.objects.get(service_item=item, material_code="A01")
    assert rule.material_name == "申请书" and rule.created_by == "officer"


def test_officer_edits_the_archiving_scope(officer_client, fonds):
    item = _item()
    resp = officer_client.post(
        f"/catalog/items/{item.pk}/scope/", {"code": "B01", "name": "受理通知书", "required": "0"}
    )
    assert resp.status_code == 302
    resp = officer_client.post(
        f"/catalog/items/{item.pk}/scope/", {"code": "A01", "name": "申请表", "required": "1"}
    )
    assert _item().scope == [{"code": "A01", "name": "申请表", "required": True},
                             {"code": "B01", "name": "受理通知书", "required": False}]  # fmt: skip
    resp = officer_client.post(f"/catalog/items/{item.pk}/scope/remove/", {"code": "A01"})
    assert resp.status_code == 302 and [m["code"] for m in _item().scope] == ["B01"]
    resp = officer_client.post(
        f"/catalog/items/{item.pk}/scope/", {"code": "bad code", "name": "x", "required": "1"}
    )
    assert resp.status_code == 400 and "BAD_MATERIAL_CODE" in resp.content.decode()
    assert AuditEvent.objects.filter(kind="schedule.scope_changed", actor="officer").count() == 3


def test_officer_manages_the_classification_tree(officer_client, fonds):
    resp = officer_client.post(
        "/catalog/classes/", {"fonds": "F01", "code": "XK", "name": "行政许可", "order": "1"}
    )
    assert resp.status_code == 302
    parent = ArchiveClass.objects.get(code="XK")
    resp = officer_client.post(
        "/catalog/classes/",
        {"fonds": "F01", "code": "SPJ", "name": "审批", "parent": parent.pk, "order": "0"},
    )
    child = ArchiveClass.objects.get(code="SPJ")
    assert child.parent == parent
    resp = officer_client.post("/catalog/classes/", {"fonds": "F01", "code": "XK", "name": "again"})
    assert resp.status_code == 400 and "CLASS_EXISTS" in resp.content.decode()
    body = officer_client.get("/catalog/classes/?fonds=F01").content.decode()
    assert 'data-class="SPJ" data-depth="1"' in body
    resp = officer_client.post(
        f"/catalog/classes/{parent.pk}/",
        {f"c{parent.pk}-name": "行政许可类", f"c{parent.pk}-parent": child.pk, f"c{parent.pk}-order": "1"},
    )
    assert "under itself" in officer_client.get("/catalog/classes/?fonds=F01").content.decode()
    resp = officer_client.post(
        f"/catalog/classes/{parent.pk}/", {f"c{parent.pk}-name": "行政许可类", f"c{parent.pk}-order": "2"}
    )
    assert ArchiveClass.objects.get(pk=parent.pk).name == "行政许可类"
    item = _item()
    resp = officer_client.post(f"/catalog/items/{item.pk}/class/", {"archive_class": child.pk})
    assert resp.status_code == 302 and _item().class_code == "SPJ"


def test_officer_adds_a_retention_code(officer_client, fonds):
    resp = officer_client.post(
        "/catalog/codes/", {"code": "D5", "label": "定期5年", "label_en": "5 years", "years": "5"}
    )
    assert resp.status_code == 302 and RetentionCode.objects.get(code="D5").years == 5
    assert "D5" in officer_client.get("/catalog/codes/").content.decode()
    page = officer_client.get(f"/catalog/items/{_item().pk}/").content.decode()
    assert '<option value="D5">' in page
    resp = officer_client.post("/catalog/codes/", {"code": "D6", "label": "定期6年", "years": "7"})
    assert resp.status_code == 400 and not RetentionCode.objects.filter(code="D6").exists()


def _upload(data: bytes, name: str = "schedule.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_workbook_download_and_upload(officer_client, fonds):
    resp = officer_client.get("/catalog/workbook/schedule.xlsx?fonds=F01")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in resp["Content-Disposition"]
    data = resp.content
    resp = officer_client.post("/catalog/workbook/", {"file": _upload(data)})
    assert resp.status_code == 200 and 'class="message info"' in resp.content.decode()
    assert not AuditEvent.objects.filter(kind="schedule.imported").exists()
    book = openpyxl.load_workbook(io.BytesIO(data))
    ws = book[xlsx.SHEET_SCHEDULE]
    ws.append(["F01", "ITEM-2", "公积金提取", "", "", "Y", "第7条", timezone.localdate() + timedelta(days=2)])
    out = io.BytesIO()
    book.save(out)
    resp = officer_client.post("/catalog/workbook/", {"file": _upload(out.getvalue()), "dry_run": "on"})
    assert resp.status_code == 200 and 'id="import-result"' in resp.content.decode()
    assert RetentionRule.objects.filter(service_item=_item("ITEM-2")).count() == 1
    resp = officer_client.post("/catalog/workbook/", {"file": _upload(out.getvalue())})
    assert resp.status_code == 200
    assert RetentionRule.objects.filter(service_item=_item("ITEM-2")).count() == 2
    resp = officer_client.post("/catalog/workbook/", {"file": _upload(b"not a workbook", "x.xlsx")})
    assert resp.status_code == 400 and "XLSX_INVALID" in resp.content.decode()


def test_refusals(clerk_client, sysadmin_client, fonds):
    item = _item()
    for url in ("/catalog/", f"/catalog/items/{item.pk}/", "/catalog/classes/", "/catalog/codes/", "/catalog/workbook/",
                "/catalog/workbook/schedule.xlsx"):  # fmt: skip
        assert clerk_client.get(url).status_code == 403, url
    # The system administrator may look (and check a workbook) but not change the schedule.
    assert sysadmin_client.get(f"/catalog/items/{item.pk}/").status_code == 200
    assert 'id="retention-form"' not in sysadmin_client.get(f"/catalog/items/{item.pk}/").content.decode()
    posts = {
        f"/catalog/items/{item.pk}/retention/": {
            "retention": "Y",
            "basis": "x",
            "effective_from": "2100-01-01",
        },
        f"/catalog/items/{item.pk}/scope/": {"code": "Z", "name": "z", "required": "1"},
        f"/catalog/items/{item.pk}/scope/remove/": {"code": "A01"},
        "/catalog/classes/": {"fonds": "F01", "code": "N", "name": "n"},
        "/catalog/codes/": {"code": "D5", "label": "定期5年", "years": "5"},
    }
    for url, data in posts.items():
        assert sysadmin_client.post(url, data).status_code == 403, url
    data = sysadmin_client.get("/catalog/workbook/schedule.xlsx").content
    assert (
        sysadmin_client.post("/catalog/workbook/", {"file": _upload(data), "dry_run": "on"}).status_code
        == 200
    )
    assert sysadmin_client.post("/catalog/workbook/", {"file": _upload(data)}).status_code == 403
    assert RetentionRule.objects.count() == 2 and _item().scope == [
        {"code": "A01", "name": "申请书", "required": True}
    ]
    assert clerk_client.get("/").status_code == 200
    assert 'href="/catalog/"' not in clerk_client.get("/").content.decode()


def test_anonymous_is_sent_to_login(client, fonds):
    resp = client.get("/catalog/")
    assert resp.status_code == 302 and "/login/" in resp["Location"]


def test_officer_allows_archiving_with_a_gap_on_the_item_page(client, db):
    """容缺归档 is part of the archiving configuration the records officer keeps (no admin JSON needed)."""
    from dangan.accounts.roles import Actor, Role
    from dangan.accounts.services import create_user
    from dangan.catalog import services
    from dangan.catalog.models import ServiceItem

    fonds = services.upsert_fonds(Actor.system("t"), code="G001", name="示范单位", region_code="330899")
    item = services.upsert_service_item(
        Actor.system("t"), fonds, code="GAP-ITEM", name="容缺事项", retention="D10"
    )
    create_user("gapofficer", [Role.RECORDS_OFFICER], password="officer-password-42")
    client.login(username="gapofficer", password="officer-password-42")
    assert not services.gap_allowed(item)
    res = client.post(f"/catalog/items/{item.pk}/gap/", {"allowed": "1"})
    assert res.status_code == 302
    item = ServiceItem.objects.get(pk=item.pk)
    assert services.gap_allowed(item) and item.check_profile["archive"]["2-9"] == {"blocking": False}
    page = client.get(f"/catalog/items/{item.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "不允许容缺归档" in page  # the button now offers to switch it off
    client.post(f"/catalog/items/{item.pk}/gap/", {"allowed": "0"})
    assert not services.gap_allowed(ServiceItem.objects.get(pk=item.pk))
