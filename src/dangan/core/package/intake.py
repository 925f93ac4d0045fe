"""Take a package (ZIP or folder) into a quarantine folder, safely, hashing every byte on the way.

Each file is read once: copied into quarantine while SM3 and SHA-256 are computed, so the checks
and the AIP use digests of exactly the bytes we hold. Large files are copied through preallocated
buffers with SM3 on a helper thread (SHA-256 and the write in this one); a large ZIP's own SM3 is
computed on another thread while it is unpacked. The ZIP rules refuse anything that could write
outside quarantine or exhaust the disk: absolute paths, '..', links, encrypted entries, methods
other than stored/deflate, duplicate names, too many entries, too many bytes, too high a
compression ratio. Header sizes are not trusted; bytes are counted as they are written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from dangan.core import sm, xmlsafe
from dangan.core.errors import UnsafeArchiveError
from dangan.core.package import schema
from dangan.core.package.model import FileFacts

CHUNK = 1024 * 1024
#: Files from this size on are copied with SM3 on a helper thread (see _copy_pipelined), in chunks of
#: PIPELINE_CHUNK: large enough that the hand-over per chunk costs nothing, small enough for the caches.
PIPELINE_MIN_BYTES = 8 * 1024 * 1024
PIPELINE_CHUNK = 1024 * 1024
#: Chunks that may wait for their SM3 while this thread goes on (PIPELINE_DEPTH + 1 buffers in use).
PIPELINE_DEPTH = 3
_ZIP_FLAG_ENCRYPTED = 0x1
_ZIP_FLAG_UTF8 = 0x800


@dataclass(frozen=True)
class IntakeLimits:
    """Configurable limits (DANGAN_MAX_PACKAGE_BYTES, DANGAN_MAX_ENTRIES, DANGAN_MAX_RATIO)."""

    max_total_bytes: int = 2 * 1024**3
    max_entries: int = 10_000
    max_ratio: float = 100.0
    # Small entries can legitimately compress very well (XML, blank scans); judge the ratio only above this.
    ratio_floor_bytes: int = 1024 * 1024


@dataclass
class ReceivedPackage:
    """A package held in quarantine, with facts measured on the way in."""

    root: Path
    source_name: str
    files: dict[str, FileFacts] = field(default_factory=dict)
    container_sm3: str = ""  # SM3 of the ZIP as received ("" for folders)

    @property
    def metadata_path(self) -> Path:
        return self.root / schema.METADATA_FILENAME

    def metadata_bytes(self) -> bytes | None:
        """The metadata XML's bytes; raises MetadataError before reading an oversized one."""
        facts = self.files.get(schema.METADATA_FILENAME)
        if facts is None:
            return None
        xmlsafe.check_size(facts.size, name=schema.METADATA_FILENAME)
        return self.metadata_path.read_bytes()

    @property
    def content_files(self) -> dict[str, FileFacts]:
        return {p: f for p, f in self.files.items() if p != schema.METADATA_FILENAME}

    def content_digest(self) -> str:
        """Transport-independent identity: SM3 over the sorted '<sm3>  <path>' lines of all files.

        The same case sent as a folder or as a ZIP (with any compression) has the same digest.
        """
        return sm.sm3_lines(f"{f.sm3}  {p}\n" for p, f in sorted(self.files.items()))


def _unicode_path_field(info: zipfile.ZipInfo, raw: bytes) -> str | None:
    """Info-ZIP Unicode Path extra field (0x7075): a UTF-8 name valid for the raw name's CRC-32."""
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        header, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + size]
        if header == 0x7075 and len(body) >= 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<I", body, 1)
            if crc == zlib.crc32(raw):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
        i += 4 + size
    return None


def _decode_name(info: zipfile.ZipInfo) -> str:
    """Recover the real entry name. Without the UTF-8 flag Python decodes names as CP437, but
    Info-ZIP and macOS write UTF-8 there and Chinese Windows tools write GBK: try UTF-8, then the
    Unicode Path extra field, then GB18030, and keep CP437 only when none fits."""
    name = info.filename
    if info.flag_bits & _ZIP_FLAG_UTF8:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass  # not UTF-8: try the next encoding
    from_field = _unicode_path_field(info, raw)
    if from_field is not None:
        return from_field
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return name


def _collision_key(rel: str) -> str:
    """Names that one file system would store as the same file (case, Unicode normalisation)."""
    return unicodedata.normalize("NFC", rel).casefold()


