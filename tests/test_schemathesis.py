"""The API against its own OpenAPI schema (schemathesis): for every operation, generated requests get no
server error (5xx) and every answer has a documented status code, content type and body shape.

The app is called in-process (WSGI) inside the test transaction, so it runs on SQLite and PostgreSQL
alike. Upload endpoints get random (non-ZIP) bytes; record endpoints hit both random and real ids.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from dangan.accounts.roles import Role
from dangan.accounts.services import create_user
from dangan.archive import services as archive
from dangan.catalog.services import issue_source_token
from dangan.conf.wsgi import application
from dangan.ingest.services import ingest_path
from tests.factories import write_case

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class World:
    token: str
    session: str
    csrf: str
    record_ids: list[int]
    submission_id: str


@pytest.fixture
def world(tmp_path, test_catalogue, operator, officer_actor, django_capture_on_commit_callbacks) -> World:
    """A source system with a token, a records officer with a session, and real records: three
    pre-archived cases (one sent through the API) and one archived."""
    _, token = issue_source_token(operator, code="SYS1", name="示范办件系统", fonds=[test_catalogue])
    subs = [
        ingest_path(
            operator, write_case(tmp_path / f"c{n}", file_number=f"330899-A101-TEST-2025-D30-00000{n}")
        )
        for n in (1, 2, 3)
    ]
    assert all(s.record is not None for s in subs), [s.errors for s in subs]
    record_ids = [s.record.pk for s in subs if s.record is not None]
    archive.confirm(officer_actor, record_ids[0])
    # One case sent through the API (so it is this source system's submission), checked on commit.
    sender = APIClient()
    sender.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    zipped = write_case(tmp_path / "api", as_zip=True, file_number="330899-A101-TEST-2025-D30-000009")
    with django_capture_on_commit_callbacks(execute=True), open(zipped, "rb") as f:
        sent = sender.post("/api/v1/cases", {"package": f}, format="multipart")
    assert sent.status_code == 202, sent.content
    officer, _ = create_user("officer", [Role.RECORDS_OFFICER], password="x-Very-long-pw-2")
    browser = Client()
    browser.force_login(officer)
    return World(
        token=token,
        session=browser.cookies["sessionid"].value,
        csrf=secrets.token_hex(16),  # a 32-character unmasked CSRF secret: cookie and header agree
        record_ids=record_ids,
        submission_id=sent.json()["id"],
    )


@pytest.fixture
def app_world(world: World) -> Iterator[World]:
    """``world``, with the WSGI app called directly: as in Django's test client, a request must not
    close the connection that holds the test transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield world
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# Served by the app itself (no database needed), so it loads at collection time.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# Documented requests only (schema-valid data): their answers must be documented too.
schema.config.generation.update(modes=[GenerationMode.POSITIVE])


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_schema(case, app_world: World) -> None:
    world = app_world
    path = case.operation.path
    params = case.path_parameters or {}
    # Even generated ids are swapped for real ones, so the happy paths are reached too.
    if "id" in params and isinstance(params["id"], int) and params["id"] % 2 == 0:
        params["id"] = world.record_ids[params["id"] % len(world.record_ids)]
    if path.startswith("/api/v1/submissions/") and "id" in params and str(params["id"])[-1] in "02468ace":
        params["id"] = world.submission_id
    case.path_parameters = params
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    cookies: dict[str, str] = {}
    if path.startswith("/api/v1/records"):
        # Staff use the web session (with its CSRF token) for the records API.
        cookies = {"sessionid": world.session, "csrftoken": world.csrf}
        headers["X-CSRFToken"] = world.csrf
    else:
        headers["Authorization"] = f"Token {world.token}"
    case.headers = headers
    case.cookies = cookies
    case.call_and_validate(checks=CHECKS)


# Regressions for what the run above found.


@pytest.fixture
def officer_client(test_catalogue) -> APIClient:
    officer, _ = create_user("officer", [Role.RECORDS_OFFICER], password="x-Very-long-pw-2")
    client = APIClient()
    client.force_authenticate(officer)
    return client


def test_records_list_with_a_non_numeric_year_is_400(officer_client):
    # was a 500 (ValueError from the year filter)
    resp = officer_client.get("/api/v1/records", {"year": "abc"})
    assert resp.status_code == 400 and "year" in resp.json()
    assert officer_client.get("/api/v1/records", {"year": "2025"}).status_code == 200


def test_schema_documents_uploads_as_binary_and_the_error_answers():
    spec = APIClient().get("/api/schema/?format=json").json()
    components = spec["components"]["schemas"]
    # multipart file parts were documented as `format: uri`, so clients (and schemathesis) sent URLs
    assert components["CaseUpload"]["properties"]["package"]["format"] == "binary"
    assert components["CheckUpload"]["properties"]["package"]["format"] == "binary"
    assert components["SupplementRequest"]["properties"]["files"]["items"]["format"] == "binary"
    assert components["CorrectionRequest"]["properties"]["replace_file"]["format"] == "binary"
    paths = spec["paths"]
    # status codes the views answer with that were undocumented
    assert {"401", "403", "413"} <= set(paths["/api/v1/cases"]["post"]["responses"])
    assert {"403", "404"} <= set(paths["/api/v1/submissions/{id}"]["get"]["responses"])
    assert "404" in paths["/api/v1/records/{id}"]["get"]["responses"]
    assert "404" in paths["/api/v1/records/{id}/versions"]["get"]["responses"]
    for action in ("confirm", "return", "supplement", "correct"):
        assert {"400", "403", "404"} <= set(paths[f"/api/v1/records/{{id}}/{action}"]["post"]["responses"])
    # the list's filters were undocumented
    names = {p["name"] for p in paths["/api/v1/records"]["get"]["parameters"]}
    assert {"status", "year", "retention", "fonds", "service_item"} <= names


def test_random_bytes_as_package_are_never_a_server_error(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.token}")
    for url in ("/api/v1/cases", "/api/v1/checks"):
        resp = client.post(url, {"package": io.BytesIO(b"\x00not a zip\xff")}, format="multipart")
        assert resp.status_code in (202, 400), (url, resp.status_code)


def test_unknown_url_is_404_for_a_signed_in_user(test_catalogue):
    officer, _ = create_user("officer", [Role.RECORDS_OFFICER], password="x-Very-long-pw-2")
    browser = Client(raise_request_exception=False)
    browser.force_login(officer)
    assert browser.get("/api/v1/records/-1").status_code == 404
