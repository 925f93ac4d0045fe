"""Ingest + confirm throughput on demo cases, beside the raw SM3 speed of the same bytes.

    .venv/bin/python bench/ingest_throughput.py --cases 200 [--min-file-bytes 1000000] [--zip]

Runs in a fresh temporary DANGAN_HOME on SQLite (or DANGAN_DATABASE_URL if set). Prints one JSON
object: cases/s, MB/s for ingest (quarantine, hashing, checks, pre-archive) and for confirm (档号,
signed AIP), and raw single-core SM3 MB/s over exactly the same files in the same run. Ingest reads
and writes every byte once and hashes it twice (SM3 + SHA-256), so its physical limit is below raw SM3.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def raw_sm3_seconds(paths: list[Path]) -> tuple[float, int]:
    total = 0
    start = time.perf_counter()
    for p in paths:
        h = hashlib.new("sm3")
        with open(p, "rb") as f:
            for block in iter(lambda f=f: f.read(1024 * 1024), b""):
                h.update(block)
                total += len(block)
    return time.perf_counter() - start, total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--min-file-bytes", type=int, default=0)
    ap.add_argument("--zip", action="store_true")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dangan-bench-"))
    os.environ["DANGAN_HOME"] = str(home)
    os.environ["DANGAN_JOBS_EAGER"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive
    from dangan.archive.models import Record
    from dangan.demo.files import FileOptions
    from dangan.demo.generator import generate
    from dangan.ingest import services as ingest
    from dangan.quickstart import load_demo_catalogue

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    load_demo_catalogue(actor)
    archive.instance_key()

    src = home / "in"
    generate(
        src,
        cases=args.cases,
        seed=args.seed,
        as_zip=args.zip,
        options=FileOptions(min_file_bytes=args.min_file_bytes),
    )
    files = [p for p in src.rglob("*") if p.is_file() and p.name != "批次清单.xml"]
    sm3_s, nbytes = raw_sm3_seconds(files)
    sources, _ = ingest.expand_paths([src])

    t0 = time.perf_counter()
    statuses = [ingest.ingest_path(actor, s.path, batch=s.batch, batch_entry=s.entry).status for s in sources]
    t1 = time.perf_counter()
    pending = list(Record.objects.filter(status="pre_archive").values_list("id", flat=True))
    for rid in pending:
        archive.confirm(actor, rid)
    t2 = time.perf_counter()

    mb = nbytes / 1e6
    result = {
        "cases": len(sources),
        "accepted": statuses.count("accepted"),
        "files": len(files),
        "mb": round(mb, 1),
        "database": django.db.connection.vendor,
        "raw_sm3_mb_s": round(mb / sm3_s, 1),
        "ingest_s": round(t1 - t0, 2),
        "ingest_cases_s": round(len(sources) / (t1 - t0), 1),
        "ingest_mb_s": round(mb / (t1 - t0), 1),
        "ingest_vs_raw_sm3": round((mb / (t1 - t0)) / (mb / sm3_s), 2),
        "confirm_s": round(t2 - t1, 2),
        "confirm_records_s": round(len(pending) / (t2 - t1), 1) if pending else None,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
