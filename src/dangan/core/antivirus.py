"""Virus scanning through ClamAV, for check items 4-1 (杀毒软件 present) and 4-2 (病毒感染检测).

Two ways to reach ClamAV, chosen by ``DANGAN_CLAMAV`` (see :func:`scanner_from_config`):

* ``ClamdScanner``: a running ``clamd`` over its unix socket or TCP. Each file is streamed with the
  ``zINSTREAM`` command (4-byte big-endian chunk lengths, a zero-length chunk ends the stream), so
  clamd needs no access to our files and file names never travel. The signature database stays
  loaded in clamd, which makes this the mode for production.
* ``ClamscanScanner``: runs ``clamscan`` once per :meth:`~ClamscanScanner.scan` call. Simple, but
  clamscan loads the whole database each time (with the official database that takes seconds and
  about 1 GB of memory).

Every file handed to :meth:`VirusScanner.scan` ends up in exactly one of three states: clean,
infected (a :class:`Finding`), or not scanned (a :class:`ScanError`). A file that ClamAV did not
scan completely — too large for clamd's ``StreamMaxLength``, above ``MaxFileSize``/``MaxScanSize``
when ``AlertExceedsMax`` reports it (``Heuristics.Limits.Exceeded.*``), unreadable — is an error,
never a silent pass, so 4-2 can say "not run for X: reason" instead of "clean".

Pure domain logic: standard library only, no Django. The clamd client is written here from the
protocol as documented by ClamAV (``man clamd``); no third-party clamd library.
"""

from __future__ import annotations

import os
import re
import select
import socket
import stat
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, runtime_checkable

from dangan.core.errors import DanganError

__all__ = [
    "ClamdScanner",
    "ClamscanScanner",
    "Finding",
    "ScanError",
    "ScanReport",
    "ScannerConfigError",
    "ScannerInfo",
    "ScannerMode",
    "ScannerUnavailable",
    "VirusScanner",
    "check_available",
    "scanner_from_config",
]

ENV_VAR = "DANGAN_CLAMAV"
ScannerMode = Literal["clamd", "clamscan"]

# libclamav cannot scan files of 2 GiB or more (it warns and caps larger limits).
CLAMAV_MAX_BYTES = 2**31 - 1
# Detection names ClamAV uses when a limit stopped the scan (AlertExceedsMax / --alert-exceeds-max).
LIMIT_ALERT_PREFIX = "Heuristics.Limits.Exceeded."
# Signature database files, text formats counted line by line in describe().
_CONTAINER_DB_SUFFIXES = {".cvd", ".cld", ".cud"}
_TEXT_DB_SUFFIXES = {
    ".hdb", ".hsb", ".hdu", ".hsu", ".mdb", ".msb", ".mdu", ".msu", ".ndb", ".ndu",
    ".ldb", ".ldu", ".idb", ".cdb", ".crb", ".pdb", ".gdb", ".wdb", ".ftm", ".imp",
}  # fmt: skip
_OTHER_DB_SUFFIXES = {".yar", ".yara", ".cbc", ".cat", ".info", ".fp", ".sfp", ".ign", ".ign2", ".pwdb"}
_MAX_REPLY_BYTES = 64 * 1024


class ScannerConfigError(DanganError, ValueError):
    """``DANGAN_CLAMAV`` (or a scanner argument) cannot be understood."""

    code = "BAD_SCANNER_CONFIG"


class ScannerUnavailable(DanganError):
    """The configured scanner cannot be reached or run (clamd down, clamscan missing, no database)."""

    code = "SCANNER_UNAVAILABLE"


@dataclass(frozen=True)
class ScannerInfo:
    """What is scanning, for 4-1's evidence and the system page."""

    engine: str  # "ClamAV"
    version: str  # ClamAV's own version line, e.g. "ClamAV 1.4.6/27480/Fri Nov 20 09:33:02 2026"
    database: str  # human summary: official database version/date and/or signature count
    mode: ScannerMode
    location: str  # clamd address, or the clamscan binary and database directory
    database_version: int | None = None  # the daily database version when ClamAV reports one
    signatures: int | None = None  # number of signatures when obtainable (clamscan with a known dir)


