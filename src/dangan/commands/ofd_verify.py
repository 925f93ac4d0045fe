"""``dangan ofd-verify FILE... [--json] [--cert CERT] [--trust PATH]``: verify OFD signatures and seals.

``--trust`` (default: the ``DANGAN_OFD_TRUST`` environment variable) names the trusted seal-maker and
signer certificates (see :func:`dangan.core.ofd.trust.load_trust_store`). Without it every intact
signature is shown as "intact: maker/signer not verified against a trusted list".

Exit status: 0 when no signature is invalid or untrusted (unsigned files, intact signatures whose maker
was not checked for lack of a trust store, and signatures that cannot be checked are shown as such), 1
when any signature is invalid or made by an untrusted maker/signer, 2 when a file is missing or not a
readable OFD, or the trust store cannot be read (2 wins over 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.core.ofd.signatures import STEP_LABELS, OfdSignatureReport, SignatureVerdict, verify_document
from dangan.core.ofd.trust import TRUST_ENV, TrustStore, load_trust_store

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2

_MARK = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]", "not_run": "[dim]–[/dim]"}
_STATUS = {
    "valid": "[bold green]✓ valid, trusted / 有效（可信）[/bold green]",
    "intact": (
        "[bold yellow]✓ intact, maker/signer not verified against a trusted list / "
        "完整（制章者/签名者未经可信列表验证）[/bold yellow]"
    ),
    "untrusted": "[bold red]✗ intact but maker/signer not trusted / 完整但制章者/签名者不可信[/bold red]",
    "invalid": "[bold red]✗ invalid / 无效[/bold red]",
    "unverifiable": "[bold yellow]? unverifiable / 无法验证[/bold yellow]",
}


def _signature_json(v: SignatureVerdict) -> dict[str, Any]:
    out = v.as_dict()
    out["failed"] = [{"step": s.name, "reason": s.reason} for s in v.failed_steps]
    return out


def _file_json(path: Path, report: OfdSignatureReport) -> dict[str, Any]:
    return {
        "path": str(path),
        "signed": report.signed,
        "valid": report.valid,
        "trusted": report.trusted,
        "signatures": [_signature_json(v) for v in report.signatures],
        "error": report.error,
        "error_code": report.error_code,
    }


def _show(console: Console, path: Path, report: OfdSignatureReport) -> None:
    console.print(f"[bold]{escape(str(path))}[/bold]")
    if report.error is not None:
        console.print(
            f"  [red]✗ not a readable OFD / 无法读取[/red] ({report.error_code}): {escape(report.error)}"
        )
        return
    if not report.signed:
        console.print("  [yellow]unsigned / 未签名[/yellow]: the document carries no signature or seal")
        return
    for v in report.signatures:
        who = " · ".join(
            escape(x)
            for x in (
                f"signer 签章人: {v.signer}" if v.signer else "",
                f"seal 印章: {v.seal_name}" if v.seal_name else "",
                f"esID {v.seal_id}" if v.seal_id else "",
                f"time 时间: {v.time}" if v.time else "",
            )
            if x
        )
        console.print(f"  {_STATUS[v.status]}  {escape(v.type)} #{escape(v.id)}  {who}")
        if v.format or v.algorithm:
            console.print(f"    [dim]{escape(v.format or '')} · {escape(v.algorithm or '')}[/dim]")
        for s in v.steps:
            reason = escape(s.reason)
            style = "red" if s.outcome == "fail" else ("dim" if s.outcome == "not_run" else "")
            line = (
                f"{STEP_LABELS.get(s.name, s.name)}: {reason}" if reason else STEP_LABELS.get(s.name, s.name)
            )
            console.print(f"    {_MARK[s.outcome]} " + (f"[{style}]{line}[/{style}]" if style else line))
        for note in v.notes:
            console.print(f"    [dim]note: {escape(note)}[/dim]")


def _load_certs(paths: tuple[Path, ...]) -> list[bytes]:
    """DER certificates from PEM or DER files; a file that is not an SM2 certificate is a usage error."""
    out = []
    for path in paths:
        try:
            der = sm.certificate_der_from_pem(path.read_bytes())
            sm.public_key_from_certificate(der)
        except DanganError as exc:
            raise click.BadParameter(f"{path}: {exc.message}", param_hint="--cert") from exc
        out.append(der)
    return out


def _load_trust(path: Path | None) -> TrustStore | None:
    if path is None:
        return None
    try:
        return load_trust_store(path)
    except DanganError as exc:
        raise click.BadParameter(exc.message, param_hint=f"--trust / {TRUST_ENV}") from exc


@click.command("ofd-verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option(
    "--cert",
    "certs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Signer certificate (PEM or DER) for bare SM2 signatures, which carry none. Repeatable.",
)
@click.option(
    "--trust",
    "trust_path",
    envvar=TRUST_ENV,
    type=click.Path(path_type=Path),
    help=(
        "Trusted seal-maker / signer certificates: a folder of PEM/DER files (optionally makers/ and "
        f"signers/ sub-folders) or a PEM bundle. Default: ${TRUST_ENV}."
    ),
)
def ofd_verify(
    files: tuple[Path, ...], as_json: bool, certs: tuple[Path, ...], trust_path: Path | None
) -> None:
    """Verify the signatures and e-seals of OFD files (验证OFD电子签章/签名)."""
    certificates = _load_certs(certs)
    store = _load_trust(trust_path)
    makers = store.makers if store else None
    signers = store.signers if store else None
    reports = [
        (
            path,
            verify_document(path, certificates=certificates, trusted_makers=makers, trusted_signers=signers),
        )
        for path in files
    ]
    if as_json:
        doc = {"files": [_file_json(path, report) for path, report in reports]}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        for path, report in reports:
            _show(console, path, report)
    if any(report.error is not None for _, report in reports):
        sys.exit(EXIT_UNREADABLE)
    if any(report.any_invalid or report.any_untrusted for _, report in reports):
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_OK)
