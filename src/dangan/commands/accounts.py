"""Accounts, roles and source-system tokens from the command line, as the local operator.

* ``dangan user create NAME [--role R ...] [--fonds CODE ...]`` — a new account; prints a one-time password.
* ``dangan user list [--json]``; ``dangan user grant | revoke NAME ROLE [--fonds CODE ...]``;
  ``dangan user disable | enable | unlock | reset-password NAME``.
* ``dangan source add CODE NAME --fonds CODE ... [--scope S ...] [--expires-days N] [--keep-old]`` —
  register or re-key a source system; prints its token once. ``dangan source list``,
  ``dangan source tokens CODE [--json]``, ``dangan source revoke TOKEN_PREFIX``.

The local operator (shell access to the data directory) holds every permission; the services still
enforce the rules (三员分立, the auditor holds nothing else, administrators are not per fonds) and write
the audit events. Refusals are one line on stderr and exit 1; unknown names are usage errors (exit 2).
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from dangan.accounts.roles import DEFAULT_TOKEN_SCOPES, TOKEN_SCOPES, Role

ROLE_CHOICE = click.Choice([r.value for r in Role])
SCOPE_CHOICE = click.Choice(list(TOKEN_SCOPES))


def _operator() -> Any:
    from dangan import cli

    cli._setup()
    return cli._actor(None)


def _fonds(codes: tuple[str, ...]) -> list[Any]:
    from dangan.catalog.models import Fonds

    found = list(Fonds.objects.filter(code__in=codes).order_by("code"))
    missing = set(codes) - {f.code for f in found}
    if missing:
        raise click.UsageError(f"unknown fonds: {', '.join(sorted(missing))}")
    return found


def _user(username: str) -> Any:
    from django.contrib.auth.models import User

    found = User.objects.filter(username=username).first()
    if found is None:
        raise click.UsageError(f"no user {username!r}")
    return found


def _print(text: str) -> None:
    from dangan import cli

    cli.out.print(text, highlight=False, soft_wrap=True)  # never wrapped: secrets are copied from it


# ------------------------------------------------------------------------------------------ users


@click.group("user")
def user() -> None:
    """Accounts (账户) and their roles (角色, per fonds or for all fonds)."""


@user.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE, help="Grant this role (repeatable).")
@click.option(
    "--fonds",
    "fonds_codes",
    multiple=True,
    help="Business roles only in these fonds (repeatable; default all).",
)
def user_create(username: str, roles: tuple[str, ...], fonds_codes: tuple[str, ...]) -> None:
    """Create an account (with ROLEs); prints a one-time password, to be changed at the first login."""
    actor = _operator()
    from dangan.accounts.services import create_user

    if fonds_codes and not roles:
        raise click.UsageError("--fonds limits the --role grants: give a role too")
    fonds = _fonds(fonds_codes)
    _, password = create_user(username, [Role(r) for r in roles], fonds=fonds or None, actor=actor)
    _print(
        f"user {escape(username)} created; initial password (change it after the first login): "
        f"[bold]{escape(password)}"
    )


def _grants_text(grants: list[tuple[str, str | None]]) -> str:
    by_role: dict[str, list[str]] = {}
    for role, fonds in grants:
        by_role.setdefault(role, []).append(fonds or "*")
    return ", ".join(f"{role}@{'|'.join(sorted(where))}" for role, where in sorted(by_role.items()))


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per account on stdout.")
def user_list(as_json: bool) -> None:
    """Accounts with their roles (role@fonds; * = all fonds) and security state."""
    _operator()
    from dangan.accounts.overview import account_rows

    rows = account_rows()
    if as_json:
        for r in rows:
            click.echo(
                json.dumps(
                    {
                        "username": r["user"].username,
                        "active": r["user"].is_active,
                        "locked_until": r["locked_until"].isoformat() if r["locked_until"] else None,
                        "must_change_password": r["must_change_password"],
                        "last_login": r["user"].last_login.isoformat() if r["user"].last_login else None,
                        "roles": [
                            {"role": g.role, "fonds": g.fonds.code if g.fonds else None} for g in r["grants"]
                        ],
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table(title="账户 Accounts")
    table.add_column("用户名 User")
    table.add_column("状态 State")
    table.add_column("角色 Roles (@全宗 fonds)", overflow="fold")
    for r in rows:
        u = r["user"]
        state = "active" if u.is_active else "[red]disabled"
        if r["locked_until"]:
            state += f" [yellow]locked until {r['locked_until']:%Y-%m-%d %H:%M}"
        if r["must_change_password"]:
            state += " [dim](must change password)"
        table.add_row(
            escape(u.username),
            state,
            escape(_grants_text([(g.role, g.fonds.code if g.fonds else None) for g in r["grants"]])) or "—",
        )
    from dangan import cli

    cli.out.print(table)


@user.command("grant")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--fonds", "fonds_codes", multiple=True, help="Only in this fonds (repeatable; default all).")
def user_grant(username: str, role: str, fonds_codes: tuple[str, ...]) -> None:
    """Grant ROLE to USERNAME, in the given fonds or in all fonds."""
    actor = _operator()
    from dangan.accounts.services import grant_role

    target = _user(username)
    for f in _fonds(fonds_codes) or [None]:
        grant_role(actor, target, Role(role), fonds=f)
        _print(f"granted {role} to {escape(username)} in {f.code if f else 'all fonds'}")


@user.command("revoke")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--fonds", "fonds_codes", multiple=True, help="Only in this fonds (default: everywhere).")
def user_revoke(username: str, role: str, fonds_codes: tuple[str, ...]) -> None:
    """Take ROLE away from USERNAME (in the given fonds, or everywhere); effective immediately."""
    actor = _operator()
    from dangan.accounts.services import revoke_role

    target = _user(username)
    for f in _fonds(fonds_codes) or [None]:
        removed = revoke_role(actor, target, Role(role), fonds=f)
        _print(f"revoked {role} from {escape(username)} ({removed} grant(s))")


@user.command("disable")
@click.argument("username")
@click.option("--reason", default="", help="Why (kept in the audit trail).")
def user_disable(username: str, reason: str) -> None:
    """Disable an account: it signs in nowhere and its sessions stop working."""
    actor = _operator()
    from dangan.accounts.services import set_active

    set_active(actor, _user(username), False, reason=reason)
    _print(f"user {escape(username)} disabled")


@user.command("enable")
@click.argument("username")
@click.option("--reason", default="", help="Why (kept in the audit trail).")
def user_enable(username: str, reason: str) -> None:
    """Enable a disabled account again."""
    actor = _operator()
    from dangan.accounts.services import set_active

    set_active(actor, _user(username), True, reason=reason)
    _print(f"user {escape(username)} enabled")


@user.command("unlock")
@click.argument("username")
def user_unlock(username: str) -> None:
    """Lift a lockout after repeated failed logins."""
    actor = _operator()
    from dangan.accounts.services import unlock

    unlock(actor, _user(username))
    _print(f"user {escape(username)} unlocked")


@user.command("reset-password")
@click.argument("username")
def user_reset_password(username: str) -> None:
    """Set a new one-time password (printed once); the account must choose its own at the next login."""
    actor = _operator()
    from dangan.accounts.services import reset_password

    password = reset_password(actor, _user(username))
    _print(
        f"password of {escape(username)} reset; one-time password (change it at the next login): "
        f"[bold]{escape(password)}"
    )


# ------------------------------------------------------------------------------- source systems


@click.group("source")
def source() -> None:
    """Source systems (service systems that send cases through the API) and their API tokens."""


@source.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--fonds", "fonds_codes", multiple=True, required=True, help="Fonds it sends to (repeatable).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=SCOPE_CHOICE,
    help=f"Token scope (repeatable; default {' '.join(DEFAULT_TOKEN_SCOPES)}).",
)
@click.option(
    "--expires-days", type=click.IntRange(1, 3650), default=None, help="Token expires after N days."
)
@click.option("--token-name", default="", help="A label for the token (e.g. where it is configured).")
@click.option(
    "--keep-old", is_flag=True, help="Keep the system's existing tokens (rotation) instead of revoking them."
)
def source_add(
    code: str,
    name: str,
    fonds_codes: tuple[str, ...],
    scopes: tuple[str, ...],
    expires_days: int | None,
    token_name: str,
    keep_old: bool,
) -> None:
    """Register or re-key a source system; prints its new API token once."""
    actor = _operator()
    from dangan.accounts import tokens
    from dangan.catalog.services import upsert_source_system

    fonds = _fonds(fonds_codes)
    from django.db import transaction

    with transaction.atomic():
        system, _ = upsert_source_system(actor, code=code, name=name, fonds=fonds)
        revoked = 0 if keep_old else tokens.list_tokens(actor, system).filter(revoked_at__isnull=True).count()
        token, plaintext = tokens.issue_token(
            actor, system, scopes=scopes or DEFAULT_TOKEN_SCOPES, expires_in_days=expires_days, name=token_name,
            revoke_others=not keep_old,
        )  # fmt: skip
    from dangan import cli

    if revoked:
        cli.console.print(f"[yellow]{escape(code)} exists: its {revoked} earlier token(s) stop working now")
    expiry = f", expires {token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else ""
    _print(f"token for {escape(code)} ({' '.join(token.scopes)}{expiry}), shown once: [bold]{plaintext}")


@source.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source system on stdout.")
def source_list(as_json: bool) -> None:
    """Source systems with their fonds and number of usable tokens."""
    actor = _operator()
    from dangan.accounts import tokens
    from dangan.catalog.models import SourceSystem

    rows: list[dict[str, Any]] = []
    for system in SourceSystem.objects.prefetch_related("fonds").order_by("code"):
        states = [tokens.token_state(t) for t in tokens.list_tokens(actor, system)]
        rows.append(
            {
                "code": system.code,
                "name": system.name,
                "active": system.active,
                "fonds": [f.code for f in system.fonds.all()],
                "active_tokens": states.count("active"),
                "tokens": len(states),
            }
        )
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    table = Table(title="来源系统 Source systems")
    for col in ("编码 Code", "名称 Name", "全宗 Fonds", "有效令牌 Active tokens"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            escape(r["code"]),
            escape(r["name"]) + ("" if r["active"] else " [red](disabled)"),
            " ".join(r["fonds"]),
            f"{r['active_tokens']} / {r['tokens']}",
        )
    from dangan import cli

    cli.out.print(table)


@source.command("tokens")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per token on stdout.")
def source_tokens(code: str, as_json: bool) -> None:
    """The API tokens of source system CODE (prefix, scopes, state; never the token)."""
    actor = _operator()
    from dangan.accounts import tokens
    from dangan.catalog.models import SourceSystem

    system = SourceSystem.objects.filter(code=code).first()
    if system is None:
        raise click.UsageError(f"no source system {code!r}")

    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    rows: list[dict[str, Any]] = [
        {
            "prefix": t.token_prefix,
            "name": t.name,
            "scopes": list(t.scopes),
            "state": tokens.token_state(t),
            "created_at": when(t.created_at),
            "created_by": t.created_by,
            "expires_at": when(t.expires_at),
            "revoked_at": when(t.revoked_at),
            "last_used_at": when(t.last_used_at),
        }
        for t in tokens.list_tokens(actor, system)
    ]
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    table = Table(title=f"接口令牌 API tokens: {escape(code)}")
    for col in (
        "前缀 Prefix",
        "名称 Name",
        "范围 Scopes",
        "状态 State",
        "签发 Issued",
        "到期 Expires",
        "最近使用 Last used",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            f"{r['prefix']}…",
            escape(r["name"]),
            " ".join(r["scopes"]),
            r["state"],
            (r["created_at"] or "")[:16],
            (r["expires_at"] or "—")[:16],
            (r["last_used_at"] or "—")[:16],
        )
    from dangan import cli

    cli.out.print(table)


@source.command("revoke")
@click.argument("token_prefix")
@click.option("--reason", default="", help="Why (kept in the audit trail).")
def source_revoke(token_prefix: str, reason: str) -> None:
    """Revoke the token whose prefix starts with TOKEN_PREFIX (as `source tokens` shows it)."""
    actor = _operator()
    from dangan.accounts import tokens

    token = tokens.revoke_token(actor, tokens.token_by_prefix(actor, token_prefix), reason=reason)
    _print(f"token {token.token_prefix}… of {escape(token.system.code)} revoked")


COMMANDS = [user, source]
