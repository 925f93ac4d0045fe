"""``dangan schedule``: the retention schedule, classification scheme and archiving scope as XLSX.

    dangan schedule export --out 保管期限表.xlsx [--fonds F]
    dangan schedule import 保管期限表.xlsx [--dry-run]

Import is all-or-nothing: every row is checked first and, if any is wrong, the errors are printed
(sheet, cell, column, message) and nothing changes. Exit 0 success (or nothing to change), 1 errors,
2 usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table


@click.group("schedule")
def schedule() -> None:
    """保管期限表 · 分类方案 · 归档范围 as an XLSX workbook (export, import)."""


@schedule.command("export")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path), help="The .xlsx to write.")
@click.option("--fonds", "fonds_code", help="Only this fonds (全宗号); default all.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def export_cmd(out_path: Path, fonds_code: str | None, as_user: str | None) -> None:
    """Write the workbook (current rule versions, classes, scope, history)."""
    from dangan import cli

    cli._setup()
    from dangan.catalog import services
    from dangan.catalog.models import Fonds

    fonds = None
    if fonds_code:
        fonds = Fonds.objects.filter(code=fonds_code).first()
        if fonds is None:
            raise click.UsageError(f"no fonds {fonds_code!r}")
    body = services.export_schedule(cli._actor(as_user), fonds=fonds)
    out_path.write_bytes(body)
    cli.console.print(f"已导出 Exported: {out_path} ({len(body)} bytes)")


@schedule.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and show the changes; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON document on stdout.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def import_cmd(path: Path, dry_run: bool, as_json: bool, as_user: str | None) -> None:
    """Import a filled workbook: new rule versions, classes, scope. All or nothing."""
    from dangan import cli

    cli._setup()
    from dangan.catalog import services, xlsx

    if path.stat().st_size > xlsx.MAX_BYTES:
        cli.console.print(f"[red]XLSX_TOO_LARGE: {path} has more than {xlsx.MAX_BYTES} bytes")
        sys.exit(1)
    result = services.import_schedule(
        cli._actor(as_user), path.read_bytes(), filename=path.name, dry_run=dry_run
    )
    if as_json:
        doc = {
            "applied": result.applied,
            "dry_run": dry_run,
            "errors": result.errors,
            "changes": result.changes,
        }
        cli.out.print_json(json.dumps(doc, ensure_ascii=False, default=str), indent=None)
        sys.exit(0 if result.ok else 1)
    if result.errors:
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        for col in ("表 Sheet", "单元格 Cell", "列 Column", "错误 Error"):
            table.add_column(col, overflow="fold")
        for e in result.errors:
            cell = e["cell"] or (f"row {e['row']}" if e["row"] else "")
            table.add_row(e["sheet"], cell, e["column"], f"{e['code']}: {e['message']}")
        cli.out.print(table)
        cli.console.print(f"[red]✗ {len(result.errors)} 处错误 error(s); 未做任何更改 nothing was changed")
        sys.exit(1)
    for c in result.changes:
        cli.out.print(f"{c['sheet']} {c['row']}: {c['kind']} {c['text']}")
    if result.applied:
        cli.console.print(f"[green]✓ 已导入 imported: {len(result.changes)} 项更改 change(s)")
    elif not result.changes:
        cli.console.print("[green]✓ 无需更改 nothing to change")
    else:
        cli.console.print(
            f"[green]✓ 检查通过 checked[/]: {len(result.changes)} 项更改 change(s) would be made"
        )
