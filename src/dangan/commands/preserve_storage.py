"""``dangan preserve locations | replicate | check-copies | repair``: storage locations (存储位置),
replication to replica and off-site locations (复制, 异地备份), and repair (修复) of damaged or missing
copies. The work is in ``dangan.preservation.replication``; this is the command line over it.
"""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from typing import Any

import click

from dangan.commands.preserve import preserve

AS_USER = click.option("--as", "as_user", help="Act as this user (default: the local operator).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _setup() -> None:
    """Django set up and the locations checked: a configuration mistake is one clear line, exit 1."""
    from dangan import cli

    cli._setup()
    from django.core.exceptions import ImproperlyConfigured

    from dangan.storage import locations

    try:
        locations.validate()
    except ImproperlyConfigured as exc:
        raise click.ClickException(str(exc)) from None


def _bar(as_json: bool) -> AbstractContextManager[Any]:
    from dangan import cli

    return cli._Quiet() if as_json else cli._progress()


def _print_json(data: dict[str, Any]) -> None:
    from dangan import cli

    cli.out.print_json(json.dumps(data, ensure_ascii=False))


def _stepper(progress: Any, title: str) -> Any:
    task = progress.add_task(title, total=None)

    def step(i: int, total: int) -> None:
        progress.update(task, completed=i, total=total)

    return step


@preserve.command("locations")
@AS_JSON
def locations_cmd(as_json: bool) -> None:
    """The configured storage locations: role, type, where, reachable, blob count."""
    from dangan import cli

    _setup()
    from rich.table import Table

    from dangan.storage import locations

    rows = []
    for loc in locations.configured():
        row: dict[str, Any] = locations.describe(loc) | {"reachable": True, "blobs": None, "error": ""}
        try:
            loc.store.ping()
            row["blobs"] = sum(1 for _ in loc.store.digests())
        except Exception as exc:
            row["reachable"], row["error"] = False, f"{type(exc).__name__}: {exc}"[:300]
        rows.append(row)
    if as_json:
        _print_json({"locations": rows})
    else:
        table = Table(title="存储位置 Storage locations")
        for title in ("名称 Name", "角色 Role", "类型 Type", "位置 Where", "可达 Reachable", "对象 Blobs"):
            table.add_column(title, overflow="fold")
        for row in rows:
            reach = "[green]yes 是" if row["reachable"] else f"[red]no 否[/] {row['error']}"
            blobs = "" if row["blobs"] is None else str(row["blobs"])
            table.add_row(row["name"], row["role"], row["type"], row["where"], reach, blobs)
        cli.out.print(table)
    sys.exit(0 if all(r["reachable"] for r in rows) else 1)


@preserve.command("replicate")
@click.option("--record", "ref", help="Only this record (id, 电子文件号 or 档号).")
@AS_USER
@AS_JSON
def replicate_cmd(ref: str | None, as_user: str | None, as_json: bool) -> None:
    """Copy every AIP blob the replica / off-site locations lack, verified by SM3. Exit 1 on a failure."""
    from dangan import cli

    _setup()
    from dangan.preservation import replication

    record = cli._find_record(ref) if ref else None
    with _bar(as_json) as progress:
        report = replication.replicate(
            cli._actor(as_user), record=record, progress=_stepper(progress, "复制 Replicating")
        )
    if as_json:
        _print_json(report.as_dict())
    else:
        if not report.locations:
            cli.out.print("no replica or off-site location is configured (DANGAN_STORAGE_LOCATIONS)")
        for r in report.failures:
            cli.out.print(
                f"[red]FAILED[/] {r.archival_code} v{r.version} → {r.location}: {'; '.join(r.errors[:3])}"
            )
        mb = report.bytes / 1e6
        rate = f", {mb / report.seconds:.1f} MB/s" if report.seconds and report.bytes else ""
        verdict = "[green]ok" if report.ok else f"[red]{len(report.failures)} failure(s)"
        cli.out.print(
            f"{report.aips} AIPs → {', '.join(report.locations) or '-'}: {report.copied} blobs copied "
            f"({mb:.1f} MB{rate}): {verdict}"
        )
    sys.exit(0 if report.ok else 1)


@preserve.command("check-copies")
@AS_USER
@AS_JSON
def check_copies_cmd(as_user: str | None, as_json: bool) -> None:
    """Re-hash every copy of every AIP blob on every location. Exit 1 if one is missing or damaged."""
    from dangan import cli

    _setup()
    from dangan.preservation import replication

    with _bar(as_json) as progress:
        report = replication.check_copies(
            cli._actor(as_user), progress=_stepper(progress, "核对副本 Checking")
        )
    if as_json:
        _print_json(report.as_dict())
    else:
        for loc in report.as_dict()["locations"]:
            if not loc["reachable"]:
                cli.out.print(f"[red]UNREACHABLE[/] {loc['name']} ({loc['role']}): {loc['error']}")
                continue
            for kind in ("missing", "damaged", "unreadable"):
                for item in loc[kind]:
                    cli.out.print(
                        f"[red]{kind.upper()}[/] {loc['name']} {item['blob']} {', '.join(item['aips'])}"
                    )
            bad = len(loc["missing"]) + len(loc["damaged"]) + len(loc["unreadable"])
            verdict = "[green]complete 完整" if not bad else f"[red]{bad} problem(s)"
            cli.out.print(f"{loc['name']} ({loc['role']}, {loc['type']}): {loc['checked']} blobs: {verdict}")
    sys.exit(0 if report.ok else 1)


@preserve.command("repair")
@AS_USER
@AS_JSON
def repair_cmd(as_user: str | None, as_json: bool) -> None:
    """Restore missing or damaged copies on any location from an intact one. Exit 1 if any remain."""
    from dangan import cli

    _setup()
    from dangan.preservation import replication

    with _bar(as_json) as progress:
        report = replication.repair(cli._actor(as_user), progress=_stepper(progress, "修复 Checking copies"))
    if as_json:
        _print_json(report.as_dict())
    else:
        for a in report.repaired:
            cli.out.print(f"[green]REPAIRED[/] {a.location} {a.blob} ({a.problem}) from {a.source}")
        for a in report.failed:
            cli.out.print(f"[red]NOT REPAIRED[/] {a.location} {a.blob} ({a.problem}): {a.message}")
        for name in report.unreachable:
            cli.out.print(f"[red]UNREACHABLE[/] {name}: not checked, not repaired")
        verdict = "[green]all copies intact 副本完好" if report.ok else "[red]problems remain"
        cli.out.print(f"{report.check.blobs} blobs, {len(report.repaired)} repaired: {verdict}")
    sys.exit(0 if report.ok else 1)
