"""Bulk work as background jobs with progress: confirm, re-classify and export many records at once
(dangan.jobs.services), the job pages, and the CLI. Jobs run inline here (DANGAN_JOBS_EAGER)."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import pytest
from click.testing import CliRunner
from django.urls import reverse

from dangan.accounts.roles import Actor, Perm, PermissionDenied, Role
from dangan.accounts.services import create_user
from dangan.archive import services as archive
from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.audit.models import AuditEvent
from dangan.catalog import services as catalog
from dangan.cli import main
from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.ingest import services as ingest
from dangan.jobs import services as jobs
from dangan.jobs.models import Job
from dangan.jobs.states import JobStatus
from tests.factories import write_case

pytestmark = pytest.mark.django_db
PASSWORD = "bulk-officer-password-7"


def ingest_cases(tmp_path, actor: Actor, count: int, *, start: int = 1) -> list[Record]:
    records = []
    for i in range(start, start + count):
        path = write_case(
            tmp_path / f"case{i}",
            file_number=f"330899-A101-TEST-2025-D30-{i:06d}",
            extra=i.to_bytes(3, "big"),
        )
        sub = ingest.ingest_path(actor, path)
        assert sub.status == "accepted", sub.errors
        records.append(sub.record)
    return records


@pytest.fixture
def officer_user(db):
    user, _ = create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)
    return user


@pytest.fixture
def other_officer_user(db):
    user, _ = create_user("officer2", [Role.RECORDS_OFFICER], password=PASSWORD)
    return user


def as_actor(user) -> Actor:
    return Actor.from_user(user)


# ---------------------------------------------------------------------------------------------
# Services


def test_bulk_confirm_of_200_cases(tmp_path, test_catalogue, operator, officer_user):
    """200 pre-archived cases confirmed by one job: each gets its own consecutive 档号, progress reaches
    the total, and the audit trail has the job's start and finish plus one event per record."""
    records = ingest_cases(tmp_path, operator, 200)
    seen: list[int] = []
    with jobs.watch(lambda p: seen.append(p.processed)):
        job = jobs.start_bulk_confirm(as_actor(officer_user), [r.pk for r in records])
    assert job.status == JobStatus.DONE
    assert (job.total, job.position, job.done, job.failed, job.errors) == (200, 200, 200, 0, [])
    assert seen == list(range(1, 201))  # progress after every record
    assert job.created_by == "officer" and job.finished_at is not None
    codes = list(Record.objects.order_by("archival_code").values_list("archival_code", flat=True))
    assert len(set(codes)) == 200 and all(codes)
    assert [int(c.rsplit("-", 1)[1]) for c in codes] == list(range(1, 201))
    assert not Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).exists()

    kinds = list(AuditEvent.objects.filter(object_type="job").values_list("kind", flat=True))
    assert kinds == ["job.started", "job.finished"]
    archived = AuditEvent.objects.filter(kind="record.archived")
    assert archived.count() == 200
    assert {e.detail["rule"] for e in archived} == {f"bulk job {job.pk}"}
    assert {e.actor for e in archived} == {"officer"}


def test_a_record_that_cannot_be_confirmed_leaves_the_others_done(tmp_path, test_catalogue, operator):
    records = ingest_cases(tmp_path, operator, 5)
    archive.return_record(operator, records[2].pk, reason="缺少签字页")  # returned: cannot be confirmed
    ids = [r.pk for r in records] + [999_999]  # and one that does not exist
    job = jobs.start_bulk_confirm(operator, ids)
    assert job.status == JobStatus.DONE
    assert (job.total, job.done, job.failed) == (6, 4, 2)
    assert [(e["id"], e["code"]) for e in job.errors] == [
        (records[2].pk, "INVALID_TRANSITION"),
        (999_999, "RECORD_NOT_FOUND"),
    ]
    assert job.errors[0]["ref"] == records[2].file_number
    assert Record.objects.filter(status=RecordStatus.ARCHIVED).count() == 4
    finished = AuditEvent.objects.get(kind="job.finished")
    assert finished.outcome == "failure" and finished.detail["failed"] == 2


