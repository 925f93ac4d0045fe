"""The ``dangan`` command. Each command calls services; nothing here changes state by itself.

Exit codes: 0 success, 1 the work found a problem (a package rejected, a fixity mismatch),
2 usage errors (click's default).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(stderr=True)
out = Console()


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()


def _migrate(verbose: bool = False) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if verbose else 0)


def _actor(as_user: str | None) -> Any:
    """The local operator (full rights: shell access to the data directory) or a named user's roles."""
    from dangan.accounts.roles import Actor

    if not as_user:
        return Actor.system(f"cli:{getpass.getuser()}")
    from django.contrib.auth.models import User

    user = User.objects.filter(username=as_user, is_active=True).first()
    if user is None:
        raise click.UsageError(f"no active user {as_user!r}")
    return Actor.from_user(user)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


class _Main(click.Group):
    """Every refusal from a service (no permission, invalid transition, bad input) is one clear line
    and exit 1 — never a traceback — whichever command hit it."""

    def invoke(self, ctx: click.Context) -> Any:
        from dangan.accounts.roles import PermissionDenied
        from dangan.core.errors import DanganError

        try:
            return super().invoke(ctx)
        except (DanganError, PermissionDenied) as exc:
            _fail(exc)


@click.group(cls=_Main)
@click.version_option(package_name="dangan")
def main() -> None:
    """dangan (档案) — archive system for government-service electronic records."""


def _register_commands() -> None:
    from dangan.commands.accounts import COMMANDS as account_commands
    from dangan.commands.audit import audit
    from dangan.commands.backup import backup
    from dangan.commands.check import check
    from dangan.commands.eep import export_eep, verify_eep
    from dangan.commands.jobs import ARCHIVE_COMMANDS as bulk_commands
    from dangan.commands.jobs import jobs_group
    from dangan.commands.ofd_verify import ofd_verify
    from dangan.commands.preserve import load as load_preserve
    from dangan.commands.schedule import schedule
    from dangan.commands.versions import COMMANDS as version_commands
    from dangan.commands.worker import worker

    for command in (check, ofd_verify, export_eep, verify_eep, schedule, jobs_group, audit, load_preserve()):
        main.add_command(command)
    main.add_command(backup)
    main.add_command(worker)
    for command in account_commands:  # user … | source …
        main.add_command(command)
    for command in version_commands:  # archive confirm-gap | supplement | correct | versions | export-version
        archive.add_command(command)
    for command in bulk_commands:  # archive bulk-confirm | bulk-reclassify | bulk-export
        archive.add_command(command)


# --------------------------------------------------------------------------------------- ingest


STATUS_WORD = {"accepted": "accepted", "duplicate": "duplicate", "rejected": "rejected"}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per package on stdout.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
@click.option(
    "--jobs",
    "-j",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes checking and filing packages in parallel.",
)
def ingest(paths: tuple[Path, ...], as_json: bool, as_user: str | None, jobs: int) -> None:
    """Take in package folders, ZIPs and batch folders: check them and file them in the pre-archive library."""
    _setup()
    from dangan.ingest import services, workers

    actor = _actor(as_user)
    closed = services.recover_abandoned_cli()  # a previous run that was killed
    if closed:
        console.print(
            f"[yellow]{closed} package(s) of an interrupted ingest were closed (INTAKE_INTERRUPTED)"
        )
    sources, path_errors = services.expand_paths(list(paths))
    if path_errors and not sources:
        for e in path_errors:
            console.print(f"[red]{e['message']}")
        sys.exit(2)
    with _progress() if not as_json else _Quiet() as progress:
        task = progress.add_task("接收 Ingesting", total=len(sources))
        try:
            results = workers.ingest_all(actor, sources, jobs=jobs, on_result=lambda: progress.advance(task))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: packages already taken in stay filed; run the rest again")
            sys.exit(130)
    for r in results:
        r["status"] = STATUS_WORD.get(r["status"], r["status"])
    for e in path_errors:
        results.append({"package": e["target"], "status": "rejected", "errors": [e]})
    if as_json:
        for r in results:
            out.print_json(json.dumps(r, ensure_ascii=False), indent=None)
    else:
        _ingest_table(results)
    sys.exit(1 if any(r["status"] == "rejected" for r in results) else 0)


