"""Safe XML parsing: no DTDs, no entities, no network, bounded size and depth.

Every XML that enters dangan from outside goes through ``parse``. A document with a DOCTYPE is
refused outright: our formats never need one, and refusing it closes XXE and billion-laughs at once.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from dangan.core.errors import MetadataError

MAX_XML_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 64


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,  # a comment inside a value would otherwise cut .text short
        remove_pis=True,
    )


def check_size(size: int, *, name: str = "XML") -> None:
    """Refuse an oversized XML before reading it into memory."""
    if size > MAX_XML_BYTES:
        raise MetadataError(f"{name} is {size} bytes, over the {MAX_XML_BYTES}-byte limit", target=name)


def parse(data: bytes, *, name: str = "XML") -> etree._Element:
    """Parse ``data`` or raise MetadataError naming ``name`` and the reason."""
    if len(data) > MAX_XML_BYTES:
        raise MetadataError(f"{name} is {len(data)} bytes, over the {MAX_XML_BYTES}-byte limit", target=name)
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lower()
    if b"<!doctype" in head or b"<!entity" in data[:65536].lower():
        raise MetadataError(f"{name} declares a DOCTYPE or entities, which are not allowed", target=name)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MetadataError(f"{name} is not well-formed XML: {exc}", target=name) from exc
    except ValueError as exc:  # e.g. undecodable bytes for the declared encoding
        raise MetadataError(f"{name} cannot be decoded: {exc}", target=name) from exc
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise MetadataError(f"{name} declares a DOCTYPE, which is not allowed", target=name)
    if _depth(root) > MAX_DEPTH:
        raise MetadataError(f"{name} nests deeper than {MAX_DEPTH} levels", target=name)
    for el in root.iter():
        if isinstance(el, etree._Entity):
            raise MetadataError(f"{name} uses an entity reference, which is not allowed", target=name)
    return root


def _depth(root: etree._Element) -> int:
    deepest = 0
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        el, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in el)
    return deepest


def text_of(parent: etree._Element, tag: str) -> str | None:
    """Text of the first child ``tag``: None when absent, "" when empty (whitespace stripped)."""
    child = parent.find(tag)
    if child is None:
        return None
    return (child.text or "").strip()


def serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
