"""The tamper-evident audit trail from the command line.

* ``dangan audit verify [--json]`` — recompute the SM3 hash chain in seq order (streamed) and check
  every signed checkpoint; exit 0 intact, 1 tampered (the first bad position and the kind of fault).
* ``dangan audit checkpoint [--json]`` — sign a checkpoint at the current chain head now.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click


@click.group("audit")
def audit() -> None:
    """The audit trail (审计日志): an SM3 hash chain with SM2-signed checkpoints."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def verify(as_json: bool) -> None:
    """Recompute the audit hash chain and check its signed checkpoints. Exit 0 intact, 1 tampered."""
    from dangan import cli

    cli._setup()
    from dangan.audit import chain

    started = time.monotonic()
    report = chain.verify()
    seconds = round(time.monotonic() - started, 3)
    first = report.first
    if as_json:
        click.echo(
            json.dumps(
                {
                    "intact": report.intact,
                    "events": report.events,
                    "checkpoints": report.checkpoints,
                    "last_seq": report.last_seq,
                    "head_hash": report.head_hash,
                    "first_bad": first.as_dict() if first else None,
                    "faults": [f.as_dict() for f in sorted(report.faults, key=lambda f: f.position)],
                    "seconds": seconds,
                },
                ensure_ascii=False,
            )
        )
    else:
        out = cli.out
        for f in sorted(report.faults, key=lambda f: f.position):
            out.print(f"[red]{f.kind}[/]: {f.message}", highlight=False)
        if first is None:
            verdict = f"[green]intact 完好[/] (head {report.head_hash[:16]}…)"
        else:
            verdict = f"[red]tampered 被篡改[/]: first bad position seq {first.position} ({first.kind})"
        out.print(
            f"{report.events} events, {report.checkpoints} signed checkpoints, {seconds} s: {verdict}",
            highlight=False,
        )
    sys.exit(0 if report.intact else 1)


@audit.command("checkpoint")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def checkpoint(as_json: bool) -> None:
    """Sign a checkpoint (chain head, count, time) with this instance's SM2 key now."""
    from dangan import cli

    cli._setup()
    from dangan.audit import chain

    cp = chain.checkpoint()
    data: dict[str, Any] | None = (
        None
        if cp is None
        else {"seq": cp.seq, "head_hash": cp.head_hash, "count": cp.count, "at": cp.at.isoformat(),
              "signer_fingerprint": cp.signer_fingerprint, "signature": bytes(cp.signature).hex()}
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(data))
    elif data is None:
        cli.out.print("the audit trail is empty: nothing to sign")
    else:
        cli.out.print(
            f"checkpoint at seq {data['seq']}: head {data['head_hash']} signed by "
            f"{data['signer_fingerprint'][:16]}…",
            highlight=False,
        )