class _Quiet(Progress):
    """A progress bar that shows nothing (for --json output)."""

    def __init__(self) -> None:
        super().__init__(console=Console(quiet=True), disable=True)


def _ingest_table(results: list[dict[str, Any]]) -> None:
    table = Table(title="接收结果 Ingest summary")
    table.add_column("包 Package", overflow="fold")
    table.add_column("状态 Status")
    table.add_column("档号 / 问题 Code or problem", overflow="fold")
    colours = {"accepted": "green", "duplicate": "yellow", "rejected": "red"}
    for r in results:
        detail = r.get("archival_code") or ""
        if r["errors"]:
            first = r["errors"][0]
            more = f" (+{len(r['errors']) - 1})" if len(r["errors"]) > 1 else ""
            detail = f"{first['code']}: {first['message']}{more}"
        elif r["status"] == "accepted" and not detail:
            detail = "预归档 pre-archive"
        table.add_row(Path(r["package"]).name, f"[{colours.get(r['status'], 'white')}]{r['status']}", detail)
    out.print(table)
    counts = {k: sum(1 for r in results if r["status"] == k) for k in ("accepted", "duplicate", "rejected")}
    out.print(
        f"accepted {counts['accepted']} · duplicate {counts['duplicate']} · rejected {counts['rejected']}"
    )


# -------------------------------------------------------------------------------------- archive


@main.group()
def archive() -> None:
    """Formal library: confirm, return, archive with a gap, supplement, correct, versions, bulk work."""


def _find_record(ref: str) -> Any:
    from django.db.models import Q

    from dangan.archive.models import Record

    q = Q(file_number=ref) | Q(archival_code=ref)
    if ref.isdigit():
        q |= Q(pk=int(ref))
    record = Record.objects.filter(q).first()
    if record is None:
        raise click.UsageError(f"no record {ref!r} (give an id, 电子文件号 or 档号)")
    return record


@archive.command("confirm")
@click.argument("refs", nargs=-1)
@click.option("--all-pending", is_flag=True, help="Confirm every case in the pre-archive library.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
@click.option("--json", "as_json", is_flag=True)
def archive_confirm(refs: tuple[str, ...], all_pending: bool, as_user: str | None, as_json: bool) -> None:
    """Confirm cases (by id, 电子文件号 or 档号): assign 档号 and write the signed AIP."""
    _setup()
    from dangan.archive import services
    from dangan.archive.models import Record
    from dangan.archive.states import RecordStatus
    from dangan.core.errors import DanganError

    if not refs and not all_pending:
        raise click.UsageError("give record references or --all-pending")
    actor = _actor(as_user)
    ids = [_find_record(r).pk for r in refs]
    if all_pending:
        ids += list(
            Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).order_by("id").values_list("id", flat=True)
        )
    failed = 0
    results = []
    with _progress() if not as_json else _Quiet() as progress:
        task = progress.add_task("归档确认 Confirming", total=len(ids))
        for rid in ids:
            try:
                record = services.confirm(actor, rid)
                results.append(
                    {"id": rid, "file_number": record.file_number, "status": "archived",
                     "archival_code": record.archival_code}
                )  # fmt: skip
            except DanganError as exc:
                failed += 1
                current = Record.objects.filter(pk=rid).first()
                error = exc.as_dict()
                if current is not None and current.status == RecordStatus.ARCHIVED:
                    error["message"] = f"already archived as {current.archival_code}"
                results.append(
                    {"id": rid, "file_number": current.file_number if current else "", "status": "error",
                     "error": error}
                )  # fmt: skip
            progress.advance(task)
    if as_json:
        for r in results:
            out.print_json(json.dumps(r, ensure_ascii=False), indent=None)
    else:
        for r in results:
            if r["status"] == "archived":
                out.print(f"[green]✓[/] {r['file_number']} → {r['archival_code']}")
            else:
                out.print(f"[red]✗[/] {r['file_number'] or r['id']}: {r['error']['message']}")
    sys.exit(1 if failed else 0)


