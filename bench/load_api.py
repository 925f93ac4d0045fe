"""API load: concurrent source-system clients uploading cases to gunicorn workers on loopback.

    .venv/bin/python bench/load_api.py --db bench_load --workers 2 --clients 8 --duration 60

A fresh instance (PostgreSQL database ``--db`` dropped and created on the local server, or SQLite with
``--sqlite``; a temporary DANGAN_HOME): the demo catalogue, a source system with an API token
(``cases:submit``, ``submissions:read``), ``--packages`` distinct demo case ZIPs generated up front.
gunicorn serves ``dangan.conf.wsgi`` with ``--workers`` processes (``--threads`` each, gthread); each
worker checks the uploads it acknowledged in its own in-process job pool (no broker). ``--clients``
threads POST packages to ``/api/v1/cases`` (``Authorization: Token …``) until ``--duration`` seconds
have passed or the packages run out. The per-system API rate limit is switched off for the run
(``DANGAN_API_RATE_SOURCE=off``): it is a policy, not the capacity measured here.

Then it waits until no submission is received/checking (the job pools drained) and checks in the
database: every acknowledged submission exists exactly once, is finished, and each accepted one has
exactly one record; no submission the clients did not get acknowledged; no file number twice.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

SERVER = "postgres://postgres@127.0.0.1:5432"
ROOT = Path(__file__).resolve().parent.parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_package(port: int, token: str, path: Path) -> tuple[int, dict[str, object]]:
    boundary = uuid.uuid4().hex
    data = path.read_bytes()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="package"; filename="{path.name}"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST",
            "/api/v1/cases",
            body=body,
            headers={
                "Authorization": f"Token {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Host": "127.0.0.1",
            },
        )
        resp = conn.getresponse()
        raw = resp.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"body": raw[:200].decode(errors="replace")}
        return resp.status, payload
    finally:
        conn.close()


def submission_status(port: int, token: str, sid: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "GET",
            f"/api/v1/submissions/{sid}",
            headers={"Authorization": f"Token {token}", "Host": "127.0.0.1"},
        )
        resp = conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            return f"http-{resp.status}"
        return str(json.loads(raw).get("status", ""))
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="bench_load")
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    ap.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--packages", type=int, default=1000)
    ap.add_argument(
        "--no-wait",
        action="store_true",
        help="fire and forget: send the next package at once instead of polling the status until processed",
    )
    ap.add_argument("--drain-timeout", type=float, default=1800)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dangan-load-"))
    env = dict(os.environ)
    for k in ("DANGAN_REDIS_URL", "DANGAN_BROKER_URL", "DANGAN_JOBS_EAGER", "DANGAN_DATABASE_URL"):
        env.pop(k, None)
    env.update(
        DANGAN_HOME=str(home),
        DJANGO_SETTINGS_MODULE="dangan.conf.settings",
        DANGAN_API_RATE_SOURCE="off",
        DANGAN_ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    if not args.sqlite:
        import psycopg

        env["DANGAN_DATABASE_URL"] = f"{SERVER}/{args.db}"
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{args.db}"')
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive
    from dangan.archive.models import Record
    from dangan.catalog.services import issue_source_token
    from dangan.demo.generator import generate
    from dangan.ingest.models import Submission
    from dangan.quickstart import load_demo_catalogue

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    fonds = load_demo_catalogue(actor)
    archive.instance_key()
    _, token = issue_source_token(
        actor,
        code="LOAD-BENCH",
        name="负载测试系统",
        fonds=[fonds],
        scopes=["cases:submit", "submissions:read"],
    )
    t = time.perf_counter()
    pkg_dir = home / "packages"
    generate(pkg_dir, cases=args.packages, seed=21, as_zip=True, batch=False)
    packages = sorted(pkg_dir.rglob("*.zip"))
    mb = sum(p.stat().st_size for p in packages) / 1e6
    log(f"{len(packages)} packages ({mb:.1f} MB) generated in {time.perf_counter() - t:.0f} s")
    connection.close()

    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "dangan.conf.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--timeout",
            "300",
            "--graceful-timeout",
            "600",
            "--log-level",
            "warning",
            "--no-control-socket",
        ],
        env=env,
        cwd=str(home),
    )
    try:
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
                if c.getresponse().status < 500:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not come up")
        todo: queue.Queue[Path] = queue.Queue()
        for p in packages:
            todo.put(p)
        acked: list[tuple[str, str, float]] = []  # (submission id, package, latency)
        done: list[float] = []  # upload → processed, seconds (clients that wait)
        failures: list[tuple[str, int, object]] = []
        lock = threading.Lock()
        deadline = time.perf_counter() + args.duration

        def client() -> None:
            while time.perf_counter() < deadline:
                try:
                    p = todo.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                try:
                    status, payload = post_package(port, token, p)
                except OSError as exc:
                    status, payload = 0, str(exc)
                dt = time.perf_counter() - t0
                with lock:
                    if status == 202 and isinstance(payload, dict) and payload.get("id"):
                        acked.append((str(payload["id"]), p.name, dt))
                    else:
                        failures.append((p.name, status, payload))
                        continue
                if args.no_wait:
                    continue
                while True:  # the source system polls its submission until it is finished
                    time.sleep(0.2)
                    state = submission_status(port, token, str(payload["id"]))
                    if state.startswith("http-"):
                        with lock:
                            failures.append((p.name, int(state[5:]), "status poll"))
                        break
                    if state not in ("received", "checking"):
                        with lock:
                            done.append(time.perf_counter() - t0)
                        break

        log(f"gunicorn up on {port}: {args.workers} workers × {args.threads} threads; {args.clients} clients")
        t_start = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t_upload = time.perf_counter() - t_start
        log(f"{len(acked)} uploads acknowledged, {len(failures)} failed, in {t_upload:.1f} s; draining")

        pending = -1
        while time.perf_counter() - t_start < args.drain_timeout:
            pending = Submission.objects.filter(status__in=["received", "checking"]).count()
            if pending == 0:
                break
            time.sleep(1)
        t_drained = time.perf_counter() - t_start
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()

    ids = [a[0] for a in acked]
    subs = {str(s["id"]): s for s in Submission.objects.values("id", "status", "record_id", "package_name")}
    statuses: dict[str, int] = {}
    for s in subs.values():
        statuses[str(s["status"])] = statuses.get(str(s["status"]), 0) + 1
    missing = [i for i in ids if i not in subs]
    unacked = [i for i in subs if i not in set(ids)]
    unfinished = [i for i in ids if i in subs and subs[i]["status"] in ("received", "checking")]
    accepted = [subs[i] for i in ids if i in subs and subs[i]["status"] == "accepted"]
    no_record = [s["id"] for s in accepted if s["record_id"] is None]
    record_ids = [s["record_id"] for s in accepted if s["record_id"] is not None]
    dup_records = len(record_ids) - len(set(record_ids))
    from django.db.models import Count

    dup_numbers = Record.objects.values("file_number").annotate(n=Count("id")).filter(n__gt=1).count()
    records = Record.objects.count()
    lat = sorted(a[2] * 1000 for a in acked)
    ok = (
        not failures and not missing and not unacked and not unfinished and not no_record
        and dup_records == 0 and dup_numbers == 0 and records == len(accepted)
        and len(set(ids)) == len(ids)
    )  # fmt: skip
    result = {
        "database": "sqlite" if args.sqlite else "postgresql",
        "gunicorn_workers": args.workers,
        "threads_per_worker": args.threads,
        "clients": args.clients,
        "duration_s": args.duration,
        "uploads_acknowledged": len(acked),
        "errors": len(failures),
        "upload_seconds": round(t_upload, 1),
        "uploads_per_s": round(len(acked) / t_upload, 1) if t_upload else None,
        "upload_mb_per_s": round(mb * len(acked) / len(packages) / t_upload, 1) if t_upload else None,
        "latency_p50_ms": round(statistics.median(lat), 1) if lat else None,
        "latency_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
        "latency_max_ms": round(lat[-1], 1) if lat else None,
        "end_to_end_p50_s": round(statistics.median(done), 2) if done else None,
        "end_to_end_p95_s": round(sorted(done)[int(0.95 * (len(done) - 1))], 2) if done else None,
        "drained_after_s": round(t_drained, 1),
        "processed_per_s": round(len(acked) / t_drained, 1) if t_drained else None,
        "pending_at_end": pending,
        "submission_statuses": statuses,
        "records": records,
        "missing": len(missing),
        "not_acknowledged_but_stored": len(unacked),
        "unfinished": len(unfinished),
        "accepted_without_record": len(no_record),
        "duplicate_records": dup_records,
        "duplicate_file_numbers": dup_numbers,
        "verified": ok,
    }
    if failures:
        log(f"first failures: {failures[:3]}")
    print(json.dumps(result, ensure_ascii=False))
    connection.close()
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
        if not args.sqlite:
            import psycopg

            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