@dataclass(frozen=True)
class Finding:
    """One infected file. ``path`` is relative to the scan root, ``/``-separated."""

    path: str
    signature: str  # ClamAV's detection name, e.g. "Win.Test.EICAR_HDB-1" or "X.UNOFFICIAL"


@dataclass(frozen=True)
class ScanError:
    """A file that was NOT scanned (or not completely): 4-2 cannot call it clean.

    ``path`` is relative to the scan root; it is "" only for an error not tied to one file.
    """

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


@dataclass
class ScanReport:
    """The outcome of one :meth:`VirusScanner.scan` call.

    Each input file is in exactly one of: ``findings`` (infected), ``errors`` (not scanned, with the
    reason) or neither (scanned and clean). ``scanned`` counts the files that got a verdict.
    """

    findings: list[Finding] = field(default_factory=list)
    scanned: int = 0
    errors: list[ScanError] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True only when every file was scanned and none is infected."""
        return not self.findings and not self.errors

    @property
    def complete(self) -> bool:
        """Every file got a verdict (clean or infected)."""
        return not self.errors

    def unscanned(self) -> list[str]:
        """Relative paths that 4-2 must report as "not run"."""
        return [e.path for e in self.errors if e.path]


@runtime_checkable
class VirusScanner(Protocol):
    """A virus scanner the checks can use. Implementations: ClamdScanner, ClamscanScanner."""

    @property
    def mode(self) -> ScannerMode: ...

    def ping(self) -> None:
        """Return when the scanner is usable, else raise :class:`ScannerUnavailable`."""

    def describe(self) -> ScannerInfo:
        """Engine and database versions. Raises :class:`ScannerUnavailable` when unreachable."""

    def scan(self, paths: list[Path], *, root: Path) -> ScanReport:
        """Scan regular files; report paths relative to ``root``. Never raises for one bad file."""


def check_available(scanner: VirusScanner) -> str | None:
    """None when the scanner answers; otherwise why not (4-1 turns that into a failure)."""
    try:
        scanner.ping()
    except ScannerUnavailable as exc:
        return exc.message
    except OSError as exc:  # pragma: no cover - ping() converts these; belt and braces
        return f"{type(exc).__name__}: {exc}"
    return None


# --------------------------------------------------------------------------- configuration


def scanner_from_config(value: str | None) -> VirusScanner | None:
    """Build the scanner named by ``DANGAN_CLAMAV``; None when unset or empty (4-1/4-2 "not run").

    Accepted values::

        clamd:/run/clamav/clamd.ctl      clamd on a unix socket (absolute path)
        clamd:tcp://127.0.0.1:3310       clamd over TCP (IPv6: tcp://[::1]:3310)
        clamscan                         clamscan with its default database directory
        clamscan:/var/lib/clamav         clamscan with this database directory (absolute path)
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    kind, sep, arg = text.partition(":")
    kind = kind.strip().lower()
    arg = arg.strip()
    if kind == "clamd":
        if not arg:
            raise ScannerConfigError(
                f"{ENV_VAR}={value!r}: clamd needs an address, e.g. clamd:/run/clamav/clamd.ctl "
                "or clamd:tcp://127.0.0.1:3310",
                target=ENV_VAR,
            )
        return ClamdScanner(arg)
    if kind == "clamscan":
        if sep and not arg:
            raise ScannerConfigError(
                f"{ENV_VAR}={value!r}: give a database directory after 'clamscan:' or use plain 'clamscan'",
                target=ENV_VAR,
            )
        if arg and not os.path.isabs(arg):
            raise ScannerConfigError(
                f"{ENV_VAR}={value!r}: the clamscan database directory must be an absolute path",
                target=ENV_VAR,
            )
        return ClamscanScanner(database_dir=Path(arg) if arg else None)
    raise ScannerConfigError(
        f"{ENV_VAR}={value!r}: unknown scanner {kind!r}; use clamd:<socket path>, "
        "clamd:tcp://host:port, clamscan or clamscan:<database dir>",
        target=ENV_VAR,
    )


