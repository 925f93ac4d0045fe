"""XML Schemas of the case package's metadata file and the batch manifest.

The ``.xsd`` files are generated from ``schema.py`` by ``python -m dangan.core.package.xsd.generate``.
They check structure and value types only; presence of required items is left to the archiving
checks (GD-2-3/GD-2-4), which name what is missing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Protocol, cast

from lxml import etree

from dangan.core import xmlsafe
from dangan.core.errors import MetadataError
from dangan.core.package import schema as s

CASE_XSD = f"dangan-case-{s.FORMAT_VERSION}.xsd"
BATCH_XSD = f"dangan-batch-{s.FORMAT_VERSION}.xsd"


class _LogEntry(Protocol):
    """What we read from an lxml error-log entry (lxml-stubs leave _ErrorLog untyped)."""

    line: int
    message: str
    type_name: str


# An XMLSchema keeps its error_log on the object, so validations through one instance are serialised.
_lock = threading.Lock()


def _load(name: str) -> etree.XMLSchema:
    data = resources.files(__name__).joinpath(name).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.XMLSchema(etree.fromstring(data, parser=parser))


@cache
def case_schema() -> etree.XMLSchema:
    """The XSD of 基本信息元数据.xml (root 归档信息包)."""
    return _load(CASE_XSD)


@cache
def batch_schema() -> etree.XMLSchema:
    """The XSD of 批次清单.xml (root 批次清单)."""
    return _load(BATCH_XSD)


# Value-level facet errors: the metadata scheme (checks 1-2…1-4, 2-1, 2-6) reports these per item,
# with the service item's own rules; the XSD keeps the structure (1-12).
_VALUE_FACETS = (
    "SCHEMAV_CVC_MAXLENGTH_VALID",
    "SCHEMAV_CVC_MINLENGTH_VALID",
    "SCHEMAV_CVC_LENGTH_VALID",
    "SCHEMAV_CVC_PATTERN_VALID",
    "SCHEMAV_CVC_ENUMERATION_VALID",
    "SCHEMAV_CVC_DATATYPE_VALID",
)


# Validating a tree, lxml records each error's element path, which walks the element's preceding
# siblings: many errors in a long list cost quadratic time (64,000 bad <文件> entries in a 2.3 MB file
# took about 90 s). A document where errors × the longest child list could exceed this budget is first
# validated while streaming (no paths, stops after _MAX_STREAMED errors); only when that shows the
# tree validation is affordable does it run, for its messages with line numbers.
_COST_BUDGET = 20_000_000
_MAX_STREAMED = 1000
_MAX_LISTED = 100  # messages listed; the rest are counted in one more line


def _shape(root: etree._Element) -> tuple[int, int]:
    """Elements plus attributes (each can be an error), and the longest child list."""
    count = widest = 0
    for el in root.iter():
        count += 1 + len(el.attrib)
        widest = max(widest, len(el))
    return count, widest


def _streamed_errors(xsd: etree.XMLSchema, data: bytes) -> tuple[list[_LogEntry], bool]:
    """Validate while parsing (data already passed xmlsafe.parse): the errors, and whether it stopped early."""
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        schema=xsd,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    stopped = False
    try:
        for n, (_, el) in enumerate(events):
            el.clear()  # the schema checks the stream of events; the tree is not needed
            if n % 1024 == 0 and len(events.error_log) > _MAX_STREAMED:
                stopped = True
                break
    except etree.XMLSyntaxError:
        pass  # raised at the end for the first schema error; all of them are in the log
    return list(cast("Iterable[_LogEntry]", events.error_log)), stopped


def _validate(xsd: etree.XMLSchema, data: bytes, name: str, *, structure_only: bool = False) -> list[str]:
    try:
        # Safe parse: no DTD, no entities, no network, bounded size and depth.
        root = xmlsafe.parse(data, name=name)
    except MetadataError as exc:
        return [exc.message]

    def kept(err: _LogEntry) -> bool:
        return not (structure_only and err.type_name.startswith(_VALUE_FACETS))

    count, widest = _shape(root)
    with _lock:
        if count * widest > _COST_BUDGET:
            streamed, stopped = _streamed_errors(xsd, data)
            if stopped or len(streamed) * widest > _COST_BUDGET:
                out = [err.message for err in streamed if kept(err)]
                if stopped:  # listed without line numbers: the streaming validation does not know them
                    return [
                        *out[:_MAX_LISTED],
                        f"more than {_MAX_STREAMED} XML Schema errors: validation stopped",
                    ]
                return _listed(out)
        if xsd.validate(root):
            return []
        entries = cast("Iterable[_LogEntry]", xsd.error_log)
        return _listed([f"line {err.line}: {err.message}" for err in entries if kept(err)])


def _listed(messages: list[str]) -> list[str]:
    if len(messages) <= _MAX_LISTED:
        return messages
    return [*messages[:_MAX_LISTED], f"… and {len(messages) - _MAX_LISTED} more XML Schema errors"]


def validate_case_xml(data: bytes) -> list[str]:
    """Validate a metadata file against the case XSD. Readable messages with line numbers; [] when valid."""
    return _validate(case_schema(), data, s.METADATA_FILENAME)


def validate_case_structure(data: bytes) -> list[str]:
    """Like :func:`validate_case_xml`, but only structure errors (elements, order, nesting), no value facets."""
    return _validate(case_schema(), data, s.METADATA_FILENAME, structure_only=True)


def validate_batch_xml(data: bytes) -> list[str]:
    """Validate a batch manifest against the batch XSD. Readable messages with line numbers; [] when valid."""
    return _validate(batch_schema(), data, s.BATCH_MANIFEST_FILENAME)


__all__ = [
    "batch_schema",
    "case_schema",
    "validate_batch_xml",
    "validate_case_structure",
    "validate_case_xml",
]
