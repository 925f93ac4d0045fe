"""Generate the XML Schemas (and the element tables of docs/package-format.md) from ``schema.py``.

``schema.ELEMENTS`` is the one source of truth for element names, English labels, required flags,
kinds and maximum lengths. This module turns it into:

* ``dangan-case-1.0.xsd`` — the metadata file 基本信息元数据.xml (root 归档信息包);
* ``dangan-batch-1.0.xsd`` — the batch manifest 批次清单.xml;
* with ``--markdown``: the element tables that docs/package-format.md embeds verbatim.

Run ``python -m dangan.core.package.xsd.generate`` after changing ``schema.py``; ``--check`` exits 1
when the committed XSDs are stale (tests/core/test_xsd.py asserts the same).

Policy: the XSD enforces structure (which element may appear where) and value types, never presence.
Every leaf element is ``minOccurs="0"`` and every typed value may also be empty, because a missing or
empty required item is reported by the archiving checks as GD-2-3 / GD-2-4 with the element named;
required-ness is documented in each element's ``xs:annotation``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from dangan.core.codes import RETENTION_CODES
from dangan.core.package import schema as s

XSD_DIR = Path(__file__).resolve().parent
CASE_XSD = f"dangan-case-{s.FORMAT_VERSION}.xsd"
BATCH_XSD = f"dangan-batch-{s.FORMAT_VERSION}.xsd"

XS_NS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS_NS}}}"

# Retention codes (DOMAIN.md §4): 永久 Y, 定期30年 D30, 定期10年 D10 — from codes.py, their one home.
RETENTION_VALUES: tuple[str, ...] = tuple(RETENTION_CODES)

# Value patterns. XSD patterns are anchored; each one also matches the empty string (see module doc).
# [0-9] rather than \d: in XSD \d also matches non-ASCII digits such as full-width ０-９.
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
PATTERNS: dict[s.Kind, str] = {
    s.Kind.DATE: f"({_DATE})?",
    s.Kind.DATETIME: f"({_DATE}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(\\.[0-9]+)?(Z|[+\\-][0-9]{{2}}:[0-9]{{2}})?)?",
    s.Kind.INT: "[0-9]*",
    s.Kind.DIGEST: "[0-9a-f]*",
}

KIND_LABELS: dict[s.Kind, str] = {
    s.Kind.TEXT: "文本 text",
    s.Kind.CODE: "代码 code",
    s.Kind.DATE: "日期 date `YYYY-MM-DD`",
    s.Kind.DATETIME: "日期时间 datetime `YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]`",
    s.Kind.INT: "非负整数 integer ≥ 0",
    s.Kind.RETENTION: "保管期限代码 retention `Y` / `D30` / `D10`",
    s.Kind.DIGEST: "数字摘要 digest, lower-case hex",
}

GROUP_LABELS: dict[s.Group, str] = {
    s.Group.ARCHIVE_CONFIG: "Archiving configuration (per service item)",
    s.Group.CASE: "Case information",
    s.Group.APPLICANT: "Applicant",
    s.Group.PROCESS: "Process information",
    s.Group.STEP: "Process step (repeated)",
    s.Group.LICENSES: "Electronic licences",
    s.Group.LICENSE: "Electronic licence (repeated)",
    s.Group.FILES: "File information",
    s.Group.FILE: "File (repeated)",
    s.Group.SCOPE: "Archiving scope",
    s.Group.SCOPE_ITEM: "Material in the archiving scope (repeated)",
}

# Where each group sits, as a path below the root (used in the Markdown table).
GROUP_PATHS: dict[s.Group, str] = {
    s.Group.ARCHIVE_CONFIG: s.Group.ARCHIVE_CONFIG,
    s.Group.SCOPE: f"{s.Group.ARCHIVE_CONFIG}/{s.Group.SCOPE}",
    s.Group.SCOPE_ITEM: f"{s.Group.ARCHIVE_CONFIG}/{s.Group.SCOPE}/{s.Group.SCOPE_ITEM}",
    s.Group.CASE: s.Group.CASE,
    s.Group.APPLICANT: f"{s.Group.CASE}/{s.Group.APPLICANT}",
    s.Group.PROCESS: s.Group.PROCESS,
    s.Group.STEP: f"{s.Group.PROCESS}/{s.Group.STEP}",
    s.Group.LICENSES: s.Group.LICENSES,
    s.Group.LICENSE: f"{s.Group.LICENSES}/{s.Group.LICENSE}",
    s.Group.FILES: s.Group.FILES,
    s.Group.FILE: f"{s.Group.FILES}/{s.Group.FILE}",
}

# Where each group's fields live in the model (dangan.core.package.model.CasePackage).
MODEL_PATHS: dict[s.Group, str] = {
    s.Group.ARCHIVE_CONFIG: "config",
    s.Group.CASE: "case",
    s.Group.APPLICANT: "case.applicant",
    s.Group.STEP: "steps[]",
    s.Group.LICENSE: "licenses[]",
    s.Group.FILE: "files[]",
}


@dataclass(frozen=True)
class Attr:
    """An XML attribute of the format (schema.py has the names; this adds type and meaning)."""

    on: str
    name: str
    name_en: str
    kind: s.Kind
    max_length: int | None = None
    values: tuple[str, ...] = ()  # enumeration (the empty string is always allowed too)


CASE_ATTRS: tuple[Attr, ...] = (
    Attr(s.ROOT, s.ROOT_VERSION_ATTR, f"Format version (this is {s.FORMAT_VERSION})", s.Kind.TEXT, 16),
    Attr(s.Group.SCOPE_ITEM, s.SCOPE_ATTRS["code"], "Material code", s.Kind.CODE, 32),
    Attr(s.Group.SCOPE_ITEM, s.SCOPE_ATTRS["name"], "Material name", s.Kind.TEXT, 200),
    Attr(
        s.Group.SCOPE_ITEM,
        s.SCOPE_ATTRS["necessity"],
        "Necessity: required or optional material",
        s.Kind.TEXT,
        values=(s.NECESSITY_REQUIRED, s.NECESSITY_OPTIONAL),
    ),
    Attr(s.Group.STEP, s.SEQUENCE_ATTR, "Sequence number", s.Kind.INT, 9),
    Attr(s.Group.FILES, s.FILES_COUNT_ATTR, "Declared number of files", s.Kind.INT, 9),
    Attr(s.Group.FILES, s.FILES_BYTES_ATTR, "Declared total bytes of the files", s.Kind.INT, 15),
    Attr(s.Group.FILE, s.SEQUENCE_ATTR, "Sequence number", s.Kind.INT, 9),
)


@dataclass(frozen=True)
class BatchField:
    name_en: str
    kind: s.Kind
    max_length: int | None


# Types of the batch manifest's elements, keyed like schema.BATCH_FIELDS / BATCH_PACKAGE_FIELDS.
# A key added to schema.py without an entry here makes the generator fail loudly (KeyError).
BATCH_FIELD_TYPES: dict[str, BatchField] = {
    "system_code": BatchField("Sending system code", s.Kind.CODE, 64),
    "batch_number": BatchField("Batch number", s.Kind.CODE, 100),
    "sent_at": BatchField("Sent at", s.Kind.DATETIME, 32),
    "package_count": BatchField("Number of packages", s.Kind.INT, 9),
    "byte_total": BatchField("Total bytes of all packages", s.Kind.INT, 15),
    "file_total": BatchField("Total number of files in all packages", s.Kind.INT, 9),
    "standard": BatchField("Standard followed", s.Kind.TEXT, 100),
}
BATCH_PACKAGE_FIELD_TYPES: dict[str, BatchField] = {
    "name": BatchField("Package name (folder or ZIP file name)", s.Kind.TEXT, 255),
    "fonds_code": BatchField("Fonds code", s.Kind.CODE, 32),
    "item_code": BatchField("Service item code", s.Kind.CODE, 64),
    "title": BatchField("Case title", s.Kind.TEXT, 500),
    "size": BatchField("Package size (bytes)", s.Kind.INT, 15),
    "digest_algorithm": BatchField("Digest algorithm", s.Kind.CODE, 16),
    "digest": BatchField("Digest of the package file", s.Kind.DIGEST, 128),
    "archived_at": BatchField("Archived at (sender)", s.Kind.DATETIME, 32),
    "archival_code": BatchField("Archival code, when the sender already holds one", s.Kind.CODE, 100),
}


# --- XSD building ------------------------------------------------------------------------------


def _xs(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, _XS + tag)
    for key, value in attrs.items():
        el.set(key, value)
    return el


def _document(parent: etree._Element, text: str) -> None:
    _xs(_xs(parent, "annotation"), "documentation").text = text


def _plain(label: str) -> str:
    """A Markdown label without its code quotes, for xs:documentation."""
    return label.replace("`", "")


def _required_label(required: bool) -> str:
    return "必填/required" if required else "选填/optional"


def _leaf_doc(name: str, name_en: str, required: bool, kind: s.Kind, max_length: int | None) -> str:
    limit = f", ≤ {max_length}" if max_length is not None else ""
    return f"{name} / {name_en} — {_required_label(required)} — {_plain(KIND_LABELS[kind])}{limit}"


def _simple_type(
    parent: etree._Element, kind: s.Kind, max_length: int | None, values: Sequence[str] = ()
) -> None:
    # Free text keeps its whitespace (xs:string); typed values are xs:token so that surrounding
    # whitespace is tolerated, as the reader strips it.
    base = "xs:string" if kind == s.Kind.TEXT and not values else "xs:token"
    restriction = _xs(_xs(parent, "simpleType"), "restriction", base=base)
    if kind == s.Kind.RETENTION:
        values = RETENTION_VALUES
    if values:
        for value in ("", *values):
            _xs(restriction, "enumeration", value=value)
    if kind in PATTERNS:
        _xs(restriction, "pattern", value=PATTERNS[kind])
    if max_length is not None:
        _xs(restriction, "maxLength", value=str(max_length))


def _leaf(parent: etree._Element, name: str, doc: str, kind: s.Kind, max_length: int | None) -> None:
    el = _xs(parent, "element", name=name, minOccurs="0")
    _document(el, doc)
    _simple_type(el, kind, max_length)


def _attribute(parent: etree._Element, attr: Attr) -> None:
    el = _xs(parent, "attribute", name=attr.name, use="optional")
    kind = " | ".join(attr.values) if attr.values else _plain(KIND_LABELS[attr.kind])
    _document(el, f"@{attr.name} / {attr.name_en} — {kind}")
    _simple_type(el, attr.kind, attr.max_length, attr.values)


def _group_element(parent: etree._Element, group: s.Group, *, repeated: bool = False) -> etree._Element:
    """Declare ``group`` and return its complexType, ready for content and attributes."""
    el = _xs(parent, "element", name=group.value, minOccurs="0")
    if repeated:
        el.set("maxOccurs", "unbounded")
    _document(el, f"{group.value} / {GROUP_LABELS[group]}")
    return _xs(el, "complexType")


def _fields_group(
    parent: etree._Element, group: s.Group, *, repeated: bool = False
) -> tuple[etree._Element, etree._Element]:
    """A group whose children are the leaf elements of ``group`` in any order (xs:all).

    Returns its complexType (for attributes) and its xs:all (for nested groups).
    """
    ctype = _group_element(parent, group, repeated=repeated)
    all_ = _xs(ctype, "all")
    for e in s.elements_of(group):
        _leaf(
            all_, e.name, _leaf_doc(e.name, e.name_en, e.required, e.kind, e.max_length), e.kind, e.max_length
        )
    return ctype, all_


def _add_attrs(ctype: etree._Element, on: str) -> None:
    for attr in CASE_ATTRS:
        if attr.on == on:
            _attribute(ctype, attr)


def _new_schema(title: str) -> etree._Element:
    root = etree.Element(_XS + "schema", nsmap={"xs": XS_NS})
    root.set("elementFormDefault", "unqualified")
    root.set("version", s.FORMAT_VERSION)
    root.append(
        etree.Comment(
            f" {title}. Generated by `python -m dangan.core.package.xsd.generate` from "
            "src/dangan/core/package/schema.py; do not edit by hand. "
        )
    )
    return root


def _serialize(root: etree._Element) -> str:
    text: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return text.decode("utf-8")


def case_xsd() -> str:
    """The XSD of the metadata file (基本信息元数据.xml), as text."""
    root = _new_schema(f"{s.METADATA_FILENAME} (root {s.ROOT}), format {s.FORMAT_VERSION}")
    top = _xs(root, "element", name=s.ROOT)
    _document(top, f"{s.ROOT} / Case package metadata; one per case (办件)")
    top_type = _xs(top, "complexType")
    groups = _xs(top_type, "all")

    _, cfg = _fields_group(groups, s.Group.ARCHIVE_CONFIG)
    scope = _group_element(cfg, s.Group.SCOPE)
    item = _group_element(_xs(scope, "sequence"), s.Group.SCOPE_ITEM, repeated=True)
    _add_attrs(item, s.Group.SCOPE_ITEM)

    _, case = _fields_group(groups, s.Group.CASE)
    _fields_group(case, s.Group.APPLICANT)

    process = _group_element(groups, s.Group.PROCESS)
    step, _ = _fields_group(_xs(process, "sequence"), s.Group.STEP, repeated=True)
    _add_attrs(step, s.Group.STEP)

    licences = _group_element(groups, s.Group.LICENSES)
    _fields_group(_xs(licences, "sequence"), s.Group.LICENSE, repeated=True)

    files = _group_element(groups, s.Group.FILES)
    file_, _ = _fields_group(_xs(files, "sequence"), s.Group.FILE, repeated=True)
    _add_attrs(file_, s.Group.FILE)
    _add_attrs(files, s.Group.FILES)

    _add_attrs(top_type, s.ROOT)
    return _serialize(root)


def batch_xsd() -> str:
    """The XSD of the batch manifest (批次清单.xml), as text."""
    root = _new_schema(f"{s.BATCH_MANIFEST_FILENAME} (root {s.BATCH_ROOT}), format {s.FORMAT_VERSION}")
    top = _xs(root, "element", name=s.BATCH_ROOT)
    _document(top, f"{s.BATCH_ROOT} / Batch manifest; one per exchange of many packages")
    fields = _xs(_xs(top, "complexType"), "all")
    for attr, name in s.BATCH_FIELDS.items():
        f = BATCH_FIELD_TYPES[attr]
        _leaf(fields, name, _leaf_doc(name, f.name_en, False, f.kind, f.max_length), f.kind, f.max_length)
    packages = _xs(fields, "element", name=s.BATCH_PACKAGES, minOccurs="0")
    _document(packages, f"{s.BATCH_PACKAGES} / Package list")
    package = _xs(_xs(_xs(packages, "complexType"), "sequence"), "element", name=s.BATCH_PACKAGE)
    package.set("minOccurs", "0")
    package.set("maxOccurs", "unbounded")
    _document(package, f"{s.BATCH_PACKAGE} / Package (repeated)")
    package_fields = _xs(_xs(package, "complexType"), "all")
    for attr, name in s.BATCH_PACKAGE_FIELDS.items():
        f = BATCH_PACKAGE_FIELD_TYPES[attr]
        _leaf(
            package_fields,
            name,
            _leaf_doc(name, f.name_en, False, f.kind, f.max_length),
            f.kind,
            f.max_length,
        )
    return _serialize(root)


def outputs() -> dict[str, str]:
    """File name → generated text, for every generated XSD."""
    return {CASE_XSD: case_xsd(), BATCH_XSD: batch_xsd()}


# --- Markdown tables ---------------------------------------------------------------------------


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def _max(max_length: int | None) -> str:
    return "" if max_length is None else str(max_length)


def markdown() -> str:
    """The element and attribute tables of docs/package-format.md (the doc embeds this verbatim)."""
    lines = [
        "<!-- generated: python -m dangan.core.package.xsd.generate --markdown -->",
        "",
        f"**元素 Elements** (below the root `{s.ROOT}`)",
        "",
        "| # | 位置 Path | 元素 Element | English | 必填 Required | 类型 Type | 最大长度 Max length | 模型 Model |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, e in enumerate(s.ELEMENTS, 1):
        lines.append(
            f"| {i} | {_cell(GROUP_PATHS[e.group])} | **{_cell(e.name)}** | {_cell(e.name_en)} "
            f"| {'必填 required' if e.required else '选填 optional'} | {_cell(KIND_LABELS[e.kind])} "
            f"| {_max(e.max_length)} | `{MODEL_PATHS[e.group]}.{e.attr}` |"
        )
    lines += [
        "",
        "**属性 Attributes**",
        "",
        "| 所在元素 On element | 属性 Attribute | English | 类型 Type | 最大长度 Max length |",
        "|---|---|---|---|---|",
    ]
    for a in CASE_ATTRS:
        kind = " / ".join(f"`{v}`" for v in a.values) if a.values else KIND_LABELS[a.kind]
        lines.append(
            f"| {_cell(a.on)} | @{_cell(a.name)} | {_cell(a.name_en)} | {_cell(kind)} | {_max(a.max_length)} |"
        )
    lines += [
        "",
        f"**批次清单 Batch manifest** (`{s.BATCH_MANIFEST_FILENAME}`, root `{s.BATCH_ROOT}`)",
        "",
        "| 位置 Path | 元素 Element | English | 类型 Type | 最大长度 Max length |",
        "|---|---|---|---|---|",
    ]
    for attr, name in s.BATCH_FIELDS.items():
        f = BATCH_FIELD_TYPES[attr]
        lines.append(
            f"| {s.BATCH_ROOT} | **{_cell(name)}** | {_cell(f.name_en)} | {_cell(KIND_LABELS[f.kind])} "
            f"| {_max(f.max_length)} |"
        )
    for attr, name in s.BATCH_PACKAGE_FIELDS.items():
        f = BATCH_PACKAGE_FIELD_TYPES[attr]
        lines.append(
            f"| {s.BATCH_ROOT}/{s.BATCH_PACKAGES}/{s.BATCH_PACKAGE} | **{_cell(name)}** | {_cell(f.name_en)} "
            f"| {_cell(KIND_LABELS[f.kind])} | {_max(f.max_length)} |"
        )
    return "\n".join(lines) + "\n"


# --- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dangan.core.package.xsd.generate",
        description="Generate the package XSDs from dangan.core.package.schema.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--markdown", action="store_true", help="print the element tables for docs/package-format.md"
    )
    mode.add_argument("--check", action="store_true", help="exit 1 if the committed XSDs are out of date")
    args = parser.parse_args(argv)

    if args.markdown:
        sys.stdout.write(markdown())
        return 0
    stale = []
    for name, text in outputs().items():
        path = XSD_DIR / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {path}")
    if args.check and stale:
        print(
            f"out of date: {', '.join(stale)}; run python -m dangan.core.package.xsd.generate",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
