"""Bulk work from the command line, as the same jobs the web pages start (``dangan.jobs.services``).

* ``dangan archive bulk-confirm REF… | --all-pending`` — confirm many pre-archived cases.
* ``dangan archive bulk-reclassify REF… | --all-pending --class CODE`` — another class for pre-archived cases.
* ``dangan archive bulk-export REF… | --all-archived [--format aip-zip|eep] --out FILE`` — one ZIP.
* ``dangan jobs list | show ID | resume ID | cancel ID``.

The bulk commands run the job inline with a progress bar (``jobs.inline()``); it stays listed like a
job started in the browser. Exit 0 when every record was processed, 1 when any failed or the job did
not finish (the failures are listed), 2 usage.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from django.utils import timezone


def _record_ids(refs: tuple[str, ...], *, status: str | None) -> list[int]:
    from dangan import cli
    from dangan.archive.models import Record

    ids = [cli._find_record(r).pk for r in refs]
    if status is not None:
        ids += list(Record.objects.filter(status=status).order_by("id").values_list("id", flat=True))
    return ids


def _run(start: Callable[[], Any], label: str, as_json: bool) -> Any:
    """Start the job inline, with a progress bar fed by the job's progress after each record."""
    from dangan import cli, jobs
    from dangan.jobs import services

    with cli._progress() if not as_json else cli._Quiet() as progress:
        task = progress.add_task(label, total=None)

        def step(p: services.JobProgress) -> None:
            progress.update(task, completed=p.processed, total=p.total)

        with jobs.inline(), services.watch(step):
            job = start()
        progress.update(task, completed=job.position, total=job.total)
    return job


def job_dict(job: Any) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "created_by": job.created_by,
        "created_at": timezone.localtime(job.created_at).isoformat(timespec="seconds"),
        "finished_at": timezone.localtime(job.finished_at).isoformat(timespec="seconds")
        if job.finished_at
        else None,
        "total": job.total,
        "processed": job.position,
        "done": job.done,
        "failed": job.failed,
        "params": job.params,
        "message": job.message,
        "errors": job.errors,
        "result": {"name": job.result_name, "size": job.result_size, "sm3": job.result_sm3}
        if job.result_file
        else None,
    }


def _report(job: Any, as_json: bool) -> None:
    from dangan import cli

    if as_json:
        cli.out.print_json(json.dumps(job_dict(job), ensure_ascii=False), indent=None)
        return
    for e in job.errors:
        cli.out.print(f"[red]✗[/] {e['ref']}: {e['code']} {e['message']}")
    if job.failed > len(job.errors):
        cli.out.print(f"[red]… and {job.failed - len(job.errors)} more failures[/]")
    colour = "green" if job.status == "done" and not job.failed else "red"
    cli.out.print(
        f"job {job.pk} [{colour}]{job.status}[/]: {job.done} done, {job.failed} failed of {job.total}"
        + (f" — {job.message}" if job.message else "")
    )


def _exit(job: Any) -> None:
    sys.exit(0 if job.status == "done" and not job.failed else 1)


def _need_selection(refs: tuple[str, ...], flag: bool, flag_name: str) -> None:
    if not refs and not flag:
        raise click.UsageError(f"give record references or {flag_name}")


