"""Safe, read-only access to an OFD container (GB/T 33190: a ZIP with ``OFD.xml`` at its root).

Nothing is ever extracted to disk: parts are read by name into memory (XML up to the xmlsafe cap,
other parts up to ``OfdLimits.max_part_bytes``) or streamed through a digest.

Refused when the container is opened (``OfdError`` with a stable code):

* not a readable ZIP (``OFD_UNREADABLE``), missing file (``OFD_NOT_FOUND``);
* entry names that are absolute, contain ``..``, a drive letter or NUL, symbolic links, duplicate
  names (a verifier and a viewer could pick different bytes), too many entries, declared sizes or
  compression ratios that look like a ZIP bomb (``OFD_UNSAFE``).

Encrypted entries are not refused at open time: they are recorded in ``encrypted_entries`` (OFD-A
forbids them) and reading one raises ``OFD_ENCRYPTED``.

Entry names without the ZIP UTF-8 flag are decoded as UTF-8 if they are valid UTF-8, else GB18030
(Chinese Windows tools), else kept as CP437. Paths inside OFD XML (``ST_Loc``) are resolved relative
to the folder of the file that contains them, or from the container root when they start with ``/``;
see :func:`resolve`. Lookup is exact first; a name that only differs in letter case (some Windows
producers write ``DOC_0/`` for ``Doc_0/``) or is percent-encoded is found as a fallback and reported
through :class:`Located` so callers can warn.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import stat
import struct
import unicodedata
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from lxml import etree

from dangan.core import xmlsafe
from dangan.core.errors import DanganError

_FLAG_ENCRYPTED = 0x1
_FLAG_UTF8 = 0x800
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
CHUNK = 1024 * 1024
#: What reading a ZIP entry raises on damaged data (bad CRC, truncated or invalid compressed stream).
_READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, ValueError, OSError, RuntimeError)


class OfdError(DanganError):
    """The OFD cannot be read (or a part of it cannot). ``code`` says why; ``target`` names the part."""

    code = "OFD_UNREADABLE"


class OfdPathError(OfdError):
    """A path inside the OFD that points outside the container (URL, ``file:``, ``..`` past the root)."""

    code = "OFD_EXTERNAL_PATH"


@dataclass(frozen=True)
class OfdLimits:
    max_entries: int = 20_000
    max_entry_bytes: int = 2 * 1024**3
    max_total_bytes: int = 8 * 1024**3
    #: Compression ratio above which an entry (larger than ``ratio_floor_bytes``) is a suspected bomb.
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024
    #: XML parts are read into memory up to this size (xmlsafe refuses larger ones anyway).
    max_xml_bytes: int = xmlsafe.MAX_XML_BYTES
    #: Other parts read into memory (SignedValue.dat, seals): a signature is a few kilobytes.
    max_part_bytes: int = 16 * 1024 * 1024
    #: Signatures one document may declare; a document with more is refused (OFD_LIMIT).
    max_signatures: int = 100
    #: References one Signature.xml may list; more fail that signature's references step unchecked.
    max_references: int = 10_000
    #: Bytes hashed for reference checks per document. Each (part, algorithm) is hashed at most once,
    #: so a legitimate document stays within its unpacked size; this is a backstop.
    max_digest_bytes: int = 8 * 1024**3


@dataclass(frozen=True)
class Located:
    """Where a requested part was found. ``how`` is "exact", "case" (letter case differs), "decoded"
    (the reference was percent-encoded) or "root" (a relative reference found from the root instead)."""

    requested: str
    name: str
    how: str

    @property
    def exact(self) -> bool:
        return self.how == "exact"


def _decode_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & _FLAG_UTF8:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _safe_entry_name(name: str) -> str:
    """Normalise a ZIP entry name to ``a/b/c`` or raise OfdError(OFD_UNSAFE)."""
    raw = name.replace("\\", "/")
    if "\x00" in raw:
        raise OfdError(f"entry name contains NUL: {name!r}", target=name, code="OFD_UNSAFE")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise OfdError(f"absolute entry name refused: {name}", target=name, code="OFD_UNSAFE")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OfdError(f"path traversal ('..') in entry name refused: {name}", target=name, code="OFD_UNSAFE")
    return "/".join(parts)


def folder_of(part: str) -> str:
    """The folder of a part (``Doc_0/Document.xml`` → ``Doc_0``; a root file → "")."""
    return part.rsplit("/", 1)[0] if "/" in part else ""


def is_external(ref: str) -> bool:
    """True for URLs and other scheme-qualified references (``http:``, ``file:``, ``C:``)."""
    return bool(_SCHEME.match(ref.strip()))


def resolve(ref: str, base_dir: str = "") -> str:
    """Resolve an OFD ``ST_Loc`` to a container path (no leading slash).

    ``/x`` is from the root; anything else is relative to ``base_dir`` (a container folder, "" for
    the root). Raises OfdPathError for URLs, drive paths, empty references and ``..`` past the root.
    """
    text = ref.strip().replace("\\", "/")
    if not text:
        raise OfdPathError("empty path", target=ref, code="OFD_BAD_PATH")
    if is_external(text):
        raise OfdPathError(f"reference outside the container: {ref}", target=ref)
    if text.startswith("/"):
        parts: list[str] = []
    else:
        parts = [p for p in base_dir.split("/") if p]
    for piece in text.split("/"):
        if piece in ("", "."):
            continue
        if piece == "..":
            if not parts:
                raise OfdPathError(f"path leaves the container: {ref}", target=ref)
            parts.pop()
        else:
            parts.append(piece)
    if not parts:
        raise OfdPathError(f"path names the container root: {ref}", target=ref, code="OFD_BAD_PATH")
    return "/".join(parts)


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


@dataclass
class _Entry:
    info: zipfile.ZipInfo
    name: str
    encrypted: bool


class OfdContainer:
    """An opened OFD (``OfdContainer(path)`` opens it or raises OfdError). Use as a context manager."""

    def __init__(self, path: str | Path, limits: OfdLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or OfdLimits()
        self.entries: dict[str, _Entry] = {}
        self.encrypted_entries: list[str] = []
        self._folded: dict[str, list[str]] = {}
        self._zip: zipfile.ZipFile | None = None
        shown = str(self.path)
        if not self.path.exists():
            raise OfdError(f"file not found: {shown}", target=shown, code="OFD_NOT_FOUND")
        if not self.path.is_file():
            raise OfdError(f"not a regular file: {shown}", target=shown, code="OFD_NOT_FOUND")
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, struct.error) as exc:
            raise OfdError(
                f"not an OFD: the file is not a readable ZIP container ({type(exc).__name__}: {exc})",
                target=shown,
                code="OFD_UNREADABLE",
            ) from exc
        try:
            self._scan(zf)
        except BaseException:
            zf.close()
            raise
        self._zip = zf

    def _scan(self, zf: zipfile.ZipFile) -> None:
        limits = self.limits
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise OfdError(
                f"{len(infos)} ZIP entries, over the limit of {limits.max_entries}",
                target=str(self.path),
                code="OFD_UNSAFE",
            )
        total = 0
        for info in infos:
            decoded = _decode_name(info)
            name = _safe_entry_name(decoded)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise OfdError(f"symbolic link entry refused: {decoded}", target=decoded, code="OFD_UNSAFE")
            if info.is_dir() or not name:
                continue
            if name in self.entries:
                raise OfdError(
                    f"duplicate ZIP entry {decoded}: readers could pick different bytes",
                    target=decoded,
                    code="OFD_UNSAFE",
                )
            if info.file_size > limits.max_entry_bytes:
                raise OfdError(
                    f"entry {decoded} declares {info.file_size} bytes, over the limit of {limits.max_entry_bytes}",
                    target=decoded,
                    code="OFD_UNSAFE",
                )
            if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                ratio = info.file_size / max(info.compress_size, 1)
                raise OfdError(
                    f"compression ratio {ratio:.0f}:1 of {decoded} exceeds {limits.max_ratio:.0f}:1 (ZIP bomb?)",
                    target=decoded,
                    code="OFD_UNSAFE",
                )
            total += info.file_size
            encrypted = bool(info.flag_bits & _FLAG_ENCRYPTED)
            self.entries[name] = _Entry(info, name, encrypted)
            self._folded.setdefault(_fold(name), []).append(name)
            if encrypted:
                self.encrypted_entries.append(name)
        if total > limits.max_total_bytes:
            raise OfdError(
                f"unpacked size {total} bytes exceeds the limit of {limits.max_total_bytes}",
                target=str(self.path),
                code="OFD_UNSAFE",
            )

    # --- context manager ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> OfdContainer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- lookup ---------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return sorted(self.entries)

    def locate(self, part: str) -> Located | None:
        """Find ``part`` (a resolved container path): exactly, else by letter case, else percent-decoded."""
        if part in self.entries:
            return Located(part, part, "exact")
        candidates = self._folded.get(_fold(part), [])
        if len(candidates) == 1:
            return Located(part, candidates[0], "case")
        decoded = urllib.parse.unquote(part)
        if decoded != part:
            if decoded in self.entries:
                return Located(part, decoded, "decoded")
            candidates = self._folded.get(_fold(decoded), [])
            if len(candidates) == 1:
                return Located(part, candidates[0], "decoded")
        return None

    def find(self, ref: str, base_dir: str = "", *, root_fallback: bool = True) -> Located | None:
        """Resolve ``ref`` from ``base_dir`` and locate it. A relative reference that is not found there is
        also tried from the container root (some producers write root-relative paths without the leading
        slash); such a hit has ``how == "root"``. Raises OfdPathError for references outside the container.
        """
        found = self.locate(resolve(ref, base_dir))
        if found is not None:
            return found
        stripped = ref.strip()
        if root_fallback and base_dir and not stripped.startswith("/"):
            alt = self.locate(resolve(stripped, ""))
            if alt is not None:
                return Located(alt.requested, alt.name, "root")
        return None

    def _require(self, part: str) -> _Entry:
        found = self.locate(part)
        if found is None:
            raise OfdError(f"{part} is missing from the container", target=part, code="OFD_MISSING_PART")
        entry = self.entries[found.name]
        if entry.encrypted:
            raise OfdError(f"{part} is an encrypted ZIP entry", target=part, code="OFD_ENCRYPTED")
        return entry

    def size(self, part: str) -> int:
        return int(self._require(part).info.file_size)

    def _open_entry(self, entry: _Entry) -> IO[bytes]:
        if self._zip is None:
            raise OfdError("container is closed", target=str(self.path), code="OFD_UNREADABLE")
        try:
            return self._zip.open(entry.info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
            raise OfdError(
                f"cannot read {entry.name}: {type(exc).__name__}: {exc}",
                target=entry.name,
                code="OFD_CORRUPT",
            ) from exc

    def read(self, part: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes of ``part``; OfdError if missing, encrypted, corrupt or larger than ``max_bytes``."""
        entry = self._require(part)
        cap = self.limits.max_part_bytes if max_bytes is None else max_bytes
        if entry.info.file_size > cap:
            raise OfdError(
                f"{part} is {entry.info.file_size} bytes, over the {cap}-byte limit for reading into memory",
                target=part,
                code="OFD_PART_TOO_LARGE",
            )
        try:
            with self._open_entry(entry) as stream:
                data = stream.read(cap + 1)
        except _READ_ERRORS as exc:
            raise OfdError(
                f"cannot read {part}: {type(exc).__name__}: {exc}", target=part, code="OFD_CORRUPT"
            ) from exc
        if len(data) > cap:
            raise OfdError(f"{part} is over the {cap}-byte limit", target=part, code="OFD_PART_TOO_LARGE")
        return data

    def read_xml(self, part: str) -> etree._Element:
        """Parse ``part`` with the safe XML parser; OfdError(OFD_XML_INVALID) if it is not well-formed."""
        data = self.read(part, max_bytes=self.limits.max_xml_bytes)
        return parse_xml(data, part)

    def digest(self, part: str, algorithm: str = "sm3") -> bytes:
        """Digest of ``part`` streamed in chunks (``algorithm`` is a hashlib name)."""
        entry = self._require(part)
        h = hashlib.new(algorithm, usedforsecurity=algorithm not in ("md5", "sha1"))
        try:
            with self._open_entry(entry) as stream:
                for block in iter(lambda: stream.read(CHUNK), b""):
                    h.update(block)
        except _READ_ERRORS as exc:
            raise OfdError(
                f"cannot read {part}: {type(exc).__name__}: {exc}", target=part, code="OFD_CORRUPT"
            ) from exc
        return h.digest()

    def check(self, part: str) -> int:
        """Read ``part`` through to its end in chunks (nothing kept) so that the ZIP reader checks its
        CRC-32 and decompression; the number of bytes read. OfdError(OFD_CORRUPT) for a damaged entry,
        OFD_ENCRYPTED for an encrypted one. Reading stops at the declared size (zipfile enforces it)."""
        entry = self._require(part)
        total = 0
        try:
            with self._open_entry(entry) as stream:
                for block in iter(lambda: stream.read(CHUNK), b""):
                    total += len(block)
        except _READ_ERRORS as exc:
            raise OfdError(
                f"{part} is damaged: {type(exc).__name__}: {exc}", target=part, code="OFD_CORRUPT"
            ) from exc
        return total


def parse_xml(data: bytes, part: str) -> etree._Element:
    try:
        return xmlsafe.parse(data, name=part)
    except DanganError as exc:
        raise OfdError(exc.message, target=part, code="OFD_XML_INVALID") from exc


def open_ofd(path: str | Path, limits: OfdLimits | None = None) -> OfdContainer:
    """Open an OFD container; raises OfdError (see module docstring) when it cannot be read safely."""
    return OfdContainer(path, limits)


# --- namespace-agnostic XML helpers -------------------------------------------------------------------
# Producers use http://www.ofdspec.org/2016, http://www.ofdspec.org, or no namespace on some elements:
# OFD elements are matched by local name.


def local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if local(c) == name]


def child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if local(c) == name:
            return c
    return None


def descendants(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el.iter() if local(c) == name]


def text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return (el.text or "").strip()


def child_text(el: etree._Element, name: str) -> str:
    return text(child(el, name))
