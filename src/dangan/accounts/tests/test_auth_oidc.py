"""Optional single sign-on: off by default, wired when configured, accounts created without roles."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import NoReverseMatch, clear_url_caches, reverse

from dangan.accounts import oidc
from dangan.accounts.models import AccountSecurity, RoleGrant
from dangan.accounts.roles import Role
from dangan.accounts.services import create_user
from dangan.audit.models import AuditEvent

OP = "https://sso.example.gov.cn/realms/zw/protocol/openid-connect"
ENABLED = {
    "OIDC_ENABLED": True,
    "OIDC_RP_CLIENT_ID": "dangan",
    "OIDC_RP_CLIENT_SECRET": "s3cret-for-tests",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{OP}/auth",
    "OIDC_OP_TOKEN_ENDPOINT": f"{OP}/token",
    "OIDC_OP_USER_ENDPOINT": f"{OP}/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": f"{OP}/certs",
    "OIDC_RP_SIGN_ALGO": "RS256",
}
BACKENDS = ["dangan.accounts.backends.LockoutModelBackend", "dangan.accounts.oidc.DanganOIDCBackend"]


def _rewire() -> None:
    """Rebuild the URLs as a process started with these settings would have them."""
    importlib.reload(oidc)
    importlib.reload(importlib.import_module("dangan.conf.urls"))
    clear_url_caches()


@pytest.fixture
def sso(settings):
    """Single sign-on configured (as the settings module would, from DANGAN_OIDC_*)."""
    for name, value in ENABLED.items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    _rewire()
    yield
    settings.OIDC_ENABLED = False
    _rewire()


def _settings_in_subprocess(tmp_path, env: dict[str, str], expr: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_OIDC_")}
    clean.update(env, DANGAN_HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="dangan.conf.settings")
    code = f"from django.conf import settings; print(repr(({expr})))"
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)


def test_settings_enable_sso_only_when_fully_configured(tmp_path):
    off = _settings_in_subprocess(tmp_path, {}, "settings.OIDC_ENABLED, settings.AUTHENTICATION_BACKENDS")
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "(False, ['dangan.accounts.backends.LockoutModelBackend'])"

    secret = tmp_path / "oidc-secret"
    secret.write_text("from-a-file\n")
    secret.chmod(0o600)
    env = {
        "DANGAN_OIDC_CLIENT_ID": "dangan",
        "DANGAN_OIDC_CLIENT_SECRET_FILE": str(secret),
        "DANGAN_OIDC_AUTHORIZATION_ENDPOINT": f"{OP}/auth",
        "DANGAN_OIDC_TOKEN_ENDPOINT": f"{OP}/token",
        "DANGAN_OIDC_USER_ENDPOINT": f"{OP}/userinfo",
        "DANGAN_OIDC_JWKS_ENDPOINT": f"{OP}/certs",
    }
    on = _settings_in_subprocess(
        tmp_path, env, "settings.OIDC_ENABLED, settings.AUTHENTICATION_BACKENDS[-1], settings.OIDC_RP_CLIENT_SECRET, "
        "settings.OIDC_RP_SIGN_ALGO, settings.OIDC_USERNAME_CLAIM",
    )  # fmt: skip
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == (
        "(True, 'dangan.accounts.oidc.DanganOIDCBackend', 'from-a-file', 'RS256', 'preferred_username')"
    )

    del env["DANGAN_OIDC_JWKS_ENDPOINT"], env["DANGAN_OIDC_TOKEN_ENDPOINT"]
    half = _settings_in_subprocess(tmp_path, env, "settings.OIDC_ENABLED")
    assert half.returncode != 0
    assert "ImproperlyConfigured" in half.stderr
    assert "DANGAN_OIDC_TOKEN_ENDPOINT" in half.stderr and "DANGAN_OIDC_JWKS_ENDPOINT" in half.stderr


def test_off_by_default_no_urls_no_link(client, db):
    with pytest.raises(NoReverseMatch):
        reverse("oidc_authentication_init")
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert "统一身份认证" not in client.get("/login/").content.decode()


def test_when_enabled_the_login_page_links_to_the_provider(sso, client, db):
    assert reverse("oidc_authentication_init") == "/oidc/authenticate/"
    page = client.get("/login/?next=/records/").content.decode()
    assert "统一身份认证登录 Single sign-on" in page and "/oidc/authenticate/?next=/records/" in page
    response = client.get("/oidc/authenticate/?next=/records/")
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{OP}/auth"
    assert query["client_id"] == ["dangan"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/oidc/callback/"]
    assert "preferred_username" not in query["scope"][0] and "profile" in query["scope"][0]
    assert query["code_challenge_method"] == ["S256"]  # PKCE


CLAIMS = {
    "sub": "9f1c-77",
    "preferred_username": "wangwu",
    "email": "wangwu@example.gov.cn",
    "given_name": "五",
}


def test_backend_creates_accounts_without_roles_and_updates_them(sso, db, settings):
    backend = oidc.DanganOIDCBackend()
    assert backend.verify_claims(CLAIMS)
    assert not backend.verify_claims({"sub": "x", "email": "a@b"})  # no user name claim
    assert not backend.verify_claims({"preferred_username": "x" * 151})
    assert not backend.filter_users_by_claims(CLAIMS).exists()
    user = backend.create_user(CLAIMS)
    assert user.username == "wangwu" and user.email == "wangwu@example.gov.cn" and user.first_name == "五"
    assert not user.has_usable_password()
    assert not RoleGrant.objects.filter(user=user).exists()
    assert AccountSecurity.objects.get(user=user).must_change_password is False
    event = AuditEvent.objects.get(kind="user.created")
    assert event.detail == {"username": "wangwu", "method": "oidc", "subject": "9f1c-77"}

    assert list(backend.filter_users_by_claims(CLAIMS)) == [user]
    backend.update_user(user, {**CLAIMS, "email": "ww@example.gov.cn"})
    user.refresh_from_db()
    assert user.email == "ww@example.gov.cn"

    settings.OIDC_USERNAME_CLAIM = "employee_id"
    assert backend.claim_username({"employee_id": " E1024 "}) == "E1024"


def _callback(client: Client, claims: dict) -> object:
    start = client.get("/oidc/authenticate/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    nonce = parse_qs(urlsplit(start["Location"]).query)["nonce"][0]
    backend = oidc.DanganOIDCBackend
    with (
        mock.patch.object(
            backend, "get_token", return_value={"id_token": "id", "access_token": "at"}
        ) as token,
        mock.patch.object(backend, "verify_token", return_value={"nonce": nonce}),
        mock.patch.object(backend, "get_userinfo", return_value=claims),
    ):
        response = client.get(f"/oidc/callback/?code=the-code&state={state}", REMOTE_ADDR="203.0.113.5")
    assert token.call_args.args[0]["code"] == "the-code"
    return response


def test_sign_on_creates_the_account_and_signs_in(sso, db):
    client = Client()
    response = _callback(client, CLAIMS)
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="wangwu")
    assert client.session["_auth_user_id"] == str(user.pk)
    login = AuditEvent.objects.get(kind="login.succeeded")
    assert login.detail["method"] == "oidc" and login.source_ip == "203.0.113.5"
    assert AuditEvent.objects.get(kind="user.created").source_ip == "203.0.113.5"
    assert client.get("/").status_code != 302  # no password change forced on a single sign-on session


def test_existing_account_keeps_its_roles_and_skips_the_forced_change(sso, db):
    user, _ = create_user("wangwu", [Role.RECORDS_OFFICER])  # initial password: would be forced
    client = Client()
    assert _callback(client, CLAIMS).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/").status_code == 200
    assert not AuditEvent.objects.filter(kind="user.created", detail__method="oidc").exists()


def test_refused_sign_on_is_audited_and_explained(sso, db):
    client = Client()
    response = _callback(client, {"sub": "x", "email": "x@example.gov.cn"})  # no user name claim
    assert response.status_code == 302 and response["Location"] == "/login/?sso=failed"
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(kind="login.failed")
    assert event.detail["reason"] == "sso_refused" and event.detail["method"] == "oidc"
    assert "统一身份认证登录未成功" in client.get(response["Location"]).content.decode()


def test_disabled_account_cannot_sign_on(sso, db):
    user, _ = create_user("wangwu", [Role.RECORDS_OFFICER], password="Reading-Room-2024")
    user.is_active = False
    user.save()
    client = Client()
    assert _callback(client, CLAIMS)["Location"] == "/login/?sso=failed"
    assert AuditEvent.objects.get(kind="login.failed").detail["reason"] == "inactive"


def test_password_sign_in_never_reaches_the_provider(sso, db):
    create_user("wangwu", [Role.RECORDS_OFFICER], password="Reading-Room-2024")
    with mock.patch.object(oidc.DanganOIDCBackend, "get_token") as token:
        response = Client().post(
            "/login/?code=stolen&state=s", {"username": "wangwu", "password": "wrong-one"}
        )
    assert response.status_code == 200 and not token.called


def test_provider_unreachable_is_a_refusal_not_an_error(sso, db):
    import requests

    client = Client()
    start = client.get("/oidc/authenticate/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    with mock.patch.object(oidc.DanganOIDCBackend, "get_token", side_effect=requests.ConnectionError("down")):
        response = client.get(f"/oidc/callback/?code=c&state={state}")
    assert response.status_code == 302 and response["Location"] == "/login/?sso=failed"
    assert AuditEvent.objects.get(kind="login.failed").detail["reason"] == "sso_refused"
