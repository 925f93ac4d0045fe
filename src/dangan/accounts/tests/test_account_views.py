"""The account pages: who sees and does what, one-time secrets, refusals shown in the page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dangan.accounts import tokens
from dangan.accounts.models import ApiToken, RoleGrant
from dangan.accounts.roles import DEFAULT_TOKEN_SCOPES, Actor, Perm, Role
from dangan.accounts.services import create_user
from dangan.accounts.tests.conftest import client_for
from dangan.audit.models import AuditEvent
from dangan.catalog.models import SourceSystem
from dangan.catalog.services import upsert_source_system

pytestmark = pytest.mark.django_db

OPERATOR = Actor.system("test-operator")


@pytest.fixture
def system(two_fonds):
    return upsert_source_system(OPERATOR, code="SYS1", name="示范办件系统", fonds=[two_fonds[0]])[0]


@pytest.fixture
def token(system):
    return tokens.issue_token(OPERATOR, system, scopes=DEFAULT_TOKEN_SCOPES)[0]


# (url name, args, method, who may: "accounts" = manage or assign, or one permission's holder)
def routes(target: User, token: ApiToken, system: SourceSystem) -> list[tuple[str, list, str, set[str]]]:
    pk = target.pk
    return [
        ("accounts:index", [], "get", {"sysadmin", "secadmin"}),
        ("accounts:create", [], "post", {"sysadmin"}),
        ("accounts:detail", [pk], "get", {"sysadmin", "secadmin"}),
        ("accounts:disable", [pk], "post", {"sysadmin"}),
        ("accounts:enable", [pk], "post", {"sysadmin"}),
        ("accounts:unlock", [pk], "post", {"sysadmin"}),
        ("accounts:reset-password", [pk], "post", {"sysadmin"}),
        ("accounts:grant", [pk], "post", {"secadmin"}),
        ("accounts:revoke", [pk], "post", {"secadmin"}),
        ("accounts:sources", [], "get", {"sysadmin"}),
        ("accounts:source-add", [], "post", {"sysadmin"}),
        ("accounts:token-issue", [system.pk], "post", {"sysadmin"}),
        ("accounts:token-revoke", [token.pk], "post", {"sysadmin"}),
    ]


def test_permission_matrix(sysadmin, secadmin, auditor, officer, token, system):
    users = {"sysadmin": sysadmin, "secadmin": secadmin, "auditor": auditor, "officer": officer}
    target = create_user("target", [Role.REQUESTER], password="Long-enough-pw-77")[0]
    anonymous = Client()
    for name, args, method, allowed in routes(target, token, system):
        url = reverse(name, args=args)
        resp = getattr(anonymous, method)(url)
        assert resp.status_code == 302 and resp["Location"].startswith("/login/"), name
        wrong = "post" if method == "get" else "get"
        assert getattr(client_for(sysadmin), wrong)(url).status_code == 405, name
        for who, user in sorted(users.items(), key=lambda kv: kv[0] in allowed):  # refusals first
            resp = getattr(client_for(user), method)(url, {})
            if who in allowed:
                assert resp.status_code != 403, (name, who)
            else:
                assert resp.status_code == 403, (name, who, resp.status_code)
    assert RoleGrant.objects.filter(user=target).count() == 1  # empty POSTs changed no role


def test_sysadmin_lists_creates_and_manages_accounts(sysadmin, officer, two_fonds):
    client = client_for(sysadmin)
    page = client.get(reverse("accounts:index"))
    body = page.content.decode()
    assert page.status_code == 200 and "officer" in body and "sysadmin" in body
    assert "账户" in body and "创建账户" in body  # Chinese by default
    assert 'id="grant-form"' not in client.get(reverse("accounts:detail", args=[officer.pk])).content.decode()

    resp = client.post(reverse("accounts:create"), {"username": "newbie", "email": "n@example.org"})
    assert resp.status_code == 200
    assert "no-store" in resp["Cache-Control"]
    password = re.search(
        r'<code class="mono secret" id="secret">([^<]+)</code>', resp.content.decode()
    ).group(1)
    newbie = User.objects.get(username="newbie")
    assert newbie.check_password(password) and newbie.security.must_change_password
    assert newbie.email == "n@example.org"
    assert password not in client.get(reverse("accounts:detail", args=[newbie.pk])).content.decode()

    again = client.post(reverse("accounts:create"), {"username": "newbie"})
    assert again.status_code == 400 and "用户名已存在 User name taken" in again.content.decode()

    resp = client.post(reverse("accounts:disable", args=[officer.pk]), {"reason": "离职"})
    assert resp.status_code == 302
    officer.refresh_from_db()
    assert not officer.is_active
    assert "已停用" in client.get(reverse("accounts:index")).content.decode()
    client.post(reverse("accounts:enable", args=[officer.pk]))
    officer.refresh_from_db()
    assert officer.is_active

    resp = client.post(reverse("accounts:reset-password", args=[officer.pk]))
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    assert client.post(reverse("accounts:unlock", args=[officer.pk])).status_code == 302
    kinds = set(AuditEvent.objects.filter(actor="sysadmin").values_list("kind", flat=True))
    assert {"user.created", "user.disabled", "user.enabled", "user.password_reset", "user.unlocked"} <= kinds

    # Refusals of the services show in the page, in both languages.
    resp = client.post(reverse("accounts:disable", args=[sysadmin.pk]))
    assert resp.status_code == 400
    text = resp.content.decode()
    assert "账户操作被拒绝 Account change refused" in text and "ACCOUNT_ERROR" in text
    sysadmin.refresh_from_db()
    assert sysadmin.is_active


def test_security_admin_grants_and_revokes_per_fonds(secadmin, officer, two_fonds):
    a, b = two_fonds
    client = client_for(secadmin)
    detail = reverse("accounts:detail", args=[officer.pk])
    assert 'id="grant-form"' in client.get(detail).content.decode()
    assert reverse("accounts:reset-password", args=[officer.pk]) not in client.get(detail).content.decode()

    resp = client.post(reverse("accounts:grant", args=[officer.pk]), {"role": "approver", "fonds": "F002"})
    assert resp.status_code == 302 and resp["Location"] == detail
    assert RoleGrant.objects.filter(user=officer, role="approver", fonds=b).exists()
    actor = Actor.from_user(officer)
    assert actor.can(Perm.APPROVE_ACCESS, b.pk) and not actor.can(Perm.APPROVE_ACCESS, a.pk)
    listing = client.get(reverse("accounts:index")).content.decode()
    assert "F002" in listing

    # 三员分立 and the auditor's exclusivity come back as readable errors.
    resp = client.post(reverse("accounts:grant", args=[officer.pk]), {"role": "auditor", "fonds": ""})
    assert resp.status_code == 400 and "角色冲突 Role conflict" in resp.content.decode()
    resp = client.post(
        reverse("accounts:grant", args=[officer.pk]), {"role": "system_admin", "fonds": "F001"}
    )
    assert (
        resp.status_code == 400 and not RoleGrant.objects.filter(role="system_admin", user=officer).exists()
    )
    # Own roles: no form, and a forged POST is refused.
    own = client.get(reverse("accounts:detail", args=[secadmin.pk])).content.decode()
    assert 'id="grant-form"' not in own
    resp = client.post(reverse("accounts:grant", args=[secadmin.pk]), {"role": "approver", "fonds": ""})
    assert resp.status_code == 400 and not RoleGrant.objects.filter(user=secadmin, role="approver").exists()

    resp = client.post(reverse("accounts:revoke", args=[officer.pk]), {"role": "approver", "fonds": "F002"})
    assert resp.status_code == 302
    assert not RoleGrant.objects.filter(user=officer, role="approver").exists()
    resp = client.post(reverse("accounts:revoke", args=[officer.pk]), {"role": "approver", "fonds": "F002"})
    assert resp.status_code == 400
    assert AuditEvent.objects.filter(kind="role.revoked", actor="secadmin").count() == 1


def test_revoked_role_stops_working_on_the_next_request(secadmin, two_fonds):
    user, _ = create_user("second-sec", [Role.SECURITY_ADMIN], password="Long-enough-pw-99")
    theirs = client_for(user)
    assert theirs.get(reverse("accounts:index")).status_code == 200
    client_for(secadmin).post(
        reverse("accounts:revoke", args=[user.pk]), {"role": "security_admin", "fonds": ""}
    )
    assert theirs.get(reverse("accounts:index")).status_code == 403


def test_tokens_are_issued_shown_once_and_revoked(sysadmin, system, token):
    client = client_for(sysadmin)
    page = client.get(reverse("accounts:sources")).content.decode()
    assert "SYS1" in page and token.token_prefix in page and token.token_hash not in page

    resp = client.post(
        reverse("accounts:token-issue", args=[system.pk]),
        {f"sys{system.pk}-name": "备用", f"sys{system.pk}-scopes": ["cases:check"],
         f"sys{system.pk}-expires_in_days": "7"},
    )  # fmt: skip
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    plaintext = re.search(r'id="secret">([^<]+)<', resp.content.decode()).group(1)
    issued = tokens.authenticate(plaintext)
    assert issued is not None and issued.scopes == ["cases:check"] and issued.name == "备用"
    assert issued.expires_at is not None
    assert plaintext not in client.get(reverse("accounts:sources")).content.decode()

    bad = client.post(
        reverse("accounts:token-issue", args=[system.pk]), {f"sys{system.pk}-expires_in_days": "0"}
    )
    assert bad.status_code == 400 and ApiToken.objects.count() == 2

    resp = client.post(reverse("accounts:token-revoke", args=[issued.pk]))
    assert resp.status_code == 302 and tokens.authenticate(plaintext) is None
    again = client.post(reverse("accounts:token-revoke", args=[issued.pk]))
    assert again.status_code == 400 and "令牌已吊销 Token already revoked" in again.content.decode()


def test_register_a_source_system_with_its_first_token(sysadmin, two_fonds):
    client = client_for(sysadmin)
    data = {"new-code": "SYS-NEW", "new-system_name": "新系统", "new-fonds": ["F001", "F002"],
            "new-scopes": ["cases:submit", "submissions:read"]}  # fmt: skip
    resp = client.post(reverse("accounts:source-add"), data)
    assert resp.status_code == 200
    plaintext = re.search(r'id="secret">([^<]+)<', resp.content.decode()).group(1)
    token = tokens.authenticate(plaintext)
    assert token.system.code == "SYS-NEW" and set(token.system.fonds.values_list("code", flat=True)) == {
        "F001",
        "F002",
    }
    resp = client.post(reverse("accounts:source-add"), data)
    assert resp.status_code == 400 and ApiToken.objects.count() == 1


def test_navigation_and_language(sysadmin, officer):
    assert "/accounts/" in client_for(sysadmin).get("/").content.decode()
    assert "/accounts/" not in client_for(officer).get("/").content.decode()
    client = client_for(sysadmin)
    client.cookies["django_language"] = "en"
    body = client.get(reverse("accounts:index")).content.decode()
    assert ">Accounts<" in body and "Create an account" in body


def test_pages_need_no_inline_script_or_style(sysadmin, officer, system, token):
    client = client_for(sysadmin)
    for url in (
        reverse("accounts:index"),
        reverse("accounts:detail", args=[officer.pk]),
        reverse("accounts:sources"),
    ):
        body = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), url
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", body), url


def test_account_strings_are_translated_and_compiled():
    """The pages' strings live in this app's own catalogue (merged by Django with the main one)."""
    import gettext
    from pathlib import Path

    from dangan.web.tests.test_i18n import parse_po

    app = Path(__file__).resolve().parent.parent
    po = app / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    entries = [e for e in parse_po(po) if e["msgid"]]
    assert all(v.strip() for e in entries for k, v in e.items() if k.startswith("msgstr"))
    with po.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    expected = {
        f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        for e in entries
        if "msgid_plural" not in e
    }
    assert {k for k in compiled if isinstance(k, str) and k} == expected, "compile the app's django.po"
    used: set[str] = set()
    for name in ("_tabs", "_roles", "_state", "_error", "index", "detail", "sources", "secret"):
        text = (app / "templates" / "accounts" / f"{name}.html").read_text("utf-8")
        used.update(m.group(2) for m in re.finditer(r'{%\s*translate\s+(["\'])(.+?)\1', text))
    for name in ("views", "forms"):
        text = (app / f"{name}.py").read_text("utf-8")
        used.update(m.group(2) for m in re.finditer(r'\b(?:_|gettext_lazy|gettext)\((["\'])(.+?)\1\)', text))
    assert not used - {e["msgid"] for e in entries}, "run makemessages in src/dangan/accounts and translate"
