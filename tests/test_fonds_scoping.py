"""Per-fonds (全宗) scoping: an account limited to one fonds sees, reads and changes only that fonds —
through the services, so the web pages, the API, jobs and the CLI obey the same rules — and every read
of record content leaves an audit event."""

from __future__ import annotations

import pytest
from django.test import Client

from dangan.accounts.roles import Actor, Perm, PermissionDenied, Role
from dangan.accounts.services import create_user
from dangan.archive import services as archive
from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.audit.models import AuditEvent
from dangan.catalog import services as catalog
from dangan.catalog.models import ServiceItem
from dangan.ingest import services as ingest
from dangan.jobs import services as jobs
from dangan.jobs.states import JobStatus
from tests.factories import write_case

pytestmark = pytest.mark.django_db
PASSWORD = "Scoped-officer-pw-42"


@pytest.fixture
def two_fonds(test_catalogue, operator, tmp_path, settings):
    """Fonds T001 and T002, each with one pre-archived and one archived case."""
    settings.JOBS_EAGER = True
    t002 = catalog.upsert_fonds(operator, code="T002", name="另一个服务局", region_code="330899")
    catalog.upsert_service_item(
        operator, t002, code="TEST-ITEM", name="测试事项", retention="D30", class_code="SP"
    )
    records: dict[str, list[Record]] = {"T001": [], "T002": []}
    for i, code in enumerate(["T001", "T001", "T002", "T002"], start=1):
        path = write_case(
            tmp_path / f"case{i}", fonds=code, file_number=f"330899-A101-TEST-2025-D30-{i:06d}",
            extra=i.to_bytes(2, "big"),
        )  # fmt: skip
        sub = ingest.ingest_path(operator, path)
        assert sub.status == "accepted", sub.errors
        records[code].append(sub.record)
    for code in records:
        archive.confirm(operator, records[code][1].pk)
    return test_catalogue, t002, {c: [Record.objects.get(pk=r.pk) for r in rs] for c, rs in records.items()}


@pytest.fixture
def officer_t001(two_fonds):
    t001, _t002, _records = two_fonds
    user, _ = create_user("officer-a", [Role.RECORDS_OFFICER], password=PASSWORD, fonds=[t001])
    return user


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_actor_holds_its_permissions_only_in_its_fonds(two_fonds, officer_t001):
    t001, t002, _ = two_fonds
    actor = Actor.from_user(officer_t001)
    assert actor.can(Perm.CONFIRM) and actor.can(Perm.CONFIRM, t001.pk)
    assert not actor.can(Perm.CONFIRM, t002.pk)
    assert actor.fonds_ids(Perm.VIEW_RECORDS) == frozenset({t001.pk})
    assert set(archive.visible_records(actor).values_list("fonds__code", flat=True)) == {"T001"}


def test_services_refuse_records_of_another_fonds(two_fonds, officer_t001):
    _t001, _t002, records = two_fonds
    actor = Actor.from_user(officer_t001)
    pending_b, archived_b = records["T002"]
    with pytest.raises(archive.RecordNotFound):
        archive.confirm(actor, pending_b.pk)
    with pytest.raises(archive.RecordNotFound):
        archive.return_record(actor, pending_b.pk, reason="not mine")
    with pytest.raises(archive.RecordNotFound):
        archive.read_record(actor, archived_b.pk, channel="test")
    with pytest.raises(archive.RecordNotFound):
        archive.open_record_file(actor, archived_b, archived_b.files.first().path)
    assert Record.objects.get(pk=pending_b.pk).status == RecordStatus.PRE_ARCHIVE
    # ... and its own fonds' records are fine
    own = archive.confirm(actor, records["T001"][0].pk)
    assert own.status == RecordStatus.ARCHIVED


def test_a_record_visible_but_not_actionable_is_refused_not_hidden(two_fonds, operator):
    """An approver of T002 sees T002's records but may not confirm them: that is a refusal (403)."""
    _t001, t002, records = two_fonds
    approver, _ = create_user("approver-b", [Role.APPROVER], password=PASSWORD, fonds=[t002])
    with pytest.raises(PermissionDenied):
        archive.confirm(Actor.from_user(approver), records["T002"][0].pk)


def test_web_pages_show_only_the_own_fonds(two_fonds, officer_t001):
    _t001, _t002, records = two_fonds
    client = _client(officer_t001)
    listing = client.get("/records/").content.decode()
    assert records["T001"][1].archival_code in listing
    assert records["T002"][1].archival_code not in listing
    prearchive = client.get("/prearchive/").content.decode()
    assert records["T001"][0].file_number in prearchive and records["T002"][0].file_number not in prearchive
    b = records["T002"][1]
    for url in [f"/records/{b.pk}/", f"/records/{b.pk}/report.pdf", f"/records/{b.pk}/aip/v1.zip",
                f"/records/{b.pk}/files/{b.files.first().path}"]:  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert client.post(f"/records/{records['T002'][0].pk}/confirm/").status_code in (302, 404)
    assert Record.objects.get(pk=records["T002"][0].pk).status == RecordStatus.PRE_ARCHIVE
    dashboard = client.get("/").content.decode()
    assert "T002" not in dashboard


