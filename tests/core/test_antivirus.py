"""ClamAV scanning (check items 4-1/4-2) against real clamscan and clamd with the test's own signatures.

There is no public signature database here (and EICAR lives only in ClamAV's main database), so each
test writes a tiny database: an MD5 hash signature (.hdb) for one sample and a body signature (.ndb)
for a marker inside another sample.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dangan.core.antivirus import (
    ClamdScanner,
    ClamscanScanner,
    Finding,
    ScanError,
    ScannerConfigError,
    ScannerUnavailable,
    ScanReport,
    VirusScanner,
    check_available,
    scanner_from_config,
)
from dangan.core.errors import DanganError
from dangan.testing.tools import require_tool

MARKER = b"DANGAN-ANTIVIRUS-TEST-MARKER-7f3c9a"  # body signature matches these bytes anywhere
HASH_SAMPLE = b"%PDF-1.4\n% dangan hash-signature sample, not a real PDF\n" + bytes(range(256)) * 8
BODY_NAME = "Dangan.Test.Body"
HASH_NAME = "Dangan.Test.Hash"


def write_database(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dangan-test.hdb").write_text(
        f"{hashlib.md5(HASH_SAMPLE).hexdigest()}:{len(HASH_SAMPLE)}:{HASH_NAME}\n", encoding="ascii"
    )
    (directory / "dangan-test.ndb").write_text(f"{BODY_NAME}:0:*:{MARKER.hex()}\n", encoding="ascii")
    return directory


@dataclass
class Samples:
    root: Path
    hash_infected: Path
    body_infected: Path
    clean: Path
    chinese: Path  # infected, name with Chinese characters, spaces and ": "
    chinese_clean: Path

    def all(self) -> list[Path]:
        return [self.hash_infected, self.body_infected, self.clean, self.chinese, self.chinese_clean]


def write_samples(root: Path) -> Samples:
    (root / "文件 目录").mkdir(parents=True)
    # Not HTML: ClamAV normalises HTML (lower-cases it) before matching body signatures.
    body = b"scanned attachment\n" + os.urandom(4096) + MARKER + os.urandom(100)
    paths = {
        "hash_infected": ("材料/申请表.pdf", HASH_SAMPLE),
        "body_infected": ("材料/附件.bin", body),
        "clean": ("材料/clean.txt", b"a clean file\n" + HASH_SAMPLE[:-1]),  # near miss for the hash
        "chinese": ("文件 目录/营业执照 副本: 第1页.bin", body),
        "chinese_clean": ("文件 目录/身份证 正面.txt", "干净的文件\n".encode()),
    }
    out = {}
    for key, (rel, data) in paths.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out[key] = path
    return Samples(root=root, **out)


def assert_expected_verdicts(report: ScanReport) -> None:
    assert report.errors == []
    assert report.scanned == 5
    assert sorted(report.findings, key=lambda f: f.path) == sorted(
        [
            Finding("文件 目录/营业执照 副本: 第1页.bin", f"{BODY_NAME}.UNOFFICIAL"),
            Finding("材料/附件.bin", f"{BODY_NAME}.UNOFFICIAL"),
            Finding("材料/申请表.pdf", f"{HASH_NAME}.UNOFFICIAL"),
        ],
        key=lambda f: f.path,
    )
    assert not report.clean and report.complete


# --------------------------------------------------------------------------- clamscan


@pytest.fixture
def clamscan(tmp_path: Path) -> ClamscanScanner:
    require_tool("clamscan", debian_package="clamav")
    return ClamscanScanner(database_dir=write_database(tmp_path / "db"))


def test_clamscan_finds_hash_and_body_signatures_and_passes_clean_files(
    clamscan: ClamscanScanner, tmp_path: Path
) -> None:
    samples = write_samples(tmp_path / "pkg")
    assert check_available(clamscan) is None
    assert_expected_verdicts(clamscan.scan(samples.all(), root=samples.root))

    clean = clamscan.scan([samples.clean, samples.chinese_clean], root=samples.root)
    assert clean.clean and clean.scanned == 2 and clean.findings == []


def test_clamscan_describe_counts_own_signatures(clamscan: ClamscanScanner) -> None:
    info = clamscan.describe()
    assert info.engine == "ClamAV" and info.mode == "clamscan"
    assert info.version.startswith("ClamAV 1.") or info.version.startswith("ClamAV 0.")
    assert info.signatures == 2
    assert "dangan-test.hdb" in info.database and "2 signatures in all" in info.database


def test_clamscan_reports_unscannable_files_as_errors_not_clean(
    clamscan: ClamscanScanner, tmp_path: Path
) -> None:
    samples = write_samples(tmp_path / "pkg")
    weird = samples.root / "line\nbreak.html"  # cannot go into --file-list: streamed via stdin
    weird.write_bytes(b"x" + MARKER)
    dash = samples.root / "-r.txt"  # would be an option on a command line
    dash.write_bytes(b"clean")
    report = clamscan.scan(
        [samples.clean, samples.root / "missing.txt", samples.root / "材料", weird, dash], root=samples.root
    )
    assert report.findings == [Finding("line\nbreak.html", f"{BODY_NAME}.UNOFFICIAL")]
    assert report.scanned == 3
    assert [e.path for e in report.errors] == ["missing.txt", "材料"]
    assert "cannot read" in report.errors[0].reason and "not a regular file" in report.errors[1].reason
    assert report.unscanned() == ["missing.txt", "材料"] and not report.clean


def test_clamscan_file_above_its_limit_is_an_error(tmp_path: Path) -> None:
    require_tool("clamscan", debian_package="clamav")
    scanner = ClamscanScanner(database_dir=write_database(tmp_path / "db"), max_filesize=64 * 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(200 * 1024) + MARKER)
    small = tmp_path / "small.txt"
    small.write_bytes(b"small")
    report = scanner.scan([big, small], root=tmp_path)
    assert report.findings == [] and report.scanned == 1
    assert len(report.errors) == 1 and report.errors[0].path == "big.bin"
    assert "MaxFileSize" in report.errors[0].reason


def test_clamscan_unavailable_reasons(tmp_path: Path) -> None:
    missing = ClamscanScanner(binary=str(tmp_path / "no-such-clamscan"))
    assert "not found" in (check_available(missing) or "")
    report = missing.scan([tmp_path / "x"], root=tmp_path)  # missing file: precheck error
    assert report.unscanned() == ["x"]
    (tmp_path / "f.txt").write_text("x")
    report = missing.scan([tmp_path / "f.txt"], root=tmp_path)
    assert report.scanned == 0 and report.errors == [ScanError("f.txt", report.errors[0].reason)]
    assert "not found" in report.errors[0].reason

    require_tool("clamscan", debian_package="clamav")
    (tmp_path / "empty").mkdir()
    assert "no ClamAV signature database" in (
        check_available(ClamscanScanner(database_dir=tmp_path / "empty")) or ""
    )
    assert "does not exist" in (check_available(ClamscanScanner(database_dir=tmp_path / "nope")) or "")
    report = ClamscanScanner(database_dir=tmp_path / "empty").scan([tmp_path / "f.txt"], root=tmp_path)
    assert report.scanned == 0 and report.unscanned() == ["f.txt"] and not report.clean
    assert "clamscan could not scan it" in report.errors[0].reason


# --------------------------------------------------------------------------- clamd


@dataclass
class Clamd:
    socket_path: Path
    tcp_port: int
    startup_seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    binary = require_tool("clamd", debian_package="clamav-daemon")
    base = tmp_path_factory.mktemp("clamd")
    # AF_UNIX paths are limited to ~107 bytes; a deep pytest basetemp could exceed that.
    sock_dir = base if len(str(base)) < 80 else Path(tempfile.mkdtemp(prefix="clamd-"))
    db = write_database(base / "db")
    port = _free_port()
    conf = base / "clamd.conf"
    conf.write_text(
        "\n".join(
            [
                f"DatabaseDirectory {db}",
                f"LocalSocket {sock_dir / 'clamd.sock'}",
                "TCPAddr 127.0.0.1",
                f"TCPSocket {port}",
                "Foreground yes",
                f"LogFile {base / 'clamd.log'}",
                f"PidFile {base / 'clamd.pid'}",
                "StreamMaxLength 1M",  # small, so the size-limit test stays fast
                "MaxFileSize 600K",
                "AlertExceedsMax yes",
                "SelfCheck 0",
                "",
            ]
        ),
        encoding="utf-8",
    )
    start = time.monotonic()
    with (base / "clamd.out").open("wb") as out:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    scanner = ClamdScanner(str(sock_dir / "clamd.sock"), connect_timeout=1)
    try:
        while check_available(scanner) is not None:
            if proc.poll() is not None or time.monotonic() - start > 60:
                log = (base / "clamd.out").read_text(errors="replace")[-3000:]
                pytest.fail(f"clamd did not start (exit {proc.returncode}):\n{log}")
            time.sleep(0.05)
        yield Clamd(sock_dir / "clamd.sock", port, time.monotonic() - start)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if sock_dir != base:
            shutil.rmtree(sock_dir, ignore_errors=True)


def test_clamd_unix_socket_instream_finds_own_signatures(clamd: Clamd, tmp_path: Path) -> None:
    scanner = scanner_from_config(f"clamd:{clamd.socket_path}")
    assert isinstance(scanner, ClamdScanner) and isinstance(scanner, VirusScanner)
    assert check_available(scanner) is None
    samples = write_samples(tmp_path / "pkg")
    assert_expected_verdicts(scanner.scan(samples.all(), root=samples.root))
    assert clamd.startup_seconds < 30


def test_clamd_over_tcp(clamd: Clamd, tmp_path: Path) -> None:
    scanner = scanner_from_config(f"clamd:tcp://127.0.0.1:{clamd.tcp_port}")
    assert isinstance(scanner, ClamdScanner)
    assert check_available(scanner) is None
    samples = write_samples(tmp_path / "pkg")
    assert_expected_verdicts(scanner.scan(samples.all(), root=samples.root))


def test_clamd_describe(clamd: Clamd) -> None:
    info = ClamdScanner(str(clamd.socket_path)).describe()
    assert info.engine == "ClamAV" and info.mode == "clamd" and info.version.startswith("ClamAV ")
    assert info.database_version is None and "custom" in info.database  # no official daily here


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_clamd_stream_and_file_limits_are_errors_not_clean(
    clamd: Clamd, tmp_path: Path, transport: str
) -> None:
    address = str(clamd.socket_path) if transport == "unix" else f"tcp://127.0.0.1:{clamd.tcp_port}"
    scanner = ClamdScanner(address, chunk_size=64 * 1024)
    above_stream = tmp_path / "扫描件 大.bin"  # 3 MB > StreamMaxLength 1M; marker at the end
    above_stream.write_bytes(os.urandom(3 * 1024 * 1024) + MARKER)
    above_file = tmp_path / "medium.bin"  # 800K: streamed, but above MaxFileSize 600K
    above_file.write_bytes(os.urandom(800 * 1024))
    small = tmp_path / "small.txt"
    small.write_bytes(b"fine")
    report = scanner.scan([above_stream, above_file, small], root=tmp_path)
    assert report.findings == [] and report.scanned == 1 and not report.clean
    assert report.unscanned() == ["扫描件 大.bin", "medium.bin"]
    assert "size limit exceeded" in report.errors[0].reason
    assert "MaxFileSize" in report.errors[1].reason
    assert check_available(scanner) is None  # clamd still fine afterwards


def test_unreachable_clamd(tmp_path: Path) -> None:
    scanner = ClamdScanner(str(tmp_path / "no.sock"), connect_timeout=0.5)
    reason = check_available(scanner)
    assert reason is not None and "cannot connect to clamd" in reason
    with pytest.raises(ScannerUnavailable):
        scanner.describe()
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for f in files:
        f.write_text("x")
    report = scanner.scan(files, root=tmp_path)
    assert report.scanned == 0 and report.unscanned() == ["a.txt", "b.txt"]
    assert "cannot connect" in report.errors[1].reason
    refused = ClamdScanner(f"tcp://127.0.0.1:{_free_port()}", connect_timeout=0.5)
    assert "cannot connect to clamd" in (check_available(refused) or "")


# --------------------------------------------------------------------------- protocol (no ClamAV needed)


@contextlib.contextmanager
def fake_clamd(tmp_path: Path, reply: bytes, received: list[bytes]) -> Iterator[str]:
    path = tmp_path / "fake.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    data = b""
                    while not (data.endswith(b"\0\0\0\0") or data in (b"zPING\0", b"zVERSION\0")):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    received.append(data)
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield str(path)
    finally:
        server.close()


def test_instream_framing_and_reply_parsing(tmp_path: Path) -> None:
    received: list[bytes] = []
    data = os.urandom(10_000)
    (tmp_path / "f.bin").write_bytes(data)
    with fake_clamd(
        tmp_path, b"stream: Some.Sig(0123456789abcdef0123456789abcdef:10000) FOUND\0", received
    ) as addr:
        report = ClamdScanner(addr, chunk_size=4096).scan([tmp_path / "f.bin"], root=tmp_path)
        # a server that answers PING with something else is not usable
        assert "answered PING" in (check_available(ClamdScanner(addr)) or "")
    assert report.findings == [Finding("f.bin", "Some.Sig")]  # ExtendedDetectionInfo suffix removed
    frame = received[0]
    assert frame.startswith(b"zINSTREAM\0") and frame.endswith(b"\0\0\0\0")
    body, offset, sizes = b"", len(b"zINSTREAM\0"), []
    while True:
        (n,) = struct.unpack(">I", frame[offset : offset + 4])
        offset += 4
        if n == 0:
            break
        sizes.append(n)
        body += frame[offset : offset + n]
        offset += n
    assert body == data and sizes == [4096, 4096, 1808] and offset == len(frame)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"stream: OK\0", None),
        (b"stream: Heuristics.Limits.Exceeded.MaxScanSize FOUND\0", "MaxScanSize"),
        (b"INSTREAM size limit exceeded. ERROR\0", "size limit exceeded"),
        (b"stream: Can't allocate memory ERROR\0", "Can't allocate memory"),
        (b"", "without a verdict"),
        (b"UNKNOWN COMMAND\0", "unexpected reply"),
    ],
)
def test_clamd_replies_map_to_clean_or_error(tmp_path: Path, reply: bytes, expected: str | None) -> None:
    (tmp_path / "f.txt").write_bytes(b"abc")
    with fake_clamd(tmp_path, reply, []) as addr:
        report = ClamdScanner(addr).scan([tmp_path / "f.txt"], root=tmp_path)
    assert report.findings == []
    if expected is None:
        assert report.clean and report.scanned == 1
    else:
        assert report.scanned == 0 and report.unscanned() == ["f.txt"] and expected in report.errors[0].reason


def test_paths_outside_root_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not inside"):
        ClamdScanner("/nonexistent.sock").scan([tmp_path / "x"], root=tmp_path / "other")


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_scanner_configured(value: str | None) -> None:
    assert scanner_from_config(value) is None


def test_scanner_from_config_valid() -> None:
    unix = scanner_from_config("clamd:/run/clamav/clamd.ctl")
    assert isinstance(unix, ClamdScanner) and unix.address == "/run/clamav/clamd.ctl" and unix.mode == "clamd"
    tcp = scanner_from_config(" clamd:tcp://127.0.0.1:3310 ")
    assert isinstance(tcp, ClamdScanner) and tcp.address == "tcp://127.0.0.1:3310"
    assert isinstance(scanner_from_config("clamd:tcp://[::1]:3310"), ClamdScanner)
    assert isinstance(scanner_from_config("clamd:tcp://clamav.internal:3310"), ClamdScanner)
    plain = scanner_from_config("clamscan")
    assert isinstance(plain, ClamscanScanner) and plain.database_dir is None and plain.mode == "clamscan"
    with_db = scanner_from_config("CLAMSCAN:/var/lib/clamav")
    assert isinstance(with_db, ClamscanScanner) and with_db.database_dir == Path("/var/lib/clamav")


@pytest.mark.parametrize(
    "value",
    [
        "clamd",
        "clamd:",
        "clamd:relative/clamd.sock",
        "clamd:tcp://127.0.0.1",
        "clamd:tcp://127.0.0.1:99999",
        "clamd:tcp://:3310",
        "clamd:http://127.0.0.1:3310",
        "clamscan:",
        "clamscan:relative/db",
        "sophos",
        "/run/clamav/clamd.ctl",
    ],
)
def test_scanner_from_config_invalid(value: str) -> None:
    with pytest.raises(ScannerConfigError) as info:
        scanner_from_config(value)
    assert info.value.code == "BAD_SCANNER_CONFIG"
    assert isinstance(info.value, DanganError) and isinstance(info.value, ValueError)
    assert "DANGAN_CLAMAV" in info.value.message or "clamd address" in info.value.message