def test_a_case_with_a_gap_needs_its_reason_on_the_record_page(tmp_path, operator):
    """Bulk confirmation gives no 容缺 reason: such a case fails with REASON_REQUIRED, the rest go on."""
    from dangan.archive.tests.conftest import ALLOW_GAP, case_package
    from dangan.core.package import writer

    fonds = catalog.upsert_fonds(operator, code="T001", name="示范市行政审批服务局", region_code="330899")
    catalog.upsert_service_item(
        operator, fonds, code="GAP-ITEM", name="容缺测试事项", retention="D30", class_code="SP", check_profile=ALLOW_GAP
    )  # fmt: skip
    ids = []
    for n, omit in ((1, ("申报材料/申请书.pdf",)), (2, ())):
        pkg, files = case_package(f"330899-GAP-2025-00000{n}", item="GAP-ITEM", omit=omit)
        sub = ingest.ingest_path(operator, writer.write_folder(pkg, files, tmp_path / f"in{n}"))
        ids.append(sub.record.pk)
    job = jobs.start_bulk_confirm(operator, ids)
    assert (job.done, job.failed) == (1, 1)
    assert job.errors[0]["code"] == "REASON_REQUIRED" and job.errors[0]["id"] == ids[0]


@pytest.mark.django_db(transaction=True)
def test_jobs_run_in_the_pool_when_serving_and_inline_for_the_cli(
    tmp_path, settings, test_catalogue, operator
):
    from dangan import jobs as runner

    records = ingest_cases(tmp_path, operator, 3)
    settings.JOBS_EAGER = False
    job = jobs.start_bulk_confirm(operator, [records[0].pk, records[1].pk])
    runner.wait_idle()
    job.refresh_from_db()
    assert (job.status, job.done) == (JobStatus.DONE, 2)
    with runner.inline():
        job = jobs.start_bulk_confirm(operator, [records[2].pk])
    assert (job.status, job.done) == (JobStatus.DONE, 1)  # finished before start_* returned


def test_permissions_to_start(tmp_path, test_catalogue, operator):
    records = ingest_cases(tmp_path, operator, 1)
    clerk, _ = create_user("clerk", [Role.SERVICE_CLERK])
    for start in (
        lambda a: jobs.start_bulk_confirm(a, [records[0].pk]),
        lambda a: jobs.start_bulk_reclassify(a, [records[0].pk], "SP"),
        lambda a: jobs.start_bulk_export(a, [records[0].pk]),
    ):
        with pytest.raises(PermissionDenied):
            start(as_actor(clerk))
    no_confirm = Actor.system("reader", frozenset({Perm.VIEW_RECORDS, Perm.DOWNLOAD}))
    with pytest.raises(PermissionDenied):
        jobs.start_bulk_confirm(no_confirm, [records[0].pk])
    assert not Job.objects.exists()
    with pytest.raises(DanganError) as err:
        jobs.start_bulk_confirm(operator, [])
    assert err.value.code == "NO_RECORDS"
    with pytest.raises(DanganError) as err:
        jobs.start_bulk_confirm(operator, range(1, jobs.MAX_ITEMS + 2))
    assert err.value.code == "TOO_MANY_RECORDS"


def test_a_permission_withdrawn_meanwhile_fails_the_items(tmp_path, test_catalogue, operator, officer_user):
    """A job acts with its creator's roles as they are when it runs (e.g. resumed after a restart)."""
    records = ingest_cases(tmp_path, operator, 2)
    original = jobs.submit
    jobs.submit = lambda *a, **k: None  # queued, not run yet
    try:
        job = jobs.start_bulk_confirm(as_actor(officer_user), [r.pk for r in records])
    finally:
        jobs.submit = original
    officer_user.role_grants.all().delete()  # the role withdrawn directly (the services refuse self-revocation)
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == (JobStatus.DONE, 0, 2)
    assert {e["code"] for e in job.errors} == {"PERMISSION_DENIED"}


