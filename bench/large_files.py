"""Large files through the whole ingest path, beside raw SM3 and bagit-python over the same bytes.

    .venv/bin/python bench/large_files.py [--scenarios video-100M,video-500M,video-1G,video-2G,pdf-1G,multi]
                                          [--modes serial,pipelined] [--no-peer] [--profile video-1G]
                                          [--work DIR] [--keep] [--markdown]

Each scenario is one realistic case package (a demo 建筑工程施工许可证核发 case: application and contract
PDFs, a scanned permit, an OFD licence …) in which one or more materials are replaced by large files:

- ``video-<size>``: the 现场勘验视频 is an MPEG-4 (mpeg4, 1280×720, noisy test pattern) of that size,
  made by ffmpeg: one short encoded segment, then ``-stream_loop`` stream copy up to the size;
- ``pdf-<size>``: the 建设工程施工合同 is a PDF of that size with one scanned (JPEG) page per page;
- ``multi``: five materials of 100–200 MB each (four PDFs and the video);
- ``zip-<scenario>``: the same package sent as one stored ZIP (as the HTTP API receives it).

``--modes`` runs every scenario once per mode, each on a package of its own (the blob store would
otherwise find the bytes already stored): ``pipelined`` is the byte path as it is; ``serial`` sets
``intake.PIPELINE_MIN_BYTES`` out of reach, which gives the byte path as it was before (SM3, SHA-256
and the write one after the other in one thread; a ZIP's own SM3 in a separate pass first).

The metadata declares every file with its real size and SM3, so the package is accepted.

Timed, per scenario, in one process on a fresh DANGAN_HOME (SQLite):

- **ingest** = ``ingest.ingest_path`` on the package folder: copy into quarantine with SM3 + SHA-256,
  metadata, all archiving-stage checks (四性检测) including every file's format validator (pikepdf,
  ffprobe, OFD reader …), blobs into the store (fsync, rename), the pre-archive record;
- **confirm** = ``archive.confirm``: 档号, AIP (BagIt tag files, SM2 signature) into the store;
- **raw SM3** = ``hashlib.new("sm3")`` over the same files, single core, 1 MiB reads;
- **bagit-python** (peer) = ``bagit.make_bag(copy, checksums=["sm3", "sha256"])`` then ``bag.validate()``
  on a copy of the package folder (the copy itself is not timed). bagit 1.8 only recognises
  ``hashlib.algorithms_guaranteed``; SM3 is added to its list so that validate checks the SM3 manifest too.

All reads come from the page cache (the files were just written and hashed; 24 GiB RAM): the numbers
compare CPU work per byte plus the writes each side does. The headline is
``ingest+confirm MB/s ÷ raw SM3 MB/s`` (one worker process).

Prints one JSON line per scenario and, with ``--markdown``, a table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MB = 1_000_000
MiB = 1024 * 1024
SIZES = {"100M": 100 * MB, "200M": 200 * MB, "500M": 500 * MB, "1G": 1000 * MB, "2G": 2000 * MB}
DEFAULT_SCENARIOS = "video-100M,video-500M,video-1G,video-2G,pdf-1G,multi"
VIDEO_PATH = "过程材料/现场勘验视频.mp4"


# --------------------------------------------------------------------------------------------------
# large files


def make_video_segment(work: Path) -> Path:
    """About 240 MB of MPEG-4 (10 s of 1280×720 noisy testsrc2); made once and reused."""
    seg = work / "segment.mp4"
    if not seg.exists():
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             "testsrc2=size=1280x720:rate=25", "-vf", "noise=alls=40:allf=t", "-t", "10",
             "-c:v", "mpeg4", "-q:v", "2", "-pix_fmt", "yuv420p", str(seg)],
            check=True,
        )  # fmt: skip
    return seg


def make_video(work: Path, target: Path, size: int, tag: str) -> None:
    """An MP4 of about ``size`` bytes: the segment looped by stream copy, cut at the size (``-fs``).
    ``tag`` goes into the title so that two videos of one size differ (the blob store deduplicates)."""
    seg = make_video_segment(work)
    loops = max(0, -(-size // seg.stat().st_size) - 1)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", str(loops), "-i", str(seg),
         "-c", "copy", "-fs", str(size), "-metadata", f"title=现场勘验视频 {tag}",
         "-metadata", "creation_time=2024-05-06T10:00:00Z", str(target)],
        check=True,
    )  # fmt: skip


def _scan_jpegs(count: int, seed: int) -> list[tuple[bytes, int, int]]:
    """A few distinct A4 'scans' (200 dpi, grey paper, noise): about 2–3 MB each."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    out = []
    w, h = 1654, 2339
    for i in range(count):
        noise = Image.effect_noise((w, h), 30 + 3 * i).point(lambda v: min(255, v + 60))
        img = Image.merge("RGB", (noise, noise.point(lambda v: max(0, v - 4)), noise))
        d = ImageDraw.Draw(img)
        for _ in range(60):
            y = rng.randint(100, h - 100)
            d.line((150, y, w - 150, y), fill=(20, 20, 20), width=3)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        out.append((buf.getvalue(), w, h))
    return out


