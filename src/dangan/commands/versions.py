"""``dangan archive …`` commands for 容缺归档 and AIP versions (registered under the ``archive`` group).

* ``confirm-gap REF --reason TEXT`` — archive a pre-archived case whose required materials are missing.
* ``supplement REF --material CODE FILE … --reason TEXT`` — supply missing materials: a new AIP version.
* ``correct REF [--set KEY=VALUE …] [--replace PATH FILE …] --reason TEXT`` — correct: a new version.
* ``versions REF [--json]`` — every AIP version with who, when and why.
* ``export-version 档号 VERSION --out DIR`` — write one (earlier) AIP version as stored.

REF is a record id, 电子文件号 or 档号. A refusal is one line on stderr and exit 1 (the group's rule).
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
from django.utils import timezone


def _summary(aip: Any) -> str:
    return f"version {aip.version} ({aip.kind}) {aip.tagmanifest_sm3}"


@click.command("confirm-gap")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the case is archived with required materials missing.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def confirm_gap(ref: str, reason: str, as_user: str | None) -> None:
    """Archive a pre-archived case with a gap (容缺归档): assign 档号, write the AIP with the reason."""
    from dangan import cli

    cli._setup()
    from dangan.archive import services

    record = services.confirm(cli._actor(as_user), cli._find_record(ref).pk, gap_reason=reason)
    cli.out.print(f"[green]✓[/] {record.file_number} → {record.archival_code} (容缺归档)")


@click.command("supplement")
@click.argument("ref")
@click.option(
    "--material",
    "materials",
    nargs=2,
    multiple=True,
    required=True,
    metavar="CODE FILE",
    type=(str, click.Path(exists=True, dir_okay=False, path_type=Path)),
    help="A missing material's code (材料编码) and the file that supplies it; repeatable.",
)
@click.option("--category", default="", help="Material category (folder) of the files; default: inferred.")
@click.option("--reason", required=True)
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def supplement(
    ref: str, materials: tuple[tuple[str, Path], ...], category: str, reason: str, as_user: str | None
) -> None:
    """Supply materials missing from a record archived with a gap: writes a new AIP version."""
    from dangan import cli

    cli._setup()
    from dangan.archive import services

    with ExitStack() as stack:
        uploads = [
            services.Upload(
                filename=path.name,
                stream=stack.enter_context(path.open("rb")),
                material_code=code,
                category=category,
            )
            for code, path in materials
        ]
        aip = services.supplement(
            cli._actor(as_user), cli._find_record(ref).pk, uploads=uploads, reason=reason
        )
    record = aip.record
    record.refresh_from_db()
    gap = ", ".join(m["code"] for m in record.gap_materials) or "closed 已补齐"
    cli.out.print(f"[green]✓[/] {record.archival_code}: {_summary(aip)}; gap: {gap}")


@click.command("correct")
@click.argument("ref")
@click.option(
    "--set",
    "values",
    multiple=True,
    metavar="KEY=VALUE",
    help="A metadata value, KEY as <group>/<element>, e.g. 办件基本信息/办件名称=…; repeatable.",
)
@click.option(
    "--replace",
    "replacements",
    nargs=2,
    multiple=True,
    metavar="PATH FILE",
    type=(str, click.Path(exists=True, dir_okay=False, path_type=Path)),
    help="Replace the record's file PATH (e.g. 结果材料/决定书.pdf) with FILE; repeatable.",
)
@click.option("--reason", required=True)
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def correct(
    ref: str,
    values: tuple[str, ...],
    replacements: tuple[tuple[str, Path], ...],
    reason: str,
    as_user: str | None,
) -> None:
    """Correct an archived record's metadata and/or files: writes a new AIP version."""
    from dangan import cli

    cli._setup()
    from dangan.archive import services

    changes: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set {item!r}: expected KEY=VALUE")
        changes[key.strip()] = value
    with ExitStack() as stack:
        uploads = [
            services.Upload(filename=file.name, stream=stack.enter_context(file.open("rb")), replaces=path)
            for path, file in replacements
        ]
        aip = services.correct(
            cli._actor(as_user), cli._find_record(ref).pk, changes=changes, uploads=uploads, reason=reason
        )
    cli.out.print(f"[green]✓[/] {aip.record.archival_code}: {_summary(aip)}")


@click.command("versions")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
def versions(ref: str, as_json: bool) -> None:
    """List a record's AIP versions (newest first) with who made each, when and why."""
    from dangan import cli

    cli._setup()
    from dangan.archive import services

    record = cli._find_record(ref)
    rows = services.version_summaries(record)
    if as_json:
        doc = {
            "record": record.pk,
            "archival_code": record.archival_code,
            "gap_status": record.gap_status,
            "gap_materials": record.gap_materials,
            "gap_reason": record.gap_reason,
            "versions": [
                {
                    k: (timezone.localtime(v).isoformat() if k == "created_at" else v)
                    for k, v in row.items()
                    if k != "aip"
                }
                for row in rows
            ],
        }
        cli.out.print_json(json.dumps(doc, ensure_ascii=False))
        return
    if not rows:
        cli.out.print(f"{record.file_number}: no AIP yet ({record.status})")
        sys.exit(0)
    for row in rows:
        when = timezone.localtime(row["created_at"]).strftime("%Y-%m-%d %H:%M:%S %z")
        cli.out.print(
            f"v{row['version']} {row['kind']:<10} {when} {row['created_by'] or '—'} "
            f"{row['tagmanifest_sm3']} {row['reason'] or ''}".rstrip()
        )


@click.command("export-version")
@click.argument("archival_code")
@click.argument("version", type=int)
@click.option("--out", "dest", required=True, type=click.Path(path_type=Path))
def export_version(archival_code: str, version: int, dest: Path) -> None:
    """Write AIP version VERSION of ARCHIVAL_CODE (a BagIt bag, as stored) into the new folder DIR."""
    from dangan import cli

    cli._setup()
    from dangan.archive import services

    if dest.exists():
        raise click.UsageError(f"{dest} already exists")
    path = services.export_aip(cli._actor(None), archival_code, dest, version=version)
    cli.out.print(f"AIP version {version} written to {path}")


COMMANDS = (confirm_gap, supplement, correct, versions, export_version)