def test_bulk_reclassify_changes_the_class_in_the_archival_code(tmp_path, test_catalogue, operator):
    records = ingest_cases(tmp_path, operator, 4)
    catalog.create_class(operator, test_catalogue, code="XK", name="行政许可")
    archive.confirm(operator, records[3].pk)  # archived: keeps its class
    job = jobs.start_bulk_reclassify(operator, [r.pk for r in records], "XK")
    assert (job.status, job.done, job.failed) == (JobStatus.DONE, 3, 1)
    assert job.errors[0]["code"] == "NOT_PRE_ARCHIVE" and job.errors[0]["id"] == records[3].pk
    assert AuditEvent.objects.filter(kind="record.reclassified").count() == 3
    confirmed = archive.confirm(operator, records[0].pk)
    assert "-XK-" in confirmed.archival_code
    assert "-SP-" in Record.objects.get(pk=records[3].pk).archival_code

    again = jobs.start_bulk_reclassify(operator, [records[1].pk], "XK")  # already there: no new event
    assert again.done == 1 and AuditEvent.objects.filter(kind="record.reclassified").count() == 3
    with pytest.raises(DanganError) as err:
        jobs.start_bulk_reclassify(operator, [records[1].pk], "NOPE")
    assert err.value.code == "UNKNOWN_CLASS"


@pytest.mark.parametrize("fmt", ["aip-zip", "eep"])
def test_bulk_export_writes_one_zip_for_its_creator_only(tmp_path, test_catalogue, operator, fmt):
    records = ingest_cases(tmp_path, operator, 4)
    for r in records[:3]:
        archive.confirm(operator, r.pk)
    job = jobs.start_bulk_export(operator, [r.pk for r in records], format=fmt)
    assert (job.status, job.done, job.failed) == (JobStatus.DONE, 3, 1)
    assert job.errors[0]["code"] == "NOT_ARCHIVED"
    assert job.result_name.endswith(".zip") and job.result_size > 0

    _, stream = jobs.open_result(operator, job.pk)
    with stream:
        data = stream.read()
    assert sm.sm3_hex(data) == job.result_sm3 and len(data) == job.result_size
    with zipfile.ZipFile(BytesIO(data)) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read(jobs.MANIFEST))
        assert len(manifest["files"]) == 3 and manifest["failed"][0]["id"] == records[3].pk
        for entry in manifest["files"]:
            assert sm.sm3_hex(zf.read(entry["name"])) == entry["sm3"]
        codes = {Record.objects.get(pk=r.pk).archival_code for r in records[:3]}
        if fmt == "aip-zip":
            assert {n.removesuffix("-v1.zip") for n in names if n != jobs.MANIFEST} == codes
            inner = zipfile.ZipFile(BytesIO(zf.read(manifest["files"][0]["name"])))
            assert any(n.endswith("/tagmanifest-sm3.txt.sig") for n in inner.namelist())
        else:
            assert {n.removesuffix(".xml") for n in names if n != jobs.MANIFEST} == codes
            assert b"<" in zf.read(manifest["files"][0]["name"])[:100]
    assert AuditEvent.objects.filter(kind="job.result_read").count() == 1
    per_record = "aip.exported" if fmt == "aip-zip" else "eep.exported"
    assert AuditEvent.objects.filter(kind=per_record).count() == 3

    someone_else = Actor.system("someone-else")  # every permission, but not the creator
    with pytest.raises(PermissionDenied):
        jobs.open_result(someone_else, job.pk)


