"""Identify a file's format from its content, never from its name.

``identify(path)`` reads the first 8 KB, and for containers the ZIP central directory or the OLE
directory (plus a few KB of one member/stream), then returns a :class:`FormatId` whose ``basis``
says what decided it. Nothing here raises on bad input: content that fits no rule is UNKNOWN
with the reason in ``basis``.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dangan.core import xmlsafe
from dangan.core.errors import MetadataError
from dangan.core.formats import ole
from dangan.core.formats.registry import UNKNOWN, info

HEAD_BYTES = 8192
MAX_MEMBER_BYTES = 1024 * 1024  # OFD.xml, [Content_Types].xml, mimetype: read at most this much


@dataclass(frozen=True)
class FormatId:
    """What a file is. ``basis`` names the evidence (signature, container member, stream …)."""

    name: str
    mime: str
    version: str | None = None
    puid: str | None = None
    basis: str = ""
    encrypted: bool = False  # known from identification alone (ZIP entry flag, encrypted OOXML)
    encoding: str | None = None  # text formats: "utf-8", "utf-8-sig", "gb18030", "ascii", "utf-16-le" …

    @property
    def known(self) -> bool:
        return self.name != UNKNOWN


_REGISTRY_PUID = "<registry>"  # default for _fid: the registry's PUID; None means "no PUID"


def _fid(
    name: str,
    basis: str,
    *,
    version: str | None = None,
    puid: str | None = _REGISTRY_PUID,
    encrypted: bool = False,
    encoding: str | None = None,
) -> FormatId:
    entry = info(name)
    return FormatId(
        name=name,
        mime=entry.mime,
        version=version,
        puid=entry.puid if puid == _REGISTRY_PUID else puid,
        basis=basis,
        encrypted=encrypted,
        encoding=encoding,
    )


def unknown(basis: str) -> FormatId:
    return _fid(UNKNOWN, basis)


def identify(path: str | os.PathLike[str]) -> FormatId:
    """The format of the file at ``path``, decided by its content."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            return _identify(f, size)
    except OSError as exc:
        return unknown(f"cannot be read: {exc.strerror or exc}")
    except Exception as exc:  # a malformed file must never stop a batch; say what happened
        return unknown(f"identification failed on malformed data: {type(exc).__name__}: {exc}")


def _identify(f: BinaryIO, size: int) -> FormatId:
    head = f.read(HEAD_BYTES)
    if not head:
        return unknown("empty file (0 bytes)")
    for rule in _SIGNATURE_RULES:
        found = rule(f, head, size)
        if found is not None:
            return found
    found = _pdf_late_header(head)
    if found is not None:
        return found
    return _text(head, size, f)


# --- signatures at offset 0 ------------------------------------------------------------------

_PDF_VERSION_PUID = {
    "1.0": "fmt/14",
    "1.1": "fmt/15",
    "1.2": "fmt/16",
    "1.3": "fmt/17",
    "1.4": "fmt/18",
    "1.5": "fmt/19",
    "1.6": "fmt/20",
    "1.7": "fmt/276",
    "2.0": "fmt/1129",
}
_PDF_HEADER = re.compile(rb"%PDF-([0-9]\.[0-9])?")


