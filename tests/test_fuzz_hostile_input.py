"""Hostile input for the package reader and the XML parser, generated with hypothesis, bounded in time.

What is fed in: ZIPs with traversal, absolute, drive-letter, backslash, NUL, over-long, duplicate and
GB18030 names, link/FIFO/device modes, encrypted and unsupported-method flags, zip bombs (highly
compressible members, lying sizes, many entries, nested ZIPs), truncated or patched central
directories and random byte mutations of a real package from ``tests.factories``; XML with XXE (a
planted secret file, an http URL to a local listener), billion laughs, quadratic blow-up, DOCTYPEs
hidden behind more than 64 KiB of padding, deep nesting (up to 100,000 levels), invalid UTF-8,
GB18030-declared and undeclared text, BOMs, UTF-16/32, PIs and CDATA.

Properties: the reader returns or raises a ``DanganError`` subclass with a known stable ``code``,
nothing else; nothing is written outside the folder it was given (a snapshot of the surrounding tree,
planted victim files and a symlink target are compared); what it wrote is regular files inside that
folder whose measured facts match their bytes; the unpacked total stays within the limit; the secret
never appears in a parsed value or an error message and the listener is never contacted.

Budget: every ``@given`` test has a hypothesis deadline per example (generous: a regression here
takes minutes, not milliseconds, and the machine is shared) and 25-150 examples; each test also
has a pytest-timeout ceiling. The module runs in about 10 s on 2 cores. With CI=true the examples
are derandomized (the same inputs every run) and no example database is kept, so CI time and
results are stable; locally the search is random and finds new inputs over time.
"""

from __future__ import annotations

import io
import os
import resource
import socket
import stat
import struct
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from lxml import etree

from dangan.core import xmlsafe
from dangan.core.errors import DanganError, MetadataError, UnsafeArchiveError
from dangan.core.package import schema
from dangan.core.package.intake import IntakeLimits, ReceivedPackage, receive_folder, receive_zip
from dangan.core.package.metadata import metadata_xml, parse_metadata
from dangan.core.package.xsd import validate_case_structure
from dangan.core.sm import sm3_hex
from tests.factories import make_case, write_case

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")  # duplicates are written on purpose

CI = os.environ.get("CI") == "true"
settings.register_profile(
    "dangan-fuzz",
    derandomize=CI,  # CI: the same examples every run
    database=None,  # no .hypothesis/ directory; failures print a reproduction blob instead
    print_blob=True,
    deadline=timedelta(seconds=5),
)
FUZZ = settings.get_profile("dangan-fuzz")


def budget(max_examples: int, *, deadline_s: float = 5.0, large_data: bool = False) -> settings:
    # Suppressed only where an example is large by design (a whole mutated package, 64-300 KiB bomb
    # members, 70 KiB paddings): hypothesis would otherwise call that data too large or too slow.
    return settings(
        FUZZ,
        max_examples=max_examples,
        deadline=timedelta(seconds=deadline_s),
        suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow] if large_data else [],
    )


# Every code the reader may raise: a new one must be added here on purpose (API clients rely on them).
READER_CODES = {
    "ZIP_CORRUPT", "ZIP_TOO_MANY_ENTRIES", "ZIP_LINK", "ZIP_PATH_INVALID", "ZIP_ABSOLUTE_PATH",
    "ZIP_PATH_TRAVERSAL", "ZIP_ENCRYPTED", "ZIP_UNSUPPORTED_COMPRESSION", "ZIP_DUPLICATE_ENTRY",
    "ZIP_BOMB", "ZIP_TOO_LARGE", "PATH_CONFLICT", "PATH_TOO_LONG",
    "PACKAGE_LINK", "PACKAGE_SPECIAL_FILE", "PACKAGE_DUPLICATE_ENTRY", "PACKAGE_TOO_MANY_ENTRIES",
    "PACKAGE_TOO_LARGE", "PACKAGE_PATH_INVALID", "PACKAGE_ABSOLUTE_PATH", "PACKAGE_PATH_TRAVERSAL",
}  # fmt: skip
SECRET = "DANGAN-FUZZ-SECRET-7f3a91"
SMALL = IntakeLimits(max_total_bytes=256 * 1024, max_entries=64, max_ratio=20, ratio_floor_bytes=16 * 1024)


def outcome(label: str) -> None:
    """Count outcomes per test: ``pytest --hypothesis-show-statistics`` shows the mix reached."""
    if currently_in_test_context():
        event(label)


# ---------------------------------------------------------------------------------------------
# Observing the file system


