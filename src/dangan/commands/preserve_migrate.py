"""``dangan preserve migrate``: format migration (格式迁移) of office documents to PDF/A-2b.

Exit 0 when everything due was migrated (or nothing was due), 1 when a conversion failed or the
tools are missing ("not run", with the reason)::

    dangan preserve migrate --all --json
    dangan preserve migrate T001-SP-2025-D30-0001
"""

from __future__ import annotations

import json
import sys

import click

from dangan.commands.preserve import preserve


@preserve.command("migrate")
@click.argument("archival_codes", nargs=-1)
@click.option("--all", "all_records", is_flag=True, help="Every archived record (instead of the 档号 given).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def migrate_cmd(
    archival_codes: tuple[str, ...], all_records: bool, as_json: bool, as_user: str | None
) -> None:
    """Convert office documents (DOC/DOCX/XLS/XLSX, WPS/ET) of archived records to PDF/A-2b: a new AIP
    version per record holds the original and the derived file, linked and checked."""
    if not archival_codes and not all_records:
        raise click.UsageError("give one or more 档号 or --all")
    if archival_codes and all_records:
        raise click.UsageError("give 档号 or --all, not both")
    from dangan import cli

    cli._setup()
    from dangan.core import migration as core
    from dangan.preservation.migration import migrate_all

    actor = cli._actor(as_user)
    tools = core.find_tools()
    with cli._Quiet() if as_json else cli._progress() as progress:
        task = progress.add_task("格式迁移 Format migration", total=None)

        def step(i: int, total: int) -> None:
            progress.update(task, completed=i, total=total)

        results = migrate_all(actor, archival_codes=archival_codes or None, tools=tools, progress=step)
    bad = [r for r in results if r.status in ("failed", "not_run", "partial")]
    if as_json:
        cli.out.print_json(
            json.dumps(
                {"tools": tools.as_dict(), "results": [r.as_dict() for r in results]},
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        cli.out.print(f"tools: {tools.agent()}")
        for r in results:
            if r.status == "nothing_to_do":
                continue
            colour = {"migrated": "green", "not_run": "yellow"}.get(r.status, "red")
            version = f" → version {r.version}" if r.version else ""
            cli.out.print(f"[{colour}]{r.status}[/] {r.archival_code}{version} {r.reason}".rstrip())
            for f in r.files:
                target = f" → {f.derived_path}" if f.derived_path else ""
                cli.out.print(f"    {f.status} {f.path} ({f.format}){target} {f.reason}".rstrip())
        done = sum(1 for r in results if r.status in ("migrated", "partial"))
        cli.out.print(f"{len(results)} record(s): {done} migrated, {len(bad)} with problems")
    sys.exit(1 if bad else 0)