def _parse_clamd_address(address: str) -> tuple[str, int] | str:
    """``tcp://host:port`` → (host, port); an absolute path → that path (unix socket)."""
    if address.startswith("tcp://"):
        rest = address[len("tcp://") :]
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]/\s]+):(\d{1,5})", rest)
        if not m:
            raise ScannerConfigError(f"clamd address {address!r}: expected tcp://host:port", target=ENV_VAR)
        host = m.group(1) or m.group(3)
        port = int(m.group(2) or m.group(4))
        if not 0 < port < 65536:
            raise ScannerConfigError(f"clamd address {address!r}: port out of range", target=ENV_VAR)
        return host, port
    if "://" in address:
        raise ScannerConfigError(
            f"clamd address {address!r}: only tcp://host:port or a unix socket path", target=ENV_VAR
        )
    if not os.path.isabs(address):
        raise ScannerConfigError(
            f"clamd address {address!r}: a unix socket must be an absolute path", target=ENV_VAR
        )
    return address


# --------------------------------------------------------------------------- helpers shared by both


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not inside the scan root {root}") from None


def _classify(name: str) -> tuple[str, str] | None:
    """A FOUND name → ("finding", name) or ("error", reason) for limit alerts."""
    name = re.sub(r"\([0-9a-fA-F]{32,64}:\d+\)$", "", name.strip())  # ExtendedDetectionInfo suffix
    if name.startswith(LIMIT_ALERT_PREFIX):
        limit = name[len(LIMIT_ALERT_PREFIX) :].removesuffix(".UNOFFICIAL")
        return "error", f"not scanned completely: ClamAV limit {limit} exceeded ({name})"
    return ("finding", name) if name else None