def tree(root: Path, *, skip: Path | None = None) -> dict[str, tuple[str, str]]:
    """Every entry under ``root`` (links not followed) with its kind and content digest or link target."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if skip is not None and Path(dirpath) == skip:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p == skip:
                continue
            st_ = os.lstat(p)
            if stat.S_ISLNK(st_.st_mode):
                out[str(p)] = ("link", os.readlink(p))
            elif stat.S_ISREG(st_.st_mode):
                out[str(p)] = ("file", sm3_hex(p.read_bytes()))
            elif stat.S_ISDIR(st_.st_mode):
                out[str(p)] = ("dir", "")
            else:
                out[str(p)] = ("other", oct(st_.st_mode))
    return out


def assert_contained(dest: Path, limit: int) -> int:
    """Only regular files and folders under ``dest``, none resolving outside it; returns their bytes."""
    real = os.path.realpath(dest)
    total = 0
    for dirpath, dirnames, filenames in os.walk(dest, followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            mode = os.lstat(p).st_mode
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), f"{p}: not a regular file or folder"
            assert os.path.realpath(p).startswith(real + os.sep), f"{p} resolves outside {dest}"
            if stat.S_ISREG(mode):
                total += os.lstat(p).st_size
    assert total <= limit, f"{total} bytes unpacked, limit {limit}"
    return total


@dataclass
class Sandbox:
    """A temporary root: the ZIP, the empty quarantine folder ``dest``, and things an attack would hit."""

    root: Path
    dest: Path
    outside: Path  # a folder beside quarantine; link entries point here

    def snapshot(self) -> dict[str, tuple[str, str]]:
        return tree(self.root, skip=self.dest)


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    with tempfile.TemporaryDirectory(prefix="dg-fuzz-") as tmp:
        root = Path(tmp)
        outside = root / "outside"
        outside.mkdir()
        (outside / "victim.txt").write_text("untouched")
        (root / "secret.txt").write_text(SECRET)
        nest = root / "a" / "b"  # "../"-paths from dest land here or above: all watched
        nest.mkdir(parents=True)
        dest = nest / "q"
        dest.mkdir()
        yield Sandbox(root=root, dest=dest, outside=outside)


def read_zip_safely(
    box: Sandbox, data: bytes, limits: IntakeLimits = SMALL, *, reraise: bool = False
) -> ReceivedPackage | None:
    """The core property for one ZIP: typed outcome, nothing outside ``dest``, contained and bounded."""
    zpath = box.root / "upload.zip"
    zpath.write_bytes(data)
    before = box.snapshot()
    error: UnsafeArchiveError | None = None
    try:
        received: ReceivedPackage | None = receive_zip(zpath, box.dest, limits, display_name="包.zip")
    except DanganError as exc:
        assert isinstance(exc, UnsafeArchiveError), repr(exc)
        assert exc.code in READER_CODES, exc.code
        assert exc.message and SECRET not in exc.message
        received, error = None, exc
    outcome(f"zip: {error.code if error else 'read'}")
    assert box.snapshot() == before, "something changed outside the quarantine folder"
    total = assert_contained(box.dest, limits.max_total_bytes)
    if received is not None:
        assert sum(f.size for f in received.files.values()) == total
        for rel, facts in received.files.items():
            body = (box.dest / rel).read_bytes()
            assert len(body) == facts.size and sm3_hex(body) == facts.sm3
    if reraise and error is not None:
        raise error
    return received


# ---------------------------------------------------------------------------------------------
# Building hostile ZIPs


_CD = struct.Struct("<4s4B4HL2L5H2L")  # central directory header, 46 bytes
_LH = struct.Struct("<4s2B4HL2L2H")  # local file header, 30 bytes


@dataclass(frozen=True)
class ZipRecord:
    central: int  # offset of the central directory header
    local: int  # offset of the local header
    name_len: int


def records(buf: bytes | bytearray) -> list[ZipRecord]:
    """Central directory records of a ZIP we just wrote (no comment, no ZIP64)."""
    eocd = buf.rfind(b"PK\x05\x06")
    count, _size, cd_offset = struct.unpack_from("<HLL", buf, eocd + 10)
    out, pos = [], cd_offset
    for _ in range(count):
        fields = _CD.unpack_from(buf, pos)
        n, m, k, local = fields[12], fields[13], fields[14], fields[18]
        out.append(ZipRecord(pos, local, n))
        pos += 46 + n + m + k
    return out


def patch16(buf: bytearray, offset: int, value: int) -> None:
    struct.pack_into("<H", buf, offset, value & 0xFFFF)


def patch32(buf: bytearray, offset: int, value: int) -> None:
    struct.pack_into("<L", buf, offset, value & 0xFFFFFFFF)


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes = b"x"
    mode: int | None = None  # unix st_mode for external_attr; None = regular 0o644
    method: int = zipfile.ZIP_DEFLATED
    raw_name: bytes | None = None  # exact name bytes, patched in without the UTF-8 flag
    utf8_flag: bool | None = None  # force the flag on/off (after any raw name)
    encrypted: bool = False
    declared_size: int | None = None  # lie about the uncompressed size (both headers)


def build_zip(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, e in enumerate(entries):
            # A raw name is written as an ASCII placeholder of the same byte length, then patched.
            name = f"{i:0{len(e.raw_name)}d}"[-len(e.raw_name) :] if e.raw_name else e.name
            info = zipfile.ZipInfo(name or "_", date_time=(2025, 3, 5, 16, 40, 0))
            info.compress_type = e.method
            info.create_system = 3
            info.external_attr = ((e.mode if e.mode is not None else stat.S_IFREG | 0o644) & 0xFFFF) << 16
            if e.mode is not None and stat.S_ISDIR(e.mode):
                info.external_attr |= 0x10
            zf.writestr(info, e.data)
    out = bytearray(buf.getvalue())
    for e, r in zip(entries, records(out), strict=True):
        if e.raw_name is not None:
            out[r.central + 46 : r.central + 46 + r.name_len] = e.raw_name
            out[r.local + 30 : r.local + 30 + r.name_len] = e.raw_name
        for flags_at in (r.central + 8, r.local + 6):
            flags = struct.unpack_from("<H", out, flags_at)[0]
            if e.raw_name is not None or e.utf8_flag is False:
                flags &= ~0x800
            if e.utf8_flag:
                flags |= 0x800
            if e.encrypted:
                flags |= 0x1
            patch16(out, flags_at, flags)
        if e.declared_size is not None:
            patch32(out, r.central + 24, e.declared_size)
            patch32(out, r.local + 22, e.declared_size)
    return bytes(out)


def zeros_member(size: int) -> bytes:
    return b"\0" * size


@cache
def nested_bomb() -> bytes:
    """A ZIP of ZIPs of zeros (42.zip in miniature): 8 × 8 × 1 MiB behind a few KiB."""
    inner = build_zip([Entry(f"{i}.bin", zeros_member(1024 * 1024)) for i in range(8)])
    return build_zip([Entry(f"{i}.zip", inner, method=zipfile.ZIP_STORED) for i in range(8)])


@cache
def valid_package_zip() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return write_case(Path(tmp), as_zip=True).read_bytes()


NAME_PARTS = [
    "..", ".", "", "申报材料", "结果材料", "a.pdf", "C:", "c:", "\\", "\\\\srv\\share", "%2e%2e",
    "..\\..", "．．", "..\u2215", "\u202eFDP.exe", "e\u0301", "\u00e9", "CON", "aux.txt", " ", "~",
    "a" * 120, "中" * 90, "\t", "\x7f", "..\x00", "\x00", "x\x00.pdf", "/", "//", "outside",
]  # fmt: skip

hostile_names = st.one_of(
    st.lists(st.sampled_from(NAME_PARTS), min_size=1, max_size=6).map("/".join),
    st.lists(st.sampled_from(NAME_PARTS), min_size=1, max_size=4).map("\\".join),
    st.sampled_from(
        [
            "/etc/passwd",
            "C:\\Windows\\win.ini",
            "C:/x",
            "./C:/x",
            "\\\\?\\C:\\x",
            "../" * 12 + "tmp/dg-fuzz-evil.txt",
        ]
    ),
    st.text(max_size=40),
    st.integers(1, 40).map(lambda n: "/".join(["d" * 250] * n)),  # over-long components and paths
)

modes = st.sampled_from(
    [
        None,
        stat.S_IFREG | 0o644,
        stat.S_IFREG | 0o4755,  # setuid: must not matter
        stat.S_IFLNK | 0o777,
        stat.S_IFDIR | 0o755,
        stat.S_IFIFO | 0o644,
        stat.S_IFCHR | 0o644,
        stat.S_IFBLK | 0o644,
        stat.S_IFSOCK | 0o644,
        0o177777,
    ]
)


BENIGN_NAMES = [
    "申报材料/申请书.pdf",
    "过程材料/受理通知书.pdf",
    "结果材料/决定书.pdf",
    schema.METADATA_FILENAME,
]


@st.composite
def hostile_entries(draw: st.DrawFn) -> Entry:
    """One entry; two in three are benign, so that lists mixing a few hostile ones get read too."""
    benign = draw(st.integers(0, 2)) > 0
    mode = None if benign else draw(modes)
    name = draw(st.sampled_from(BENIGN_NAMES) if benign and draw(st.booleans()) else hostile_names)
    bombs = st.sampled_from([zeros_member(64 * 1024), zeros_member(300_000)])
    if mode is not None and stat.S_ISLNK(mode):  # link payload: where it points
        data = draw(st.sampled_from([b"../../../outside", b"/etc/passwd", b"..", b"../outside/victim.txt"]))
    else:
        data = draw(st.binary(max_size=64) if benign else st.binary(max_size=64) | bombs)
    raw_name = None
    # Name bytes as a Windows tool (GBK, no UTF-8 flag) or a fuzzer writes them.
    if not benign and draw(st.integers(0, 3)) == 0:
        encoded = st.sampled_from(["gb18030", "gbk", "utf-8", "cp437"]).map(
            lambda e: name.encode(e, "replace")
        )
        raw_name = draw(encoded | st.binary(min_size=1, max_size=24)) or None
    return Entry(
        name=name,
        data=data,
        mode=mode,
        method=zipfile.ZIP_DEFLATED if benign else draw(st.sampled_from(METHODS)),
        raw_name=raw_name,
        utf8_flag=None if benign else draw(st.sampled_from([None, True, False])),
        encrypted=not benign and draw(st.integers(0, 5)) == 0,
        declared_size=None if benign else draw(st.sampled_from(LIES)),
    )


METHODS = [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
LIES = [None, None, 0, 1, 2**31 - 1, 2**32 - 1, 10 * 1024 * 1024]


def entries_zip(entries: list[Entry]) -> bytes:
    # zipfile refuses only NUL-free names it cannot write at all; those become raw names.
    return build_zip([e if e.name and "\x00" not in e.name else _as_raw(e) for e in entries])


def _as_raw(e: Entry) -> Entry:
    raw = e.raw_name or e.name.encode("utf-8") or b"_"
    return Entry(e.name, e.data, e.mode, e.method, raw, e.utf8_flag, e.encrypted, e.declared_size)


# ---------------------------------------------------------------------------------------------
# ZIP properties


@pytest.mark.timeout(120)
@budget(150, large_data=True)
@given(st.lists(hostile_entries(), min_size=1, max_size=6))
@example([Entry("../../evil.txt")])
@example([Entry("/tmp/dg-fuzz-evil.txt")])
@example([Entry("C:\\evil.txt")])
@example([Entry("..\\..\\evil.txt")])
@example(
    [Entry("申报材料/link", b"../../../outside", mode=stat.S_IFLNK | 0o777), Entry("申报材料/link/evil.txt")]
)
@example([Entry("d", b"../outside", mode=stat.S_IFLNK | 0o777), Entry("d/victim.txt", b"overwritten")])
@example([Entry("a.pdf", b"1"), Entry("A.PDF", b"2")])
@example([Entry("e\u0301.pdf", b"1"), Entry("\u00e9.pdf", b"2")])
@example([Entry("a", b"1"), Entry("a/b", b"2")])
@example([Entry("x", raw_name="申报材料/申请书.pdf".encode("gb18030"))])
@example([Entry("x", raw_name=b"a\x00/../../evil.txt")])
@example([Entry("x", raw_name=b"\xff\xfe\xfd", utf8_flag=True)])
@example([Entry("/".join(["d" * 250] * 20) + "/x.pdf"), Entry("y")])
@example([Entry("big.bin", zeros_member(300_000))])
@example([Entry("liar.bin", zeros_member(300_000), declared_size=10)])
@example([Entry("secret.txt", b"x", encrypted=True)])
@example([Entry("a.bz2", b"x" * 100, method=zipfile.ZIP_BZIP2)])
def test_hostile_zip_entries_are_refused_or_contained(entries: list[Entry]) -> None:
    with sandbox() as box:
        received = read_zip_safely(box, entries_zip(entries))
        assert (box.outside / "victim.txt").read_text() == "untouched"
        assert not list(box.outside.glob("evil*")) and not list(box.root.rglob("evil.txt"))
        assert not Path("/tmp/dg-fuzz-evil.txt").exists()
        if received is not None:  # read: no entry was a link
            assert all(e.mode is None or not stat.S_ISLNK(e.mode) for e in entries)


@pytest.mark.timeout(60)
@budget(50, deadline_s=10)
@given(
    size=st.integers(16 * 1024, 4 * 1024 * 1024),
    count=st.integers(1, 80),
    lie=st.sampled_from([None, 0, 100, 16 * 1024 - 1, 2**32 - 1]),
    method=st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]),
)
def test_zip_bombs_never_exceed_the_limits(size: int, count: int, lie: int | None, method: int) -> None:
    """Many highly compressible members, optionally with lying sizes: refused, or within the byte limit."""
    per_entry = max(1, size // count)
    entries = [
        Entry(f"申报材料/{i}.bin", zeros_member(per_entry), method=method, declared_size=lie)
        for i in range(count)
    ]
    with sandbox() as box:
        received = read_zip_safely(box, build_zip(entries))
        if received is not None:
            assert sum(f.size for f in received.files.values()) <= SMALL.max_total_bytes


@pytest.mark.timeout(60)
def test_zip_bomb_memory_and_disk_stay_bounded() -> None:
    """A 64 MiB member of zeros (~1000:1) behind ~64 KiB: refused before a byte is written, by the ratio
    or the size limit; with its sizes hidden (declared smaller) the read stops at the declared size
    and the CRC fails. Python heap stays far below the member's size (measured with tracemalloc)."""
    size = 64 * 1024 * 1024
    honest = build_zip([Entry("申报材料/zeros.bin", zeros_member(size))])
    assert len(honest) < 256 * 1024
    no_ratio = IntakeLimits(max_total_bytes=8 * 1024 * 1024, max_ratio=1e9)
    cases = [
        (honest, IntakeLimits(), "ZIP_BOMB"),
        (honest, no_ratio, "ZIP_TOO_LARGE"),
        (_declare(honest, 4 * 1024 * 1024), no_ratio, "ZIP_CORRUPT"),  # 4 MiB unpacked, then CRC error
        (_declare(honest, 1024), IntakeLimits(), "ZIP_CORRUPT"),
    ]
    for data, limits, code in cases:
        with sandbox() as box:
            tracemalloc.start()
            try:
                with pytest.raises(UnsafeArchiveError) as exc:
                    read_zip_safely(box, data, limits, reraise=True)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert exc.value.code == code
            assert peak < 16 * 1024 * 1024, f"peak {peak} bytes while reading a bomb"
            if code != "ZIP_CORRUPT":
                assert not any(box.dest.iterdir()), "written before refusing"


