"""Format identification: dangan.core.formats.identify beside opf-fido (PRONOM signatures), same files, same run.

    .venv/bin/python bench/formats_vs_fido.py --cases 400 [--seed 11] [--out DIR] [--no-cli]

Corpus (written to a temporary folder unless --out): ``--cases`` demo cases as folders (PDF, JPEG,
WAV, MP4, OFD, XML), 20 more as ZIP packages, the demo's broken-on-purpose packages (encrypted,
corrupt, hostile ZIPs and XML), the OFD fixtures of shared/, and a crafted set: one file per other
format, files whose extension lies about their content, truncated copies, random bytes.

Both tools run on content only: fido with extension matching off (``extension=False``, the CLI's
``-noextension``), as a library in this process; its start-up (loading the PRONOM signature file)
is timed separately. Every file is read once before timing so that both see a warm page cache.
With the CLI as well (default), fido's command line is timed over the same list (``-input``), as
people run it. Prints one JSON object, and writes every disagreement to ``disagreements.tsv`` in
the corpus folder.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFD_FIXTURES = ROOT.parent / "shared" / "fixtures" / "ofd"

# PRONOM PUIDs (as fido reports them) → our format names, for the agreement count.
PUID_NAMES: dict[str, str] = {
    **dict.fromkeys(
        ["fmt/14", "fmt/15", "fmt/16", "fmt/17", "fmt/18", "fmt/19", "fmt/20", "fmt/276", "fmt/1129",
         "fmt/95", "fmt/354", "fmt/476", "fmt/477", "fmt/478", "fmt/479", "fmt/480", "fmt/481"], "PDF"),
    **dict.fromkeys(["fmt/41", "fmt/42", "fmt/43", "fmt/44", "fmt/645", "x-fmt/398", "x-fmt/390",
                     "x-fmt/391", "fmt/1507", "fmt/112"], "JPEG"),
    **dict.fromkeys(["fmt/11", "fmt/12", "fmt/13", "fmt/935"], "PNG"),
    **dict.fromkeys(["fmt/353", "fmt/7", "fmt/8", "fmt/9", "fmt/10"], "TIFF"),
    **dict.fromkeys(["fmt/3", "fmt/4"], "GIF"),
    **dict.fromkeys(["fmt/114", "fmt/115", "fmt/116", "fmt/117", "fmt/118", "fmt/119"], "BMP"),
    **dict.fromkeys(["fmt/566", "fmt/567", "fmt/568"], "WEBP"),
    **dict.fromkeys(["fmt/134", "x-fmt/279"], "MP3"),
    **dict.fromkeys(["fmt/6", "fmt/141", "fmt/142", "fmt/143", "fmt/1", "fmt/2", "fmt/527", "fmt/703",
                     "fmt/704", "fmt/705", "fmt/706", "fmt/707", "fmt/708", "fmt/709", "fmt/710", "fmt/711"], "WAV"),
    "fmt/199": "MP4", "x-fmt/384": "MOV", "fmt/5": "AVI", "fmt/279": "FLAC", "fmt/357": "3GP",
    **dict.fromkeys(["fmt/101", "fmt/1776"], "XML"),
    "x-fmt/111": "TXT", "fmt/817": "JSON",
    **dict.fromkeys(["fmt/96", "fmt/97", "fmt/98", "fmt/99", "fmt/100", "fmt/471", "fmt/102", "fmt/103"], "HTML"),
    **dict.fromkeys(["fmt/412", "fmt/523", "fmt/597", "fmt/599"], "DOCX"),
    **dict.fromkeys(["fmt/214", "fmt/445", "fmt/598", "fmt/627"], "XLSX"),
    **dict.fromkeys(["fmt/215", "fmt/487", "fmt/629", "fmt/631"], "PPTX"),
    **dict.fromkeys(["fmt/40", "fmt/609", "fmt/754", "fmt/39"], "DOC"),
    **dict.fromkeys(["fmt/59", "fmt/61", "fmt/62"], "XLS"),
    "fmt/126": "PPT", "fmt/111": "OLE",
    **dict.fromkeys(["fmt/136", "fmt/290", "fmt/291", "fmt/1756"], "ODT"),
    **dict.fromkeys(["fmt/45", "fmt/46", "fmt/47", "fmt/48", "fmt/49", "fmt/50", "fmt/51", "fmt/52", "fmt/53",
                     "fmt/355", "fmt/969"], "RTF"),
    "x-fmt/263": "ZIP", "x-fmt/264": "RAR", "fmt/411": "RAR", "fmt/613": "RAR", "fmt/484": "7Z",
    "x-fmt/266": "GZIP", "x-fmt/268": "BZIP2", "fmt/1098": "XZ", "x-fmt/265": "TAR",
}  # fmt: skip


# --- corpus ----------------------------------------------------------------------------------


def build_corpus(root: Path, cases: int, seed: int) -> list[Path]:
    from dangan.demo.broken import write_broken_variants
    from dangan.demo.generator import generate

    generate(root / "demo", cases=cases, seed=seed)
    generate(root / "demo-zip", cases=20, seed=seed + 1, as_zip=True)
    write_broken_variants(root / "broken", seed=seed, bomb_bytes=2 * 1024 * 1024)
    fixtures = root / "ofd-fixtures"
    fixtures.mkdir()
    for p in sorted(OFD_FIXTURES.glob("*")):
        if p.is_file():
            shutil.copyfile(p, fixtures / p.name)
    crafted(root / "crafted", seed)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return [p for p in files if p.name != "disagreements.tsv"]


def crafted(d: Path, seed: int) -> None:
    """One file per format the demo does not make, lying extensions, truncated copies, random bytes."""
    sys.path.insert(0, str(ROOT))
    from tests.core.formats import samples as s  # the test suite's sample makers (CFB writer …)

    d.mkdir(parents=True)
    rng = random.Random(seed)
    fixed: dict[str, bytes] = {
        "a.png": s.image_bytes("PNG"),
        "a.tif": s.image_bytes("TIFF"),
        "a.gif": s.image_bytes("GIF"),
        "a.bmp": s.image_bytes("BMP"),
        "a.webp": s.image_bytes("WEBP"),
        "a.json": s.JSON_DOC,
        "a.txt": s.TEXT_UTF8,
        "gb18030.txt": s.TEXT_GB18030,
        "a.html": b"<!DOCTYPE html>\n<html><body>x</body></html>",
        "a.rtf": rb"{\rtf1\ansi hello}",
        "a.docx": s.ooxml("DOCX"),
        "a.docm": s.ooxml("DOCX", macros=True),
        "a.xlsx": s.ooxml("XLSX"),
        "a.pptx": s.ooxml("PPTX"),
        "a.odt": s.odt(),
        "a.doc": s.doc(),
        "encrypted.doc": s.doc(encrypted=True),
        "wps-written.wps": s.doc(wps=True),
        "a.xls": s.xls(small=False),
        "a.ppt": s.ppt(),
        "encrypted-ooxml.docx": s.encrypted_ooxml(),
        "a.rar": b"Rar!\x1a\x07\x01\x00" + rng.randbytes(300),
        "a.7z": b"7z\xbc\xaf\x27\x1c\x00\x04" + rng.randbytes(300),
        "a.gz": gzip.compress(b"hello " * 100, mtime=0),
        "a.bz2": bz2.compress(b"hello" * 100),
        "a.xz": lzma.compress(b"hello" * 100),
        "a.tar": s.tar_bytes(),
        "encrypted-entry.zip": s.set_encrypted_flag(s.zip_bytes([("a.txt", b"x" * 100)])),
        "empty.pdf": b"",
        "utf16.xml": '<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16"),
        "gb18030.xml": '<?xml version="1.0" encoding="GB18030"?><根>档案</根>'.encode("gb18030"),
        "noheader.xml": b"<root><x/></root>",
        "a.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>',
    }
    for name, data in fixed.items():
        (d / name).write_bytes(data)
    s.audio_file(d / "a.mp3", "mp3", "libmp3lame")
    s.audio_file(d / "a.flac", "flac", "flac")
    s.video_file(d / "a.mov", "mov")
    s.video_file(d / "a.avi", "avi")
    # lying extensions: the content decides
    shutil.copyfile(d / "a.png", d / "png-named.jpg")
    shutil.copyfile(d / "a.docx", d / "docx-named.pdf")
    pdf = next((d.parent / "demo").rglob("*.pdf"))
    shutil.copyfile(pdf, d / "pdf-named.txt")
    ofd = next((d.parent / "demo").rglob("*.ofd"))
    shutil.copyfile(ofd, d / "ofd-named.zip")
    # truncated copies
    for src in (pdf, ofd, next((d.parent / "demo").rglob("*.jpg")), next((d.parent / "demo").rglob("*.mp4"))):
        s.truncate(src, d / f"truncated-{src.suffix[1:]}{src.suffix}", 0.5)
    for i in range(20):
        (d / f"random-{i:02d}.bin").write_bytes(rng.randbytes(rng.choice([64, 1000, 5000, 50000])))


# --- runs ------------------------------------------------------------------------------------


def run_ours(files: list[Path]) -> tuple[float, dict[Path, object]]:
    from dangan.core.formats import identify

    out: dict[Path, object] = {}
    t0 = time.perf_counter()
    for p in files:
        out[p] = identify(p)
    return time.perf_counter() - t0, out


def run_fido_library(files: list[Path]) -> tuple[float, float, dict[Path, list[tuple[str, str]]], str]:
    import fido as fido_pkg
    from fido import CONFIG_DIR
    from fido import fido as fido_mod
    from fido.versions import get_local_versions

    results: dict[Path, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []

    def handle(fullname, matches, delta_t, matchtype=""):
        current.extend((f.find("puid").text, f.find("name").text) for f, _sig in matches)

    t0 = time.perf_counter()
    # configured as fido's own main() does: the installed PRONOM signature files plus fido's extensions
    versions = get_local_versions(CONFIG_DIR)
    fido_mod.defaults["xml_pronomSignature"] = versions.pronom_signature
    fido_mod.defaults["containersignature_file"] = versions.pronom_container_signature
    fido_mod.defaults["format_files"] = [versions.pronom_signature, versions.fido_extension_signature]
    fido = fido_mod.Fido(quiet=True, handle_matches=handle)
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    for p in files:
        current.clear()
        fido.identify_file(str(p), extension=False)
        results[p] = list(current)
    return startup, time.perf_counter() - t1, results, fido_pkg.__version__


def run_fido_cli(files: list[Path], workdir: Path) -> dict[str, float]:
    exe = Path(sys.executable).with_name("fido")
    listing = workdir / "fido-input.txt"
    listing.write_text("\n".join(str(p) for p in files) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    subprocess.run([str(exe), "-v"], capture_output=True, check=True)
    start_only = time.perf_counter() - t0
    t1 = time.perf_counter()
    done = subprocess.run(
        [
            str(exe),
            "-q",
            "-noextension",
            "-matchprintf",
            "%(info.puid)s\t%(info.filename)s\n",
            "-input",
            str(listing),
        ],
        capture_output=True,
        check=False,
    )
    total = time.perf_counter() - t1
    lines = done.stdout.decode("utf-8", errors="replace").count("\n")
    return {
        "cli_total_s": round(total, 2),
        "cli_version_only_s": round(start_only, 2),
        "cli_output_lines": lines,
    }


# --- comparison ------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-cli", action="store_true")
    args = ap.parse_args()

    root = args.out or Path(tempfile.mkdtemp(prefix="dangan-fido-"))
    if args.out and args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out} is not empty")
    t0 = time.perf_counter()
    files = build_corpus(root, args.cases, args.seed)
    build_s = time.perf_counter() - t0
    nbytes = 0
    for p in files:  # warm the page cache for both tools
        nbytes += len(p.read_bytes())
    mb = nbytes / 1e6

    ours_s, ours = run_ours(files)
    startup_s, fido_s, fido, fido_version = run_fido_library(files)

    agree = puid_checked = 0
    puid_groups: Counter[tuple[str, str, str]] = Counter()
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    rows = []
    for p in files:
        mine = ours[p].name  # type: ignore[attr-defined]
        theirs = fido[p]
        names = {PUID_NAMES.get(puid, f"?{puid}") for puid, _ in theirs}
        if (not theirs and mine == "UNKNOWN") or mine in names:
            agree += 1
            our_puid = ours[p].puid  # type: ignore[attr-defined]
            if our_puid and theirs:
                fido_puids = {puid for puid, _ in theirs}
                puid_checked += 1
                if our_puid not in fido_puids:
                    puid_groups[(mine, our_puid, "; ".join(sorted(fido_puids)))] += 1
            continue
        shown = "; ".join(f"{puid} {name}" for puid, name in theirs) or "no match"
        rel = str(p.relative_to(root))
        groups[(mine, shown)].append(rel)
        rows.append(f"{rel}\t{mine}\t{ours[p].basis}\t{shown}")  # type: ignore[attr-defined]
    (root / "disagreements.tsv").write_text(
        "file\tours\tour basis\tfido\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )

    result = {
        "files": len(files),
        "mb": round(mb, 1),
        "corpus_build_s": round(build_s, 1),
        "ours_s": round(ours_s, 3),
        "ours_files_s": round(len(files) / ours_s),
        "ours_mb_s": round(mb / ours_s, 1),
        "fido_version": fido_version,
        "fido_startup_s": round(startup_s, 3),
        "fido_s": round(fido_s, 3),
        "fido_files_s": round(len(files) / fido_s),
        "fido_mb_s": round(mb / fido_s, 1),
        "agree": agree,
        "disagree": len(files) - agree,
        "puid_checked": puid_checked,
        "puid_differ": [
            {"format": k[0], "ours": k[1], "fido": k[2], "count": n} for k, n in puid_groups.most_common()
        ],
        "our_names": dict(Counter(o.name for o in ours.values()).most_common()),  # type: ignore[attr-defined]
        "disagreements": [
            {"ours": k[0], "fido": k[1], "count": len(v), "examples": v[:3]}
            for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))
        ],
        "corpus": str(root),
        "python": sys.version.split()[0],
    }
    if not args.no_cli:
        result.update(run_fido_cli(files, root))
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
