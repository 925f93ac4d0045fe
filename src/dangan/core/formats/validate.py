"""``validate(path, fmt)``: run the validator for the identified format family.

| family | tool |
|---|---|
| PDF | pikepdf (qpdf): open, qpdf structure check, encryption, PDF/A claim (XMP), active content |
| JPEG PNG TIFF GIF BMP WEBP JP2 | Pillow: every frame decoded (JPEG: inverse DCT at 1/8 scale), decompression bombs refused |
| MP3 WAV MP4 MOV M4A 3GP AVI FLAC … | own container walk, then FFmpeg in-process via PyAV (every packet demuxed, audio decoded; ffprobe if PyAV is missing) or mutagen |
| XML SVG / JSON / TXT | dangan.core.xmlsafe (lxml) / json / codecs |
| ZIP, DOCX XLSX PPTX ODT ODS ODP EPUB XPS | zipfile CRCs, encrypted entries, package index + main part well-formed |
| DOC XLS PPT, encrypted OOXML | own compound-file reader: structure and encryption only |
| OFD | not here: the OFD module validates it |

No validator lets an exception escape: hostile input ends as ``invalid`` with a message. Every
validator works within :class:`~dangan.core.formats.limits.Limits` (time, decoded bytes, pixels,
frames); a file that needs more is ``invalid`` with a message naming the limit.
"""

from __future__ import annotations

import os
from pathlib import Path

from dangan.core.formats.identify import FormatId, identify
from dangan.core.formats.limits import DEFAULT_LIMITS, BudgetExceeded, Limits
from dangan.core.formats.result import Validation, describe_error, invalid, not_run

IMAGE_FORMATS = {"JPEG", "PNG", "TIFF", "GIF", "BMP", "WEBP", "JP2"}


def validate(
    path: str | os.PathLike[str],
    fmt: FormatId | None = None,
    *,
    use_ffprobe: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> Validation:
    """Validate the file at ``path`` as ``fmt`` (identified from the content when not given)."""
    p = Path(path)
    fmt = fmt if fmt is not None else identify(p)
    try:
        return _dispatch(p, fmt, use_ffprobe, limits)
    except BudgetExceeded as exc:  # validators normally turn this into their own result
        return invalid("dangan", exc.message)
    except MemoryError:
        return invalid("dangan", f"validating {fmt.name} ran out of memory")
    except Exception as exc:  # last line of defence: a validator bug or an unforeseen library error
        return invalid("dangan", f"{fmt.name} validator failed on this file: {describe_error(exc)}")


def _dispatch(p: Path, fmt: FormatId, use_ffprobe: bool, limits: Limits) -> Validation:
    name = fmt.name
    if not p.is_file():
        return invalid("dangan", f"{p} is not a readable file")
    if p.stat().st_size == 0:
        return invalid("dangan", "the file is empty (0 bytes)")
    if name == "PDF":
        from dangan.core.formats.pdf import validate_pdf

        return validate_pdf(p, limits)
    if name in IMAGE_FORMATS:
        from dangan.core.formats.images import validate_image

        return validate_image(p, name, limits)
    from dangan.core.formats.media import MEDIA_FORMATS

    if name in MEDIA_FORMATS:
        from dangan.core.formats.media import validate_media

        return validate_media(p, name, use_ffprobe=use_ffprobe, timeout=limits.time_budget)
    from dangan.core.formats import markup, office

    if name in ("XML", "SVG"):
        return markup.validate_xml(p)
    if name == "JSON":
        return markup.validate_json(p)
    if name == "TXT":
        return markup.validate_text(p, fmt.encoding)
    if name == "ZIP" or name in office.PACKAGE_FORMATS:
        return office.validate_zip(p, name, limits)
    if name in office.OLE_DOCUMENTS or name == "OOXML":
        return office.validate_ole(p, fmt)
    if name == "OFD":
        return not_run("validated by the OFD module")
    if name in ("RAR", "7Z", "GZIP", "BZIP2", "XZ", "TAR"):
        return not_run(f"no validator for {name}: a compressed archive or container (check 3-8 reports it)")
    if name in ("EXE", "ELF"):
        return not_run(f"{name} is an executable program; no validator (never an archival format)")
    if name == "UNKNOWN":
        return not_run(f"format not identified ({fmt.basis})")
    return not_run(f"no validator for {name}")