def safe_relative(name: str, *, kind: str = "ZIP") -> str:
    """Normalise an entry name to a safe relative POSIX path or raise a specific error."""
    raw = name.replace("\\", "/")
    if "\x00" in raw:
        raise UnsafeArchiveError(
            f"entry name contains NUL: {name!r}", target=name, code=f"{kind}_PATH_INVALID"
        )
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise UnsafeArchiveError(f"absolute path refused: {name}", target=name, code=f"{kind}_ABSOLUTE_PATH")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if parts and len(parts[0]) > 1 and parts[0][1] == ":":  # e.g. "./C:/x" is still a Windows drive path
        raise UnsafeArchiveError(f"absolute path refused: {name}", target=name, code=f"{kind}_ABSOLUTE_PATH")
    if ".." in parts:
        raise UnsafeArchiveError(
            f"path traversal ('..') refused: {name}", target=name, code=f"{kind}_PATH_TRAVERSAL"
        )
    if not parts:
        raise UnsafeArchiveError(f"empty entry name: {name!r}", target=name, code=f"{kind}_PATH_INVALID")
    return "/".join(parts)


def _write_new_file(
    dest_root: Path, rel: str, source: IO[bytes], budget: int, *, limit_code: str, size_hint: int = 0
) -> FileFacts:
    """Copy ``source`` into dest_root/rel (new file, no links followed), hashing; stop past ``budget``.

    ``size_hint`` (the size the source claims; never trusted for limits) picks the copy: from
    PIPELINE_MIN_BYTES on, :func:`_copy_large` (SM3 on a helper thread).
    """
    target = dest_root / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise UnsafeArchiveError(
            f"a file and a folder share a name in {rel}", target=rel, code="PATH_CONFLICT"
        ) from exc
    except OSError as exc:  # a folder name (or the whole path) too long for the file system
        if exc.errno == errno.ENAMETOOLONG:
            raise UnsafeArchiveError(
                f"name too long for the file system: {rel}", target=rel, code="PATH_TOO_LONG"
            ) from exc
        raise
    if target.parent.resolve() != (dest_root.resolve() / PurePosixPath(rel).parent):
        raise UnsafeArchiveError(
            f"entry escapes the package folder: {rel}", target=rel, code="ZIP_PATH_TRAVERSAL"
        )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise UnsafeArchiveError(
                f"name too long for the file system: {rel}", target=rel, code="PATH_TOO_LONG"
            ) from exc
        if exc.errno in (errno.EISDIR, errno.ENOTDIR):
            raise UnsafeArchiveError(
                f"a file and a folder share a name in {rel}", target=rel, code="PATH_CONFLICT"
            ) from exc
        if exc.errno == errno.EEXIST:
            raise UnsafeArchiveError(
                f"duplicate entry: {rel}", target=rel, code="ZIP_DUPLICATE_ENTRY"
            ) from exc
        raise
    if size_hint >= PIPELINE_MIN_BYTES:
        with os.fdopen(fd, "wb", buffering=0) as out:
            d = _copy_large(source, out.fileno(), budget, rel, limit_code)
        return FileFacts(path=rel, size=d.size, sm3=d.sm3, sha256=d.sha256)
    hasher = sm.DualHasher()
    with os.fdopen(fd, "wb") as out:
        for block in iter(lambda: source.read(CHUNK), b""):
            hasher.update(block)
            if hasher.size > budget:
                raise UnsafeArchiveError(
                    f"package exceeds the size limit while unpacking {rel}", target=rel, code=limit_code
                )
            out.write(block)
    d = hasher.result()
    return FileFacts(path=rel, size=d.size, sm3=d.sm3, sha256=d.sha256)


def _read_into(source: IO[bytes], view: memoryview) -> int:
    """Fill ``view`` from ``source`` as far as it goes (a short count only at the end of the data)."""
    filled = 0
    while filled < len(view):
        n = source.readinto(view[filled:])  # type: ignore[attr-defined]
        if not n:
            break
        filled += n
    return filled


