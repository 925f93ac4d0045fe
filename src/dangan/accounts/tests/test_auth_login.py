"""Signing in: audit, lockout (also of names no account has), the per-address limit, timeouts."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dangan.accounts import services
from dangan.accounts.middleware import SESSION_AUTH_AT, SESSION_SEEN_AT
from dangan.accounts.models import AccountSecurity
from dangan.accounts.roles import Actor, Role
from dangan.accounts.services import create_user
from dangan.audit.models import AuditEvent

PASSWORD = "Reading-Room-2024"
WRONG = "Not-The-Password-9"
GENERIC = "用户名或密码不正确"


@pytest.fixture(autouse=True)
def _fast_hashes_and_clean_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reader(db):
    return create_user("reader", [Role.RECORDS_OFFICER], password=PASSWORD)[0]


def login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("web:login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def message_of(response) -> str:
    body = response.content.decode()
    start = body.index('role="alert">') + len('role="alert">')
    return body[start : body.index("</p>", start)]


def events(kind: str):
    return list(AuditEvent.objects.filter(kind=kind).order_by("seq"))


def test_success_is_audited_with_role_and_address(reader):
    client = Client()
    response = login(client, "reader", PASSWORD, ip="192.0.2.7")
    assert response.status_code == 302 and response["Location"] == "/"
    (event,) = events("login.succeeded")
    assert event.actor == "reader" and event.role == "records_officer" and event.source_ip == "192.0.2.7"
    assert event.object_type == "user" and event.object_id == str(reader.pk)
    assert event.detail == {"username": "reader", "method": "password"}


def test_lockout_after_repeated_failures_then_unlock(reader, settings):
    settings.LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(2):
        response = login(client, "reader", WRONG)
        assert response.status_code == 200 and message_of(response).startswith(GENERIC)
    third = login(client, "reader", WRONG)
    assert "锁定" in message_of(third) and "system administrator" in message_of(third)
    sec = AccountSecurity.objects.get(user=reader)
    assert sec.failed_logins == 3 and sec.locked_until > timezone.now() + timedelta(minutes=14)

    refused = login(client, "reader", PASSWORD)  # the right password does not help
    assert refused.status_code == 200 and "锁定" in message_of(refused)
    assert refused["Retry-After"]
    assert "_auth_user_id" not in client.session

    (locked,) = events("user.locked")
    assert locked.object_id == str(reader.pk) and locked.detail["failures"] == 3
    assert locked.source_ip == "10.0.0.1"
    reasons = [e.detail["reason"] for e in events("login.failed")]
    assert reasons == ["bad_password"] * 3 + ["locked"]
    details = json.dumps([e.detail for e in AuditEvent.objects.all()])
    assert WRONG not in details and PASSWORD not in details  # passwords are never recorded

    services.unlock(Actor.system("admin"), reader)
    assert login(client, "reader", PASSWORD).status_code == 302


def test_lock_runs_out_and_success_resets_the_count(reader, settings):
    settings.LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        login(client, "reader", WRONG)
    AccountSecurity.objects.filter(user=reader).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert login(client, "reader", PASSWORD).status_code == 302
    sec = AccountSecurity.objects.get(user=reader)
    assert sec.failed_logins == 0 and sec.locked_until is None


def test_failures_need_to_be_consecutive(reader, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(2):
        login(Client(), "reader", WRONG)
    assert login(Client(), "reader", PASSWORD).status_code == 302
    for _ in range(2):
        login(Client(), "reader", WRONG)
    assert login(Client(), "reader", PASSWORD).status_code == 302


def test_unknown_names_answer_like_accounts(reader, settings):
    """No user enumeration: same messages, and names no account has lock too."""
    settings.LOGIN_MAX_FAILURES = 3
    known = [login(Client(), "reader", WRONG) for _ in range(3)]
    unknown = [login(Client(), "nobody", WRONG) for _ in range(3)]
    for k, u in zip(known, unknown, strict=True):
        assert k.status_code == u.status_code
        assert message_of(k) == message_of(u) or ("锁定" in message_of(k) and "锁定" in message_of(u))
    assert "锁定" in message_of(login(Client(), "nobody", WRONG))
    nobody = [e for e in events("login.failed") if e.detail["username"] == "nobody"]
    assert [e.detail["reason"] for e in nobody] == ["unknown_user"] * 3 + ["locked"]
    assert all(e.object_id == "" for e in nobody)
    assert not events("user.locked")[1:]  # only the account's lock is a user.locked event


def test_unknown_name_costs_one_password_hash_too(reader, settings):
    """Same timing order of magnitude: a name no account has is hashed like a real attempt."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    reader.set_password(PASSWORD)
    reader.save()
    client = Client()
    login(client, "reader", WRONG)  # warm up
    times = {}
    for name in ("reader", "nobody"):
        start = time.perf_counter()
        login(client, name, WRONG)
        times[name] = time.perf_counter() - start
    assert 0.2 < times["nobody"] / times["reader"] < 5, times


