"""XML (well-formed, through the safe parser), JSON and plain-text validation."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

from lxml import etree

from dangan.core import xmlsafe
from dangan.core.errors import MetadataError
from dangan.core.formats.result import Validation, describe_error, invalid

XML_TOOL = f"lxml {'.'.join(str(v) for v in etree.LXML_VERSION[:3])} (dangan.core.xmlsafe)"
JSON_TOOL = "python json"
TEXT_TOOL = "python codecs"
CHUNK = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x19\x1c-\x1f\x7f]")


def validate_xml(path: Path) -> Validation:
    size = path.stat().st_size
    try:
        xmlsafe.check_size(size, name=path.name)
        root = xmlsafe.parse(path.read_bytes(), name=path.name)
    except MetadataError as exc:
        return invalid(XML_TOOL, exc.message)
    tag = root.tag if isinstance(root.tag, str) else str(root.tag)
    return Validation("valid", XML_TOOL, details={"root": tag, "well_formed": True})


def validate_json(path: Path) -> Validation:
    size = path.stat().st_size
    if size > xmlsafe.MAX_XML_BYTES:
        return invalid(JSON_TOOL, f"{size} bytes is over the {xmlsafe.MAX_XML_BYTES}-byte limit for JSON")
    try:
        value = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        return invalid(JSON_TOOL, f"not valid JSON: {describe_error(exc)}")
    return Validation("valid", JSON_TOOL, details={"top_level": type(value).__name__})


def validate_text(path: Path, encoding: str | None) -> Validation:
    """Decodes the whole file in the encoding found by identification.

    Identification looks at the first 8 KB only: a head that is pure ASCII may be followed by UTF-8
    or GB18030, so for "ascii" (or an unknown encoding) both are tried, UTF-8 first.
    """
    candidates = ["utf-8", "gb18030"] if encoding in (None, "ascii") else [encoding]
    failure = ""
    for enc in candidates:
        try:
            lines = _decode_all(path, enc)
        except UnicodeDecodeError as exc:
            failure = f"not valid {enc} at byte {exc.start}: {exc.reason}"
            continue
        except LookupError as exc:
            return invalid(TEXT_TOOL, f"unknown encoding {enc}: {exc}")
        except ValueError as exc:
            return invalid(TEXT_TOOL, f"not plain text: {exc}")
        return Validation("valid", TEXT_TOOL, details={"encoding": enc, "lines": lines})
    return invalid(TEXT_TOOL, failure)


def _decode_all(path: Path, encoding: str) -> int:
    """Number of lines; raises UnicodeDecodeError with ``start`` as an offset in the file."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, lines = 0, 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
                control = _CONTROL.search(text)
                if control is not None:
                    raise ValueError(
                        f"control character U+{ord(control.group()):04X} (binary data, not text)"
                    )
                lines += text.count("\n")
            except UnicodeDecodeError as exc:
                raise UnicodeDecodeError(
                    encoding, exc.object, offset + exc.start, offset + exc.end, exc.reason
                ) from None
            if not chunk:
                return lines
            offset += len(chunk)