def _declare(data: bytes, size: int) -> bytes:
    buf = bytearray(data)
    for r in records(buf):
        patch32(buf, r.central + 24, size)
        patch32(buf, r.local + 22, size)
    return bytes(buf)


def _written(box: Sandbox, data: bytes) -> Path:
    p = box.root / "upload.zip"
    p.write_bytes(data)
    return p


def test_nested_zip_is_stored_not_expanded() -> None:
    inner = nested_bomb()
    with sandbox() as box:
        pkg = build_zip([Entry(schema.METADATA_FILENAME, b"<x/>"), Entry("申报材料/附件.zip", inner)])
        received = read_zip_safely(box, pkg, IntakeLimits())
        assert received is not None
        assert received.files["申报材料/附件.zip"].size == len(inner)
        assert sorted(p.name for p in box.dest.rglob("*") if p.is_file()) == sorted(
            ["附件.zip", schema.METADATA_FILENAME]
        )


def test_entries_sharing_one_body_are_refused() -> None:
    """Overlapping entries (Fifield's non-recursive bomb): every central record points at one body."""
    buf = bytearray(build_zip([Entry(f"申报材料/{i}.bin", zeros_member(200_000)) for i in range(20)]))
    recs = records(buf)
    first = recs[0]
    for r in recs[1:]:
        buf[r.central + 16 : r.central + 28] = buf[first.central + 16 : first.central + 28]  # CRC, sizes
        patch32(buf, r.central + 42, first.local)
    with sandbox() as box:
        assert read_zip_safely(box, bytes(buf), IntakeLimits(max_total_bytes=1024 * 1024)) is None