def test_rate_limit_per_address(reader, settings):
    settings.LOGIN_IP_MAX_FAILURES = 4
    client = Client()
    for i in range(4):  # a spray over many names from one address
        assert login(client, f"guess{i}", WRONG, ip="198.51.100.9").status_code == 200
    limited = login(client, "reader", PASSWORD, ip="198.51.100.9")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "too many failed sign-ins" in message_of(limited).lower()
    assert "_auth_user_id" not in client.session
    assert events("login.failed")[-1].detail["reason"] == "rate_limited"
    assert login(client, "reader", PASSWORD, ip="198.51.100.9").status_code == 429
    limited_events = [e for e in events("login.failed") if e.detail["reason"] == "rate_limited"]
    assert len(limited_events) == 1  # one event per address and window, however many attempts
    assert login(Client(), "reader", PASSWORD, ip="198.51.100.10").status_code == 302  # other addresses
    assert AccountSecurity.objects.get(user=reader).failed_logins == 0  # the account was not charged


def test_behind_a_proxy_the_forwarded_address_counts(reader, settings):
    settings.LOGIN_IP_MAX_FAILURES = 2
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = Client()
    for _ in range(2):  # the client's own X-Forwarded-For entry (first) is not trusted
        client.post(reverse("web:login"), {"username": "x", "password": WRONG},
                    REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.8")  # fmt: skip
    assert events("login.failed")[-1].source_ip == "203.0.113.8"
    other = client.post(reverse("web:login"), {"username": "reader", "password": PASSWORD},
                        REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.9")  # fmt: skip
    assert other.status_code == 302  # the same proxy, another client: not limited


def test_client_login_without_request_is_covered(reader, settings):
    settings.LOGIN_MAX_FAILURES = 2
    client = Client()
    assert not client.login(username="reader", password=WRONG)
    assert not client.login(username="reader", password=WRONG)
    assert not client.login(username="reader", password=PASSWORD)  # locked
    assert AccountSecurity.objects.get(user=reader).locked_until is not None


def test_disabled_account_is_refused_with_the_generic_message(reader):
    services.set_active(Actor.system("admin"), reader, False)
    response = login(Client(), "reader", PASSWORD)
    assert response.status_code == 200 and message_of(response).startswith(GENERIC)
    assert events("login.failed")[-1].detail["reason"] == "inactive"


def test_admin_login_uses_the_same_backend(reader, settings):
    settings.LOGIN_MAX_FAILURES = 2
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "reader", "password": WRONG}, REMOTE_ADDR="10.0.0.3")
    assert AccountSecurity.objects.get(user=reader).locked_until is not None


def test_logout_is_audited(reader):
    client = Client()
    login(client, "reader", PASSWORD)
    client.post(reverse("web:logout"), REMOTE_ADDR="10.0.0.1")
    (event,) = events("logout")
    assert event.actor == "reader" and event.object_id == str(reader.pk) and event.source_ip == "10.0.0.1"


# --- Session timeouts ---


def _age_session(client: Client, *, auth: float = 0, seen: float = 0) -> None:
    session = client.session
    now = time.time()
    session[SESSION_AUTH_AT] = now - auth
    session[SESSION_SEEN_AT] = now - seen
    session.save()


def test_idle_session_ends_on_the_login_page_with_a_note(reader, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client = Client()
    login(client, "reader", PASSWORD)
    _age_session(client, auth=31 * 60, seen=31 * 60)
    response = client.get("/records/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Frecords%2F&expired=idle"
    (event,) = events("session.expired")
    assert event.actor == "reader" and event.detail["reason"] == "idle"
    assert not events("logout")
    page = client.get(response["Location"])
    assert page.status_code == 200 and "30 minutes without activity" in page.content.decode()
    assert client.get("/").status_code == 302  # signed out


def test_activity_keeps_the_session_until_the_absolute_limit(reader, settings):
    settings.SESSION_IDLE_MINUTES = 30
    settings.SESSION_COOKIE_AGE = 8 * 3600
    client = Client()
    login(client, "reader", PASSWORD)
    _age_session(client, auth=7 * 3600, seen=20 * 60)
    assert client.get("/").status_code == 200
    assert time.time() - client.session[SESSION_SEEN_AT] < 5  # the idle clock restarted
    _age_session(client, auth=8 * 3600 + 1, seen=10)
    response = client.get("/")
    assert response.status_code == 302 and "expired=absolute" in response["Location"]
    assert events("session.expired")[-1].detail["reason"] == "absolute"
    assert "最长时限" in client.get(response["Location"]).content.decode()


def test_expired_session_on_the_api_gets_json(reader, settings):
    client = Client()
    client.force_login(reader)
    _age_session(client, seen=settings.SESSION_IDLE_MINUTES * 60 + 5)
    response = client.get("/api/v1/records")
    assert response.status_code == 401 and json.loads(response.content)["code"] == "SESSION_EXPIRED"


def test_idle_timeout_can_be_switched_off(reader, settings):
    settings.SESSION_IDLE_MINUTES = 0
    client = Client()
    client.force_login(reader)
    _age_session(client, seen=5 * 3600)
    assert client.get("/").status_code == 200


def test_login_page_without_sso_has_no_sso_link(client, db):
    body = client.get(reverse("web:login")).content.decode()
    assert "Single sign-on" not in body and "/oidc/" not in body
