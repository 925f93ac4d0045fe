"""Source-system API tokens: issue, scopes, expiry, revocation, authentication and the API's answers."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dangan.accounts import tokens
from dangan.accounts.models import ApiToken
from dangan.accounts.roles import DEFAULT_TOKEN_SCOPES, Actor, Perm, PermissionDenied
from dangan.accounts.tokens import TokenError
from dangan.audit.models import AuditEvent
from dangan.catalog.models import SourceSystem
from dangan.catalog.services import issue_source_token, upsert_source_system

pytestmark = pytest.mark.django_db

OPERATOR = Actor.system("test-operator")


@pytest.fixture
def system(two_fonds):
    return upsert_source_system(OPERATOR, code="SYS1", name="示范办件系统", fonds=[two_fonds[0]])[0]


def _audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("kind", "detail", "object_id")), ensure_ascii=False)


def test_issue_stores_only_a_hash_and_audits_the_prefix(system):
    token, plaintext = tokens.issue_token(
        OPERATOR, system, scopes=["submissions:read", "cases:submit"], expires_in_days=30, name="prod"
    )
    assert plaintext.startswith("dgn_") and len(plaintext) > 40
    token.refresh_from_db()
    assert token.token_hash == tokens.hash_token(plaintext) and plaintext not in token.token_hash
    assert token.token_prefix == plaintext[:12]
    assert token.scopes == ["cases:submit", "submissions:read"]  # canonical order
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    event = AuditEvent.objects.get(kind="token.issued")
    assert event.object_id == str(token.pk) and event.detail["prefix"] == token.token_prefix
    assert event.detail["system"] == "SYS1" and event.detail["scopes"] == token.scopes
    assert plaintext not in _audit_text()


def test_issue_needs_the_token_permission(system, officer, sysadmin, secadmin):
    for user in (officer, secadmin):
        with pytest.raises(PermissionDenied):
            tokens.issue_token(Actor.from_user(user), system, scopes=DEFAULT_TOKEN_SCOPES)
    catalogue_only = Actor.system("x", frozenset({Perm.MANAGE_CATALOG}))
    with pytest.raises(PermissionDenied):
        tokens.issue_token(catalogue_only, system, scopes=DEFAULT_TOKEN_SCOPES)
    token, _ = tokens.issue_token(Actor.from_user(sysadmin), system, scopes=["cases:check"])
    assert token.created_by == "sysadmin"
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"scopes": []}, "BAD_SCOPE"),
        ({"scopes": ["cases:submit", "records:delete"]}, "BAD_SCOPE"),
        ({"scopes": ["cases:submit"], "expires_in_days": 0}, "BAD_EXPIRY"),
        ({"scopes": ["cases:submit"], "expires_in_days": 100000}, "BAD_EXPIRY"),
        ({"scopes": ["cases:submit"], "name": "n" * 101}, "BAD_NAME"),
    ],
)
def test_bad_token_requests_are_refused(system, kwargs, code):
    with pytest.raises(TokenError) as info:
        tokens.issue_token(OPERATOR, system, **kwargs)
    assert info.value.code == code
    assert not ApiToken.objects.exists() and not AuditEvent.objects.filter(kind="token.issued").exists()


def test_no_token_for_a_disabled_system(system):
    SourceSystem.objects.filter(pk=system.pk).update(active=False)
    system.refresh_from_db()
    with pytest.raises(TokenError) as info:
        tokens.issue_token(OPERATOR, system, scopes=["cases:submit"])
    assert info.value.code == "SYSTEM_INACTIVE"


def test_authenticate_refuses_unknown_revoked_expired_and_disabled(system):
    token, plaintext = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)
    assert tokens.authenticate(plaintext) == token
    assert tokens.authenticate("dgn_" + "x" * 43) is None
    assert tokens.authenticate("") is None

    expired, expired_text = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.authenticate(expired_text, ip="10.0.0.9") is None

    tokens.revoke_token(OPERATOR, token, reason="leaked")
    assert tokens.authenticate(plaintext) is None

    live, live_text = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)
    SourceSystem.objects.filter(pk=system.pk).update(active=False)
    assert tokens.authenticate(live_text) is None

    refused = {e.object_id: e for e in AuditEvent.objects.filter(kind="token.refused")}
    assert refused[str(expired.pk)].detail["reason"] == "expired"
    assert refused[str(expired.pk)].source_ip == "10.0.0.9"
    assert refused[str(expired.pk)].outcome == "failure"
    assert refused[str(token.pk)].detail["reason"] == "revoked"
    assert refused[str(live.pk)].detail["reason"] == "system_disabled"
    assert refused[str(token.pk)].detail["prefix"] == token.token_prefix
    text = _audit_text()
    assert plaintext not in text and expired_text not in text and live_text not in text


def test_a_refused_token_is_logged_at_most_once_a_minute(system):
    token, plaintext = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)
    tokens.revoke_token(OPERATOR, token)
    for _ in range(5):
        assert tokens.authenticate(plaintext) is None
    assert AuditEvent.objects.filter(kind="token.refused", object_id=str(token.pk)).count() == 1


def test_last_used_is_written_at_most_once_a_minute(system, django_assert_num_queries):
    token, plaintext = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)
    assert token.last_used_at is None
    first = tokens.authenticate(plaintext)
    assert first is not None and first.last_used_at is not None
    stamp = ApiToken.objects.get(pk=token.pk).last_used_at
    with django_assert_num_queries(1):  # the lookup only: no write within the minute
        tokens.authenticate(plaintext)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == stamp
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=stamp - timedelta(minutes=2))
    tokens.authenticate(plaintext)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > stamp - timedelta(minutes=1)


def test_revoke_once_and_find_by_prefix(system, officer):
    token, plaintext = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)
    assert tokens.token_by_prefix(OPERATOR, token.token_prefix) == token
    assert tokens.token_by_prefix(OPERATOR, plaintext) == token  # the whole token works too
    for bad in ("dgn", "dgn_zzzzzzzz"):
        with pytest.raises(TokenError):
            tokens.token_by_prefix(OPERATOR, bad)
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(Actor.from_user(officer), token)
    tokens.revoke_token(OPERATOR, token, reason="rotated")
    with pytest.raises(TokenError) as info:
        tokens.revoke_token(OPERATOR, token)
    assert info.value.code == "ALREADY_REVOKED"
    event = AuditEvent.objects.get(kind="token.revoked")
    assert event.detail == {"system": "SYS1", "prefix": token.token_prefix, "reason": "rotated"}
    assert tokens.token_state(ApiToken.objects.get(pk=token.pk)) == "revoked"


def test_issue_source_token_creates_and_rekeys(two_fonds):
    system, first = issue_source_token(OPERATOR, code="SYS9", name="九号系统", fonds=list(two_fonds))
    assert set(system.fonds.values_list("code", flat=True)) == {"F001", "F002"}
    assert tokens.authenticate(first).scopes == list(DEFAULT_TOKEN_SCOPES)
    _, second = issue_source_token(OPERATOR, code="SYS9", name="九号系统", fonds=[two_fonds[0]])
    assert tokens.authenticate(first) is None and tokens.authenticate(second) is not None
    _, third = issue_source_token(
        OPERATOR, code="SYS9", name="九号", fonds=[two_fonds[0]], revoke_others=False
    )
    assert tokens.authenticate(second) is not None and tokens.authenticate(third) is not None
    assert SourceSystem.objects.get(code="SYS9").name == "九号"
    assert AuditEvent.objects.filter(kind="token.revoked", detail__reason="re-keyed").count() == 1
    with pytest.raises(PermissionDenied):  # registering a system is a catalogue change
        issue_source_token(Actor.system("t", frozenset({Perm.MANAGE_TOKENS})), code="S", name="s", fonds=[])


# --------------------------------------------------------------------------- through the API


def _client(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
    return client


def _post(client: APIClient, path: str):
    return client.post(path, {"package": io.BytesIO(b"not a zip")}, format="multipart")


def test_the_api_refuses_what_the_token_scopes_do_not_allow(system, django_capture_on_commit_callbacks):
    _, check_only = tokens.issue_token(OPERATOR, system, scopes=["cases:check"])
    resp = _post(_client(check_only), "/api/v1/cases")
    assert resp.status_code == 403 and "cases:submit" in resp.json()["detail"]
    assert _post(_client(check_only), "/api/v1/checks").status_code == 400  # allowed: the ZIP is bad

    _, submit_only = tokens.issue_token(OPERATOR, system, scopes=["cases:submit"])
    resp = _post(_client(submit_only), "/api/v1/checks")
    assert resp.status_code == 403 and "cases:check" in resp.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        sent = _post(_client(submit_only), "/api/v1/cases")
    assert sent.status_code == 202
    status_url = sent.json()["status_url"]
    resp = _client(submit_only).get(status_url)
    assert resp.status_code == 403 and "submissions:read" in resp.json()["detail"]

    _, reader = tokens.issue_token(OPERATOR, system, scopes=["submissions:read"])
    assert _client(reader).get(status_url).status_code == 200
    assert _post(_client(reader), "/api/v1/cases").status_code == 403
    # No token scope reaches the records API.
    assert _client(reader).get("/api/v1/records").status_code == 403


def test_the_api_refuses_revoked_and_expired_tokens(system):
    token, plaintext = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES, expires_in_days=1)
    assert _post(_client(plaintext), "/api/v1/checks").status_code == 400
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    resp = _post(_client(plaintext), "/api/v1/checks")
    assert resp.status_code == 401 and resp["WWW-Authenticate"] == "Token"
    token2, plaintext2 = tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)
    tokens.revoke_token(OPERATOR, token2)
    assert _post(_client(plaintext2), "/api/v1/cases").status_code == 401
    assert set(AuditEvent.objects.filter(kind="token.refused").values_list("detail__reason", flat=True)) == {
        "expired",
        "revoked",
    }


# ----------------------------------------------------------------------- the data migration


@pytest.mark.django_db(transaction=True)
def test_existing_source_tokens_are_carried_over():
    """Migration accounts.0002 copies the old SourceSystem token into an ApiToken; catalog.0005 then
    drops the old columns, and the token keeps working."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("accounts", "0001_initial"), ("catalog", "0004_admin_names")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    OldSystem = old_apps.get_model("catalog", "SourceSystem")
    plaintext = "dgn_" + "k" * 43
    OldSystem.objects.create(
        code="OLD", name="旧系统", token_hash=tokens.hash_token(plaintext), token_prefix=plaintext[:12]
    )
    OldSystem.objects.create(
        code="GONE", name="停用", token_hash="0" * 64, token_prefix="dgn_gone", active=False
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    token = tokens.authenticate(plaintext)
    assert token is not None and token.system.code == "OLD" and token.scopes == list(DEFAULT_TOKEN_SCOPES)
    gone = ApiToken.objects.get(system__code="GONE")
    assert gone.revoked_at is not None


def test_admin_shows_the_tokens_read_only_without_hashes(system, sysadmin):
    from dangan.accounts.tests.conftest import client_for

    token, plaintext = tokens.issue_token(OPERATOR, system, scopes=["cases:check"], name="前置机")
    client = client_for(sysadmin)
    assert client.get("/admin/catalog/sourcesystem/").status_code == 200
    page = client.get(f"/admin/catalog/sourcesystem/{system.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200 and token.token_prefix in body and "前置机" in body
    assert token.token_hash not in body and plaintext not in body
    assert 'name="tokens-0-name"' not in body  # read only