@archive.command("return")
@click.argument("ref")
@click.option("--reason", required=True)
@click.option("--as", "as_user")
def archive_return(ref: str, reason: str, as_user: str | None) -> None:
    """Return a pre-archived case (退回) with a reason."""
    _setup()
    from dangan.archive import services
    from dangan.core.errors import DanganError

    try:
        record = services.return_record(_actor(as_user), _find_record(ref).pk, reason=reason)
    except DanganError as exc:
        _fail(exc)
    out.print(f"退回 returned {record.file_number}: {record.returned_reason}")


def _fail(exc: Exception) -> NoReturn:
    """A refused operation: one clear line on stderr, exit 1 (no traceback)."""
    code = getattr(exc, "code", type(exc).__name__)
    console.print(f"[red]Error {code}:[/] {getattr(exc, 'message', str(exc))}")
    sys.exit(1)


# ------------------------------------------------------------------------------------- fixity


@main.command()
@click.option("--json", "as_json", is_flag=True)
def verify(as_json: bool) -> None:
    """Re-hash every stored AIP and check its signed manifests. Exit 0 intact, 1 otherwise."""
    _setup()
    from dangan.preservation import services

    with _progress() if not as_json else _Quiet() as progress:
        task = progress.add_task("固定性检查 Verifying", total=None)

        def step(i: int, total: int) -> None:
            progress.update(task, completed=i, total=total)

        report = services.verify_all(_actor(None), progress=step)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "intact": report.intact,
                    "aips": report.aips,
                    "files": report.files,
                    "bytes": report.bytes,
                    "problems": [p.as_dict() for p in report.problems],
                },
                ensure_ascii=False,
            )
        )
    else:
        for p in report.problems:
            out.print(f"[red]{p.code}[/] {p.archival_code} {p.path}: {p.message}")
        verdict = (
            "[green]intact 完好" if report.intact else f"[red]{len(report.problems)} problem(s) 发现问题"
        )
        out.print(f"{report.aips} AIPs, {report.files} files, {report.bytes} bytes: {verdict}")
    sys.exit(0 if report.intact else 1)


@main.command("export-aip")
@click.argument("archival_code")
@click.option("--out", "dest", required=True, type=click.Path(path_type=Path))
def export_aip(archival_code: str, dest: Path) -> None:
    """Write the AIP (BagIt bag) of ARCHIVAL_CODE as stored into the new folder DIR."""
    _setup()
    from dangan.archive import services
    from dangan.core.errors import DanganError

    if dest.exists() and any(dest.iterdir()) if dest.is_dir() else dest.exists():
        raise click.UsageError(f"{dest} already exists and is not empty")
    if dest.is_dir():
        dest.rmdir()
    try:
        path = services.export_aip(_actor(None), archival_code, dest)
    except DanganError as exc:
        console.print(f"[red]{exc.code}: {exc.message}")
        sys.exit(1)
    out.print(f"AIP written to {path}")


# ------------------------------------------------------------------------ running the product


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per process.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes. 1: waitress; more: gunicorn (Linux), each with its own in-process job pool.",
)
def serve(host: str, port: int, threads: int, workers: int) -> None:
    """Serve the web UI and API (waitress, one process; gunicorn with --workers N > 1)."""
    _setup()
    _migrate()
    if workers > 1:
        _serve_gunicorn(host, port, threads, workers)
    else:
        _serve(host, port, threads)


