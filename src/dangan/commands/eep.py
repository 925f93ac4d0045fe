"""``dangan export-eep`` and ``dangan verify-eep``: DA/T 48-2009 XML encapsulation packages (EEP).

export-eep exit status: 0 written, 1 refused (no such record, no permission, a stored file does not match
its digest, the file exists), 2 usage.
verify-eep exit status: 0 valid, 1 verification failed (signature, a file digest, structure, truncated),
2 not an EEP, unsafe or unreadable XML, unsupported package, or usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from dangan.core import sm
from dangan.core.errors import DanganError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNREADABLE = 2

#: A package smaller than this gets no progress bar.
PROGRESS_MIN_BYTES = 64 * 1024 * 1024


@contextmanager
def _bytes_progress(label: str, show: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not show:
        yield None
        return
    from dangan import cli

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=cli.console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield step


# ------------------------------------------------------------------------------------------------ export


@click.command("export-eep")
@click.argument("archival_code")
@click.option(
    "--out", "dest", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The new EEP file."
)
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def export_eep(archival_code: str, dest: Path, as_user: str | None, as_json: bool) -> None:
    """Write the record ARCHIVAL_CODE (档号) as a signed EEP (DA/T 48-2009 XML package) to FILE.

    Files are embedded in Base64, metadata mapped to DA/T 46 elements, and 被签名对象 signed SM2/SM3 over
    its exclusive-C14N form with this instance's key. Exit 0 written, 1 refused, 2 usage.
    """
    from dangan import cli

    cli._setup()
    from dangan.accounts.roles import PermissionDenied
    from dangan.archive import eep as service

    if dest.exists():
        raise click.UsageError(f"{dest} already exists")
    if not dest.parent.is_dir():
        raise click.UsageError(f"folder {dest.parent} does not exist")
    actor = cli._actor(as_user)
    try:
        with _bytes_progress("封装 Exporting", not as_json) as step:
            export = service.export_eep(actor, archival_code, dest, progress=step)
    except (DanganError, PermissionDenied) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        message = getattr(exc, "message", str(exc))
        if as_json:
            click.echo(json.dumps({"written": False, "error": {"code": code, "message": message}},
                                  ensure_ascii=False))  # fmt: skip
        else:
            cli.console.print(f"[red]Error {code}:[/] {escape(message)}")
        sys.exit(EXIT_FAILED)
    result = export.result
    doc = {
        "written": True,
        "path": str(export.path),
        "archival_code": export.archival_code,
        "aip_version": export.aip_version,
        "files": result.files,
        "bytes": result.raw_bytes,
        "signed_bytes": result.signed_bytes,
        "signed_digest": result.e,
        "certificate_sm3": result.certificate_sm3,
    }
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        cli.out.print(
            f"[green]✓[/] EEP of {escape(export.archival_code)} written to {escape(str(export.path))}: "
            f"{result.files} files, {result.raw_bytes} bytes embedded, signed SM2/SM3 "
            f"(e = {result.e[:16]}…)"
        )
    sys.exit(EXIT_OK)


# ------------------------------------------------------------------------------------------------ verify


def _load_certs(paths: tuple[Path, ...]) -> list[bytes]:
    """DER certificates from PEM or DER files; a file that is not an SM2 certificate is a usage error."""
    out = []
    for path in paths:
        try:
            der = sm.certificate_der_from_pem(path.read_bytes())
            sm.public_key_from_certificate(der)
        except (DanganError, OSError) as exc:
            raise click.BadParameter(f"{path}: {getattr(exc, 'message', exc)}", param_hint="--cert") from exc
        out.append(der)
    return out


def _instance_certificate() -> bytes:
    from dangan import cli

    cli._setup()
    from dangan.archive.services import instance_key

    return instance_key().certificate_der


_STATUS = {
    "valid": "[bold green]✓ valid / 有效[/]",
    "invalid": "[bold red]✗ invalid / 无效[/]",
    "unreadable": "[bold yellow]✗ not verifiable / 无法验证[/]",
}
_TRUST = {
    "trusted": "trusted certificate / 可信证书",
    "embedded": "embedded certificate only, not anchored / 仅包内证书",
    "untrusted": "NOT a trusted certificate / 非可信证书",
}


def _show(console: Console, report: Any) -> None:
    console.print(f"{_STATUS[report.status]}  {escape(report.path)}")
    facts = report.facts
    shown = [
        (label, facts.get(key))
        for label, key in (("档号", "dg:档号"), ("电子文件号", "电子文件号"), ("题名", "题名"),
                           ("封装包创建单位", "creator"), ("封装包创建时间", "created"))
    ]  # fmt: skip
    line = " · ".join(f"{label} {escape(value)}" for label, value in shown if value)
    if line:
        console.print(f"  {line}")
    if report.files:
        bad = [f for f in report.files if not f.ok]
        total = sum(f.size for f in report.files)
        summary = f"{len(bad)} do(es) not match the package" if bad else "SM3 and sizes match"
        mark = "[red]✗[/]" if bad else "[green]✓[/]"
        console.print(f"  {mark} files 文件: {len(report.files)} decoded, {total} bytes; {summary}")
    for s in report.signatures:
        mark = "[green]✓[/]" if s.valid and s.trust != "untrusted" else "[red]✗[/]"
        who = " · ".join(escape(x) for x in (s.signer, s.time) if x)
        console.print(f"  {mark} signature 电子签名 {escape(s.id)}: {who}; {_TRUST.get(s.trust, s.trust)}")
        if s.certificate_sm3:
            console.print(f"    [dim]certificate SM3 {s.certificate_sm3}[/dim]")
    for p in report.problems:
        target = f" {escape(p.target)}:" if p.target and p.target not in p.message else ""
        console.print(f"  [red]{p.code}[/]{target} {escape(p.message)}")
    for note in report.notes:
        console.print(f"  [dim]note: {escape(note)}[/dim]")


@click.command("verify-eep")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--cert",
    "certs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust this signer certificate (PEM or DER). Repeatable.",
)
@click.option("--instance", "trust_instance", is_flag=True, help="Trust this instance's certificate.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def verify_eep(file: Path, certs: tuple[Path, ...], trust_instance: bool, as_json: bool) -> None:
    """Verify an EEP file: SM2 signature over 被签名对象, every embedded file's SM3, structure (XSD).

    Without --cert/--instance the signature is checked with the package's own certificate only (reported
    as such). Exit 0 valid, 1 verification failed, 2 not an EEP / unreadable / unsafe XML.
    """
    from dangan.core.package.eep import verify_eep as verify

    trusted = _load_certs(certs)
    if trust_instance:
        trusted.append(_instance_certificate())
    size = file.stat().st_size if file.is_file() else 0
    with _bytes_progress("验证 Verifying", not as_json and size >= PROGRESS_MIN_BYTES) as step:
        report = verify(file, trusted=trusted, progress=step)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _show(Console(file=sys.stdout, highlight=False, soft_wrap=True), report)
    sys.exit(report.exit_code)
