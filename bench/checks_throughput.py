"""Four-property check throughput on demo cases, beside the raw SM3 speed of the same bytes.

    .venv/bin/python bench/checks_throughput.py --cases 1000 [--min-file-bytes N] [--stage archive] [--clamd SOCKET]

Generates demo cases into a fresh temporary DANGAN_HOME (SQLite, or DANGAN_DATABASE_URL if set), then
checks every package the way `dangan check` does (safe intake into a temporary folder with SM3 +
SHA-256, metadata, the service item's scheme and profile, format identification and validation, OFD
signatures, every item of the stage). Prints one JSON object: packages/s, check results/s, MB/s, raw
single-core SM3 MB/s over exactly the same files in the same run, and where the time goes (intake,
file analysis by format, each item).
"""

from __future__ import annotations

import argparse
import collections
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
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--stage", default="archive")
    ap.add_argument("--clamd", help="clamd socket: include the virus scan (4-2)")
    ap.add_argument("--min-file-bytes", type=int, default=0, help="pad demo files to at least this size")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dangan-bench-"))
    os.environ["DANGAN_HOME"] = str(home)
    os.environ["DANGAN_JOBS_EAGER"] = "1"
    if args.clamd:
        os.environ["DANGAN_CLAMAV"] = f"clamd:{args.clamd}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive
    from dangan.core.checks import content, runner
    from dangan.core.checks.model import Stage
    from dangan.core.package import intake
    from dangan.demo.files import FileOptions
    from dangan.demo.generator import generate
    from dangan.ingest import checking
    from dangan.ingest import services as ingest
    from dangan.quickstart import load_demo_catalogue

    call_command("migrate", verbosity=0)
    load_demo_catalogue(Actor.system("bench"))
    archive.instance_key()

    src = home / "in"
    t_gen = time.perf_counter()
    generate(src, cases=args.cases, seed=args.seed, options=FileOptions(min_file_bytes=args.min_file_bytes))
    gen_s = time.perf_counter() - t_gen
    files = [p for p in src.rglob("*") if p.is_file() and p.name != "批次清单.xml"]
    sm3_s, nbytes = raw_sm3_seconds(files)
    sources, _ = ingest.expand_paths([src])

    # Where the time goes: wrap the intake, the per-file analysis and each item.
    spent: dict[str, float] = collections.defaultdict(float)
    by_format: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] += time.perf_counter() - t

        return wrapper

    original_analyse = content.analyse

    def analyse(path: Path):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        result = original_analyse(path)
        entry = by_format[result.format.name]
        entry[0] += time.perf_counter() - t
        entry[1] += 1
        return result

    content.analyse = analyse
    runner.receive_folder = timed("intake (copy + SM3 + SHA-256)", intake.receive_folder)
    runner.receive_zip = timed("intake (copy + SM3 + SHA-256)", intake.receive_zip)
    for number, fn in list(runner.ITEM_FUNCTIONS.items()):
        runner.ITEM_FUNCTIONS[number] = timed(f"item {number}", fn)

    stage = Stage(args.stage)
    passed = results = 0
    outcomes: collections.Counter[str] = collections.Counter()
    t0 = time.perf_counter()
    for s in sources:
        report, _ = checking.check_path(s.path, stage)
        passed += report.passed
        results += len(report.results)
        outcomes.update(r.outcome.value for r in report.results)
    total_s = time.perf_counter() - t0

    analysis_s = sum(v[0] for v in by_format.values())
    mb = nbytes / 1e6
    items = {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.05}
    out = {
        "cases": len(sources),
        "passed": passed,
        "files": len(files),
        "mb": round(mb, 1),
        "stage": stage.value,
        "database": django.db.connection.vendor,
        "virus_scan": bool(args.clamd),
        "generate_s": round(gen_s, 1),
        "check_s": round(total_s, 2),
        "packages_s": round(len(sources) / total_s, 1),
        "results_s": round(results / total_s, 0),
        "check_mb_s": round(mb / total_s, 1),
        "raw_sm3_mb_s": round(mb / sm3_s, 1),
        "check_vs_raw_sm3": round((mb / total_s) / (mb / sm3_s), 3),
        "outcomes": dict(outcomes),
        "time_s": {"file analysis (identify + validate + OFD)": round(analysis_s, 2), **items},
        "analysis_by_format": {
            k: {"files": int(v[1]), "s": round(v[0], 2), "ms_per_file": round(1000 * v[0] / v[1], 2)}
            for k, v in sorted(by_format.items(), key=lambda kv: -kv[1][0])
        },
        "python": sys.version.split()[0],
    }
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