def make_pdf(target: Path, size: int, tag: str, jpegs: list[tuple[bytes, int, int]]) -> None:
    """A PDF of about ``size`` bytes, one scanned page (DCT image XObject) per page, written object by
    object (never whole in memory), with a correct cross-reference table."""
    offsets: list[int] = [0]  # object 0
    pages: list[int] = []
    with open(target, "wb") as f:

        def obj(body: bytes, stream: bytes | None = None) -> int:
            num = len(offsets)
            offsets.append(f.tell())
            f.write(f"{num} 0 obj\n".encode())
            f.write(body)
            if stream is not None:
                f.write(b"\nstream\n")
                f.write(stream)
                f.write(b"\nendstream")
            f.write(b"\nendobj\n")
            return num

        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        offsets.append(0)  # object 2 (the page tree) is written last
        obj(f"<< /Title ({tag}) /Producer (dangan bench) >>".encode())  # 3: Info
        i = 0
        while f.tell() < size - 400_000:
            data, w, h = jpegs[i % len(jpegs)]
            im = obj(
                f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB "
                f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)} >>".encode(),
                data,
            )
            content = f"q 595 0 0 842 0 0 cm /Im0 Do Q\nBT /F1 1 Tf ET % page {i + 1} {tag}".encode()
            c = obj(f"<< /Length {len(content)} >>".encode(), content)
            pages.append(
                obj(
                    f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                    f"/Resources << /XObject << /Im0 {im} 0 R >> >> /Contents {c} 0 R >>".encode()
                )
            )
            i += 1
        offsets[2] = f.tell()
        kids = " ".join(f"{p} 0 R" for p in pages)
        f.write(f"2 0 obj\n<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>\nendobj\n".encode())
        xref = f.tell()
        f.write(f"xref\n0 {len(offsets)}\n".encode())
        f.write(b"0000000000 65535 f \n")
        for off in offsets[1:]:
            f.write(f"{off:010d} 00000 n \n".encode())
        f.write(
            f"trailer\n<< /Size {len(offsets)} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
        )


# --------------------------------------------------------------------------------------------------
# packages


def scenario_files(name: str) -> dict[str, tuple[str, int]]:
    """Material path → (kind, size) of the large files of a scenario."""
    if name == "multi":
        return {
            "申报材料/建筑工程施工许可申请表.pdf": ("pdf", 100 * MB),
            "申报材料/建设工程施工合同.pdf": ("pdf", 200 * MB),
            "过程材料/现场勘验记录.pdf": ("pdf", 150 * MB),
            VIDEO_PATH: ("video", 200 * MB),
            "过程材料/审查意见表.pdf": ("pdf", 120 * MB),
        }
    if name.startswith("zip-"):
        return scenario_files(name[4:])
    kind, _, size = name.partition("-")
    if kind == "video":
        return {VIDEO_PATH: ("video", SIZES[size])}
    if kind == "pdf":
        return {"申报材料/建设工程施工合同.pdf": ("pdf", SIZES[size])}
    raise SystemExit(f"unknown scenario {name!r}")


def build_package(work: Path, out: Path, name: str, index: int, jpegs: list[tuple[bytes, int, int]]) -> Path:
    """Write the package folder of scenario ``name`` into ``out``; returns it."""
    from dangan.core import sm
    from dangan.core.package import schema
    from dangan.core.package.metadata import metadata_xml
    from dangan.core.package.writer import write_folder
    from dangan.demo.catalog import CONSTRUCTION_PERMIT
    from dangan.demo.generator import build_case, case_rng, serial_base

    seed = 41
    built = build_case(
        case_rng(seed, index), CONSTRUCTION_PERMIT, serial_base(seed) + index, include_optional=False
    )
    big = scenario_files(name)
    missing = set(big) - set(built.files)
    if missing:
        raise SystemExit(f"the demo case has no {sorted(missing)}")
    files = {rel: (b"" if rel in big else data) for rel, data in built.files.items()}
    root = write_folder(built.pkg, files, out, metadata=b"")
    sizes = {rel: len(data) for rel, data in built.files.items()}
    for rel, (kind, size) in big.items():
        target = root / rel
        target.unlink()
        tag = f"{name} {rel}"
        if kind == "video":
            make_video(work, target, size, tag)
        else:
            make_pdf(target, size, tag, jpegs)
        sizes[rel] = target.stat().st_size
        digest = sm.sm3_file(str(target))
        for entry in built.pkg.files:
            if entry.path == rel:
                entry.size, entry.digest = str(sizes[rel]), digest
    built.pkg.declared_byte_total = str(sum(sizes.values()))
    (root / schema.METADATA_FILENAME).write_bytes(metadata_xml(built.pkg))
    if name.startswith("zip-"):  # the same package as one ZIP (stored: media and scans do not deflate)
        zpath = out / f"{root.name}.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(root).as_posix())
        shutil.rmtree(root)
        return zpath
    return root