def test_a_job_interrupted_by_a_restart_is_resumed_where_it_stopped(tmp_path, test_catalogue, operator):
    records = ingest_cases(tmp_path, operator, 5)

    class Crash(BaseException):
        """The process dies (nothing below catches it)."""

    def die_after_two(progress):
        if progress.processed == 2:
            raise Crash

    with pytest.raises(Crash), jobs.watch(die_after_two):
        jobs.start_bulk_confirm(operator, [r.pk for r in records])
    job = Job.objects.get()
    assert (job.status, job.position, job.done) == (JobStatus.RUNNING, 2, 2)

    assert jobs.recover_interrupted() == 1  # what `dangan serve` does on start-up
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "after 2 of 5" in job.message
    assert jobs.recover_interrupted() == 0

    with pytest.raises(PermissionDenied):
        jobs.resume_job(Actor.system("someone-else"), job.pk)
    job = jobs.resume_job(operator, job.pk)
    assert (job.status, job.position, job.done, job.failed) == (JobStatus.DONE, 5, 5, 0)
    assert Record.objects.filter(status=RecordStatus.ARCHIVED).count() == 5
    kinds = list(AuditEvent.objects.filter(object_type="job").values_list("kind", "detail__status"))
    assert kinds == [
        ("job.started", None),
        ("job.finished", "failed"),
        ("job.resumed", None),
        ("job.finished", "done"),
    ]


def test_cancel_a_queued_and_a_running_job(tmp_path, test_catalogue, operator):
    records = ingest_cases(tmp_path, operator, 3)
    original = jobs.submit
    jobs.submit = lambda *a, **k: None
    try:
        queued = jobs.start_bulk_confirm(operator, [records[0].pk])
    finally:
        jobs.submit = original
    assert jobs.cancel_job(operator, queued.pk).status == JobStatus.CANCELLED
    jobs.run_job(queued.pk)  # a late runner does nothing
    assert Record.objects.get(pk=records[0].pk).status == RecordStatus.PRE_ARCHIVE

    def cancel_after_first(progress):
        if progress.processed == 1:
            jobs.cancel_job(operator, progress.job_id)

    with jobs.watch(cancel_after_first):
        job = jobs.start_bulk_confirm(operator, [r.pk for r in records])
    assert (job.status, job.position, job.done) == (JobStatus.CANCELLED, 1, 1)
    assert Record.objects.filter(status=RecordStatus.ARCHIVED).count() == 1
    with pytest.raises(DanganError):
        jobs.cancel_job(operator, job.pk)  # finished: nothing to cancel


# ---------------------------------------------------------------------------------------------
# Web pages


