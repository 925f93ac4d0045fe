"""Django admin: catalogue edits go through services (validated, audited); records are read-only there."""

from __future__ import annotations

import pytest
from django.test import Client

from dangan.accounts.roles import Role
from dangan.accounts.services import create_user
from dangan.audit.models import AuditEvent
from dangan.catalog.models import Fonds

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(test_catalogue):
    create_user("root", [Role.SYSTEM_ADMIN], password="Long-enough-pw-1")
    client = Client()
    assert client.login(username="root", password="Long-enough-pw-1")
    return client


def _form(fonds: Fonds, pattern: str) -> dict[str, str]:
    return {
        "code": fonds.code,
        "name": fonds.name,
        "region_code": fonds.region_code,
        "archival_code_pattern": pattern,
    }


def test_admin_pages_render(admin_client):
    for url in [
        "/admin/",
        "/admin/catalog/fonds/",
        "/admin/catalog/serviceitem/",
        "/admin/catalog/sourcesystem/",
    ]:
        assert admin_client.get(url).status_code == 200, url
    # Records, submissions, the audit trail and accounts have their own (scoped, audited) pages.
    for url in ["/admin/archive/record/", "/admin/ingest/submission/", "/admin/audit/auditevent/",
                "/admin/auth/user/", "/admin/auth/group/"]:  # fmt: skip
        assert admin_client.get(url).status_code == 404, url


def test_fonds_pattern_is_validated_and_change_audited(admin_client, test_catalogue):
    url = f"/admin/catalog/fonds/{test_catalogue.pk}/change/"
    resp = admin_client.post(url, _form(test_catalogue, "{fonds}-{year}"))
    assert resp.status_code == 200 and "piece" in resp.content.decode()
    before = AuditEvent.objects.filter(kind="catalog.changed").count()
    resp = admin_client.post(url, _form(test_catalogue, "{fonds}-{year}-{retention}-{piece:5}"))
    assert resp.status_code == 302
    assert (
        Fonds.objects.get(pk=test_catalogue.pk).archival_code_pattern
        == "{fonds}-{year}-{retention}-{piece:5}"
    )
    event = AuditEvent.objects.filter(kind="catalog.changed").last()
    assert AuditEvent.objects.filter(kind="catalog.changed").count() == before + 1 and event.actor == "root"


def test_officer_without_catalogue_role_is_refused_not_500(test_catalogue):
    create_user("plain", [Role.RECORDS_OFFICER], password="Long-enough-pw-2")
    client = Client()
    assert client.login(username="plain", password="Long-enough-pw-2")
    resp = client.post(
        f"/admin/catalog/fonds/{test_catalogue.pk}/change/", _form(test_catalogue, "{fonds}-{piece:4}")
    )
    assert resp.status_code in (302, 403)  # to the admin login: the admin screens are not his
    assert Fonds.objects.get(pk=test_catalogue.pk).archival_code_pattern != "{fonds}-{piece:4}"
