"""The production path for uploads: answered 202, then checked by the in-process job pool after commit."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from dangan import jobs
from dangan.accounts.roles import Actor
from dangan.catalog.services import issue_source_token
from dangan.ingest import services as ingest
from dangan.ingest.models import Submission
from dangan.ingest.states import SubmissionStatus
from tests.factories import write_case


@pytest.mark.django_db(transaction=True)
def test_upload_is_processed_by_the_job_pool(tmp_path, settings, test_catalogue, operator):
    settings.JOBS_EAGER = False
    _, token = issue_source_token(operator, code="SYS1", name="办件系统", fonds=[test_catalogue])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with open(write_case(tmp_path, as_zip=True), "rb") as f:
        resp = client.post("/api/v1/cases", {"package": f}, format="multipart")
    assert resp.status_code == 202
    jobs.wait_idle()
    body = client.get(resp.json()["status_url"]).json()
    assert body["status"] == "accepted", body
    assert body["record"]["status"] == "pre_archive"


@pytest.mark.django_db(transaction=True)
def test_unfinished_uploads_resume_after_restart(tmp_path, settings, test_catalogue, operator):
    """A crash after the 202 leaves a RECEIVED submission with its upload in quarantine; serve resumes it."""
    settings.JOBS_EAGER = False
    source, _ = issue_source_token(operator, code="SYS1", name="办件系统", fonds=[test_catalogue])
    with open(write_case(tmp_path, as_zip=True), "rb") as f:
        original_submit = jobs.submit
        jobs.submit = lambda *a, **k: None  # the process "dies" before the job runs
        try:
            sub = ingest.receive_upload(
                Actor.source_system(source.pk, source.code), f, filename="case.zip", source=source
            )
        finally:
            jobs.submit = original_submit
    assert Submission.objects.get(pk=sub.pk).status == SubmissionStatus.RECEIVED
    assert ingest.resume_pending() == 1
    jobs.wait_idle()
    assert Submission.objects.get(pk=sub.pk).status == SubmissionStatus.ACCEPTED


@pytest.mark.django_db
def test_an_upload_that_keeps_killing_the_process_is_rejected_not_retried_forever(
    tmp_path, settings, test_catalogue, operator
):
    """Each restart finds the submission still CHECKING (the process died inside the check). After
    MAX_RESUMES restarts the upload is rejected with INTAKE_ABORTED and its quarantine copy removed."""
    from dangan.audit.models import AuditEvent

    source, _ = issue_source_token(operator, code="SYS1", name="办件系统", fonds=[test_catalogue])
    actor = Actor.source_system(source.pk, source.code)
    original_submit = jobs.submit
    jobs.submit = lambda *a, **k: None
    try:
        with open(write_case(tmp_path, as_zip=True), "rb") as f:
            sub = ingest.receive_upload(actor, f, filename="case.zip", source=source)
    finally:
        jobs.submit = original_submit
    for _ in range(ingest.MAX_RESUMES):  # simulate: resumed, then the process died mid-check again
        Submission.objects.filter(pk=sub.pk).update(status=SubmissionStatus.CHECKING)
        AuditEvent.objects.create(
            kind="case.resumed", actor="x", object_type="submission", object_id=str(sub.id)
        )
    Submission.objects.filter(pk=sub.pk).update(status=SubmissionStatus.CHECKING)
    ingest.process_upload(str(sub.id))
    sub.refresh_from_db()
    assert sub.status == SubmissionStatus.REJECTED and sub.errors[0]["code"] == "INTAKE_ABORTED"
    assert not ingest.quarantine_dir(sub).exists()