def package_files(root: Path) -> list[Path]:
    if root.is_file():  # a ZIP: raw SM3 over the ZIP as received
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file())


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process (all threads) and of its waited-for children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def raw_sm3(paths: list[Path]) -> tuple[float, int]:
    total = 0
    start = time.perf_counter()
    for p in paths:
        h = hashlib.new("sm3")
        with open(p, "rb") as f:
            for block in iter(lambda f=f: f.read(MiB), b""):
                h.update(block)
                total += len(block)
    return time.perf_counter() - start, total


# --------------------------------------------------------------------------------------------------
# phase timing (wrappers around the functions the pipeline calls; no profiler overhead)


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        original = getattr(owner, attr)
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - t

        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, original))

    def reset(self) -> None:
        self.seconds.clear()


def install_phases() -> Phases:
    from dangan.core import formats
    from dangan.ingest import checking
    from dangan.ingest import services as ingest
    from dangan.storage.blobstore import FileBlobStore

    ph = Phases()
    ph.wrap(ingest, "receive_folder", "intake")
    ph.wrap(ingest, "receive_zip", "intake")
    ph.wrap(ingest, "build_context", "context")
    ph.wrap(checking, "run_checks", "checks")
    ph.wrap(formats, "validate", "validators")
    ph.wrap(FileBlobStore, "adopt", "adopt")
    return ph


# --------------------------------------------------------------------------------------------------
# peer


def bagit_peer(src: Path, work: Path) -> dict[str, float]:
    import bagit

    bagit.CHECKSUM_ALGOS = set(hashlib.algorithms_guaranteed) | {"sm3"}
    copy = work / "peer" / src.name
    shutil.rmtree(copy, ignore_errors=True)
    copy.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, copy)
    else:  # a ZIP scenario: bagit bags folders, so it gets the unpacked files
        with zipfile.ZipFile(src) as zf:
            zf.extractall(copy)
    try:
        t0 = time.perf_counter()
        bag = bagit.make_bag(str(copy), checksums=["sm3", "sha256"])
        t1 = time.perf_counter()
        bag = bagit.Bag(str(copy))
        if sorted(bag.algorithms) != ["sha256", "sm3"]:
            raise SystemExit(f"bagit sees {bag.algorithms}")
        bag.validate()
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return {"make_bag_s": t1 - t0, "validate_s": t2 - t1}


# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def maybe_profile(enabled: bool, out: Path) -> Iterator[None]:
    if not enabled:
        yield
        return
    from pyinstrument import Profiler

    prof = Profiler(interval=0.005)
    prof.start()
    try:
        yield
    finally:
        prof.stop()
        out.write_text(prof.output_text(unicode=True, color=False, show_all=False))
        print(f"profile written to {out}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", default=DEFAULT_SCENARIOS)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--profile", default="", help="scenario to profile with pyinstrument (slower)")
    ap.add_argument("--work", default="")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--keep-blobs", action="store_true")
    ap.add_argument(
        "--modes",
        default="pipelined",
        help="pipelined (the byte path now), serial (as before: one thread, ZIP hashed in a pass of its own)",
    )
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="dangan-large-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    os.environ["DANGAN_HOME"] = str(home)
    os.environ["DANGAN_JOBS_EAGER"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive
    from dangan.ingest import services as ingest
    from dangan.quickstart import load_demo_catalogue

    call_command("migrate", verbosity=0)
    actor = Actor.system("bench")
    load_demo_catalogue(actor)
    archive.instance_key()
    phases = install_phases()
    jpegs = _scan_jpegs(6, 7)

    from dangan.archive.models import RecordFile
    from dangan.core.package import intake
    from dangan.storage.blobstore import default_store

    def run_one(name: str, index: int, mode: str, with_peer: bool) -> dict[str, Any]:
        # "serial" is the byte path as it was: SM3, SHA-256 and the write one after the other in one
        # thread, and a ZIP's own SM3 in a pass of its own before unpacking.
        intake.PIPELINE_MIN_BYTES = 2**62 if mode == "serial" else PIPELINE_MIN
        src_dir = work / "src" / f"{name}-{mode}"
        shutil.rmtree(src_dir, ignore_errors=True)
        g0 = time.perf_counter()
        root = build_package(work, src_dir, name, index, jpegs)
        gen_s = time.perf_counter() - g0
        files = package_files(root)
        c0 = cpu_seconds()
        sm3_s, nbytes = raw_sm3(files)
        sm3_cpu = cpu_seconds()[0] - c0[0]
        largest = max(p.stat().st_size for p in files)

        # The generator's dirty pages must not throttle the ingest's writes: flush them first.
        os.sync()
        if os.environ.get("DANGAN_BENCH_MARKER"):  # bench/memory_video.py measures from here
            Path(os.environ["DANGAN_BENCH_MARKER"]).touch()
        phases.reset()
        with maybe_profile(args.profile == name, work / f"profile-{name}-{mode}.txt"):
            c0 = cpu_seconds()
            t0 = time.perf_counter()
            sub = ingest.ingest_path(actor, root)
            t1 = time.perf_counter()
            if sub.status != "accepted":
                raise SystemExit(f"{name}: not accepted: {json.dumps(sub.errors, ensure_ascii=False)}")
            archive.confirm(actor, sub.record_id)
            t2 = time.perf_counter()
            c1 = cpu_seconds()
        peer = bagit_peer(root, work) if with_peer else {}

        mb = nbytes / MB
        raw = mb / sm3_s
        ours = t2 - t0
        row: dict[str, Any] = {
            "scenario": name,
            "mode": mode,
            "files": len(files),
            "largest_mb": round(largest / MB, 1),
            "mb": round(mb, 1),
            "generate_s": round(gen_s, 1),
            "raw_sm3_mb_s": round(raw, 1),
            "ingest_s": round(t1 - t0, 2),
            "confirm_s": round(t2 - t1, 2),
            "ours_mb_s": round(mb / ours, 1),
            "ours_vs_raw_sm3": round(mb / ours / raw, 2),
            "phases_s": {k: round(v, 2) for k, v in phases.seconds.items()},
            # CPU seconds: less sensitive to the other work on a shared machine than wall time
            "raw_sm3_cpu_s": round(sm3_cpu, 2),
            "ours_cpu_s": round(c1[0] - c0[0], 2),
            "ours_children_cpu_s": round(c1[1] - c0[1], 2),
        }
        if peer:
            bag_s = peer["make_bag_s"] + peer["validate_s"]
            row.update(
                {
                    "bagit_make_s": round(peer["make_bag_s"], 2),
                    "bagit_validate_s": round(peer["validate_s"], 2),
                    "bagit_mb_s": round(mb / bag_s, 1),
                    "ours_vs_bagit_time": round(ours / bag_s, 2),
                }
            )
        row["load"] = round(os.getloadavg()[0], 2)
        shutil.rmtree(src_dir, ignore_errors=True)
        if not args.keep_blobs:  # disk: the measured blobs are not needed afterwards
            store = default_store()
            for digest in RecordFile.objects.filter(record_id=sub.record_id).values_list("sm3", flat=True):
                store.delete(digest)
        return row

    PIPELINE_MIN = intake.PIPELINE_MIN_BYTES
    modes = [m for m in args.modes.split(",") if m]
    rows = []
    try:
        index = 0
        for name in (s for s in args.scenarios.split(",") if s):
            for n, mode in enumerate(modes):
                row = run_one(name, index, mode, with_peer=not args.no_peer and n == len(modes) - 1)
                index += 1
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        print("| scenario | mode | files | MB | raw SM3 MB/s | ingest s | confirm s | ours MB/s | ours / raw SM3 |"
              " bagit make+validate s | ours time / bagit time |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            bag = f"{r['bagit_make_s']} + {r['bagit_validate_s']}" if "bagit_make_s" in r else "–"
            print(
                f"| {r['scenario']} | {r['mode']} | {r['files']} | {r['mb']} | {r['raw_sm3_mb_s']} | {r['ingest_s']} | "
                f"{r['confirm_s']} | {r['ours_mb_s']} | {r['ours_vs_raw_sm3']} | {bag} | "
                f"{r.get('ours_vs_bagit_time', '–')} |"
            )


if __name__ == "__main__":
    main()