def _resume_after_restart() -> None:
    """Re-run uploads received but not finished, and mark interrupted bulk jobs (once per start)."""
    from dangan.ingest.services import resume_pending

    resumed = resume_pending()
    if resumed:
        console.print(f"resumed {resumed} unfinished upload(s)")
    from dangan.jobs import uses_broker
    from dangan.jobs.services import recover_interrupted

    # With a broker, queued and running jobs belong to the workers, not to this process.
    interrupted = 0 if uses_broker() else recover_interrupted()
    if interrupted:
        console.print(f"{interrupted} bulk job(s) were interrupted by the restart: resume them on their page")


def _serve_gunicorn(host: str, port: int, threads: int, workers: int) -> None:
    """N gunicorn worker processes (gthread). Uploads are checked in the job pool of the process that
    received them; the first worker resumes what a previous run left unfinished."""
    if sys.platform == "win32":
        raise click.ClickException("--workers > 1 needs gunicorn (Linux, macOS); use --workers 1")
    from django import db
    from django.conf import settings
    from django.core.cache import caches
    from gunicorn.app.base import BaseApplication

    from dangan.conf.wsgi import application

    def post_worker_init(worker: Any) -> None:
        if worker.age == 1:  # the first worker of this start, not one respawned later
            _resume_after_restart()

    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 300,  # a 2 GB package upload on a slow link
        "graceful_timeout": 120,
        "post_worker_init": post_worker_init,
        "proc_name": "dangan",
        "accesslog": None,
        # No runtime control socket: its default path is per user, shared by every instance on the host.
        "control_socket_disable": True,
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    db.connections.close_all()  # no connection shared by the forked workers
    caches.close_all()
    console.print(
        f"[bold green]dangan[/] serving on [link]http://{host}:{port}/[/link] with {workers} gunicorn "
        f"workers × {threads} threads (upload limit {settings.MAX_UPLOAD_BYTES} bytes)  (Ctrl+C to stop)"
    )
    Server().run()


def _serve(host: str, port: int, threads: int) -> None:
    from waitress import serve as waitress_serve

    from dangan.conf.wsgi import application

    _resume_after_restart()
    console.print(f"[bold green]dangan[/] serving on [link]http://{host}:{port}/[/link]  (Ctrl+C to stop)")
    from django.conf import settings

    # The server refuses bodies over the upload limit (413) before they reach the disk
    # (DANGAN_MAX_UPLOAD_BYTES: the package limit plus the multipart framing, by default).
    body_limit = settings.MAX_UPLOAD_BYTES
    waitress_serve(
        application, host=host, port=port, threads=threads, max_request_body_size=body_limit, ident="dangan"
    )


@main.command()
def init() -> None:
    """Set up an empty instance in DANGAN_HOME: database, SM2 key and certificate, administrator."""
    _setup()
    from dangan import quickstart as qs

    qs.setup_instance(console)
    console.print("next: register your fonds and service items at /admin/, then `dangan serve`")


@main.command()
@click.option("--cases", default=60, show_default=True, type=int, help="Demo cases to generate (≥50).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set everything up, then exit instead of serving.")
def quickstart(cases: int, seed: int, host: str, port: int, no_serve: bool) -> None:
    """Set up a working archive with demo data in DANGAN_HOME (default ./dangan-data), then serve it."""
    _setup()
    from dangan import quickstart as qs

    started = time.monotonic()
    qs.run(cases=cases, seed=seed, console=console, progress=_progress)
    console.print(f"ready in {time.monotonic() - started:.1f} s")
    if not no_serve:
        _serve(host, port, 8)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def manage(ctx: click.Context) -> None:
    """Run a Django management command (migrate, createsuperuser, …)."""
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["dangan manage", *ctx.args])


def _register_optional() -> None:
    try:
        from dangan.demo.command import demo_data
    except ImportError:  # pragma: no cover - demo package is part of the distribution
        return
    main.add_command(demo_data)


_register_optional()

_register_commands()

if __name__ == "__main__":
    main()
