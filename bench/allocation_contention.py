"""档号 allocation under contention: N concurrent confirmer processes, then proof of no gaps, no duplicates.

    .venv/bin/python bench/allocation_contention.py --db bench_alloc --records 2000 --workers 8
    .venv/bin/python bench/allocation_contention.py --sqlite --records 400 --workers 8

A fresh instance (PostgreSQL database ``--db`` dropped and created on the local server, or SQLite in a
temporary DANGAN_HOME with ``--sqlite``): the demo catalogue, one real demo case per service item
ingested through the pipeline into the pre-archive library (automatic confirmation off), then cloned
(record and file rows; the files' blobs are shared, so confirmation finds them) up to ``--records``
pre-archived cases. Then ``--workers`` processes each confirm their share through the real
``archive.services.confirm`` (档号 from the group's counter under a row lock, AIP tag files written and
signed, audit and preservation events), started together. Prints confirmations/s, then per counter
group: records, distinct codes, min/max piece, the counter's last piece, and whether the pieces are
exactly 1..last (no gaps) and unique (no duplicates).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

SERVER = "postgres://postgres@127.0.0.1:5432"


def setup(home: str, db_url: str) -> None:
    os.environ["DANGAN_HOME"] = home
    os.environ["DANGAN_JOBS_EAGER"] = "1"
    if db_url:
        os.environ["DANGAN_DATABASE_URL"] = db_url
    else:
        os.environ.pop("DANGAN_DATABASE_URL", None)
    os.environ.pop("DANGAN_REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()


def prepare(home: Path, records: int) -> list[int]:
    from django.core.management import call_command

    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive
    from dangan.archive.models import Record, RecordFile
    from dangan.catalog.models import ServiceItem
    from dangan.demo.generator import generate
    from dangan.ingest import services as ingest
    from dangan.quickstart import load_demo_catalogue

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    load_demo_catalogue(actor)
    ServiceItem.objects.update(auto_confirm=False)
    archive.instance_key()
    src = home / "in"
    generate(src, cases=12, seed=3)
    sources, _ = ingest.expand_paths([src])
    for s in sources:
        ingest.ingest_path(actor, s.path, batch=s.batch, batch_entry=s.entry)
    templates = list(Record.objects.filter(status="pre_archive", gap_status="none").prefetch_related("files"))
    assert templates, "no pre-archived demo case to clone"
    clones: list[Record] = []
    n = 0
    while len(clones) + len(templates) < records:
        t = templates[n % len(templates)]
        c = Record(
            **{f.attname: getattr(t, f.attname) for f in Record._meta.concrete_fields if not f.primary_key}
        )
        c.file_number = f"{t.file_number}-c{n:06d}"
        clones.append(c)
        n += 1
    Record.objects.bulk_create(clones, batch_size=500)
    by_number = {t.file_number: t for t in templates}
    files = []
    for c in Record.objects.filter(file_number__contains="-c").only("id", "file_number"):
        t = by_number[c.file_number.rsplit("-c", 1)[0]]
        for f in t.files.all():
            files.append(
                RecordFile(
                    **{
                        k.attname: getattr(f, k.attname)
                        for k in RecordFile._meta.concrete_fields
                        if k.attname not in ("id", "record_id")
                    },
                    record_id=c.id,
                )
            )
    RecordFile.objects.bulk_create(files, batch_size=2000)
    return list(Record.objects.filter(status="pre_archive").order_by("id").values_list("id", flat=True))


def confirmer(home: str, db_url: str, ids: list[int], start: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    setup(home, db_url)
    from django.db import connection

    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive

    actor = Actor.system(f"confirmer-{os.getpid()}")
    archive.instance_key()
    connection.ensure_connection()
    start.wait()
    ok = errors = 0
    t0 = time.perf_counter()
    for rid in ids:
        try:
            archive.confirm(actor, rid)
            ok += 1
        except Exception as exc:  # counted and shown: there must be none
            errors += 1
            print(f"confirm {rid}: {type(exc).__name__}: {exc}", file=sys.stderr)
    out.put({"ok": ok, "errors": errors, "seconds": time.perf_counter() - t0})


def proof() -> tuple[list[dict[str, object]], bool]:
    from dangan.archive.models import ArchivalCodeCounter, Record
    from dangan.catalog.models import Fonds
    from dangan.core.codes import CodePattern

    pattern = CodePattern.parse(Fonds.objects.get().archival_code_pattern)
    groups: dict[str, list[int]] = {}
    for code in Record.objects.exclude(archival_code=None).values_list("archival_code", flat=True):
        m = pattern.match(code)
        assert m is not None, code
        key = pattern.group_key({k: v for k, v in m.items() if k != "piece"})
        groups.setdefault(key, []).append(int(m["piece"]))
    counters = dict(ArchivalCodeCounter.objects.values_list("group_key", "last_piece"))
    rows, good = [], True
    for key in sorted(set(groups) | set(counters)):
        pieces = sorted(groups.get(key, []))
        last = counters.get(key, 0)
        no_dup = len(pieces) == len(set(pieces))
        no_gap = pieces == list(range(1, last + 1))
        good = good and no_dup and no_gap
        rows.append(
            {
                "group": key,
                "records": len(pieces),
                "distinct": len(set(pieces)),
                "min": pieces[0] if pieces else None,
                "max": pieces[-1] if pieces else None,
                "counter": last,
                "no_gaps": no_gap,
                "no_duplicates": no_dup,
            }
        )
    return rows, good


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="bench_alloc")
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the database and DANGAN_HOME")
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="dangan-alloc-")
    db_url = ""
    if not args.sqlite:
        import psycopg

        db_url = f"{SERVER}/{args.db}"
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{args.db}"')
    setup(home, db_url)
    from django.db import connection

    ids = prepare(Path(home), args.records)
    connection.close()
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=confirmer, args=(home, db_url, ids[w :: args.workers], start, out))
        for w in range(args.workers)
    ]
    for p in procs:
        p.start()
    time.sleep(8)  # let every worker import Django and connect
    t0 = time.perf_counter()
    start.set()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    ok = sum(int(r["ok"]) for r in results)
    errors = sum(int(r["errors"]) for r in results)
    rows, good = proof()
    print(
        f"{'group (counter scope)':44} {'records':>7} {'distinct':>8} {'min':>4} {'max':>5} {'counter':>7} gaps dups"
    )
    for r in rows:
        print(
            f"{r['group']!s:44} {r['records']:>7} {r['distinct']:>8} {r['min']!s:>4} {r['max']!s:>5} "
            f"{r['counter']:>7} {'none' if r['no_gaps'] else 'GAPS'} {'none' if r['no_duplicates'] else 'DUPS'}"
        )
    summary = {
        "database": connection.vendor,
        "workers": args.workers,
        "records": len(ids),
        "confirmed": ok,
        "errors": errors,
        "seconds": round(wall, 2),
        "confirmations_per_s": round(ok / wall, 1),
        "groups": len(rows),
        "no_gaps_no_duplicates": good,
    }
    print(json.dumps(summary))
    connection.close()
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
        if db_url:
            import psycopg

            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    sys.exit(0 if good and errors == 0 else 1)


if __name__ == "__main__":
    main()
