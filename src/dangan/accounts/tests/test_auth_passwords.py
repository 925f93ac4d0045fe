"""Password policy, password history and expiry, the forced change and the password page."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dangan.accounts import passwords
from dangan.accounts.models import AccountSecurity, PasswordHistory
from dangan.accounts.passwords import PasswordPolicyValidator, character_classes
from dangan.accounts.roles import Role
from dangan.accounts.services import create_user
from dangan.audit.models import AuditEvent

GOOD = "Archive-Room-2024"
OTHER_GOOD = "Quiet-Shelf-7788"


@pytest.fixture(autouse=True)
def _fast_hashes_and_clean_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def codes(exc: ValidationError) -> set[str]:
    return {e.code for e in exc.error_list}


def test_character_classes():
    assert character_classes("abc") == 1
    assert character_classes("abcDEF123") == 3
    assert character_classes("aB3!") == 4
    assert character_classes("档案abc123") == 3  # 汉字 count as "other characters"


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Short-1a", {"password_too_short"}),
        ("alllowercaseletters", {"password_too_simple"}),
        ("lowercase-and-symbols", {"password_too_simple"}),
        ("xx-Zhangsan-2024-xx", {"password_contains_username"}),
        ("abc", {"password_too_short", "password_too_simple"}),
    ],
)
def test_policy_refuses(db, password, expected):
    user = User(username="zhangsan")
    with pytest.raises(ValidationError) as info:
        PasswordPolicyValidator().validate(password, user)
    assert codes(info.value) == expected


def test_policy_accepts_and_messages_are_bilingual(db, settings):
    validator = PasswordPolicyValidator()
    validator.validate(GOOD, User(username="zhangsan"))
    validator.validate("lowercase-digits-42", None)  # 3 classes: lower, digit, symbol
    settings.PASSWORD_MIN_LENGTH = 20
    with pytest.raises(ValidationError) as info:
        validator.validate(GOOD, None)
    message = info.value.messages[0]
    assert "20" in message and "密码" in message and "characters" in message
    help_text = validator.get_help_text()
    assert "20" in help_text and "用户名" in help_text and "user name" in help_text


def test_history_refuses_the_last_passwords_and_keeps_only_them(db, settings):
    settings.PASSWORD_HISTORY = 3
    user, _ = create_user("histo", [], password="First-password-1")
    for pw in ("Second-password-2", "Third-password-3", "Fourth-password-4"):
        user.set_password(pw)
        user.save()
    assert PasswordHistory.objects.filter(user=user).count() == 3
    validator = PasswordPolicyValidator()
    for reused in ("Fourth-password-4", "Third-password-3", "Second-password-2"):
        with pytest.raises(ValidationError) as info:
            validator.validate(reused, user)
        assert codes(info.value) == {"password_reused"}
    validator.validate("First-password-1", user)  # four back: allowed again


def test_history_covers_accounts_older_than_the_table(db):
    user, _ = create_user("older", [], password=GOOD)
    PasswordHistory.objects.filter(user=user).delete()
    with pytest.raises(ValidationError):
        PasswordPolicyValidator().validate(GOOD, user)  # the current password, read from the account


def test_change_required(db, settings):
    user, _ = create_user("chg", [], password=GOOD)
    assert passwords.change_required(user) is None
    sec = user.security
    sec.password_changed_at = timezone.now() - timedelta(days=100)
    sec.save()
    assert passwords.change_required(user) is None  # no expiry by default
    settings.PASSWORD_MAX_AGE_DAYS = 90
    assert passwords.change_required(user) == passwords.CHANGE_EXPIRED
    sec.must_change_password = True
    sec.save()
    assert passwords.change_required(user) == passwords.CHANGE_INITIAL
    AccountSecurity.objects.filter(user=user).delete()
    assert passwords.change_required(user) is None  # no row: nothing forced


@pytest.fixture
def newcomer(db):
    """An account with an initial password (as ``dangan user create`` makes), signed in."""
    user, initial = create_user("newcomer", [Role.RECORDS_OFFICER])
    client = Client()
    response = client.post(reverse("web:login"), {"username": "newcomer", "password": initial})
    assert response.status_code == 302
    return user, initial, client


def test_initial_password_must_be_changed_before_anything_else(newcomer):
    user, initial, client = newcomer
    response = client.get("/records/?year=2024")
    assert response.status_code == 302
    assert response["Location"] == "/account/password/?next=%2Frecords%2F%3Fyear%3D2024"
    assert client.get("/").status_code == 302
    api = client.get("/api/v1/records")
    assert api.status_code == 403
    assert json.loads(api.content)["code"] == "PASSWORD_CHANGE_REQUIRED"
    htmx = client.get("/records/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and htmx["HX-Redirect"].startswith("/account/password/")
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/web/dangan.css").status_code == 200

    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "修改密码 Change password" in body and "初始密码" in body
    assert 'value="/records/?year=2024"' in body
    assert "<script>" not in body and "style=" not in body  # nothing a strict CSP would block

    weak = client.post(
        "/account/password/", {"old_password": initial, "new_password1": "weak", "new_password2": "weak"}
    )
    assert weak.status_code == 200 and "at least 12 characters" in weak.content.decode()
    same = client.post(
        "/account/password/", {"old_password": initial, "new_password1": initial, "new_password2": initial}
    )
    assert same.status_code == 200  # the initial password itself is too simple or re-used
    done = client.post(
        "/account/password/",
        {
            "old_password": initial,
            "new_password1": GOOD,
            "new_password2": GOOD,
            "next": "/records/?year=2024",
        },
    )
    assert done.status_code == 302 and done["Location"] == "/records/?year=2024"
    assert client.get("/").status_code == 200  # still signed in, no longer redirected
    sec = AccountSecurity.objects.get(user=user)
    assert not sec.must_change_password and sec.password_changed_at is not None
    event = AuditEvent.objects.get(kind="password.changed")
    assert event.actor == "newcomer" and event.source_ip == "127.0.0.1"
    assert event.detail["reason"] == "initial" and event.object_id == str(user.pk)
    assert GOOD not in json.dumps([e.detail for e in AuditEvent.objects.all()])


def test_logout_is_allowed_during_a_forced_change(newcomer):
    _, _, client = newcomer
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert AuditEvent.objects.filter(kind="logout", actor="newcomer").count() == 1


def test_expired_password_is_forced_then_restarts_the_clock(db, settings):
    settings.PASSWORD_MAX_AGE_DAYS = 30
    user, _ = create_user("aged", [Role.RECORDS_OFFICER], password=GOOD)
    AccountSecurity.objects.filter(user=user).update(password_changed_at=timezone.now() - timedelta(days=31))
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/account/password/")
    assert "密码已过期" in client.get("/account/password/").content.decode()
    done = client.post(
        "/account/password/", {"old_password": GOOD, "new_password1": OTHER_GOOD, "new_password2": OTHER_GOOD}
    )
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.get(kind="password.changed").detail["reason"] == "expired"


def test_voluntary_change_and_a_wrong_current_password(db):
    user, _ = create_user("volunteer", [Role.RECORDS_OFFICER], password=GOOD)
    client = Client()
    client.force_login(user)
    page = client.get("/")
    assert "/account/password/" in page.content.decode()  # the header link
    wrong = client.post(
        "/account/password/",
        {"old_password": "not-it", "new_password1": OTHER_GOOD, "new_password2": OTHER_GOOD},
    )
    assert wrong.status_code == 200
    user.refresh_from_db()
    assert user.check_password(GOOD)
    ok = client.post(
        "/account/password/", {"old_password": GOOD, "new_password1": OTHER_GOOD, "new_password2": OTHER_GOOD}
    )
    assert ok.status_code == 302
    user.refresh_from_db()
    assert user.check_password(OTHER_GOOD)
    assert AuditEvent.objects.get(kind="password.changed").detail["reason"] == "voluntary"
    back = client.post(
        "/account/password/", {"old_password": OTHER_GOOD, "new_password1": GOOD, "new_password2": GOOD}
    )
    assert back.status_code == 200 and "最近" in back.content.decode()  # the previous one: re-use refused


def test_account_without_security_row_is_not_forced(db):
    user, _ = create_user("legacy", [Role.RECORDS_OFFICER], password=GOOD)
    AccountSecurity.objects.filter(user=user).delete()
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 200
    assert not AccountSecurity.objects.filter(user=user).exists()


def test_password_page_needs_a_sign_in(client, db):
    response = client.get("/account/password/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