def _precheck(path: Path) -> str | None:
    """Why this path cannot be scanned at all, or None."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > CLAMAV_MAX_BYTES:
        return f"too large for ClamAV ({st.st_size} bytes; ClamAV scans files below 2 GiB only)"
    return None


def _database_summary(directory: Path) -> tuple[str, int | None, int | None]:
    """(summary, daily version, signature count) from the files in a ClamAV database directory.

    ``.cvd``/``.cld``/``.cud`` files start with a 512-byte header
    ``ClamAV-VDB:<build time>:<version>:<signatures>:<level>:…``; text databases (``.hdb``,
    ``.ndb`` …) hold one signature per line.
    """
    parts: list[str] = []
    total = 0
    daily: int | None = None
    try:
        entries = sorted(p for p in directory.iterdir() if p.is_file())
    except OSError as exc:
        return f"{directory}: cannot list ({exc.strerror or exc})", None, None
    for p in entries:
        suffix = p.suffix.lower()
        if suffix in _CONTAINER_DB_SUFFIXES:
            try:
                with p.open("rb") as fh:
                    header = fh.read(512).decode("ascii", "replace")
            except OSError:
                continue
            fields = header.split(":")
            if len(fields) >= 4 and fields[0] == "ClamAV-VDB" and fields[2].isdigit() and fields[3].isdigit():
                n = int(fields[3])
                total += n
                parts.append(f"{p.name} v{fields[2]} ({fields[1].strip()}, {_plural(n)})")
                if p.stem == "daily":
                    daily = int(fields[2])
            else:
                parts.append(f"{p.name} (unreadable header)")
        elif suffix in _TEXT_DB_SUFFIXES:
            try:
                with p.open("rb") as fh:
                    n = sum(1 for line in fh if line.strip() and not line.startswith(b"#"))
            except OSError:
                continue
            total += n
            parts.append(f"{p.name} ({_plural(n)})")
        elif suffix in _OTHER_DB_SUFFIXES:
            parts.append(p.name)
    if not parts:
        return f"{directory}: no database files", None, None
    return f"{directory}: " + ", ".join(parts) + f"; {_plural(total)} in all", daily, total


def _plural(n: int) -> str:
    return f"{n} signature" if n == 1 else f"{n} signatures"


def _version_fields(line: str) -> tuple[int | None, str]:
    """``ClamAV 1.4.6/27480/Fri Nov 20 09:33:02 2026`` → (27480, "Fri Nov 20 09:33:02 2026")."""
    parts = line.strip().split("/", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return int(parts[1]), parts[2]
    return None, ""


# --------------------------------------------------------------------------- clamd


class ClamdScanner:
    """Talks to clamd over a unix socket or TCP and streams each file with ``zINSTREAM``.

    clamd refuses a stream longer than its ``StreamMaxLength`` (default 25 MB) with
    ``INSTREAM size limit exceeded``: that file is reported as a :class:`ScanError`. Raise
    ``StreamMaxLength`` (and ``MaxFileSize``/``MaxScanSize``) in clamd.conf for larger files, and set
    ``AlertExceedsMax yes`` so clamd reports, rather than silently passes, files above those limits.
    """

    def __init__(
        self,
        address: str,
        *,
        connect_timeout: float = 5.0,
        timeout: float = 300.0,
        chunk_size: int = 256 * 1024,
    ) -> None:
        self.address = address
        self._target = _parse_clamd_address(address)
        self.connect_timeout = connect_timeout
        self.timeout = timeout  # per socket operation, including waiting for one file's verdict
        if chunk_size <= 0:
            raise ScannerConfigError("chunk_size must be positive")
        self.chunk_size = chunk_size

    @property
    def mode(self) -> ScannerMode:
        return "clamd"

    def __repr__(self) -> str:
        return f"ClamdScanner({self.address!r})"

    def _connect(self) -> socket.socket:
        try:
            if isinstance(self._target, tuple):
                sock = socket.create_connection(self._target, timeout=self.connect_timeout)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.connect_timeout)
                try:
                    sock.connect(self._target)
                except BaseException:
                    sock.close()
                    raise
        except OSError as exc:
            raise ScannerUnavailable(
                f"cannot connect to clamd at {self.address}: {exc.strerror or exc}", target=self.address
            ) from exc
        sock.settimeout(self.timeout)
        return sock

    @staticmethod
    def _read_reply(sock: socket.socket) -> str:
        """Read one NUL-terminated reply (z-prefixed commands end replies with NUL)."""
        buf = bytearray()
        while b"\0" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
            if len(buf) > _MAX_REPLY_BYTES:
                break
        return bytes(buf).split(b"\0", 1)[0].decode("utf-8", "replace").strip()

    def _command(self, command: str) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command.encode("ascii") + b"\0")
                reply = self._read_reply(sock)
            except OSError as exc:
                raise ScannerUnavailable(
                    f"clamd at {self.address} did not answer {command}: {exc.strerror or exc}",
                    target=self.address,
                ) from exc
        if not reply:
            raise ScannerUnavailable(
                f"clamd at {self.address} closed the connection without answering {command}",
                target=self.address,
            )
        return reply

    def ping(self) -> None:
        reply = self._command("PING")
        if reply != "PONG":
            raise ScannerUnavailable(
                f"clamd at {self.address} answered PING with {reply[:200]!r}", target=self.address
            )

    def describe(self) -> ScannerInfo:
        version = self._command("VERSION")
        if not version.startswith("ClamAV "):
            raise ScannerUnavailable(
                f"{self.address} does not look like clamd (VERSION → {version[:200]!r})", target=self.address
            )
        daily, date = _version_fields(version)
        database = (
            f"official database daily {daily} ({date})"
            if daily is not None
            else "no official (daily) database reported; custom signatures only or unknown"
        )
        return ScannerInfo(
            engine="ClamAV",
            version=version,
            database=database,
            mode="clamd",
            location=self.address,
            database_version=daily,
        )

    def scan(self, paths: list[Path], *, root: Path) -> ScanReport:
        report = ScanReport()
        rels = [_relative(p, root) for p in paths]
        unavailable: str | None = None
        for path, rel in zip(paths, rels, strict=True):
            if unavailable is not None:
                report.errors.append(ScanError(rel, unavailable))
                continue
            reason = _precheck(path)
            if reason is not None:
                report.errors.append(ScanError(rel, reason))
                continue
            try:
                reply = self._instream(path)
            except ScannerUnavailable as exc:
                unavailable = exc.message  # clamd is gone: do not wait on it once per file
                report.errors.append(ScanError(rel, unavailable))
                continue
            except OSError as exc:
                report.errors.append(ScanError(rel, f"cannot scan: {exc.strerror or exc}"))
                continue
            _record(report, rel, reply, source="clamd")
        return report

    def _instream(self, path: Path) -> str:
        """Stream one file; clamd's reply line (e.g. ``stream: OK``). OSError for a local read error."""
        with path.open("rb") as fh, self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                while chunk := _read_local(fh, self.chunk_size):
                    if select.select([sock], [], [], 0)[0]:
                        # clamd answered before the end of the stream: it refused it (size limit).
                        # Read now, before it closes and a TCP reset could discard the reply.
                        return self._read_reply(sock) or "clamd closed the connection mid-stream ERROR"
                    sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(b"\0\0\0\0")
                return self._read_reply(sock) or "clamd closed the connection without a verdict ERROR"
            except _LocalReadError as exc:
                raise exc.error from exc
            except (BrokenPipeError, ConnectionResetError) as exc:
                # clamd closes the connection once StreamMaxLength is exceeded; its reply may
                # still be waiting in our receive buffer.
                try:
                    reply = self._read_reply(sock)
                except OSError:
                    reply = ""
                return reply or (
                    f"clamd closed the connection while the file was streamed ({exc.strerror or exc}); "
                    "probably INSTREAM size limit exceeded ERROR"
                )
            except TimeoutError:
                return f"no answer from clamd within {self.timeout} s ERROR"
            except OSError as exc:
                return f"connection to clamd failed: {exc.strerror or exc} ERROR"