def test_too_many_entries_refused_before_writing() -> None:
    data = build_zip([Entry(f"申报材料/{i}.txt", b"") for i in range(SMALL.max_entries + 1)])
    with sandbox() as box:
        with pytest.raises(UnsafeArchiveError) as exc:
            receive_zip(_written(box, data), box.dest, SMALL)
        assert exc.value.code == "ZIP_TOO_MANY_ENTRIES" and not any(box.dest.iterdir())


# --- mutations of a real package -------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    buf = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        if not buf:
            break
        # Half the edits land in the last third, where the central directory and its end record are.
        at = draw(st.integers(0, len(buf) - 1) | st.integers(len(buf) * 2 // 3, len(buf) - 1))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if op == "flip":
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            buf[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif op == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[at : at + draw(st.integers(1, 64))]
        else:
            del buf[at:]
    return bytes(buf)


@pytest.mark.timeout(120)
@budget(150, large_data=True)
@given(st.data())
def test_mutated_package_bytes(data: st.DataObject) -> None:
    base = valid_package_zip()
    blob = data.draw(mutated(base))
    with sandbox() as box:
        read_zip_safely(box, blob, IntakeLimits())


# Header fields an attacker controls, by offset in the central header / local header / end record.
CD_FIELDS = {"version_needed": (6, 2), "flags": (8, 2), "method": (10, 2), "crc": (16, 4), "csize": (20, 4),
             "usize": (24, 4), "name_len": (28, 2), "extra_len": (30, 2), "comment_len": (32, 2),
             "disk": (34, 2), "ext_attr": (38, 4), "local_offset": (42, 4)}  # fmt: skip
LH_FIELDS = {"version_needed": (4, 2), "flags": (6, 2), "method": (8, 2), "crc": (14, 4), "csize": (18, 4),
             "usize": (22, 4), "name_len": (26, 2), "extra_len": (28, 2)}  # fmt: skip
EOCD_FIELDS = {"disk": (4, 2), "cd_disk": (6, 2), "disk_entries": (8, 2), "entries": (10, 2),
               "cd_size": (12, 4), "cd_offset": (16, 4), "comment_len": (20, 2)}  # fmt: skip
interesting = st.sampled_from(
    [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 20, 45, 63, 64]
) | st.integers(0, 2**32 - 1)


FIELDS = (
    [("central", f) for f in CD_FIELDS]
    + [("local", f) for f in LH_FIELDS]
    + [("eocd", f) for f in EOCD_FIELDS]
)


def patch_field(data: bytes, target: tuple[str, str], index: int, value: int) -> bytes:
    """``data`` with one header field (of the index-th entry, or of the end record) set to ``value``."""
    where, field = target
    buf = bytearray(data)
    recs = records(buf)
    rec = recs[index % len(recs)]
    base = {"central": rec.central, "local": rec.local, "eocd": buf.rfind(b"PK\x05\x06")}[where]
    offset, width = {"central": CD_FIELDS, "local": LH_FIELDS, "eocd": EOCD_FIELDS}[where][field]
    (patch16 if width == 2 else patch32)(buf, base + offset, value)
    return bytes(buf)


def header_patched(base: bytes) -> st.SearchStrategy[bytes]:
    return st.builds(patch_field, st.just(base), st.sampled_from(FIELDS), st.integers(0, 3), interesting)


@pytest.mark.timeout(120)
@budget(150)
@given(target=st.sampled_from(FIELDS), index=st.integers(0, 3), value=interesting)
@example(target=("central", "version_needed"), index=0, value=0xFF)  # NotImplementedError before the fix
@example(target=("eocd", "cd_offset"), index=0, value=0xFFFF)  # negative seek (OSError) before the fix
def test_patched_header_fields(target: tuple[str, str], index: int, value: int) -> None:
    """One header field of a real package set to an edge value (sizes, offsets, counts, flags …)."""
    with sandbox() as box:
        read_zip_safely(box, patch_field(valid_package_zip(), target, index, value), IntakeLimits())


@pytest.mark.timeout(60)
@budget(60)
@given(cut=st.integers(0, 4096))
def test_truncated_central_directory(cut: int) -> None:
    base = valid_package_zip()
    with sandbox() as box:
        read_zip_safely(box, base[: max(0, len(base) - cut)], IntakeLimits())


# --- names: GB18030 and friends ----------------------------------------------------------------

cjk_names = st.text(
    alphabet=st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF)
    | st.characters(min_codepoint=0x20000, max_codepoint=0x2A6DF)
    | st.sampled_from("申报材料结果过程ab1_-．"),
    min_size=1,
    max_size=20,
)


@budget(80)
@given(
    folder=st.sampled_from(["申报材料", "过程材料", "结果材料"]),
    stem=cjk_names,
    encoding=st.sampled_from(["gb18030", "utf-8"]),
)
def test_chinese_names_without_utf8_flag_land_where_they_should(
    folder: str, stem: str, encoding: str
) -> None:
    """Windows tools write GB18030/GBK names without the UTF-8 flag: read back as written, or (when the
    bytes also happen to be valid UTF-8) as UTF-8, never outside the quarantine folder."""
    name = f"{folder}/{stem}.pdf"
    raw = name.encode(encoding)
    with sandbox() as box:
        # A top-level file keeps the one-folder unwrapping (intake._common_prefix) out of the way.
        zipped = build_zip([Entry(schema.METADATA_FILENAME, b"<x/>"), Entry("x", b"%PDF-1.4", raw_name=raw)])
        received = read_zip_safely(box, zipped)
        assert received is not None
        (got,) = received.content_files
        try:
            as_utf8 = raw.decode("utf-8")
        except UnicodeDecodeError:
            as_utf8 = None
        assert got in {name, as_utf8}
        assert (box.dest / got).read_bytes() == b"%PDF-1.4"


# --- regressions for bugs this fuzzing found ---------------------------------------------------


def test_regression_unreadable_zip_version_is_zip_corrupt() -> None:
    buf = bytearray(valid_package_zip())
    patch16(buf, records(buf)[0].central + 6, 0xFF)  # "version needed to extract" 25.5
    with sandbox() as box, pytest.raises(UnsafeArchiveError) as exc:
        receive_zip(_written(box, bytes(buf)), box.dest)
    assert exc.value.code == "ZIP_CORRUPT"  # was NotImplementedError("zip file version 25.5")


def test_regression_entry_offset_before_file_start_is_zip_corrupt() -> None:
    buf = bytearray(valid_package_zip())
    eocd = buf.rfind(b"PK\x05\x06")
    patch32(buf, eocd + 16, struct.unpack_from("<L", buf, eocd + 16)[0] + 4096)
    with sandbox() as box, pytest.raises(UnsafeArchiveError) as exc:
        receive_zip(_written(box, bytes(buf)), box.dest)
    assert exc.value.code == "ZIP_CORRUPT"  # was OSError(EINVAL) from a negative seek


def test_regression_overlong_folder_name_is_path_too_long() -> None:
    long_path = "/".join(["d" * 250] * 20) + "/x.pdf"  # every component fits, the whole path does not
    with sandbox() as box:
        for names in ([long_path, "y"], ["d" * 300 + "/x.pdf", "y"]):
            with pytest.raises(UnsafeArchiveError) as exc:
                receive_zip(_written(box, build_zip([Entry(n) for n in names])), box.dest)
            assert exc.value.code == "PATH_TOO_LONG"  # was OSError(ENAMETOOLONG) from mkdir


def test_regression_nul_in_a_zip_name_is_refused() -> None:
    """zipfile cuts a name at a NUL byte ("申.pdf", NUL, "/../../evil.txt" became "申.pdf"): a trick to
    show one name to one tool and another to the next. The reader's NUL check never saw it; now refused."""
    data = build_zip([Entry("x", raw_name="申.pdf\x00/../../evil.txt".encode())])
    with sandbox() as box:
        with pytest.raises(UnsafeArchiveError) as exc:
            receive_zip(_written(box, data), box.dest)
        assert exc.value.code == "ZIP_PATH_INVALID" and not any(box.dest.iterdir())


def test_regression_gb18030_file_names_in_a_folder_package() -> None:
    """A carrier written by Chinese Windows holds GB18030 names: they were kept as surrogate escapes,
    and the ingest then crashed (UnicodeEncodeError, INTERNAL_ERROR). Now read as GB18030, per name;
    a name that is neither UTF-8 nor GB18030 is refused with PACKAGE_PATH_INVALID."""
    with sandbox() as box:
        src = box.root / "pkg"
        (src / "申报材料").mkdir(parents=True)
        raw = os.fsencode(src / "申报材料") + b"/" + "申请书𠀀.pdf".encode("gb18030")
        Path(os.fsdecode(raw)).write_bytes(b"%PDF")
        received = receive_folder(src, box.dest)
        assert list(received.files) == ["申报材料/申请书𠀀.pdf"]
        assert (box.dest / "申报材料" / "申请书𠀀.pdf").read_bytes() == b"%PDF"
        Path(os.fsdecode(os.fsencode(src / "申报材料") + b"/\x80.pdf")).write_bytes(b"%PDF")
        with pytest.raises(UnsafeArchiveError) as exc:
            receive_folder(src, box.root / "q2")
        assert exc.value.code == "PACKAGE_PATH_INVALID"
        exc.value.message.encode("utf-8")  # shown safely


# --- folders -----------------------------------------------------------------------------------


@budget(40)
@given(
    kinds=st.lists(
        st.sampled_from(["file", "link-file", "link-dir", "link-dangling", "fifo", "deep", "gb18030"]),
        min_size=1,
        max_size=5,
    )
)
def test_hostile_folder_package(kinds: list[str]) -> None:
    """A package folder with links (to a secret, to a folder outside, dangling) and FIFOs: refused
    without following or opening them (a FIFO would block forever), never copying the secret."""
    with sandbox() as box:
        src = box.root / "pkg"
        (src / "申报材料").mkdir(parents=True)
        for i, kind in enumerate(kinds):
            p = src / "申报材料" / f"{i}.pdf"
            if kind == "file":
                p.write_bytes(b"%PDF")
            elif kind == "link-file":
                p.symlink_to(box.root / "secret.txt")
            elif kind == "link-dir":
                (src / f"d{i}").symlink_to(box.outside, target_is_directory=True)
            elif kind == "link-dangling":
                p.symlink_to(box.root / "nowhere")
            elif kind == "fifo":
                os.mkfifo(p)
            elif kind == "deep":
                deep = src.joinpath(*["层"] * 30)
                deep.mkdir(parents=True, exist_ok=True)
                (deep / f"{i}.pdf").write_bytes(b"%PDF")
            else:  # a name as Chinese Windows writes it: GB18030 bytes
                gb = os.fsencode(src / "申报材料") + b"/" + f"{i}-中文𠀀.pdf".encode("gb18030")
                Path(os.fsdecode(gb)).write_bytes(b"%PDF")
        before = box.snapshot()
        try:
            received = receive_folder(src, box.dest, SMALL)
        except DanganError as exc:
            assert exc.code in READER_CODES, exc.code
            received = None
        assert box.snapshot() == before
        assert_contained(box.dest, SMALL.max_total_bytes)
        for p in box.dest.rglob("*"):
            assert not p.is_file() or SECRET not in p.read_text(errors="replace")
        bad = {"link-file", "link-dir", "link-dangling", "fifo"}
        assert (received is None) == bool(bad & set(kinds))


# ---------------------------------------------------------------------------------------------
# XML


@dataclass
class Listener:
    """A local TCP port an XXE URL points at: any connection proves the parser went to the network."""

    sock: socket.socket

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()
        return f"http://{host}:{port}/dangan-xxe.dtd"

    def contacted(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield Listener(sock)
    sock.close()


@pytest.fixture(scope="module")
def secret_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dg-fuzz-xxe-") as tmp:
        path = Path(tmp) / "secret.txt"
        path.write_text(SECRET)
        yield path


ROOT = schema.ROOT
TITLE = "办件名称"


def doctypes(secret: Path, url: str) -> dict[str, str]:
    laughs = '<!ENTITY a "lol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    return {
        "xxe-file": f'<!DOCTYPE {ROOT} [<!ENTITY x SYSTEM "file://{secret}">]>',
        "xxe-file-relative": f'<!DOCTYPE {ROOT} [<!ENTITY x SYSTEM "{secret}">]>',
        "xxe-http": f'<!DOCTYPE {ROOT} [<!ENTITY x SYSTEM "{url}">]>',
        "xxe-param": f'<!DOCTYPE {ROOT} [<!ENTITY % p SYSTEM "{url}"> %p; <!ENTITY x "y">]>',
        "external-dtd": f'<!DOCTYPE {ROOT} SYSTEM "{url}"><!-- -->',
        "external-dtd-file": f'<!DOCTYPE {ROOT} SYSTEM "file://{secret}">',
        "billion-laughs": f'<!DOCTYPE {ROOT} [{laughs}<!ENTITY x "&j;">]>',
        "quadratic": f'<!DOCTYPE {ROOT} [<!ENTITY x "{"A" * 50_000}">]>',
        "internal": f'<!DOCTYPE {ROOT} [<!ENTITY x "harmless">]>',
        "xinclude": "",
        "none": "",
    }


@st.composite
def hostile_xml(draw: st.DrawFn, secret: Path, url: str) -> bytes:
    kind = draw(st.sampled_from(sorted(doctypes(secret, url))))
    doctype = doctypes(secret, url)[kind]
    # Padding pushes the DOCTYPE past the 4 KiB / 64 KiB prefilters in xmlsafe: lxml must still refuse it.
    pad = draw(
        st.sampled_from(
            ["", "<!-- x -->", "\n" * 5000, "<!--" + "p" * 70_000 + "-->", "<?pi " + "q" * 70_000 + "?>"]
        )
    )
    ref = draw(st.sampled_from(["&x;", "&x;" * 1000, "", "&amp;&#x4E2D;&#20013;"]))
    place = draw(st.sampled_from(["text", "attribute", "both"]))
    if kind == "xinclude":
        body = f'<x:include xmlns:x="http://www.w3.org/2001/XInclude" href="{secret}" parse="text"/>'
    else:
        body = f"<办件基本信息><{TITLE}>{ref if place != 'attribute' else 't'}</{TITLE}></办件基本信息>"
    attr = f' 版本="{ref}"' if place != "text" and kind != "xinclude" else ""
    depth = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 70, 300, 10_000, 100_000]))
    body = "<d>" * depth + body + "</d>" * depth
    encoding = draw(st.sampled_from(["UTF-8", "UTF-16", "UTF-32", "GB18030", "GBK", "ISO-8859-1", None]))
    decl = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""
    text = f"{decl}{pad}{doctype}<{ROOT}{attr}>{body}</{ROOT}>"
    bom = draw(st.sampled_from([b"", b"", b"", b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
    try:
        data = text.encode({"UTF-16": "utf-16", "UTF-32": "utf-32"}.get(encoding or "", encoding or "utf-8"))
    except (UnicodeEncodeError, LookupError):
        data = text.encode("utf-8")
    tail = draw(st.sampled_from([b""] * 8 + [b"\xff\xfe\x00", b"\xc0\x80", b"\xed\xa0\x80", b"\x00"]))
    return bom + data + tail


def assert_parsed_safely(data: bytes, listener: Listener) -> None:
    for fn in (xmlsafe.parse, parse_metadata):
        try:
            result = fn(data)
        except MetadataError as exc:
            outcome(f"{fn.__name__}: {exc.message.split(', line')[0][:80]}")
            assert exc.code == "METADATA_INVALID"
            assert SECRET not in exc.message and SECRET not in str(exc)
        except DanganError as exc:  # another DanganError breaks the contract too
            raise AssertionError(f"unexpected {type(exc).__name__}: {exc.code}") from exc
        else:
            outcome(f"{fn.__name__}: parsed")
            if isinstance(result, etree._Element):
                everything = "".join(result.itertext()) + "".join(
                    v for el in result.iter() if isinstance(el.tag, str) for v in el.attrib.values()
                )
            else:
                everything = repr(result)
            assert SECRET not in everything
    errors = validate_case_structure(data)
    assert isinstance(errors, list) and all(isinstance(e, str) for e in errors)
    assert len(errors) <= 101 and not any(SECRET in e for e in errors)
    assert not listener.contacted(), "the XML parser opened a network connection"


@pytest.mark.timeout(120)
@budget(150, large_data=True)
@given(data=st.data())
def test_hostile_xml_is_refused_or_harmless(
    data: st.DataObject, listener: Listener, secret_file: Path
) -> None:
    assert_parsed_safely(data.draw(hostile_xml(secret_file, listener.url)), listener)


@pytest.mark.timeout(60)
def test_each_entity_attack_is_refused(listener: Listener, secret_file: Path) -> None:
    """Deterministic: every DOCTYPE kind, hidden behind 70 KiB of padding, in text and attribute.
    The process's peak RSS (libxml2 allocates outside tracemalloc's view) grows by less than 64 MiB:
    no entity was expanded (billion laughs would need ~3 GB)."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kind, doctype in doctypes(secret_file, listener.url).items():
        if not doctype:
            continue
        for body in (f"<{ROOT}>&x;</{ROOT}>", f'<{ROOT} 版本="&x;"/>'):
            for enc in ("utf-8", "utf-16"):
                text = f"<!--{'p' * 70_000}-->{doctype}{body}"
                with pytest.raises(MetadataError) as exc:
                    parse_metadata(text.encode(enc))
                assert SECRET not in exc.value.message, kind
    assert not listener.contacted()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib < 64 * 1024


@pytest.mark.timeout(60)
@budget(25, deadline_s=10)
@given(depth=st.integers(65, 100_000), tag=st.sampled_from(["d", "文件", "a:b"]))
def test_deep_nesting_is_refused_quickly(depth: int, tag: str) -> None:
    ns = ' xmlns:a="urn:x"' if ":" in tag else ""
    data = f"<{ROOT}{ns}>{f'<{tag}>' * depth}{f'</{tag}>' * depth}</{ROOT}>".encode()
    with pytest.raises(MetadataError):
        xmlsafe.parse(data)
    with pytest.raises(MetadataError):
        parse_metadata(data)
    assert len(validate_case_structure(data)) == 1


@budget(100, large_data=True)
@given(data=st.data())
def test_mutated_metadata_xml(data: st.DataObject, listener: Listener, secret_file: Path) -> None:
    base = metadata_xml(make_case()[0])
    tokens = [b"<", b">", b"&", b"&x;", b"<!DOCTYPE a>", b"<![CDATA[", b"]]>", b"<!--", b"-->", b"<?pi?>",
              b"\xff", b"\xe4\xb8", b"\x00", b'"', b"\xef\xbb\xbf", "中".encode("gb18030"), b"&#0;",
              b"&#xD800;", b"&#x10FFFF;", b"\r\n", b'<!ENTITY x SYSTEM "file://' + str(secret_file).encode() + b'">']  # fmt: skip
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(buf)))
        op = data.draw(st.sampled_from(["token", "byte", "delete"]))
        if op == "token":
            buf[at:at] = data.draw(st.sampled_from(tokens))
        elif op == "byte" and at < len(buf):
            buf[at] = data.draw(st.integers(0, 255))
        else:
            del buf[at : at + data.draw(st.integers(1, 40))]
    assert_parsed_safely(bytes(buf), listener)


# --- encodings -----------------------------------------------------------------------------------

# Characters whose GB18030 mapping changed between the 2000, 2005 and 2022 editions: libxml2's
# converter and Python's codec disagree on them (e.g. A8BC is U+1E3F in 2005, U+E7C7 in 2000).
GB18030_EDITION_DIFFERENCES = {0x1E3F, *range(0xFE10, 0xFE1A)}
xml_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Co", "Cc"),
        blacklist_characters="<&>",
        min_codepoint=0x20,
    ).filter(lambda c: ord(c) not in GB18030_EDITION_DIFFERENCES and ord(c) not in (0xFFFE, 0xFFFF)),
    min_size=1,
    max_size=40,
)


def _title_doc(title: str, encoding: str | None) -> str:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""
    return f"{decl}<{ROOT}><办件基本信息><{TITLE}>{title}</{TITLE}></办件基本信息></{ROOT}>"


@budget(150)
@given(title=xml_text)
@example(title="㐀测试𠀀龘")
@example(title="€ ¥ — “引号” ·")
def test_gb18030_declared_text_is_read_exactly(title: str) -> None:
    """Declared GB18030 (the national standard encoding, 4-byte sequences included) reads back exactly."""
    pkg = parse_metadata(_title_doc(title, "GB18030").encode("gb18030"))
    assert pkg.case.title == title.strip()
    with_bom = parse_metadata(b"\xef\xbb\xbf" + _title_doc(title, None).encode("utf-8"))
    assert with_bom.case.title == title.strip()


@budget(150)
@given(title=xml_text, declared=st.sampled_from([None, "UTF-8"]))
@example(title="测试", declared=None)
@example(title="一", declared=None)  # GB18030 D2BB is also valid UTF-8 (U+04BB): read as that
def test_undeclared_gb18030_is_refused_or_read_as_utf8(title: str, declared: str | None) -> None:
    """GB18030 bytes without a GB18030 declaration are read strictly as UTF-8: refused with
    METADATA_INVALID when they are not UTF-8, never guessed (so never silently mis-decoded as GBK)."""
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    raw = f"{decl}<a>{title}</a>".encode("gb18030")  # ASCII names: only the text decides
    try:
        as_utf8: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        as_utf8 = None
    try:
        root = xmlsafe.parse(raw)
    except MetadataError as exc:
        assert exc.code == "METADATA_INVALID"
        assert as_utf8 is None or not _xml_chars(as_utf8), "valid UTF-8 refused"
    else:
        assert as_utf8 is not None, "non-UTF-8 bytes were accepted without a declaration"
        assert root.text == as_utf8[len(decl) + 3 : -4]
    with pytest.raises(MetadataError):  # the Chinese element names alone are not UTF-8
        parse_metadata(_title_doc(title, declared).encode("gb18030"))


def _xml_chars(text: str) -> bool:
    return all(
        c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) >= 0x10000
        for c in text
    )


@budget(100)
@given(junk=st.binary(min_size=1, max_size=8).filter(lambda b: not _is_utf8(b)), at=st.integers(0, 4))
def test_invalid_utf8_is_refused(junk: bytes, at: int) -> None:
    title = "办件" * 2
    raw = _title_doc(title[:at] + "\ufffd" + title[at:], "UTF-8").encode().replace("\ufffd".encode(), junk)
    with pytest.raises(MetadataError) as exc:
        parse_metadata(raw)
    assert exc.value.code == "METADATA_INVALID"


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- the XML Schema check is bounded too ----------------------------------------------------------


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


@pytest.mark.timeout(60)
def test_regression_many_schema_errors_in_a_long_list_do_not_hang() -> None:
    """64,000 <文件> entries with an unknown child each (2.3 MB): lxml records every error's element
    path by walking the preceding siblings, so validating the tree took over a minute (quadratic);
    1.6 M bad attributes on 8,000 siblings took longer still. Now bounded, with a capped list."""
    bad_children = (
        f"<{ROOT}><文件信息>".encode()
        + "<文件><路径>x</路径></文件>".encode() * 64_000
        + f"</文件信息></{ROOT}>".encode()
    )
    attrs = b" ".join(b"a%d='1'" % i for i in range(200))
    bad_attrs = (
        f"<{ROOT}><文件信息>".encode()
        + (b"<\xe6\x96\x87\xe4\xbb\xb6 " + attrs + b"/>") * 8000
        + f"</文件信息></{ROOT}>".encode()
    )
    for data in (bad_children, bad_attrs):
        errors, seconds = _timed(lambda data=data: validate_case_structure(data))
        assert isinstance(errors, list) and 1 < len(errors) <= 101
        assert "validation stopped" in errors[-1]
        assert seconds < 30, f"{seconds:.1f} s"


def test_schema_errors_keep_line_numbers_when_few() -> None:
    pkg, _ = make_case()
    data = metadata_xml(pkg).replace(
        f"</{schema.Group.CASE.value}>".encode(),
        f"<未知元素>x</未知元素></{schema.Group.CASE.value}>".encode(),
    )
    errors = validate_case_structure(data)
    assert len(errors) == 1 and errors[0].startswith("line ") and "未知元素" in errors[0]
    attrs = " ".join(f'x{i}="1"' for i in range(150))
    many = data.replace(f"<{ROOT} ".encode(), f"<{ROOT} {attrs} ".encode(), 1)
    errors = validate_case_structure(many)
    assert len(errors) == 101 and errors[-1] == "… and 51 more XML Schema errors"
