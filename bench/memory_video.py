"""Peak memory while one case holding a 2 GB video goes through ingest and confirm.

    .venv/bin/python bench/memory_video.py [--size 2G] [--work DIR] [--keep]

Runs ``bench/large_files.py --scenarios video-<size> --no-peer`` (package generation, raw SM3, then
``ingest_path`` + ``confirm`` in one child process) and, every 10 ms, sums the resident set (VmRSS) of
that child and of all its descendants (ffprobe, …) from /proc. The package is generated before the
measured part; to keep ffmpeg (the generator) out of the peak, the child writes a marker file when the
ingest starts and the sampling counts only from then on.

Reported: the peak of the summed RSS of the process tree during ingest + confirm, the peak RSS of the
ingest process alone (its VmHWM at the end, which includes the set-up: Django, catalogue), the largest
child seen, and what the ingest process held before the ingest started (VmRSS at the marker).
Target: < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000


def _status(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (from the parent pid of every process in /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        parent[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    out: list[int] = []
    frontier = [pid]
    while frontier:
        p = frontier.pop()
        kids = [k for k, pp in parent.items() if pp == p]
        out.extend(kids)
        frontier.extend(kids)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="2G")
    ap.add_argument("--work", default="")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="dangan-memvideo-"))
    marker = work / "ingest-started"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "DANGAN_BENCH_MARKER": str(marker)}
    cmd = [sys.executable, str(ROOT / "bench" / "large_files.py"), "--scenarios", f"video-{args.size}",
           "--no-peer", "--work", str(work)] + (["--keep"] if args.keep else [])  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    peak_tree = 0
    peak_child: tuple[int, str] = (0, "")
    before = 0
    hwm = 0
    while proc.poll() is None:
        if marker.exists():
            if not before:
                before = _status(proc.pid, "VmRSS")
            rss = _status(proc.pid, "VmRSS")
            hwm = max(hwm, _status(proc.pid, "VmHWM"))
            total = rss
            for kid in _children(proc.pid):
                kid_rss = _status(kid, "VmRSS")
                total += kid_rss
                if kid_rss > peak_child[0]:
                    try:
                        name = Path(f"/proc/{kid}/comm").read_text().strip()
                    except OSError:
                        name = "?"
                    peak_child = (kid_rss, name)
            peak_tree = max(peak_tree, total)
        time.sleep(0.01)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"large_files.py failed ({proc.returncode}): {out}")
    row = json.loads(out.strip().splitlines()[-1])
    result = {
        "scenario": row["scenario"],
        "mb": row["mb"],
        "ingest_plus_confirm_s": round(row["ingest_s"] + row["confirm_s"], 2),
        "peak_tree_rss_mb": round(peak_tree / MB, 1),
        "ingest_process_rss_before_mb": round(before / MB, 1),
        "ingest_process_hwm_mb": round(hwm / MB, 1),
        "largest_child": {"name": peak_child[1], "rss_mb": round(peak_child[0] / MB, 1)},
        "target_mb": 300,
        "met": peak_tree < 300 * MB,
        "load": os.getloadavg()[0],
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
