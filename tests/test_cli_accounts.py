"""`dangan user …` and `dangan source …`: the local operator manages accounts, roles and API tokens."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from django.contrib.auth.models import User

from dangan.accounts import tokens
from dangan.accounts.models import ApiToken, RoleGrant
from dangan.audit.models import AuditEvent
from dangan.cli import main

pytestmark = pytest.mark.django_db


@pytest.fixture
def fonds(db, operator):
    from dangan.catalog.services import upsert_fonds

    return [upsert_fonds(operator, code=c, name=c, region_code="330899") for c in ("F001", "F002")]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_user_create_with_roles_per_fonds_and_list(fonds):
    res = run("user", "create", "clerk", "--role", "service_clerk", "--role", "requester", "--fonds", "F001")
    assert res.exit_code == 0, res.output
    password = re.search(r"first login\): (\S+)", res.stdout).group(1)
    user = User.objects.get(username="clerk")
    assert user.check_password(password) and user.security.must_change_password
    assert set(RoleGrant.objects.filter(user=user).values_list("role", "fonds__code")) == {
        ("service_clerk", "F001"),
        ("requester", "F001"),
    }
    assert run("user", "create", "sec", "--role", "security_admin", "--fonds", "F001").exit_code == 0
    assert RoleGrant.objects.get(user__username="sec").fonds is None  # administrators: whole instance
    assert run("user", "create", "plain").exit_code == 0  # no role yet

    res = run("user", "list", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["username"]: r for r in _lines(res.stdout)}
    assert rows["plain"]["roles"] == [] and rows["plain"]["active"] is True
    assert {"role": "service_clerk", "fonds": "F001"} in rows["clerk"]["roles"]
    assert rows["sec"]["roles"] == [{"role": "security_admin", "fonds": None}]
    table = run("user", "list")
    assert table.exit_code == 0 and "service_clerk@F001" in table.stdout


def test_user_create_refusals(fonds):
    assert run("user", "create", "x", "--role", "wizard").exit_code == 2
    assert run("user", "create", "x", "--role", "approver", "--fonds", "NOPE").exit_code == 2
    assert run("user", "create", "x", "--fonds", "F001").exit_code == 2
    res = run("user", "create", "x", "--role", "system_admin", "--role", "auditor")
    assert res.exit_code == 1 and "ROLE_CONFLICT" in res.output and "Traceback" not in res.output
    assert not User.objects.filter(username="x").exists()  # nothing half-made


def test_grant_revoke_disable_enable_unlock_reset(fonds):
    assert run("user", "create", "u1").exit_code == 0
    res = run("user", "grant", "u1", "records_officer", "--fonds", "F002")
    assert res.exit_code == 0, res.output
    assert RoleGrant.objects.filter(user__username="u1", role="records_officer", fonds__code="F002").exists()
    res = run("user", "grant", "u1", "auditor")
    assert res.exit_code == 1 and "ROLE_CONFLICT" in res.output
    assert run("user", "grant", "ghost", "approver").exit_code == 2
    assert run("user", "grant", "u1", "approver", "--fonds", "NOPE").exit_code == 2
    res = run("user", "revoke", "u1", "records_officer")
    assert res.exit_code == 0 and not RoleGrant.objects.filter(user__username="u1").exists()
    res = run("user", "revoke", "u1", "records_officer")
    assert res.exit_code == 1 and "ACCOUNT_ERROR" in res.output

    assert run("user", "disable", "u1", "--reason", "离职").exit_code == 0
    assert not User.objects.get(username="u1").is_active
    assert run("user", "enable", "u1").exit_code == 0
    assert User.objects.get(username="u1").is_active
    assert run("user", "unlock", "u1").exit_code == 0
    res = run("user", "reset-password", "u1")
    assert res.exit_code == 0
    password = re.search(r"next login\): (\S+)", res.stdout).group(1)
    assert User.objects.get(username="u1").check_password(password)
    kinds = set(AuditEvent.objects.filter(actor__startswith="cli:").values_list("kind", flat=True))
    assert {"user.created", "role.granted", "role.revoked", "user.disabled", "user.enabled",
            "user.unlocked", "user.password_reset"} <= kinds  # fmt: skip


def test_source_add_tokens_rekey_and_revoke(fonds):
    res = run(
        "source",
        "add",
        "SYS1",
        "示范系统",
        "--fonds",
        "F001",
        "--scope",
        "cases:check",
        "--expires-days",
        "30",
    )
    assert res.exit_code == 0, res.output
    first = re.search(r"shown once: (\S+)", res.stdout).group(1)
    token = tokens.authenticate(first)
    assert token is not None and token.scopes == ["cases:check"] and token.expires_at is not None
    assert first not in json.dumps(list(AuditEvent.objects.values("detail")), ensure_ascii=False)

    res = run("source", "add", "SYS1", "示范系统", "--fonds", "F001", "--keep-old", "--token-name", "new")
    second = re.search(r"shown once: (\S+)", res.stdout).group(1)
    assert tokens.authenticate(first) is not None and tokens.authenticate(second).scopes == [
        "cases:submit",
        "cases:check",
        "submissions:read",
    ]
    res = run("source", "tokens", "SYS1", "--json")
    assert res.exit_code == 0
    rows = _lines(res.stdout)
    assert [r["state"] for r in rows] == ["active", "active"] and rows[0]["name"] == "new"
    assert all(first not in json.dumps(r) and "hash" not in r for r in rows)
    assert run("source", "tokens", "SYS1").exit_code == 0
    listing = _lines(run("source", "list", "--json").stdout)
    assert listing == [
        {
            "code": "SYS1",
            "name": "示范系统",
            "active": True,
            "fonds": ["F001"],
            "active_tokens": 2,
            "tokens": 2,
        }
    ]

    res = run("source", "revoke", token.token_prefix, "--reason", "rotated")
    assert res.exit_code == 0, res.output
    assert tokens.authenticate(first) is None and tokens.authenticate(second) is not None
    res = run("source", "revoke", token.token_prefix)
    assert res.exit_code == 1 and "ALREADY_REVOKED" in res.output
    res = run("source", "revoke", "dgn_nope")
    assert res.exit_code == 1 and "TOKEN_NOT_FOUND" in res.output

    res = run("source", "add", "SYS1", "示范系统", "--fonds", "F001")  # re-key: the others stop working
    third = re.search(r"shown once: (\S+)", res.stdout).group(1)
    assert "stop working" in res.output
    assert tokens.authenticate(second) is None and tokens.authenticate(third) is not None
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_source_usage_errors(fonds):
    assert run("source", "add", "S", "n", "--fonds", "NOPE").exit_code == 2
    assert run("source", "add", "S", "n", "--fonds", "F001", "--scope", "records:all").exit_code == 2
    assert run("source", "add", "S", "n", "--fonds", "F001", "--expires-days", "0").exit_code == 2
    assert run("source", "tokens", "NOPE").exit_code == 2
    res = run("source", "add", "bad code!", "n", "--fonds", "F001")
    assert res.exit_code == 1 and "BAD_SOURCE_CODE" in res.output