class _LocalReadError(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _read_local(fh: BinaryIO, size: int) -> bytes:
    try:
        return fh.read(size)
    except OSError as exc:
        raise _LocalReadError(exc) from exc


def _record(report: ScanReport, rel: str, reply: str, *, source: str) -> None:
    """Turn one scanner verdict (``<name>: OK`` / ``<name>: X FOUND`` / ``… ERROR``) into the report."""
    text = reply.strip()
    body = text.split(": ", 1)[1] if text.startswith("stream: ") else text
    if body == "OK":
        report.scanned += 1
    elif body.endswith(" FOUND"):
        verdict = _classify(body[: -len(" FOUND")])
        if verdict is None:
            report.errors.append(ScanError(rel, f"{source} gave an unreadable verdict: {text[:200]!r}"))
        elif verdict[0] == "error":
            report.errors.append(ScanError(rel, verdict[1]))
        else:
            report.scanned += 1
            report.findings.append(Finding(rel, verdict[1]))
    elif body.endswith("ERROR"):
        reason = body.removesuffix("ERROR").strip().rstrip(".")
        if "size limit exceeded" in reason:
            reason += " (the file is larger than clamd's StreamMaxLength)"
        report.errors.append(ScanError(rel, f"{source} could not scan it: {reason or 'error'}"))
    else:
        report.errors.append(ScanError(rel, f"{source} gave an unexpected reply: {text[:200]!r}"))


# --------------------------------------------------------------------------- clamscan


class ClamscanScanner:
    """Runs ``clamscan --no-summary --stdout`` over a list of files (``--file-list``).

    Limits are raised to what libclamav supports (``max_filesize``/``max_scansize``, bytes) and
    ``--alert-exceeds-max=yes`` is always passed, so a file that is still above a limit is reported
    as a :class:`ScanError` instead of being skipped as clean. File names containing a newline
    cannot go into the list file; they are streamed through clamscan's stdin instead.
    """

    def __init__(
        self,
        binary: str = "clamscan",
        database_dir: Path | None = None,
        *,
        max_filesize: int = CLAMAV_MAX_BYTES,
        max_scansize: int = CLAMAV_MAX_BYTES,
        timeout: float | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        if not binary:
            raise ScannerConfigError("clamscan binary must not be empty")
        if not 0 < max_filesize <= CLAMAV_MAX_BYTES or not 0 < max_scansize <= CLAMAV_MAX_BYTES:
            raise ScannerConfigError(f"clamscan limits must be between 1 and {CLAMAV_MAX_BYTES} bytes")
        self.binary = binary
        self.database_dir = database_dir
        self.max_filesize = max_filesize
        self.max_scansize = max_scansize
        self.timeout = timeout  # seconds for one clamscan run; None = no limit
        self.extra_args = list(extra_args)

    @property
    def mode(self) -> ScannerMode:
        return "clamscan"

    def __repr__(self) -> str:
        return f"ClamscanScanner({self.binary!r}, database_dir={self.database_dir!r})"

    def _base_args(self) -> list[str]:
        args = [self.binary]
        if self.database_dir is not None:
            args.append(f"--database={self.database_dir}")
        return args

    def _run(
        self, args: list[str], *, timeout: float | None, stdin: int | None = None
    ) -> tuple[int, bytes, bytes]:
        try:
            proc = subprocess.run(
                args, stdin=stdin if stdin is not None else subprocess.DEVNULL, capture_output=True,
                timeout=timeout, check=False,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise ScannerUnavailable(
                f"{self.binary} not found (apt-get install clamav)", target=self.binary
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ScannerUnavailable(
                f"{self.binary} did not finish within {timeout} s", target=self.binary
            ) from exc
        except OSError as exc:
            raise ScannerUnavailable(
                f"cannot run {self.binary}: {exc.strerror or exc}", target=self.binary
            ) from exc
        return proc.returncode, proc.stdout, proc.stderr

    def _version(self) -> str:
        rc, out, err = self._run([*self._base_args(), "--version"], timeout=60)
        line = out.decode("utf-8", "replace").strip()
        if rc != 0 or not line.startswith("ClamAV "):
            detail = (err or out).decode("utf-8", "replace").strip()[:300]
            raise ScannerUnavailable(
                f"{self.binary} --version failed (exit {rc}): {detail}", target=self.binary
            )
        return line

    def ping(self) -> None:
        version = self._version()
        if self.database_dir is not None:
            if not self.database_dir.is_dir():
                raise ScannerUnavailable(
                    f"clamscan database directory {self.database_dir} does not exist",
                    target=str(self.database_dir),
                )
            _summary, _daily, count = _database_summary(self.database_dir)
            if not count:
                raise ScannerUnavailable(
                    f"no ClamAV signature database in {self.database_dir} (run freshclam or copy .cvd files)",
                    target=str(self.database_dir),
                )
        elif _version_fields(version)[0] is None:
            raise ScannerUnavailable(
                "clamscan found no official database (daily.cvd/.cld) in its default database directory; "
                "run freshclam, copy the .cvd files there, or set DANGAN_CLAMAV=clamscan:/path/to/db",
                target=self.binary,
            )

    def describe(self) -> ScannerInfo:
        version = self._version()
        daily, date = _version_fields(version)
        location = self.binary + (f" --database={self.database_dir}" if self.database_dir else "")
        if self.database_dir is not None:
            database, dir_daily, count = _database_summary(self.database_dir)
            return ScannerInfo(
                engine="ClamAV", version=version, database=database, mode="clamscan", location=location,
                database_version=daily if daily is not None else dir_daily, signatures=count,
            )  # fmt: skip
        database = (
            f"official database daily {daily} ({date}) in clamscan's default directory"
            if daily is not None
            else "no official database found in clamscan's default directory"
        )
        return ScannerInfo(
            engine="ClamAV", version=version, database=database, mode="clamscan", location=location,
            database_version=daily,
        )  # fmt: skip

    def _scan_args(self) -> list[str]:
        return [
            *self._base_args(),
            "--no-summary",
            "--stdout",
            "--alert-exceeds-max=yes",
            f"--max-filesize={self.max_filesize}",
            f"--max-scansize={self.max_scansize}",
            *self.extra_args,
        ]

    def scan(self, paths: list[Path], *, root: Path) -> ScanReport:
        report = ScanReport()
        listed: dict[bytes, str] = {}  # the bytes clamscan will print → relative path
        via_stdin: list[tuple[Path, str]] = []
        for path in paths:
            rel = _relative(path, root)
            reason = _precheck(path)
            if reason is not None:
                report.errors.append(ScanError(rel, reason))
                continue
            name = os.fsencode(os.path.abspath(path))
            if b"\n" in name or b"\r" in name or name in listed:
                via_stdin.append((path, rel))
            else:
                listed[name] = rel
        if listed:
            self._scan_list(listed, report)
        for path, rel in via_stdin:
            self._scan_stdin(path, rel, report)
        return report

    def _scan_list(self, listed: dict[bytes, str], report: ScanReport) -> None:
        with tempfile.NamedTemporaryFile(prefix="dangan-clamscan-", suffix=".lst") as lst:
            lst.write(b"".join(name + b"\n" for name in listed))
            lst.flush()
            try:
                rc, out, err = self._run(
                    [*self._scan_args(), f"--file-list={lst.name}"], timeout=self.timeout
                )
            except ScannerUnavailable as exc:
                report.errors.extend(ScanError(rel, exc.message) for rel in listed.values())
                return
        pending = dict(listed)
        for line in out.splitlines():
            name, verdict = _split_output_line(line, pending)
            if name is None:
                continue
            _record(report, pending.pop(name), verdict, source="clamscan")
        if pending:
            stderr_lines = err.splitlines()
            general = _stderr_summary(stderr_lines)
            for name, rel in pending.items():
                specific = next((ln for ln in stderr_lines if name in ln), b"")
                why = os.fsdecode(specific).strip() or general or f"no verdict (exit {rc})"
                report.errors.append(ScanError(rel, f"clamscan could not scan it: {why}"))
        elif rc not in (0, 1):
            report.errors.append(ScanError("", f"clamscan exited {rc}: {_stderr_summary(err.splitlines())}"))

    def _scan_stdin(self, path: Path, rel: str, report: ScanReport) -> None:
        try:
            with path.open("rb") as fh:
                rc, out, err = self._run([*self._scan_args(), "-"], timeout=self.timeout, stdin=fh.fileno())
        except ScannerUnavailable as exc:
            report.errors.append(ScanError(rel, exc.message))
            return
        except OSError as exc:
            report.errors.append(ScanError(rel, f"cannot read: {exc.strerror or exc}"))
            return
        lines = [ln for ln in out.splitlines() if ln.startswith(b"stdin: ")]
        if lines:
            _record(report, rel, os.fsdecode(lines[-1][len(b"stdin: ") :]), source="clamscan")
        else:
            why = _stderr_summary(err.splitlines()) or f"no verdict (exit {rc})"
            report.errors.append(ScanError(rel, f"clamscan could not scan it: {why}"))


def _split_output_line(line: bytes, pending: dict[bytes, str]) -> tuple[bytes | None, str]:
    """Find which listed file a ``<path>: <verdict>`` line is about (paths may contain ": ")."""
    start = 0
    while True:
        i = line.find(b": ", start)
        if i < 0:
            return None, ""
        if line[:i] in pending:
            return line[:i], line[i + 2 :].decode("utf-8", "replace")
        start = i + 1


def _stderr_summary(lines: Iterable[bytes]) -> str:
    text = [os.fsdecode(ln).strip() for ln in lines]
    return "; ".join(t for t in text if t)[:500]
