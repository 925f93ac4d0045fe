"""EEP export and verification of a record with one large content file: peak memory and speed.

    .venv/bin/python bench/eep_memory.py [--size-mb 1024] [--keep]

In a fresh DANGAN_HOME (SQLite):

1. writes a case package (tests/factories.make_case) plus one WAV file of SIZE MiB — a 44-byte header and
   pseudo-random PCM written chunk by chunk, never whole in memory — declared in the metadata with its
   streamed SM3;
2. takes it through the real pipeline: ``ingest_path`` (quarantine, hashing, checks, pre-archive) and
   ``confirm`` (档号, signed AIP);
3. runs ``dangan export-eep`` and ``dangan verify-eep`` (the click commands) each in its own child
   process; each child reports the peak RSS of its process (VmHWM) before the work (after imports and
   Django set-up) and after it, and the wall time;
4. measures raw single-core SM3 over the same WAV bytes in this process.

Prints one JSON object. MB/s are MiB of *content* per second (the EEP itself is ~4/3 larger: Base64).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def vm(field: str) -> int:
    """VmHWM / VmRSS of this process in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def setup_django(home: Path) -> None:
    os.environ["DANGAN_HOME"] = str(home)
    os.environ["DANGAN_JOBS_EAGER"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()


def write_wav(path: Path, size: int) -> str:
    """A valid PCM WAV of ``size`` bytes in total; returns its SM3. Memory: one 1 MiB block."""
    data_bytes = size - 44
    header = (
        b"RIFF" + (size - 8).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little") + (2).to_bytes(2, "little") + (44100).to_bytes(4, "little")
        + (44100 * 4).to_bytes(4, "little") + (4).to_bytes(2, "little") + (16).to_bytes(2, "little")
        + b"data" + data_bytes.to_bytes(4, "little")
    )  # fmt: skip
    h = hashlib.new("sm3")
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        f.write(header)
        h.update(header)
        left, i = data_bytes, 0
        while left:
            chunk = (i.to_bytes(8, "little") + block[8:])[: min(MiB, left)]
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
            i += 1
    return h.hexdigest()


def make_package(dest: Path, size: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.factories import make_case

    from dangan.core.package import writer
    from dangan.core.package.model import FileEntry

    pkg, files = make_case()
    wav_path = "申报材料/现场录音.wav"
    entry = FileEntry(material_code="A09", category="申报材料", standard_name="其他材料",
                      actual_name="现场录音.wav", path=wav_path, format="WAV")  # fmt: skip
    pkg.files.append(entry)
    writer.complete(pkg, files)
    folder = writer.write_folder(pkg, files, dest)  # placeholder metadata, rewritten below
    digest = write_wav(folder / wav_path, size)
    entry.size, entry.digest, entry.digest_algorithm = str(size), digest, "SM3"
    pkg.declared_file_count = str(len(pkg.files))
    pkg.declared_byte_total = str(sum(len(v) for v in files.values()) + size)
    pkg.case.total_pieces = str(len(pkg.files))
    from dangan.core.package import schema
    from dangan.core.package.metadata import metadata_xml

    (folder / schema.METADATA_FILENAME).write_bytes(metadata_xml(pkg))
    return folder


def child(mode: str, args: list[str]) -> None:
    """Run one command in this (child) process and print its memory and time as JSON."""
    setup_django(Path(os.environ["DANGAN_HOME"]))
    from dangan.commands import eep
    from dangan.core.package.eep import verify as _verify  # noqa: F401

    command = eep.export_eep if mode == "export" else eep.verify_eep
    base_hwm, base_rss = vm("VmHWM"), vm("VmRSS")
    start = time.perf_counter()
    try:
        command.main(args, standalone_mode=False)
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    seconds = time.perf_counter() - start
    print(json.dumps({"mode": mode, "status": status, "seconds": seconds, "baseline_hwm": base_hwm,
                      "baseline_rss": base_rss, "peak_hwm": vm("VmHWM")}))  # fmt: skip


def run_child(mode: str, args: list[str]) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise SystemExit(f"child {mode} failed: {res.stderr[-2000:]}")
    out: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    if out["status"] != 0:
        raise SystemExit(f"child {mode} exited {out['status']}: {res.stdout[-2000:]}")
    return out


def raw_sm3(path: Path) -> float:
    h = hashlib.new("sm3")
    start = time.perf_counter()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    ap.add_argument("--child", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return

    size = args.size_mb * MiB
    home = Path(tempfile.mkdtemp(prefix="dangan-bench-eep-"))
    try:
        setup_django(home)
        from django.core.management import call_command

        from dangan.accounts.roles import Actor
        from dangan.archive import services as archive
        from dangan.catalog import services as catalog
        from dangan.ingest import services as ingest

        call_command("migrate", verbosity=0)
        actor = Actor.system("bench")
        fonds = catalog.upsert_fonds(actor, code="T001", name="示范市行政审批服务局", region_code="330899")
        catalog.upsert_service_item(actor, fonds, code="TEST-ITEM", name="测试事项", retention="D30",
                                    class_code="SP")  # fmt: skip
        t0 = time.perf_counter()
        folder = make_package(home / "in", size)
        t_make = time.perf_counter() - t0

        t0 = time.perf_counter()
        sub = ingest.ingest_path(actor, folder)
        t_ingest = time.perf_counter() - t0
        if sub.record is None:
            raise SystemExit(f"ingest rejected the package: {sub.errors}")
        t0 = time.perf_counter()
        record = archive.confirm(actor, sub.record.pk)
        t_confirm = time.perf_counter() - t0
        code = record.archival_code or ""
        shutil.rmtree(home / "in")  # the blob store holds the bytes now

        out = home / "record.eep.xml"
        export = run_child("export", [code, "--out", str(out), "--json"])
        verify = run_child("verify", [str(out), "--instance", "--json"])
        sm3_seconds = raw_sm3(archive_blob(record))
        mib = size / MiB
        result = {
            "content_mib": mib,
            "eep_bytes": out.stat().st_size,
            "make_package_s": round(t_make, 1),
            "ingest_s": round(t_ingest, 1),
            "confirm_s": round(t_confirm, 2),
            "export": {
                "seconds": round(export["seconds"], 1),
                "mib_per_s": round(mib / export["seconds"], 1),
                "baseline_mib": round(export["baseline_hwm"] / MiB, 1),
                "peak_rss_mib": round(export["peak_hwm"] / MiB, 1),
                "growth_mib": round((export["peak_hwm"] - export["baseline_hwm"]) / MiB, 1),
            },
            "verify": {
                "seconds": round(verify["seconds"], 1),
                "mib_per_s": round(mib / verify["seconds"], 1),
                "baseline_mib": round(verify["baseline_hwm"] / MiB, 1),
                "peak_rss_mib": round(verify["peak_hwm"] / MiB, 1),
                "growth_mib": round((verify["peak_hwm"] - verify["baseline_hwm"]) / MiB, 1),
            },
            "raw_sm3_mib_per_s": round(mib / sm3_seconds, 1),
            "python": sys.version.split()[0],
            "cpu": _cpu(),
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        if args.keep:
            print(f"kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)


def archive_blob(record: object) -> Path:
    """The stored WAV blob (the largest file of the record)."""
    from dangan.archive.models import RecordFile
    from dangan.storage.blobstore import default_store

    biggest = RecordFile.objects.filter(record=record).order_by("-size").first()
    assert biggest is not None
    return default_store().path(biggest.sm3)


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


if __name__ == "__main__":
    main()