def test_api_lists_and_reads_only_the_own_fonds(two_fonds, officer_t001):
    _t001, _t002, records = two_fonds
    client = _client(officer_t001)
    listed = client.get("/api/v1/records?limit=100").json()["results"]
    assert {r["file_number"] for r in listed} == {r.file_number for r in records["T001"]}
    assert client.get(f"/api/v1/records/{records['T002'][1].pk}").status_code == 404
    assert client.post(f"/api/v1/records/{records['T002'][0].pk}/confirm").status_code == 404
    assert client.get(f"/api/v1/records/{records['T001'][1].pk}").status_code == 200


def test_reads_are_audited(two_fonds, officer_t001):
    _t001, _t002, records = two_fonds
    client = _client(officer_t001)
    own = records["T001"][1]
    client.get("/records/")
    client.get(f"/records/{own.pk}/")
    client.get(f"/records/{own.pk}/report.html")
    client.get(f"/records/{own.pk}/files/{own.files.first().path}")
    client.get(f"/api/v1/records/{own.pk}")
    reads = AuditEvent.objects.filter(actor="officer-a", kind__startswith="record")
    kinds = list(reads.values_list("kind", "object_id", "detail"))
    assert [k for k, _o, _d in kinds] == [
        "records.listed", "record.viewed", "record.viewed", "record.file_read", "record.viewed",
    ]  # fmt: skip
    assert all(o == str(own.pk) for k, o, _d in kinds if k != "records.listed")
    assert {d.get("channel") for k, _o, d in kinds if k == "record.viewed"} == {"web", "api"}


def test_a_per_fonds_clerk_sends_only_its_fonds(two_fonds, tmp_path):
    t001, _t002, _records = two_fonds
    clerk, _ = create_user("clerk-a", [Role.SERVICE_CLERK], password=PASSWORD, fonds=[t001])
    actor = Actor.from_user(clerk)
    other = write_case(tmp_path / "other", fonds="T002", file_number="330899-A101-TEST-2025-D30-000099")
    sub = ingest.ingest_path(actor, other)
    assert sub.status == "rejected"
    assert [e["code"] for e in sub.errors] == ["FONDS_NOT_ALLOWED"]
    own = write_case(tmp_path / "own", fonds="T001", file_number="330899-A101-TEST-2025-D30-000098")
    assert ingest.ingest_path(actor, own).status == "accepted"
    visible = set(ingest.visible_submissions(actor).values_list("file_number", flat=True))
    assert "330899-A101-TEST-2025-D30-000099" in visible  # he sent it himself
    assert "330899-A101-TEST-2025-D30-000003" not in visible  # T002's, sent by someone else


def test_schedule_changes_are_limited_to_the_own_fonds(two_fonds, officer_t001):
    _t001, t002, _records = two_fonds
    actor = Actor.from_user(officer_t001)
    item_b = ServiceItem.objects.get(fonds=t002, code="TEST-ITEM")
    with pytest.raises(PermissionDenied):
        catalog.set_gap_allowed(actor, item_b, True)
    with pytest.raises(PermissionDenied):
        catalog.define_retention_code(actor, code="D5", label="定期5年", years=5)  # instance-wide
    assert _client(officer_t001).get(f"/catalog/items/{item_b.pk}/").status_code == 404


def test_bulk_jobs_fail_the_items_of_another_fonds(two_fonds, officer_t001):
    _t001, _t002, records = two_fonds
    actor = Actor.from_user(officer_t001)
    job = jobs.start_bulk_confirm(actor, [records["T001"][0].pk, records["T002"][0].pk])
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == (JobStatus.DONE, 1, 1)
    assert Record.objects.get(pk=records["T002"][0].pk).status == RecordStatus.PRE_ARCHIVE


def test_grants_in_two_fonds_add_up(two_fonds):
    t001, t002, _records = two_fonds
    user, _ = create_user("officer-ab", [Role.RECORDS_OFFICER], password=PASSWORD, fonds=[t001, t002])
    actor = Actor.from_user(user)
    assert actor.fonds_ids(Perm.CONFIRM) == frozenset({t001.pk, t002.pk})
    assert archive.visible_records(actor).count() == Record.objects.count()


def test_refused_requests_are_audited(two_fonds, officer_t001):
    """A 403 on a page or an API call leaves an access.denied event naming the missing permission."""
    _t001, _t002, records = two_fonds
    clerk, _ = create_user("clerk-x", [Role.SERVICE_CLERK], password=PASSWORD)
    client = _client(clerk)
    assert client.get("/records/").status_code == 403
    assert client.post(f"/api/v1/records/{records['T001'][0].pk}/confirm").status_code == 403
    denied = list(AuditEvent.objects.filter(kind="access.denied").values_list("actor", "outcome", "detail"))
    assert [(a, o, d["channel"]) for a, o, d in denied] == [
        ("clerk-x", "failure", "web"),
        ("clerk-x", "failure", "api"),
    ]
    assert "records.view" in denied[0][2]["needed"] and "records.confirm" in denied[1][2]["needed"]
