"""``dangan worker``: run background tasks from the broker (DANGAN_BROKER_URL) in this process.

    dangan worker [--queues heavy,quick] [--concurrency N] [--beat] [--loglevel info]

Exit 2 with one line when no broker is configured or it cannot be reached (docs/workers.md).
"""

from __future__ import annotations

import os
import sys

import click

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@click.command("worker")
@click.option(
    "--queues",
    default="heavy,quick",
    show_default=True,
    help="Which queues to take tasks from (heavy, quick).",
)
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=None, help="Pool processes [default: CPU count]."
)
@click.option(
    "--beat", is_flag=True, help="Also run the scheduler (daily fixity audit); run exactly one per instance."
)
@click.option(
    "--loglevel", default="info", show_default=True, type=click.Choice(LOG_LEVELS, case_sensitive=False)
)
def worker(queues: str, concurrency: int | None, beat: bool, loglevel: str) -> None:
    """Run Celery workers: ingest checks, AIP writing, replication, audits, bulk jobs."""
    from dangan import cli

    names = [q.strip() for q in queues.split(",") if q.strip()]
    cli._setup()
    from django.conf import settings

    from dangan.jobs import celery_app, tasks

    unknown = sorted(set(names) - set(tasks.QUEUES))
    if unknown or not names:
        raise click.UsageError(
            f"unknown queue {', '.join(unknown) or '(none)'}: use {', '.join(tasks.QUEUES)}"
        )
    if not settings.BROKER_URL:
        click.echo(
            "DANGAN_BROKER_URL is not set: set it to redis://… or amqp://… (docs/workers.md)", err=True
        )
        sys.exit(2)
    try:
        celery_app.check_broker()
    except Exception as exc:
        reason = " ".join(str(exc).split())  # one line, however the driver formats it
        click.echo(f"cannot reach the broker {celery_app.broker_label()}: {reason}", err=True)
        sys.exit(2)
    argv = [
        "worker",
        f"--loglevel={loglevel.upper()}",
        f"--queues={','.join(tasks.queue_name(q) for q in names)}",
        f"--concurrency={concurrency or os.cpu_count() or 1}",
        "--pool=prefork",
        f"--hostname=dangan-{os.getpid()}@%h",  # unique per process: several workers may share a host
        "--without-mingle",
        "--without-gossip",
    ]
    if beat:
        argv += ["--beat", f"--schedule={settings.DATA_DIR / 'celerybeat-schedule'}"]
        # One scheduler per instance, so it re-queues what a lost message (a broker restarted without
        # persistence, a failed send) left unfinished, as `dangan serve` does; duplicates are no-ops.
        from django.db import connections

        from dangan.ingest.services import resume_pending

        resumed = resume_pending()
        connections.close_all()  # not inherited by the pool processes
        if resumed:
            click.echo(f"re-queued {resumed} unfinished upload(s)", err=True)
    celery_app.get_app().worker_main(argv)
