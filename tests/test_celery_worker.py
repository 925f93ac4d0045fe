"""Uploads processed by real Celery workers (``dangan worker``) on Redis, and a worker killed mid-batch.

Everything runs in subprocesses sharing one fresh instance: a DANGAN_HOME with a SQLite file, or a
new PostgreSQL database (created and dropped here) when DANGAN_DATABASE_URL names a PostgreSQL server.
The broker is DANGAN_REDIS_URL (default redis://127.0.0.1:6379/14) with a queue prefix of its own.
Uploads go through ``ingest.services.receive_upload`` (what the API calls), which queues
``process_upload`` after its commit. A first batch is processed by one worker; a second is queued,
a second worker starts on it and is SIGKILLed (with its pool) mid-check, a third finishes it. The
visibility timeout is a few seconds, so the killed worker's tasks come back quickly. Each upload must
be filed exactly once and the audit chain must verify. Skipped without Redis, except when CI=true.

Run as ``python -m tests.test_celery_worker CMD`` it is the subprocess side (setup, upload, report).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DANGAN = Path(sys.executable).parent / "dangan"
FINAL = {"accepted", "rejected", "duplicate"}
REDIS_URL = os.environ.get("DANGAN_REDIS_URL") or "redis://127.0.0.1:6379/14"


# --------------------------------------------------------------------------- subprocess side


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()


def _source() -> Any:
    from dangan.catalog.models import SourceSystem

    return SourceSystem.objects.get(code="CELERY-TEST")


def setup() -> None:
    from django.core.management import call_command

    from dangan.accounts.roles import Actor
    from dangan.archive.services import instance_key
    from dangan.catalog.services import issue_source_token
    from dangan.quickstart import load_demo_catalogue

    call_command("migrate", interactive=False, verbosity=0)
    instance_key()
    actor = Actor.system("celery-test")
    fonds = load_demo_catalogue(actor)
    issue_source_token(actor, code="CELERY-TEST", name="办件系统", fonds=[fonds])


def upload(folder: Path) -> list[str]:
    from dangan.accounts.roles import Actor
    from dangan.ingest import services

    source = _source()
    actor = Actor.source_system(source.pk, source.code)
    ids = []
    for path in sorted(folder.glob("*.zip")):
        with open(path, "rb") as f:
            ids.append(str(services.receive_upload(actor, f, filename=path.name, source=source).id))
    return ids


def report() -> dict[str, Any]:
    from django.db.models import Count

    from dangan.archive.models import Record
    from dangan.audit.models import AuditEvent
    from dangan.ingest.models import Submission

    subs = list(Submission.objects.filter(channel="api").values("id", "status", "record_id"))
    filed = AuditEvent.objects.filter(kind="case.pre_archived").values_list("detail", flat=True)
    per_sub: dict[str, int] = {}
    for detail in filed:
        per_sub[detail["submission"]] = per_sub.get(detail["submission"], 0) + 1
    return {
        "status": {str(s["id"]): s["status"] for s in subs},
        "record": {str(s["id"]): s["record_id"] for s in subs},
        "filed_events": per_sub,
        "records": Record.objects.count(),
        "duplicate_file_numbers": list(
            Record.objects.values("file_number")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("file_number", flat=True)
        ),
        "resumed": AuditEvent.objects.filter(kind="case.resumed").count(),
    }


def _main(argv: list[str]) -> None:
    _django()
    if argv[0] == "setup":
        setup()
    elif argv[0] == "upload":
        print(json.dumps(upload(Path(argv[1]))))
    elif argv[0] == "report":
        print(json.dumps(report()))
    else:
        raise SystemExit(f"unknown command {argv[0]}")


# ------------------------------------------------------------------------------- test side


def _redis() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is required in CI: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return client


@pytest.fixture
def database(tmp_path) -> Any:
    """(DANGAN_DATABASE_URL for the subprocesses or "", how to read submission statuses)."""
    url = os.environ.get("DANGAN_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        path = tmp_path / "home" / "dangan.sqlite3"
        yield "", lambda: _statuses_sqlite(path)
        return
    import psycopg

    name = f"dg_celery_{uuid.uuid4().hex[:12]}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}", lambda: _statuses_pg(f"{server}/{name}")
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _statuses_sqlite(path: Path) -> list[str]:
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=10) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM ingest_submission WHERE channel='api'")]


def _statuses_pg(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM ingest_submission WHERE channel='api'")]


@pytest.fixture
def instance(tmp_path, database) -> Any:
    client = _redis()
    prefix = f"dgtest-{uuid.uuid4().hex[:10]}"
    db_url, statuses = database
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DANGAN_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env |= {
        "DANGAN_HOME": str(tmp_path / "home"),
        "DANGAN_BROKER_URL": REDIS_URL,
        "DANGAN_BROKER_QUEUE_PREFIX": prefix,
        "DANGAN_BROKER_VISIBILITY_TIMEOUT": "4",  # tasks of a killed worker come back within seconds
        "PYTHONPATH": str(ROOT),
    }
    if db_url:
        env["DANGAN_DATABASE_URL"] = db_url
    workers: list[subprocess.Popen[bytes]] = []
    try:
        yield env, statuses, workers
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def _run(env: dict[str, str], *args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.test_celery_worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return json.loads(proc.stdout.decode().strip().splitlines()[-1]) if proc.stdout.strip() else None


def _worker(env: dict[str, str], home: Path, n: int, *extra: str) -> subprocess.Popen[bytes]:
    log = open(home / f"worker{n}.log", "wb")  # noqa: SIM115 (the child keeps it)
    return subprocess.Popen(
        [str(DANGAN), "worker", "--concurrency", "2", "--loglevel", "info", *extra],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: SIGKILL reaches the pool processes too
    )


def _wait(statuses: Any, total: int, until: Any, home: Path, timeout: float = 90.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = statuses()
        if len(now) == total and until(now):
            return now
        time.sleep(0.02)
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(home.glob("worker*.log")))
    raise AssertionError(f"timed out; statuses {statuses()}\n{logs}")


def _assert_exactly_once(state: dict[str, Any], ids: list[str]) -> None:
    assert set(state["status"]) == set(ids)
    assert set(state["status"].values()) == {"accepted"}, state["status"]
    records = [state["record"][sid] for sid in ids]
    assert None not in records and len(set(records)) == len(ids)
    assert state["records"] == len(ids) and state["duplicate_file_numbers"] == []
    assert {sid: state["filed_events"].get(sid, 0) for sid in ids} == dict.fromkeys(ids, 1)


@pytest.mark.redis
@pytest.mark.timeout(180)
def test_uploads_run_on_celery_workers_and_survive_a_killed_worker(tmp_path, instance):
    from dangan.demo.generator import generate

    env, statuses, workers = instance
    home = tmp_path / "home"
    first, second = tmp_path / "batch1", tmp_path / "batch2"
    generate(first, cases=3, seed=71, as_zip=True, batch=False)
    generate(second, cases=8, seed=72, as_zip=True, batch=False)
    _run(env, "setup")

    workers.append(_worker(env, home, 1, "--beat"))  # the scheduler starts with it
    ids = _run(env, "upload", str(first))
    _wait(statuses, len(ids), lambda s: set(s) <= FINAL, home)
    state = _run(env, "report")
    _assert_exactly_once(state, ids)

    # Second batch, queued while no worker runs; SIGKILL the next worker (and its pool) while it is
    # checking them.
    os.killpg(workers[0].pid, signal.SIGKILL)
    workers[0].wait()
    done_before = len(ids)
    ids += _run(env, "upload", str(second))
    workers.append(_worker(env, home, 2))
    _wait(statuses, len(ids), lambda s: "checking" in s or s.count("accepted") > done_before, home)
    os.killpg(workers[1].pid, signal.SIGKILL)
    workers[1].wait()
    at_kill = statuses()
    assert not set(at_kill) <= FINAL, f"the batch finished before the kill: {at_kill}"

    workers.append(_worker(env, home, 3))
    _wait(statuses, len(ids), lambda s: set(s) <= FINAL, home)
    state = _run(env, "report")
    _assert_exactly_once(state, ids)
    if "checking" in at_kill:
        assert state["resumed"] >= 1  # the interrupted check was redelivered and resumed, not lost

    verify = subprocess.run(
        [str(DANGAN), "audit", "verify"], cwd=home, env=env, capture_output=True, timeout=60
    )
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()


# ------------------------------------------------------------------ without a broker (in-process)


@pytest.fixture
def broker(settings):
    """A broker URL nothing listens on: the app is built, nothing is sent."""
    from dangan.jobs import celery_app

    settings.BROKER_URL = "redis://127.0.0.1:9/0"
    settings.JOBS_EAGER = False
    celery_app._app = None
    yield settings
    celery_app._app = None


def test_only_registered_functions_are_tasks(broker):
    from dangan.ingest.services import process_upload
    from dangan.jobs import celery_app, tasks
    from dangan.jobs.services import run_job
    from dangan.preservation.replication import replicate_record_job
    from dangan.preservation.schedule import fixity_audit

    for fn in (process_upload, run_job, replicate_record_job, fixity_audit):
        spec = tasks.spec_for(fn)
        assert spec is not None and spec.resolve() is fn
    assert tasks.spec_for(os.system) is None
    app = celery_app.get_app()
    assert {n for n in app.tasks if not n.startswith("celery.")} == set(tasks.REGISTRY)
    with pytest.raises(KeyError):  # a message naming a function does not reach it
        tasks.run("os.system", ["true"])
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1 and app.conf.accept_content == ["json"]
    routes = app.conf.task_routes
    assert routes[tasks.PROCESS_UPLOAD]["queue"] == "dangan.heavy"
    assert app.conf.broker_transport_options["global_keyprefix"] == "dangan:"


@pytest.mark.django_db(transaction=True)
def test_submit_sends_to_the_broker_only_after_commit(broker, monkeypatch):
    from django.db import transaction

    from dangan import jobs
    from dangan.ingest.services import process_upload
    from dangan.jobs import celery_app

    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(celery_app, "send", lambda spec, args: sent.append((spec.name, args)))
    with transaction.atomic():
        assert jobs.submit(process_upload, "sub-1") is None
        assert sent == []  # a worker must not look for a row that is not committed
    assert sent == [("dangan.ingest.process_upload", ("sub-1",))]
    with transaction.atomic():
        jobs.submit(process_upload, "sub-2")
        transaction.set_rollback(True)
    assert len(sent) == 1  # rolled back: nothing queued


@pytest.mark.django_db(transaction=True)
def test_the_in_process_pool_also_starts_after_commit(settings):
    from django.db import transaction

    from dangan import jobs

    settings.BROKER_URL, settings.JOBS_EAGER = "", False
    ran: list[str] = []
    with transaction.atomic():
        assert jobs.submit(ran.append, "a") is None
        jobs.wait_idle()
        assert ran == []
    jobs.wait_idle()
    assert ran == ["a"]
    with transaction.atomic():
        jobs.submit(ran.append, "b")
        transaction.set_rollback(True)
    future = jobs.submit(ran.append, "c")  # no transaction: at once
    assert future is not None
    jobs.wait_idle()
    assert ran == ["a", "c"]


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_once_at_a_time_per_arguments():
    import threading

    from dangan.jobs import tasks

    seen: list[bool] = []
    with tasks.exclusive("k1") as mine:
        assert mine
        worker = threading.Thread(target=lambda: seen.append(_try_lock("k1")))
        worker.start()
        worker.join()
        assert seen == [False]
        assert _try_lock("k2")
    assert _try_lock("k1")  # released


def _try_lock(key: str) -> bool:
    from django.db import connection

    from dangan.jobs import tasks

    try:
        with tasks.exclusive(key) as mine:
            return mine
    finally:
        connection.close()


@pytest.mark.django_db
def test_a_redelivered_job_whose_runner_died_is_resumed(tmp_path, test_catalogue, operator):
    from dangan.jobs import services, tasks
    from dangan.jobs.models import Job
    from dangan.jobs.states import JobStatus
    from tests.test_bulk_jobs import ingest_cases

    records = ingest_cases(tmp_path, operator, 3)

    class Crash(BaseException):
        """The worker process dies."""

    def die_after_one(progress):
        if progress.processed == 1:
            raise Crash

    with pytest.raises(Crash), services.watch(die_after_one):
        services.start_bulk_confirm(operator, [r.pk for r in records])
    job = Job.objects.get()
    assert job.status == JobStatus.RUNNING
    tasks.run(tasks.RUN_JOB, [job.pk])  # the broker hands the task out again
    job.refresh_from_db()
    assert (job.status, job.done) == (JobStatus.DONE, 3)


def test_worker_needs_a_reachable_broker(settings):
    from click.testing import CliRunner

    from dangan.cli import main
    from dangan.jobs import celery_app

    settings.BROKER_URL = ""
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 2 and "DANGAN_BROKER_URL is not set" in result.output
    settings.BROKER_URL = "redis://:secret@127.0.0.1:9/0"
    celery_app._app = None
    try:
        result = CliRunner().invoke(main, ["worker"])
    finally:
        celery_app._app = None
    assert result.exit_code == 2 and "cannot reach the broker" in result.output
    assert "secret" not in result.output and len(result.output.strip().splitlines()) == 1
    assert CliRunner().invoke(main, ["worker", "--queues", "slow"]).exit_code == 2


if __name__ == "__main__":
    _main(sys.argv[1:])


def test_waiting_for_a_running_twin_is_a_new_message_not_a_retry(broker, monkeypatch):
    from dangan.jobs import celery_app, tasks

    app = celery_app.get_app()
    task = app.tasks[tasks.PROCESS_UPLOAD]
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(task, "apply_async", lambda **kw: sent.append(kw))

    def busy(name, args, kwargs):  # type: ignore[no-untyped-def]
        raise tasks.Busy(name)

    monkeypatch.setattr(tasks, "run", busy)
    assert task.run("sub-1") is None
    assert sent[0]["args"] == ("sub-1",) and sent[0]["kwargs"] == {"_busy": 1}
    assert sent[0]["queue"] == "dangan.heavy" and sent[0]["countdown"] == celery_app.BUSY_COUNTDOWN
    with pytest.raises(tasks.Busy):  # an hour of waiting: give up (the twin did the work)
        task.run("sub-1", _busy=celery_app.BUSY_RETRIES)