@click.command("bulk-confirm")
@click.argument("refs", nargs=-1)
@click.option("--all-pending", is_flag=True, help="Every case in the pre-archive library.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
@click.option("--json", "as_json", is_flag=True, help="The finished job as one JSON object.")
def bulk_confirm(refs: tuple[str, ...], all_pending: bool, as_user: str | None, as_json: bool) -> None:
    """Confirm many pre-archived cases (id, 电子文件号 or 档号) as one job with progress."""
    from dangan import cli

    cli._setup()
    from dangan.archive.states import RecordStatus
    from dangan.jobs import services

    _need_selection(refs, all_pending, "--all-pending")
    actor = cli._actor(as_user)
    ids = _record_ids(refs, status=RecordStatus.PRE_ARCHIVE.value if all_pending else None)
    if not ids:
        cli.out.print("nothing to confirm: the pre-archive library is empty")
        sys.exit(0)
    job = _run(lambda: services.start_bulk_confirm(actor, ids), "批量归档确认 Confirming", as_json)
    _report(job, as_json)
    _exit(job)


@click.command("bulk-reclassify")
@click.argument("refs", nargs=-1)
@click.option("--all-pending", is_flag=True, help="Every case in the pre-archive library.")
@click.option("--class", "class_code", required=True, help="The class code (分类代码) to put them in.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
@click.option("--json", "as_json", is_flag=True, help="The finished job as one JSON object.")
def bulk_reclassify(
    refs: tuple[str, ...], all_pending: bool, class_code: str, as_user: str | None, as_json: bool
) -> None:
    """Put pre-archived cases into another class: its code goes into the 档号 they get when confirmed.

    Archived records keep their class (their 档号 holds it and never changes)."""
    from dangan import cli

    cli._setup()
    from dangan.archive.states import RecordStatus
    from dangan.jobs import services

    _need_selection(refs, all_pending, "--all-pending")
    actor = cli._actor(as_user)
    ids = _record_ids(refs, status=RecordStatus.PRE_ARCHIVE.value if all_pending else None)
    if not ids:
        cli.out.print("nothing to re-classify: the pre-archive library is empty")
        sys.exit(0)
    job = _run(
        lambda: services.start_bulk_reclassify(actor, ids, class_code), "批量重新分类 Re-classifying", as_json
    )
    _report(job, as_json)
    _exit(job)


@click.command("bulk-export")
@click.argument("refs", nargs=-1)
@click.option("--all-archived", is_flag=True, help="Every record in the formal library.")
@click.option(
    "--format", "fmt", type=click.Choice(["aip-zip", "eep"]), default="aip-zip", show_default=True,
    help="aip-zip: each record's AIP (BagIt bag) as a ZIP; eep: each record's DA/T 48 EEP.",
)  # fmt: skip
@click.option(
    "--out", "dest", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The new ZIP file."
)
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
@click.option("--json", "as_json", is_flag=True, help="The finished job as one JSON object.")
def bulk_export(
    refs: tuple[str, ...], all_archived: bool, fmt: str, dest: Path, as_user: str | None, as_json: bool
) -> None:
    """Export many archived records into one ZIP (their current AIPs or EEPs, and a manifest)."""
    from dangan import cli

    cli._setup()
    from dangan.archive.states import RecordStatus
    from dangan.jobs import services

    _need_selection(refs, all_archived, "--all-archived")
    if dest.exists():
        raise click.UsageError(f"{dest} already exists")
    actor = cli._actor(as_user)
    ids = _record_ids(refs, status=RecordStatus.ARCHIVED.value if all_archived else None)
    if not ids:
        cli.out.print("nothing to export: the formal library is empty")
        sys.exit(0)
    job = _run(lambda: services.start_bulk_export(actor, ids, format=fmt), "批量导出 Exporting", as_json)
    if job.result_file:
        _, stream = services.open_result(actor, job.pk)
        with stream, open(dest, "xb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        if not as_json:
            cli.out.print(f"{job.done} record(s) written to {dest} ({job.result_size} bytes)")
    _report(job, as_json)
    _exit(job)


ARCHIVE_COMMANDS = (bulk_confirm, bulk_reclassify, bulk_export)


@click.group("jobs")
def jobs_group() -> None:
    """Bulk jobs (started here or in the browser): list, show, resume, cancel."""


@jobs_group.command("list")
@click.option("--limit", default=30, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job.")
def jobs_list(limit: int, as_json: bool) -> None:
    """The latest jobs, newest first."""
    from dangan import cli

    cli._setup()
    from rich.table import Table

    from dangan.jobs.models import Job

    rows = list(Job.objects.order_by("-created_at", "-id")[: max(1, limit)])
    if as_json:
        for job in rows:
            cli.out.print_json(json.dumps(job_dict(job), ensure_ascii=False), indent=None)
        return
    table = Table(title="后台任务 Jobs")
    for column in (
        "ID",
        "类型 Kind",
        "状态 Status",
        "进度 Progress",
        "失败 Failed",
        "发起人 By",
        "时间 Started",
    ):
        table.add_column(column)
    for job in rows:
        table.add_row(
            str(job.pk), job.kind, job.status, f"{job.position}/{job.total}", str(job.failed), job.created_by,
            timezone.localtime(job.created_at).strftime("%Y-%m-%d %H:%M"),
        )  # fmt: skip
    cli.out.print(table)


def _job(job_id: int) -> Any:
    from dangan.jobs.models import Job

    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise click.UsageError(f"no job {job_id}")
    return job


@jobs_group.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def jobs_show(job_id: int, as_json: bool) -> None:
    """One job: its progress, errors and result."""
    from dangan import cli

    cli._setup()
    job = _job(job_id)
    if not as_json:
        cli.out.print(f"job {job.pk} {job.kind} {job.params or ''} by {job.created_by}")
        if job.result_file:
            cli.out.print(f"result {job.result_name} {job.result_size} bytes SM3 {job.result_sm3}")
    _report(job, as_json)


@jobs_group.command("resume")
@click.argument("job_id", type=int)
@click.option("--as", "as_user", help="The job's creator, if it was started in the browser.")
@click.option("--json", "as_json", is_flag=True)
def jobs_resume(job_id: int, as_user: str | None, as_json: bool) -> None:
    """Resume a failed job (interrupted by a restart) here, inline, after its last processed record."""
    from dangan import cli

    cli._setup()
    from dangan.jobs import services

    actor = cli._actor(as_user)
    job = _run(lambda: services.resume_job(actor, _job(job_id).pk), "继续 Resuming", as_json)
    _report(job, as_json)
    _exit(job)


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
@click.option("--as", "as_user", help="The job's creator, if it was started in the browser.")
def jobs_cancel(job_id: int, as_user: str | None) -> None:
    """Cancel a queued job, or ask a running one to stop before its next record."""
    from dangan import cli

    cli._setup()
    from dangan.jobs import services

    job = services.cancel_job(cli._actor(as_user), _job(job_id).pk)
    cli.out.print(f"job {job.pk}: {job.status}{' (stopping)' if job.cancel_requested else ''}")
