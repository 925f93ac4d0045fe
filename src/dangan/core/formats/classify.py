"""Format classes the checks ask about: accepted archival formats (3-3), compression and
containers, encryption (3-8)."""

from __future__ import annotations

from dangan.core.formats.identify import FormatId

# GB/T 18894 and DA/T 47-style defaults: OFD and PDF (PDF/A preferred) for documents, JPEG/TIFF/PNG
# for images, MP3/WAV for audio, MP4 for video, XML and plain text for data. A deployment may
# configure its own list (check context ``accepted_formats``).
ARCHIVAL_FORMATS: frozenset[str] = frozenset(
    {"OFD", "PDF", "JPEG", "TIFF", "PNG", "MP3", "WAV", "MP4", "XML", "TXT"}
)

# Compressed archives: their content is not directly usable and may hide anything.
COMPRESSED_ARCHIVES: frozenset[str] = frozenset({"ZIP", "RAR", "7Z", "GZIP", "BZIP2", "XZ"})
# Of those, formats whose compression is proprietary (no open specification of the compressor).
PROPRIETARY_COMPRESSION: frozenset[str] = frozenset({"RAR"})
# Containers that only wrap other files (uncompressed archives, unidentified compound files).
CONTAINERS: frozenset[str] = frozenset({"TAR", "OLE"})
EXECUTABLES: frozenset[str] = frozenset({"EXE", "ELF"})


def _name(fmt: FormatId | str) -> str:
    return fmt if isinstance(fmt, str) else fmt.name


def is_archival(fmt: FormatId | str, accepted: frozenset[str] | None = None) -> bool:
    """Whether the format is on the accepted list (``ARCHIVAL_FORMATS`` unless given)."""
    return _name(fmt) in (ARCHIVAL_FORMATS if accepted is None else accepted)


def is_compressed_archive(fmt: FormatId | str) -> bool:
    return _name(fmt) in COMPRESSED_ARCHIVES


def is_proprietary_compression(fmt: FormatId | str) -> bool:
    return _name(fmt) in PROPRIETARY_COMPRESSION


def is_container_or_compressed(fmt: FormatId | str) -> bool:
    """A compressed archive or a plain container: check 3-8 reports these inside a package.

    Document formats that happen to be ZIP or OLE inside (OFD, DOCX, DOC …) are not containers here:
    their identity is the document format.
    """
    return _name(fmt) in COMPRESSED_ARCHIVES | CONTAINERS


def is_executable(fmt: FormatId | str) -> bool:
    return _name(fmt) in EXECUTABLES
