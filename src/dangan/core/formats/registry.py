"""The formats dangan knows: name, MIME type, usual file extensions, PRONOM identifier.

Names are short upper-case labels ("PDF", "OFD", "JPEG" …) used everywhere else (check reports,
accepted-format lists). A PRONOM PUID is only given where the content settles it; where PRONOM
splits a format by version or by a feature we do not read (PNG 1.0/1.1/1.2, RTF versions, Excel
97 vs 2000-2003, Exif versions) the PUID is left empty rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class FormatInfo:
    name: str
    mime: str
    extensions: tuple[str, ...]  # lower case, with the dot
    puid: str | None  # PRONOM id when one id covers every file we label with this name
    description: str


def _f(name: str, mime: str, exts: str, puid: str | None, description: str) -> FormatInfo:
    return FormatInfo(name, mime, tuple(f".{e}" for e in exts.split()), puid, description)


UNKNOWN = "UNKNOWN"

FORMATS: dict[str, FormatInfo] = {
    f.name: f
    for f in (
        # documents
        _f("PDF", "application/pdf", "pdf", None, "Portable Document Format (ISO 32000)"),
        _f("OFD", "application/ofd", "ofd", None, "Open Fixed-layout Document (GB/T 33190-2016) 版式文档"),
        _f("RTF", "application/rtf", "rtf", None, "Rich Text Format"),
        _f("DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "docx docm dotx dotm", "fmt/412", "Word document (Office Open XML)"),
        _f("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "xlsx xlsm xltx xltm", "fmt/214", "Excel workbook (Office Open XML)"),
        _f("PPTX", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
           "pptx pptm potx potm ppsx ppsm", "fmt/215", "PowerPoint presentation (Office Open XML)"),
        _f("OOXML", "application/x-ms-encrypted-ooxml",
           "docx docm xlsx xlsm pptx pptm", None,
           "encrypted Office Open XML document (EncryptedPackage in a compound file)"),
        _f("XPS", "application/oxps", "xps oxps", None, "XML Paper Specification"),
        _f("ODT", "application/vnd.oasis.opendocument.text", "odt", None, "OpenDocument text"),
        _f("ODS", "application/vnd.oasis.opendocument.spreadsheet", "ods", None, "OpenDocument spreadsheet"),
        _f("ODP", "application/vnd.oasis.opendocument.presentation", "odp", None, "OpenDocument presentation"),
        _f("EPUB", "application/epub+zip", "epub", "fmt/483", "EPUB electronic publication"),
        # Kingsoft WPS Office writes .wps/.et/.dps in the Microsoft binary formats, so they are
        # identified as DOC/XLS/PPT and their extensions are accepted there.
        _f("DOC", "application/msword", "doc dot wps", "fmt/40", "Word 97-2003 document (binary)"),
        _f("XLS", "application/vnd.ms-excel", "xls xlt et", None, "Excel 97-2003 workbook (binary, BIFF8)"),
        _f("PPT", "application/vnd.ms-powerpoint", "ppt pps pot dps", "fmt/126",
           "PowerPoint 97-2003 presentation (binary)"),
        _f("OLE", "application/x-ole-storage", "msg db", "fmt/111",
           "OLE2 compound file of a kind not recognised"),
        # images
        _f("JPEG", "image/jpeg", "jpg jpeg jpe jfif", None, "JPEG image"),
        _f("PNG", "image/png", "png", None, "Portable Network Graphics"),
        _f("TIFF", "image/tiff", "tif tiff", "fmt/353", "Tagged Image File Format"),
        _f("GIF", "image/gif", "gif", None, "Graphics Interchange Format"),
        _f("BMP", "image/bmp", "bmp dib", None, "Windows bitmap"),
        _f("WEBP", "image/webp", "webp", None, "WebP image"),
        _f("JP2", "image/jp2", "jp2", "x-fmt/392", "JPEG 2000 part 1 (JP2)"),
        _f("HEIF", "image/heif", "heic heif", None, "High Efficiency Image File Format"),
        _f("SVG", "image/svg+xml", "svg", None, "Scalable Vector Graphics"),
        # audio and video
        _f("MP3", "audio/mpeg", "mp3", "fmt/134", "MPEG-1/2 Audio Layer III"),
        _f("WAV", "audio/wav", "wav wave", "fmt/6", "Waveform audio (RIFF WAVE)"),
        _f("FLAC", "audio/flac", "flac", "fmt/279", "Free Lossless Audio Codec"),
        _f("AIFF", "audio/aiff", "aif aiff aifc", None, "Audio Interchange File Format"),
        _f("OGG", "audio/ogg", "ogg oga ogv opus", None, "Ogg container"),
        _f("AMR", "audio/amr", "amr", None, "Adaptive Multi-Rate audio"),
        _f("M4A", "audio/mp4", "m4a m4b", "fmt/199", "MPEG-4 audio"),
        _f("MP4", "video/mp4", "mp4 m4v", "fmt/199", "MPEG-4 media file (ISO base media)"),
        _f("MOV", "video/quicktime", "mov qt", "x-fmt/384", "QuickTime movie"),
        _f("3GP", "video/3gpp", "3gp 3g2", "fmt/357", "3GPP audio/video"),
        _f("AVI", "video/x-msvideo", "avi", "fmt/5", "Audio Video Interleave (RIFF AVI)"),
        _f("MKV", "video/x-matroska", "mkv mka mk3d", "fmt/569", "Matroska"),
        _f("WEBM", "video/webm", "webm", None, "WebM"),
        _f("ASF", "video/x-ms-asf", "asf wmv wma", "fmt/131", "Advanced Systems Format (WMV/WMA)"),
        _f("MPEG", "video/mpeg", "mpg mpeg vob", None, "MPEG-1/2 program stream"),
        # text and markup
        _f("XML", "application/xml", "xml xsd xsl xslt", "fmt/101", "Extensible Markup Language"),
        _f("HTML", "text/html", "html htm xhtml", None, "HTML"),
        _f("JSON", "application/json", "json", "fmt/817", "JSON"),
        _f("TXT", "text/plain", "txt text csv tsv log md asc", "x-fmt/111", "plain text"),
        # archives and compression
        _f("ZIP", "application/zip", "zip", "x-fmt/263", "ZIP archive"),
        _f("RAR", "application/vnd.rar", "rar", None, "RAR archive (proprietary)"),
        _f("7Z", "application/x-7z-compressed", "7z", "fmt/484", "7-Zip archive"),
        _f("GZIP", "application/gzip", "gz tgz", "x-fmt/266", "gzip compressed data"),
        _f("BZIP2", "application/x-bzip2", "bz2 tbz tbz2", "x-fmt/268", "bzip2 compressed data"),
        _f("XZ", "application/x-xz", "xz txz", "fmt/1098", "xz compressed data"),
        _f("TAR", "application/x-tar", "tar", "x-fmt/265", "tape archive"),
        # executables (never archival; named so that a check can say what was found)
        _f("EXE", "application/vnd.microsoft.portable-executable", "exe dll sys scr cpl ocx", "x-fmt/411",
           "Windows Portable Executable"),
        _f("ELF", "application/x-executable", "so o bin elf", None, "ELF executable or library"),
        _f(UNKNOWN, "application/octet-stream", "", None, "not identified"),
    )
}  # fmt: skip

FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def info(name: str) -> FormatInfo:
    """The registry entry for ``name`` (UNKNOWN's entry for a name we do not know)."""
    return FORMATS.get(name, FORMATS[UNKNOWN])


def extensions_for(name: str) -> tuple[str, ...]:
    return info(name).extensions


def extension_matches(fmt: object, filename: str) -> bool:
    """True when ``filename``'s extension is a usual one for the identified format.

    ``fmt`` is a FormatId (anything with a ``name``) or a format name. An UNKNOWN format matches no
    extension: content that could not be identified does not confirm any claim. A file without an
    extension matches only ELF (executables on Unix have none).
    """
    name = fmt if isinstance(fmt, str) else str(getattr(fmt, "name", UNKNOWN))
    if name == UNKNOWN:
        return False
    suffix = PurePath(filename).suffix.lower()
    if not suffix:
        return name == "ELF"
    return suffix in extensions_for(name)