def _copy_large(source: IO[bytes], fd: int, budget: int, rel: str, limit_code: str) -> sm.StreamDigest:
    """Copy a large file to ``fd`` in one pass, hashing SM3 and SHA-256 of exactly the bytes written.

    SM3 runs on a helper thread: it hashes earlier buffers while this thread reads, hashes (SHA-256)
    and writes the next, through preallocated buffers in turn. Measured on 1 GB (bench/large_files.py):
    with 1 MiB chunks this costs no more CPU than the one-thread copy and saves wall time whenever a
    core has any idle time; 4 MiB chunks cost 40 % more CPU (they fall out of the caches between the
    read, the two hashes and the write). Starting the write-back chunk by chunk (``sync_file_range``)
    was tried and dropped: it saved the 0.3 s/GB fsync before publishing but cost 2–3 s of CPU per GB.
    """
    buffers = [memoryview(bytearray(PIPELINE_CHUNK)) for _ in range(PIPELINE_DEPTH + 1)]
    hasher = sm.PipelinedDualHasher(depth=PIPELINE_DEPTH)
    with contextlib.closing(hasher):  # stops the helper thread, also on errors
        turn = 0
        while True:
            view = buffers[turn]
            n = _read_into(source, view)
            if not n:
                break
            if hasher.size + n > budget:
                raise UnsafeArchiveError(
                    f"package exceeds the size limit while unpacking {rel}", target=rel, code=limit_code
                )
            chunk = view[:n]
            hasher.update(chunk)  # returns when the next buffer's SM3 is done: it is free to refill
            while chunk:
                chunk = chunk[os.write(fd, chunk) :]
            turn = (turn + 1) % len(buffers)
        return hasher.result()


class _ContainerDigest:
    """SM3 of the ZIP as received. For a large ZIP it is computed on a helper thread (its own reads of
    the file) while the entries are unpacked and hashed, instead of in a pass of its own before."""

    def __init__(self, path: Path) -> None:
        self._stop = threading.Event()
        self._digest: str | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if os.stat(path).st_size < PIPELINE_MIN_BYTES:
            self._digest = sm.sm3_file(str(path))
            return
        self._thread = threading.Thread(target=self._run, args=(path,), name="zip-sm3", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            h = sm.sm3()
            buffer = memoryview(bytearray(PIPELINE_CHUNK))
            with open(path, "rb", buffering=0) as f:
                while not self._stop.is_set():
                    n = f.readinto(buffer)
                    if not n:
                        self._digest = h.hexdigest()
                        return
                    h.update(buffer[:n])
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> str:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        if self._digest is None:
            raise RuntimeError("the ZIP's digest was cancelled")
        return self._digest

    def cancel(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _common_prefix(names: list[str]) -> str:
    """A ZIP that wraps everything in one folder '<电子文件号>/…' is read as if unwrapped."""
    if not names or schema.METADATA_FILENAME in names:
        return ""
    firsts = {n.split("/", 1)[0] for n in names}
    if len(firsts) == 1 and all("/" in n for n in names):
        return firsts.pop() + "/"
    return ""


# What zipfile raises on damaged entry data (bad headers, CRC, deflate stream, lying sizes).
_READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError, RuntimeError)


def _corrupt_entry(rel: str, exc: BaseException) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"cannot unpack {rel}: {type(exc).__name__}: {exc}", target=rel, code="ZIP_CORRUPT"
    )


def receive_zip(
    zip_path: Path, dest: Path, limits: IntakeLimits = IntakeLimits(), *, display_name: str = ""
) -> ReceivedPackage:
    """Unpack ``zip_path`` into the empty folder ``dest``. The caller removes ``dest`` on error.

    ``display_name`` is the name the sender gave the file (errors name it, not our quarantine copy).
    """
    shown = display_name or zip_path.name
    container = _ContainerDigest(zip_path)
    try:
        received = _unpack_zip(zip_path, dest, limits, shown)
    except BaseException:
        container.cancel()
        raise
    received.container_sm3 = container.result()
    return received