def _pdf(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if not head.startswith(b"%PDF-"):
        return None
    return _pdf_at(head, 0)


def _pdf_at(head: bytes, offset: int) -> FormatId:
    m = _PDF_HEADER.match(head, offset)
    version = m.group(1).decode() if m and m.group(1) else None
    where = "at 0" if offset == 0 else f"at offset {offset}, after {offset} bytes of leading data"
    shown = f"%PDF-{version}" if version else "%PDF-"
    return _fid(
        "PDF", f"signature {shown} {where}", version=version, puid=_PDF_VERSION_PUID.get(version or "")
    )


def _pdf_late_header(head: bytes) -> FormatId | None:
    """Readers accept %PDF- anywhere in the first 1024 bytes; we accept it there at a line start."""
    for m in re.finditer(rb"(?:\r|\n)%PDF-[0-9]\.[0-9]", head[:1024]):
        return _pdf_at(head, m.start() + 1)
    return None


_JFIF_PUID = {"1.00": "fmt/42", "1.01": "fmt/43", "1.02": "fmt/44"}


def _jpeg(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if not head.startswith(b"\xff\xd8\xff") or len(head) < 4 or head[3] < 0xC0:
        return None
    if head[3] == 0xE0 and head[6:11] == b"JFIF\0" and len(head) >= 13:
        version = f"{head[11]}.{head[12]:02d}"
        return _fid("JPEG", f"signature FF D8 FF with JFIF {version} APP0", version=version,
                    puid=_JFIF_PUID.get(version))  # fmt: skip
    if head[3] == 0xE1 and head[6:12] == b"Exif\0\0":
        return _fid("JPEG", "signature FF D8 FF with Exif APP1", version="Exif")
    if head[3] in (0xDB, 0xC0, 0xC1, 0xC2, 0xC4, 0xDD, 0xFE, 0xEE) or 0xE0 <= head[3] <= 0xEF:
        return _fid("JPEG", f"signature FF D8 FF {head[3]:02X} (JPEG stream without JFIF/Exif)",
                    puid="fmt/41" if head[3] in (0xDB, 0xC0, 0xC4) else None)  # fmt: skip
    return None


def _png(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _fid("PNG", "signature 89 50 4E 47 0D 0A 1A 0A at 0")
    return None


def _tiff(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if len(head) < 8:
        return None
    if head[:4] in (b"II*\0", b"MM\0*"):
        fmt = "<I" if head[:2] == b"II" else ">I"
        ifd = struct.unpack_from(fmt, head, 4)[0]
        if 8 <= ifd < max(size, 9):
            return _fid("TIFF", f"signature {head[:4]!r} at 0 with first IFD at {ifd}")
        return None
    if head[:4] in (b"II+\0", b"MM\0+"):
        return _fid("TIFF", "BigTIFF signature at 0", version="BigTIFF", puid=None)
    return None


def _gif(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head[:6] in (b"GIF87a", b"GIF89a"):
        version = head[3:6].decode()
        return _fid("GIF", f"signature GIF{version} at 0", version=version,
                    puid="fmt/3" if version == "87a" else "fmt/4")  # fmt: skip
    return None


_BMP_DIB = {12: None, 40: "fmt/116", 52: None, 56: None, 64: None, 108: "fmt/118", 124: "fmt/119"}
_BMP_VERSION = {12: "2.0", 40: "3.0", 52: "3.0", 56: "3.0", 64: "OS/2 2.0", 108: "4.0", 124: "5.0"}


def _bmp(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if not head.startswith(b"BM") or len(head) < 18:
        return None
    declared, reserved, dib = struct.unpack_from("<I4xII", head, 2)[0], head[6:10], head[14:18]
    dib_size = struct.unpack("<I", dib)[0]
    if reserved != b"\0\0\0\0" or dib_size not in _BMP_DIB or declared < 26:
        return None
    return _fid("BMP", f"signature BM at 0 with a {dib_size}-byte DIB header", version=_BMP_VERSION[dib_size],
                puid=_BMP_DIB[dib_size])  # fmt: skip


def _simple(
    name: str, magic: bytes, basis: str, *, version: str | None = None
) -> Callable[..., FormatId | None]:
    def rule(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
        return _fid(name, basis, version=version) if head.startswith(magic) else None

    return rule


def _rar(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head.startswith(b"Rar!\x1a\x07\x01\x00"):
        return _fid("RAR", "signature Rar!\\x1a\\x07\\x01\\x00 (RAR 5) at 0", version="5", puid="fmt/613")
    if head.startswith(b"Rar!\x1a\x07\x00"):
        return _fid("RAR", "signature Rar!\\x1a\\x07\\x00 (RAR 1.5-4) at 0", version="1.5-4")
    return None


def _tar(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head[257:262] == b"ustar":
        return _fid("TAR", "'ustar' at offset 257")
    return None


def _bzip2(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if (
        head[:3] == b"BZh"
        and len(head) >= 10
        and 0x31 <= head[3] <= 0x39
        and head[4:10]
        in (
            b"1AY&SY",
            b"\x17rE8P\x90",  # end-of-stream marker: an empty stream
        )
    ):
        return _fid("BZIP2", "signature BZh1-9 with a block header at 0")
    return None


def _exe(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if not head.startswith(b"MZ") or len(head) < 64:
        return None
    pe = struct.unpack_from("<I", head, 0x3C)[0]
    if pe + 6 > len(head) or head[pe : pe + 4] != b"PE\0\0":
        return None
    machine = struct.unpack_from("<H", head, pe + 4)[0]
    puid = {0x14C: "fmt/899", 0x8664: "fmt/900"}.get(machine, "x-fmt/411")
    return _fid("EXE", f"MZ header with PE signature at {pe} (machine {machine:#06x})", puid=puid)


def _elf(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if not head.startswith(b"\x7fELF") or len(head) < 6 or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    bits, endian = (32, 64)[head[4] - 1], ("little", "big")[head[5] - 1]
    puid = {
        (32, "little"): "fmt/688",
        (32, "big"): "fmt/689",
        (64, "little"): "fmt/690",
        (64, "big"): "fmt/691",
    }
    return _fid("ELF", f"signature 7F 45 4C 46, {bits}-bit {endian}-endian", puid=puid[(bits, endian)])


def _jp2(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n"):
        return _fid("JP2", "JPEG 2000 signature box at 0")
    return None


def _ebml(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    window = head[:64]
    if b"webm" in window:
        return _fid("WEBM", "EBML header with DocType webm")
    if b"matroska" in window:
        return _fid("MKV", "EBML header with DocType matroska")
    return None


def _aiff(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _fid("AIFF", f"IFF FORM of type {head[8:12].decode()}")
    return None


def _mpeg_ps(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if (
        head.startswith(b"\x00\x00\x01\xba")
        and len(head) > 4
        and (head[4] & 0xC0 == 0x40 or head[4] & 0xF0 == 0x20)
    ):
        return _fid("MPEG", "MPEG program stream pack header 00 00 01 BA at 0")
    return None


# --- RIFF ------------------------------------------------------------------------------------


def _riff(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head[:4] not in (b"RIFF", b"RIFX", b"RF64") or len(head) < 12:
        return None
    form = head[8:12]
    if form == b"WAVE":
        version = "RF64" if head[:4] == b"RF64" else None
        return _fid(
            "WAV", f"{head[:4].decode()} container of form WAVE", version=version, puid=_wave_puid(head)
        )
    if form == b"AVI ":
        return _fid("AVI", "RIFF container of form 'AVI '")
    if form == b"WEBP":
        kind = head[12:16]
        puid = {b"VP8 ": "fmt/566", b"VP8L": "fmt/567", b"VP8X": "fmt/568"}.get(kind)
        return _fid("WEBP", f"RIFF container of form WEBP ({kind.decode('latin-1').strip()})", puid=puid)
    return None


def _wave_puid(head: bytes) -> str:
    """PRONOM splits WAVE by the size of its fmt chunk: 16 PCMWAVEFORMAT, 18 WAVEFORMATEX, 40 EXTENSIBLE."""
    pos = 12
    while pos + 8 <= len(head):
        cid, csize = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if cid == b"bext":
            return "fmt/6"  # Broadcast WAVE: PRONOM has separate ids by version; keep the generic one
        if cid == b"fmt ":
            tag = struct.unpack_from("<H", head, pos + 8)[0] if pos + 10 <= len(head) else 0
            if csize == 16 and tag == 1:
                return "fmt/141"
            if csize == 18:
                return "fmt/142"
            if csize == 40 and tag == 0xFFFE:
                return "fmt/143"
            return "fmt/6"
        pos += 8 + csize + (csize & 1)
    return "fmt/6"


# --- ISO base media (MP4, MOV, 3GP, M4A, HEIF) ----------------------------------------------

_BRANDS: dict[str, str] = {
    "qt  ": "MOV",
    "M4A ": "M4A",
    "M4B ": "M4A",
    "M4P ": "M4A",
    "heic": "HEIF",
    "heix": "HEIF",
    "mif1": "HEIF",
    "msf1": "HEIF",
    "heim": "HEIF",
    "heis": "HEIF",
}
_MP4_BRANDS = {
    "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9", "mp41", "mp42", "mp71",
    "avc1", "dash", "mmp4", "MSNV", "NDAS", "NDSC", "NDSH", "NDSM", "NDSP", "NDSS", "NDXC", "NDXH",
    "NDXM", "NDXP", "NDXS", "f4v ", "F4V ", "XAVC", "M4V ", "M4VH", "M4VP", "MP4 ",
}  # fmt: skip
_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _brand_name(brand: str) -> str | None:
    if brand in _BRANDS:
        return _BRANDS[brand]
    if brand.startswith(("3gp", "3g2", "3ge", "3gg")):
        return "3GP"
    if brand in _MP4_BRANDS:
        return "MP4"
    return None


def _isobmff(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if len(head) < 12:
        return None
    box_size = struct.unpack_from(">I", head)[0]
    if head[4:8] == b"ftyp" and 16 <= box_size <= 4096:
        major = head[8:12].decode("latin-1")
        compatible = [head[i : i + 4].decode("latin-1") for i in range(16, min(box_size, len(head)) - 3, 4)]
        for brand in (major, *compatible):
            name = _brand_name(brand)
            if name is not None:
                where = "major" if brand == major else "compatible"
                return _fid(name, f"ISO base media ftyp box, {where} brand {brand.strip()!r}")
        return unknown(f"ISO base media file (ftyp brands {[major, *compatible]}) of a kind not recognised")
    if head[4:8] in _QT_ATOMS and (box_size in (0, 1) or 8 <= box_size <= size):
        return _fid("MOV", f"QuickTime atom {head[4:8].decode()!r} at 0 (no ftyp box)")
    return None


# --- MP3 -------------------------------------------------------------------------------------

_MP3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_frame(header: bytes) -> tuple[int, str, int] | None:
    """(frame length, MPEG version, sample rate) if ``header`` is a valid Layer III frame header."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version_bits = (header[1] >> 3) & 3
    layer_bits = (header[1] >> 1) & 3
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 3
    padding = (header[2] >> 1) & 1
    if version_bits == 1 or layer_bits != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[1 if version_bits == 3 else 2][bitrate_index] * 1000
    rate = _MP3_RATES[version_bits][rate_index]
    coefficient = 144 if version_bits == 3 else 72
    version = {3: "MPEG-1", 2: "MPEG-2", 0: "MPEG-2.5"}[version_bits]
    return coefficient * bitrate // rate + padding, version, rate


def _frames_at(f: BinaryIO, offset: int, size: int) -> str | None:
    """The MPEG version if two consecutive Layer III frames start at ``offset`` (or one ends the file)."""
    f.seek(offset)
    first = mp3_frame(f.read(4))
    if first is None:
        return None
    length, version, rate = first
    if offset + length == size:
        return version
    f.seek(offset + length)
    second = mp3_frame(f.read(4))
    if second is None or second[1] != version or second[2] != rate:
        return None
    return version


def _mp3(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if (
        head.startswith(b"ID3")
        and len(head) >= 10
        and head[3] in (2, 3, 4)
        and all(b < 0x80 for b in head[6:10])
    ):
        tag = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        start = 10 + tag + (10 if head[5] & 0x10 else 0)
        tag_name = f"ID3v2.{head[3]} tag"
        f.seek(start)
        after = f.read(4096)
        if after.startswith(b"fLaC"):
            return _fid("FLAC", f"{tag_name} followed by the fLaC signature")
        for skip in range(min(len(after), 4096)):
            if after[skip] == 0xFF:
                version = _frames_at(f, start + skip, size)
                if version is not None:
                    return _fid("MP3", f"{tag_name} followed by {version} Layer III frames", version=version)
        return _fid("MP3", f"{tag_name} (no MPEG frames verified after it)")
    version = _frames_at(f, 0, size)
    if version is not None:
        return _fid(
            "MP3", f"{version} Layer III frame sync at 0, confirmed by the next frame", version=version
        )
    return None


# --- ZIP family ------------------------------------------------------------------------------


def _zip(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        return None
    note = ""
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            encrypted = any(i.flag_bits & 1 for i in infos)

            def reader(name: str) -> bytes:
                with zf.open(name) as member:
                    return member.read(MAX_MEMBER_BYTES)

            return _zip_kind(names, encrypted, reader, note)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
            struct.error) as exc:  # fmt: skip
        note = f" (from local headers; the central directory is unreadable: {exc})"
    names, encrypted = _local_headers(f, size)
    if not names:
        return _fid("ZIP", f"ZIP local file header signature at 0{note}")
    return _zip_kind(names, encrypted, None, note)


def _local_headers(f: BinaryIO, size: int, limit: int = 256) -> tuple[list[str], bool]:
    """Names from the local file headers at the start of a ZIP whose central directory is broken."""
    names: list[str] = []
    encrypted = False
    pos = 0
    while len(names) < limit and pos + 30 <= size:
        f.seek(pos)
        fixed = f.read(30)
        if len(fixed) < 30 or fixed[:4] != b"PK\x03\x04":
            break
        flags = struct.unpack_from("<H", fixed, 6)[0]
        csize = struct.unpack_from("<I", fixed, 18)[0]
        name_len, extra_len = struct.unpack_from("<HH", fixed, 26)
        name = f.read(name_len).decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
        names.append(name)
        encrypted = encrypted or bool(flags & 1)
        if flags & 0x08 and csize == 0:
            break  # sizes are in a data descriptor after the data: cannot skip ahead
        pos += 30 + name_len + extra_len + csize
    return names, encrypted


_ODF = {
    "application/vnd.oasis.opendocument.text": "ODT",
    "application/vnd.oasis.opendocument.spreadsheet": "ODS",
    "application/vnd.oasis.opendocument.presentation": "ODP",
    "application/epub+zip": "EPUB",
}
_MACRO_PUID = {"DOCX": "fmt/523", "XLSX": "fmt/445", "PPTX": "fmt/487"}


def _zip_kind(names: list[str], encrypted: bool, read: Callable[[str], bytes] | None, note: str) -> FormatId:
    enc = ", entries encrypted" if encrypted else ""
    name_set = set(names)
    if "OFD.xml" in name_set or any(n.lower() == "ofd.xml" for n in names):
        member = "OFD.xml" if "OFD.xml" in name_set else next(n for n in names if n.lower() == "ofd.xml")
        version, extra = _ofd_version(read, member)
        return _fid("OFD", f"ZIP containing {member}{extra}{enc}{note}", version=version, encrypted=encrypted)
    if read is None and any(_OFD_DOC.match(n) for n in names):
        # a ZIP cut short before its OFD.xml (usually written last): the document folders still show
        first = next(n for n in names if _OFD_DOC.match(n))
        return _fid(
            "OFD", f"ZIP with OFD document part {first} (OFD.xml not reached){enc}{note}", encrypted=encrypted
        )
    if "[Content_Types].xml" in name_set:
        prefixes = {n.split("/", 1)[0] for n in names if "/" in n}
        kind = next(
            (k for p, k in (("word", "DOCX"), ("xl", "XLSX"), ("ppt", "PPTX")) if p in prefixes), None
        )
        if kind is not None:
            macros = any(n.lower().endswith("vbaproject.bin") for n in names)
            basis = f"ZIP containing [Content_Types].xml and {_OOXML_DIR[kind]}/"
            if macros:
                basis += " with a VBA project (macro-enabled)"
            return _fid(
                kind,
                basis + enc + note,
                puid=_MACRO_PUID[kind] if macros else _REGISTRY_PUID,
                encrypted=encrypted,
            )
        if "FixedDocumentSequence.fdseq" in name_set or "FixedDocSeq.fdseq" in name_set:
            return _fid("XPS", f"ZIP containing [Content_Types].xml and a fixed document sequence{enc}{note}",
                        encrypted=encrypted)  # fmt: skip
    if "mimetype" in name_set and read is not None:
        try:
            mimetype = read("mimetype")[:200].decode("ascii", errors="replace").strip()
        except Exception:  # a broken member must not stop identification
            mimetype = ""
        kind = _ODF.get(mimetype)
        if kind is not None:
            return _fid(kind, f"ZIP with mimetype member {mimetype!r}{enc}{note}", encrypted=encrypted)
    return _fid("ZIP", f"ZIP archive with {len(names)} entries, none marking a document format{enc}{note}",
                encrypted=encrypted)  # fmt: skip


_OFD_DOC = re.compile(r"Doc_[0-9]+/(Document\.xml|Pages/Page_[0-9]+/Content\.xml)\Z", re.ASCII)
_OOXML_DIR = {"DOCX": "word", "XLSX": "xl", "PPTX": "ppt"}


def _ofd_version(read: Callable[[str], bytes] | None, member: str) -> tuple[str | None, str]:
    if read is None:
        return None, ""
    try:
        root = xmlsafe.parse(read(member), name=member)
    except MetadataError as exc:
        return None, f" ({member} unreadable: {exc.message})"
    except Exception as exc:  # decompression errors, CRC, encrypted member
        return None, f" ({member} unreadable: {exc})"
    version = root.get("Version")
    doc_type = root.get("DocType")
    extra = f" (DocType {doc_type}, Version {version})" if doc_type or version else ""
    return version, extra


# --- OLE2 compound files ---------------------------------------------------------------------


def _ole(f: BinaryIO, head: bytes, size: int) -> FormatId | None:
    if not head.startswith(ole.SIGNATURE):
        return None
    try:
        cf = ole.CompoundFile(f, size)
        names = cf.root_names()
    except (ole.OleError, struct.error, OSError) as exc:
        return _fid("OLE", f"OLE2 signature at 0; directory unreadable: {exc}")
    lower = {n.lower() for n in names}
    if "encryptedpackage" in lower and "encryptioninfo" in lower:
        return _fid("OOXML", "OLE2 compound file with EncryptionInfo and EncryptedPackage streams "
                    "(password-encrypted Office Open XML)", encrypted=True)  # fmt: skip
    wps = " written by Kingsoft WPS (WpsCustomData stream)" if "wpscustomdata" in lower else ""
    if "worddocument" in lower:
        encrypted = word_encrypted(cf)
        return _fid("DOC", f"OLE2 compound file with a WordDocument stream{wps}" + _enc_note(encrypted),
                    puid="fmt/754" if encrypted else None, encrypted=bool(encrypted))  # fmt: skip
    if "workbook" in lower or "book" in lower:
        stream = "Workbook" if "workbook" in lower else "Book"
        encrypted = excel_encrypted(cf, stream)
        version = "BIFF8" if stream == "Workbook" else "BIFF5"
        return _fid("XLS", f"OLE2 compound file with a {stream} stream{wps}" + _enc_note(encrypted),
                    version=version, puid=None if stream == "Workbook" else "fmt/59",
                    encrypted=bool(encrypted))  # fmt: skip
    if "powerpoint document" in lower:
        encrypted = "encryptedsummary" in lower
        return _fid("PPT", f"OLE2 compound file with a 'PowerPoint Document' stream{wps}"
                    + _enc_note(encrypted or None), encrypted=encrypted)  # fmt: skip
    shown = ", ".join(sorted(names)[:8])
    return _fid("OLE", f"OLE2 compound file whose streams ({shown}) mark no known document format")


def _enc_note(encrypted: bool | None) -> str:
    if encrypted:
        return "; encrypted"
    if encrypted is None:
        return "; encryption flag unreadable"
    return ""


def word_encrypted(cf: ole.CompoundFile) -> bool | None:
    """The fEncrypted bit of the Word FIB (MS-DOC FibBase, bit 8 of the flags at offset 10)."""
    entry = cf.find("WordDocument")
    try:
        fib = cf.read_stream(entry, 12) if entry is not None else b""
    except (ole.OleError, struct.error, OSError):
        return None
    if len(fib) < 12 or fib[:2] != b"\xec\xa5":
        return None
    flags = struct.unpack_from("<H", fib, 10)[0]
    return bool(flags & 0x0100)


def excel_encrypted(cf: ole.CompoundFile, stream: str = "Workbook") -> bool | None:
    """A FILEPASS record (0x002F) among the first records of the workbook globals (MS-XLS)."""
    entry = cf.find(stream)
    try:
        data = cf.read_stream(entry, 8192) if entry is not None else b""
    except (ole.OleError, struct.error, OSError):
        return None
    pos = 0
    for _ in range(64):
        if pos + 4 > len(data):
            break
        rtype, length = struct.unpack_from("<HH", data, pos)
        if rtype == 0x002F:
            return True
        if rtype == 0x000A and pos > 0:  # EOF of the globals substream
            break
        pos += 4 + length
    return False


# --- text ------------------------------------------------------------------------------------

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x19\x1c-\x1f\x7f]")
_XML_DECL = re.compile(r"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*[\"'](1\.[01])[\"']")
# XML names may use letters of any script (<归档信息包>), so \w stays Unicode here: this only picks
# the root element's name for identification. Digits, whitespace and versions are matched as ASCII.
_FIRST_TAG = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_JSON_START = re.compile(r"[\[{][ \t\r\n]*(?:[\"\[{\]}\-0-9]|true|false|null)")


def _decode_head(head: bytes, size: int) -> tuple[str, str] | None:
    """(text, encoding) if ``head`` is text in a supported encoding, else None."""
    final = size <= len(head)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return _decode(head, encoding, final)
    if head.startswith((b"<\x00?\x00x\x00", b"<\x00\x00\x00")):
        return _decode(head, "utf-16-le", final)
    if head.startswith((b"\x00<\x00?\x00x", b"\x00\x00\x00<")):
        return _decode(head, "utf-16-be", final)
    if b"\x00" in head:
        return None
    if head.isascii():
        return _decode(head, "ascii", final)
    # UTF-8 is tried without "final" even for a whole file: a UTF-8 text cut inside its last
    # character stays UTF-8 (validation reports the cut) instead of passing as GB18030 mojibake.
    return _decode(head, "utf-8", False) or _decode(head, "gb18030", final)


def _decode(data: bytes, encoding: str, final: bool) -> tuple[str, str] | None:
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except (UnicodeDecodeError, LookupError):
        return None
    if _CONTROL.search(text.rstrip("\x1a")):
        return None
    return text, encoding


def _text(head: bytes, size: int, f: BinaryIO) -> FormatId:
    decoded = _decode_head(head, size)
    if decoded is None:
        return unknown("no known signature, and the first bytes are not text (binary data)")
    text, encoding = decoded
    stripped = text.lstrip("\ufeff \t\r\n")
    described = f"text in {encoding}"
    if stripped.startswith("{\\rtf"):
        return _fid("RTF", "signature {\\rtf at 0", encoding=encoding)
    if stripped.startswith("<"):
        markup = _markup(stripped, described, encoding)
        if markup is not None:
            return markup
    if stripped[:1] in ("{", "[") and _looks_json(stripped, size, f, encoding):
        return _fid("JSON", f"{described} that parses as JSON" if size <= _JSON_FULL_PARSE
                    else f"{described} opening like a JSON document", encoding=encoding)  # fmt: skip
    return _fid("TXT", f"no signature; {described} without control characters (first {len(head)} bytes)",
                encoding=encoding)  # fmt: skip


def _markup(text: str, described: str, encoding: str) -> FormatId | None:
    decl = _XML_DECL.match(text)
    lowered = text[:2048].lower()
    body = re.sub(r"<!--.*?-->|<\?.*?\?>|<!doctype[^>]*>", "", text[:4096], flags=re.S | re.I).lstrip()
    tag = _FIRST_TAG.match(body)
    local = tag.group(2).lower() if tag else ""
    if "<!doctype html" in lowered or (local == "html" and not decl):
        puid = "fmt/471" if "<!doctype html>" in lowered else "fmt/96"
        return _fid("HTML", f"{described} with an html root or doctype", puid=puid, encoding=encoding)
    if decl is not None or tag is not None:
        version = decl.group(1) if decl else None
        if local == "svg":
            return _fid("SVG", f"{described}, XML with root element svg", version=version, encoding=encoding)
        if local == "html":
            return _fid("HTML", f"{described}, XHTML root element html", encoding=encoding)
        how = f"XML declaration version {version}" if decl else f"first element <{local}>"
        puid = "fmt/1776" if version == "1.1" else "fmt/101"
        return _fid(
            "XML", f"{described} starting with {how}", version=version or "1.0", puid=puid, encoding=encoding
        )
    return None


_JSON_FULL_PARSE = 64 * 1024


def _looks_json(text: str, size: int, f: BinaryIO, encoding: str) -> bool:
    if size <= _JSON_FULL_PARSE:
        try:
            f.seek(0)
            json.loads(f.read().decode(encoding))
        except (ValueError, UnicodeDecodeError):
            return False
        return True
    return _JSON_START.match(text) is not None


# --- rule order ------------------------------------------------------------------------------

_SIGNATURE_RULES: tuple[Callable[[BinaryIO, bytes, int], FormatId | None], ...] = (
    _pdf,
    _zip,
    _ole,
    _jpeg,
    _png,
    _tiff,
    _gif,
    _jp2,
    _riff,
    _isobmff,
    _simple("FLAC", b"fLaC", "signature fLaC at 0"),
    _simple("OGG", b"OggS\x00", "signature OggS at 0"),
    _simple("AMR", b"#!AMR", "signature #!AMR at 0"),
    _simple(
        "ASF", b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c", "ASF header GUID at 0"
    ),
    _ebml,
    _aiff,
    _mpeg_ps,
    _rar,
    _simple("7Z", b"7z\xbc\xaf\x27\x1c", "signature 7z BC AF 27 1C at 0"),
    _simple("GZIP", b"\x1f\x8b\x08", "signature 1F 8B 08 at 0"),
    _bzip2,
    _simple("XZ", b"\xfd7zXZ\x00", "signature FD 37 7A 58 5A 00 at 0"),
    _tar,
    _exe,
    _elf,
    _bmp,
    _mp3,
)