def test_bulk_confirm_from_the_pre_archive_page_and_the_job_page(
    client, tmp_path, test_catalogue, operator, officer_user
):
    ingest_cases(tmp_path, operator, 3)
    client.force_login(officer_user)
    page = client.get(reverse("web:prearchive")).content.decode()
    assert 'name="all" value="1"' in page and "全选 3 件待确认办件（最多 1000 件）" in page
    response = client.post(reverse("web:bulk"), {"scope": "prearchive", "op": "confirm", "all": "1"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("web:job", args=[job.pk])
    body = client.get(response["Location"]).content.decode()
    assert "批量归档确认" in body and "100%" in body and "已完成" in body
    assert "已处理 3 / 3 件：成功 3 件，失败 0 件。" in body
    assert 'hx-trigger="every 1s"' not in body and "http-equiv" not in body  # finished: no polling
    assert Record.objects.filter(status=RecordStatus.ARCHIVED).count() == 3
    listing = client.get(reverse("web:jobs")).content.decode()
    assert f'href="{reverse("web:job", args=[job.pk])}"' in listing


def test_a_running_job_page_polls_and_reloads_without_javascript(
    client, tmp_path, test_catalogue, operator, officer_user
):
    records = ingest_cases(tmp_path, operator, 2)
    original = jobs.submit
    jobs.submit = lambda *a, **k: None  # stays queued
    try:
        job = jobs.start_bulk_confirm(as_actor(officer_user), [r.pk for r in records])
    finally:
        jobs.submit = original
    client.force_login(officer_user)
    body = client.get(reverse("web:job", args=[job.pk])).content.decode()
    assert f'hx-get="/jobs/{job.pk}/progress/" hx-trigger="every 1s"' in body
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in body
    assert "排队中" in body and "0%" in body and "取消任务" in body
    partial = client.get(reverse("web:job-progress", args=[job.pk])).content.decode()
    assert partial.lstrip().startswith('<section id="job-progress"') and "<html" not in partial
    response = client.post(reverse("web:job-cancel", args=[job.pk]), follow=True)
    assert "任务已取消" in response.content.decode()


def test_only_the_creator_downloads_an_export(
    client, tmp_path, test_catalogue, operator, officer_user, other_officer_user
):
    records = ingest_cases(tmp_path, operator, 2)
    for r in records:
        archive.confirm(operator, r.pk)
    client.force_login(officer_user)
    page = client.get(reverse("web:records")).content.decode()
    assert 'id="bulk-export"' in page and 'value="export-aip"' in page
    response = client.post(
        reverse("web:bulk"),
        {"scope": "records", "op": "export-aip", "ids": [str(r.pk) for r in records]},
    )
    job = Job.objects.get()
    assert response["Location"] == reverse("web:job", args=[job.pk])
    body = client.get(response["Location"]).content.decode()
    assert 'id="job-download"' in body
    download = client.get(reverse("web:job-result", args=[job.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert sm.sm3_hex(b"".join(download.streaming_content)) == job.result_sm3

    client.force_login(other_officer_user)
    body = client.get(reverse("web:job", args=[job.pk])).content.decode()  # may watch it ...
    assert 'id="job-download"' not in body and "取消任务" not in body
    assert client.get(reverse("web:job-result", args=[job.pk])).status_code == 403  # ... not download it
    assert f'id="job-{job.pk}"' not in client.get(reverse("web:jobs")).content.decode()  # not their job


def test_select_all_matching_the_filter_on_the_formal_library(
    client, tmp_path, test_catalogue, operator, officer_user
):
    records = ingest_cases(tmp_path, operator, 3)
    for r in records:
        archive.confirm(operator, r.pk)
    wanted = Record.objects.get(pk=records[1].pk).archival_code
    client.force_login(officer_user)
    page = client.get(reverse("web:records"), {"q": wanted}).content.decode()
    assert f'<input type="hidden" name="q" value="{wanted}">' in page
    client.post(reverse("web:bulk"), {"scope": "records", "op": "export-eep", "all": "1", "q": wanted})
    job = Job.objects.get()
    assert job.items == [records[1].pk] and job.done == 1


def test_a_clerk_cannot_start_a_bulk_job(client, tmp_path, test_catalogue, operator):
    records = ingest_cases(tmp_path, operator, 1)
    clerk, _ = create_user("clerk", [Role.SERVICE_CLERK], password=PASSWORD)
    client.force_login(clerk)
    response = client.post(reverse("web:bulk"), {"op": "confirm", "ids": [str(records[0].pk)]})
    assert response.status_code == 403 and not Job.objects.exists()


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_bulk_confirm_jobs_list_and_show(tmp_path, test_catalogue, operator):
    records = ingest_cases(tmp_path, operator, 4)
    archive.return_record(operator, records[1].pk, reason="退回")
    runner = CliRunner()
    res = runner.invoke(main, ["archive", "bulk-confirm", str(records[0].pk), records[1].file_number])
    assert res.exit_code == 1, res.output
    assert "INVALID_TRANSITION" in res.output and "1 done, 1 failed of 2" in res.output

    res = runner.invoke(main, ["archive", "bulk-confirm", "--all-pending", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["status"] == "done" and shown["done"] == 2 and shown["failed"] == 0

    res = runner.invoke(main, ["jobs", "list", "--json"])
    assert res.exit_code == 0 and len(res.stdout.strip().splitlines()) == 2
    res = runner.invoke(main, ["jobs", "show", str(shown["id"]), "--json"])
    assert json.loads(res.stdout)["processed"] == 2

    out = tmp_path / "export.zip"
    res = runner.invoke(main, ["archive", "bulk-export", "--all-archived", "--out", str(out)])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(out) as zf:
        assert len(json.loads(zf.read(jobs.MANIFEST))["files"]) == 3
    res = runner.invoke(main, ["archive", "bulk-export", "--all-archived", "--out", str(out)])
    assert res.exit_code == 2  # the file exists
