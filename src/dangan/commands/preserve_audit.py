"""``dangan preserve audit``: a fixity audit (固定性检查, 长期保存 CQ) over all AIPs or the rotating
sample, for cron when no Celery broker is configured. Exit 0 intact, 1 problems found.

Crontab line (daily at 02:30, rotating sample)::

    30 2 * * *  DANGAN_HOME=/srv/dangan /srv/dangan/venv/bin/dangan preserve audit --sample --json \
                >> /var/log/dangan-fixity.log 2>&1
"""

from __future__ import annotations

import json
import sys

import click

from dangan.commands.preserve import preserve


@preserve.command("audit")
@click.option("--all", "scope", flag_value="all", default=True, help="Check every AIP (default).")
@click.option(
    "--sample",
    "scope",
    flag_value="rotating",
    help="Check the rotating sample: the AIPs whose last good check is oldest, enough per daily "
    "run that every AIP is checked within DANGAN_FIXITY_PERIOD_DAYS (default 90).",
)
@click.option("--period-days", type=click.IntRange(min=1), help="Override DANGAN_FIXITY_PERIOD_DAYS.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def audit_cmd(scope: str, period_days: int | None, as_json: bool, as_user: str | None) -> None:
    """Fixity audit: re-hash AIPs, check signatures and manifests; record a check run. Exit 1 on problems."""
    from dangan import cli

    cli._setup()
    from dangan.accounts.roles import PermissionDenied
    from dangan.preservation.audit import run_audit

    actor = cli._actor(as_user)
    try:
        with cli._Quiet() if as_json else cli._progress() as progress:
            task = progress.add_task("固定性检查 Fixity audit", total=None)

            def step(i: int, total: int) -> None:
                progress.update(task, completed=i, total=total)

            result = run_audit(
                actor, sample="rotating" if scope == "rotating" else None, period=period_days, progress=step
            )
    except PermissionDenied as exc:
        raise click.ClickException(str(exc)) from None
    run = result.run
    if as_json:
        cli.out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        for p in result.problems:
            cli.out.print(f"[red]{p.code}[/] {p.archival_code} {p.path}: {p.message}")
        verdict = "[green]intact 完好" if result.intact else f"[red]{run.problem_count} problem(s) 发现问题"
        cli.out.print(
            f"run {run.pk} ({run.scope}): {run.aips_checked}/{run.aips_total} AIPs, {run.files} files, "
            f"{run.bytes} bytes, {run.duration_ms} ms; overdue {run.overdue}: {verdict}"
        )
    sys.exit(0 if result.intact else 1)