def _unpack_zip(zip_path: Path, dest: Path, limits: IntakeLimits, shown: str) -> ReceivedPackage:
    try:
        zf = zipfile.ZipFile(zip_path)
    # ValueError covers undecodable names; NotImplementedError a "zip file version" we cannot read
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise UnsafeArchiveError(
            f"not a readable ZIP file: {type(exc).__name__}: {exc}", target=shown, code="ZIP_CORRUPT"
        ) from exc
    with zf:
        entries: list[tuple[zipfile.ZipInfo, str]] = []
        seen: set[str] = set()
        declared_total = 0
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise UnsafeArchiveError(
                f"{len(infos)} entries, over the limit of {limits.max_entries}",
                target=shown,
                code="ZIP_TOO_MANY_ENTRIES",
            )
        for info in infos:
            name = _decode_name(info)
            if "\x00" in info.orig_filename:  # zipfile silently cuts the name at the NUL: refuse instead
                raise UnsafeArchiveError(
                    f"entry name contains NUL: {info.orig_filename!r}", target=name, code="ZIP_PATH_INVALID"
                )
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(f"symbolic link entry refused: {name}", target=name, code="ZIP_LINK")
            rel = safe_relative(name)
            if info.is_dir():
                continue
            if info.flag_bits & _ZIP_FLAG_ENCRYPTED:
                raise UnsafeArchiveError(
                    f"encrypted entry refused: {name}; the rules require decrypting files before archiving",
                    target=name,
                    code="ZIP_ENCRYPTED",
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UnsafeArchiveError(
                    f"compression method {info.compress_type} refused for {name}: only stored and deflate",
                    target=name,
                    code="ZIP_UNSUPPORTED_COMPRESSION",
                )
            if _collision_key(rel) in seen:
                raise UnsafeArchiveError(f"duplicate entry: {name}", target=name, code="ZIP_DUPLICATE_ENTRY")
            seen.add(_collision_key(rel))
            if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                ratio = info.file_size / max(info.compress_size, 1)
                raise UnsafeArchiveError(
                    f"compression ratio {ratio:.0f}:1 of {name} exceeds {limits.max_ratio:.0f}:1 (zip bomb?)",
                    target=name,
                    code="ZIP_BOMB",
                )
            declared_total += info.file_size
            entries.append((info, rel))
        if declared_total > limits.max_total_bytes:
            raise UnsafeArchiveError(
                f"unpacked size {declared_total} bytes exceeds the limit of {limits.max_total_bytes}",
                target=shown,
                code="ZIP_TOO_LARGE",
            )
        prefix = _common_prefix([rel for _, rel in entries])
        received = ReceivedPackage(root=dest, source_name=shown)
        budget = limits.max_total_bytes
        for info, rel in entries:
            rel = rel[len(prefix) :]
            try:
                src = zf.open(info)
            except (*_READ_ERRORS, OSError) as exc:  # OSError: an entry offset before the file's start
                raise _corrupt_entry(rel, exc) from exc
            try:
                with src:
                    facts = _write_new_file(
                        dest, rel, src, budget, limit_code="ZIP_TOO_LARGE", size_hint=info.file_size
                    )
            except UnsafeArchiveError:
                raise
            except _READ_ERRORS as exc:  # an OSError here is ours (disk full …), not the ZIP's
                raise _corrupt_entry(rel, exc) from exc
            budget -= facts.size
            received.files[rel] = facts
    return received


def _fs_name(path: str) -> str:
    """A path read from the file system, as text. A name whose bytes are not UTF-8 (Python keeps them
    as surrogate escapes, unusable in reports and the database) is read as GB18030, as Chinese Windows
    tools write names onto carriers; one that is neither is refused."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass  # decode name by name: a carrier may mix UTF-8 folders with GB18030 file names
    names = []
    for name in path.split(os.sep):
        raw = os.fsencode(name)
        try:
            names.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        try:
            names.append(raw.decode("gb18030"))
        except UnicodeDecodeError:
            shown = os.fsencode(path).decode("utf-8", errors="backslashreplace")
            raise UnsafeArchiveError(
                f"file name is neither UTF-8 nor GB18030: {shown}", target=shown, code="PACKAGE_PATH_INVALID"
            ) from None
    return os.sep.join(names)


def receive_folder(folder: Path, dest: Path, limits: IntakeLimits = IntakeLimits()) -> ReceivedPackage:
    """Copy a package folder into the empty folder ``dest`` (no links, no special files)."""
    received = ReceivedPackage(root=dest, source_name=_fs_name(folder.name))
    budget = limits.max_total_bytes
    count = 0
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for d in dirnames:
            if os.path.islink(os.path.join(dirpath, d)):
                rel = _fs_name(os.path.relpath(os.path.join(dirpath, d), folder))
                raise UnsafeArchiveError(f"symbolic link refused: {rel}", target=rel, code="PACKAGE_LINK")
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = safe_relative(_fs_name(os.path.relpath(full, folder)), kind="PACKAGE")
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeArchiveError(f"symbolic link refused: {rel}", target=rel, code="PACKAGE_LINK")
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeArchiveError(
                    f"not a regular file: {rel}", target=rel, code="PACKAGE_SPECIAL_FILE"
                )
            if _collision_key(rel) in seen:
                raise UnsafeArchiveError(
                    f"two files differ only in case or Unicode form: {rel}",
                    target=rel,
                    code="PACKAGE_DUPLICATE_ENTRY",
                )
            seen.add(_collision_key(rel))
            count += 1
            if count > limits.max_entries:
                raise UnsafeArchiveError(
                    f"more than {limits.max_entries} files",
                    target=folder.name,
                    code="PACKAGE_TOO_MANY_ENTRIES",
                )
            with open(full, "rb") as src:
                facts = _write_new_file(
                    dest, rel, src, budget, limit_code="PACKAGE_TOO_LARGE", size_hint=st.st_size
                )
            budget -= facts.size
            received.files[rel] = facts
    return received
