"""Backup and restore from the command line (the local operator's job: shell access to the data directory).

* ``dangan backup create --to DIR [--incremental-from DIR_OR_MANIFEST] [--volume-size 4G] [--json]``
* ``dangan backup verify DIR [--json]`` — exit 0 intact, 1 otherwise (names the first bad file)
* ``dangan backup restore DIR [--base DIR …] [--json]`` — onto a fresh, empty instance only
"""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click


def _bars(quiet: bool) -> tuple[AbstractContextManager[Any], Any]:
    """A rich progress display and a callback ``(description, done, total)`` that drives one bar each."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    from dangan import cli

    if quiet:
        display: Progress = cli._Quiet()
    else:
        display = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeElapsedColumn(), console=cli.console,
        )  # fmt: skip
    tasks: dict[str, Any] = {}

    def step(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = display.add_task(what, total=total)
        display.update(tasks[what], completed=done, total=total)

    return display, step


def _emit(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group("backup")
def backup() -> None:
    """Backups (备份): database, blobs, keys under an SM2-signed SM3 manifest; verify; restore."""


@backup.command("create")
@click.option("--to", "dest", required=True, type=click.Path(path_type=Path), help="A new (or empty) folder.")
@click.option(
    "--incremental-from", "base", type=click.Path(exists=True, path_type=Path),
    help="A previous backup (folder, or its manifest-sm3.txt): copy only the blobs it does not hold.",
)  # fmt: skip
@click.option("--volume-size", help="Split into vol-001/… folders of at most this size (e.g. 4G, 650M).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def create(dest: Path, base: Path | None, volume_size: str | None, as_json: bool) -> None:
    """Write a full or incremental backup of this instance into DIR."""
    from dangan import cli

    cli._setup()
    from dangan.preservation import backup as logic

    size = logic.parse_size(volume_size) if volume_size else None
    display, step = _bars(as_json)
    with display:
        result = logic.create(cli._actor(None), dest, incremental_from=base, volume_size=size, progress=step)
    if as_json:
        _emit(result.as_dict())
    else:
        cli.out.print(
            f"[green]backup 备份完成[/] {result.kind} {result.backup_id}: {result.files} files, "
            f"{result.bytes} bytes, {result.blobs_held}/{result.blobs_total} blobs, {result.volumes} volume(s) "
            f"in {result.seconds} s → {result.path}\n"
            "[yellow]the backup holds the instance's private key and secret key: keep it like one 含私钥，妥善保管"
        )


@backup.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def verify(path: Path, as_json: bool) -> None:
    """Check the manifest's SM2 signature, then every file's SM3 and size. Exit 0 intact, 1 otherwise."""
    from dangan import cli

    cli._setup()
    from dangan.preservation import backup as logic

    display, step = _bars(as_json)
    with display:
        report = logic.verify(path, progress=step)
    if as_json:
        _emit(report.as_dict())
    else:
        for p in report.problems:
            cli.out.print(f"[red]{p.code}[/] {p.path}: {p.message}", highlight=False)
        verdict = "[green]intact 完好" if report.ok else f"[red]{len(report.problems)} problem(s) 发现问题"
        cli.out.print(
            f"{report.backup_id} ({report.kind}, {report.volumes} volume(s)): {report.files} files, "
            f"{report.bytes} bytes, signer {report.signer_fingerprint[:16]}…: {verdict}"
        )
    sys.exit(0 if report.ok else 1)


@backup.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--base", "bases", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The base backup(s) of an incremental backup (they hold the blobs it does not).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def restore(path: Path, bases: tuple[Path, ...], as_json: bool) -> None:
    """Restore a backup onto this fresh, empty instance (verified first; all or nothing)."""
    from dangan import cli

    cli._setup()
    cli._migrate()
    from dangan.preservation import backup as logic

    display, step = _bars(as_json)
    with display:
        result = logic.restore(cli._actor(None), path, bases=list(bases), progress=step)
    if as_json:
        _emit(result.as_dict())
    else:
        cli.out.print(
            f"[green]restored 恢复完成[/] {result.backup_id}: {result.rows} rows, {result.blobs} blobs, "
            f"{result.keys} key files in {result.seconds} s. Next: dangan verify && dangan audit verify"
        )
