"""The package XSDs: generated from schema.py, accept what our writer produces, refuse bad types."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from dangan.core import sm
from dangan.core.package import schema as s
from dangan.core.package.metadata import batch_manifest_xml, metadata_xml, parse_metadata
from dangan.core.package.model import (
    Applicant,
    BatchManifest,
    BatchPackageEntry,
    CasePackage,
    FileEntry,
    License,
    ProcessStep,
    ScopeItem,
)
from dangan.core.package.xsd import (
    batch_schema,
    case_schema,
    generate,
    validate_batch_xml,
    validate_case_xml,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "package-format.md"
XSD_DIR = ROOT / "src" / "dangan" / "core" / "package" / "xsd"

SAMPLES: dict[s.Kind, str] = {
    s.Kind.TEXT: "示例值",
    s.Kind.CODE: "A-01",
    s.Kind.DATE: "2024-05-06",
    s.Kind.DATETIME: "2024-05-06T09:12:00+08:00",
    s.Kind.INT: "3",
    s.Kind.RETENTION: "D30",
    s.Kind.DIGEST: sm.sm3_hex(b"abc"),
}


def _fill(target: Any, group: s.Group) -> Any:
    for e in s.elements_of(group):
        assert hasattr(target, e.attr), f"model has no {e.attr} for {group.value}/{e.name}"
        value = SAMPLES[e.kind]
        if e.max_length is not None:
            value = value[: e.max_length]
        setattr(target, e.attr, value)
    return target


def full_package() -> CasePackage:
    """A CasePackage with every element of schema.ELEMENTS filled with a well-typed value."""
    pkg = CasePackage()
    _fill(pkg.config, s.Group.ARCHIVE_CONFIG)
    pkg.config.scope = [ScopeItem("A001", "申请书", True), ScopeItem("A002", "营业执照", False)]
    _fill(pkg.case, s.Group.CASE)
    pkg.case.applicant = _fill(Applicant(), s.Group.APPLICANT)
    pkg.steps = [_fill(ProcessStep(), s.Group.STEP), _fill(ProcessStep(), s.Group.STEP)]
    pkg.licenses = [_fill(License(), s.Group.LICENSE)]
    pkg.files = [_fill(FileEntry(), s.Group.FILE), _fill(FileEntry(), s.Group.FILE)]
    pkg.declared_file_count = "2"
    pkg.declared_byte_total = "6"
    return pkg


def _xml_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```xml\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


# --- generated == committed --------------------------------------------------------------------


@pytest.mark.parametrize("name", [generate.CASE_XSD, generate.BATCH_XSD])
def test_committed_xsd_equals_generated(name: str) -> None:
    committed = (XSD_DIR / name).read_text(encoding="utf-8")
    assert committed == generate.outputs()[name], (
        f"{name} is stale: run `python -m dangan.core.package.xsd.generate` after changing schema.py"
    )


def test_generator_check_mode_passes() -> None:
    assert generate.main(["--check"]) == 0


def test_xsd_declares_every_element_of_the_table() -> None:
    tree = etree.parse(str(XSD_DIR / generate.CASE_XSD))
    declared = {el.get("name") for el in tree.iter("{http://www.w3.org/2001/XMLSchema}element")}
    for e in s.ELEMENTS:
        assert e.name in declared
    for group in s.Group:
        assert group.value in declared


def test_schemas_load() -> None:
    assert isinstance(case_schema(), etree.XMLSchema)
    assert isinstance(batch_schema(), etree.XMLSchema)
    assert case_schema() is case_schema()  # cached


# --- what the writer produces validates --------------------------------------------------------


def test_fully_filled_package_validates() -> None:
    data = metadata_xml(full_package())
    assert validate_case_xml(data) == []


def test_empty_package_validates() -> None:
    # Presence is the checks' business (GD-2-3/GD-2-4), not the XSD's.
    assert validate_case_xml(metadata_xml(CasePackage())) == []


def test_present_but_empty_required_values_validate() -> None:
    pkg = full_package()
    pkg.case.accepted_at = ""
    pkg.case.retention = ""
    pkg.files[0].size = ""
    pkg.files[0].digest = ""
    assert validate_case_xml(metadata_xml(pkg)) == []


def test_surrounding_whitespace_in_typed_values_is_tolerated() -> None:
    pkg = full_package()
    pkg.files[0].size = " 12 "
    assert validate_case_xml(metadata_xml(pkg)) == []


def test_element_order_is_free() -> None:
    data = metadata_xml(full_package())
    root = etree.fromstring(data)
    case = root.find(s.Group.CASE)
    assert case is not None
    case[:] = list(reversed(case))
    root[:] = list(reversed(root))
    assert validate_case_xml(etree.tostring(root, encoding="UTF-8")) == []


# --- bad types are refused, naming the element -------------------------------------------------


def _errors_for(mutate: Any) -> list[str]:
    pkg = full_package()
    mutate(pkg)
    return validate_case_xml(metadata_xml(pkg))


def _assert_names(errors: list[str], element_name: str) -> None:
    assert errors, "expected a validation error"
    assert any(f"'{element_name}'" in e for e in errors), errors
    assert all(re.match(r"line \d+: ", e) for e in errors), errors


def test_wrong_datetime_format_fails() -> None:
    errors = _errors_for(lambda p: setattr(p.case, "accepted_at", "2024/05/06 09:12"))
    _assert_names(errors, "受理时间")


def test_wrong_date_format_fails() -> None:
    errors = _errors_for(lambda p: setattr(p.licenses[0], "valid_from", "20240506"))
    _assert_names(errors, "有效期起")


def test_bad_retention_fails() -> None:
    errors = _errors_for(lambda p: setattr(p.case, "retention", "永久"))
    _assert_names(errors, "保管期限")


def test_non_integer_size_fails() -> None:
    errors = _errors_for(lambda p: setattr(p.files[1], "size", "12KB"))
    _assert_names(errors, "大小")


def test_upper_case_or_non_hex_digest_fails() -> None:
    _assert_names(_errors_for(lambda p: setattr(p.files[0], "digest", "XYZ")), "数字摘要")


def test_too_long_value_fails() -> None:
    limit = s.element(s.Group.CASE, "region_code").max_length
    assert limit is not None
    _assert_names(_errors_for(lambda p: setattr(p.case, "region_code", "3" * (limit + 1))), "行政区划编码")


def test_non_integer_declared_total_fails() -> None:
    errors = _errors_for(lambda p: setattr(p, "declared_file_count", "two"))
    assert any(s.FILES_COUNT_ATTR in e for e in errors), errors


def test_unknown_element_fails() -> None:
    data = metadata_xml(full_package()).replace(
        f"</{s.Group.CASE.value}>".encode(), f"<未知元素>x</未知元素></{s.Group.CASE.value}>".encode()
    )
    _assert_names(validate_case_xml(data), "未知元素")


def test_wrong_root_fails() -> None:
    errors = validate_case_xml("<其他/>".encode())
    assert errors and "其他" in errors[0]


def test_malformed_xml_reports_line() -> None:
    errors = validate_case_xml(b"<?xml version='1.0'?>\n<a>\n<b></a>")
    assert len(errors) == 1
    assert "line 3" in errors[0]


def test_doctype_is_refused_not_resolved() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    errors = validate_case_xml(data)
    assert errors and "DOCTYPE" in errors[0]


# --- the documentation -------------------------------------------------------------------------


def test_doc_contains_generated_tables() -> None:
    assert generate.markdown() in DOC.read_text(encoding="utf-8"), (
        "docs/package-format.md is stale: paste `python -m dangan.core.package.xsd.generate --markdown`"
    )


def test_doc_examples_validate() -> None:
    blocks = _xml_blocks(DOC.read_text(encoding="utf-8"))
    roots = []
    for block in blocks:
        data = block.encode("utf-8")
        root = etree.fromstring(data).tag
        roots.append(root)
        if root == s.ROOT:
            assert validate_case_xml(data) == [], block
        elif root == s.BATCH_ROOT:
            assert validate_batch_xml(data) == [], block
    assert s.ROOT in roots
    assert s.BATCH_ROOT in roots


def test_doc_case_example_is_complete_and_consistent() -> None:
    """The minimal example fills every required element and its totals and digests add up."""
    block = next(
        b for b in _xml_blocks(DOC.read_text(encoding="utf-8")) if etree.fromstring(b.encode()).tag == s.ROOT
    )
    pkg = parse_metadata(block.encode("utf-8"))
    targets: dict[s.Group, list[Any]] = {
        s.Group.ARCHIVE_CONFIG: [pkg.config],
        s.Group.CASE: [pkg.case],
        s.Group.APPLICANT: [pkg.case.applicant],
        s.Group.STEP: list(pkg.steps),
        s.Group.LICENSE: list(pkg.licenses),
        s.Group.FILE: list(pkg.files),
    }
    for group, objects in targets.items():
        assert objects and all(o is not None for o in objects), group
        for e in s.elements_of(group):
            if e.required:
                assert all(getattr(o, e.attr) for o in objects), (
                    f"{group.value}/{e.name} missing in the example"
                )
    # Each example file is the 3 bytes "abc" (SM3 test vector), so the declared values can be checked.
    assert all(f.digest == sm.sm3_hex(b"abc") and f.size == "3" for f in pkg.files)
    assert pkg.declared_file_count == str(len(pkg.files))
    assert pkg.declared_byte_total == str(3 * len(pkg.files))
    assert all(f.path and f.path.split("/")[0] in s.CATEGORY_FOLDERS for f in pkg.files)
    required_scope = {i.code for i in pkg.config.scope if i.required}
    assert required_scope <= {f.material_code for f in pkg.files}


# --- the batch manifest ------------------------------------------------------------------------


def test_batch_manifest_validates() -> None:
    manifest = BatchManifest(
        system_code="SX-ZWFW-01",
        batch_number="20240511-0001",
        sent_at="2024-05-11T02:00:00+08:00",
        package_count="2",
        byte_total="2048",
        file_total="5",
        standard="GB/T 42727-2023",
        packages=[
            BatchPackageEntry(
                name="350100-0059-0100190012-2024-D30-000021.zip",
                fonds_code="0059",
                item_code="11350100MB0000000X400011700900",
                title="示例餐饮有限公司食品经营许可证核发",
                size="1024",
                digest_algorithm="SM3",
                digest=sm.sm3_hex(b"abc"),
            ),
            BatchPackageEntry(name="second.zip", size="1024", digest_algorithm="SM3", digest=sm.sm3_hex(b"")),
        ],
    )
    assert validate_batch_xml(batch_manifest_xml(manifest)) == []
    assert validate_batch_xml(batch_manifest_xml(BatchManifest())) == []


def test_batch_manifest_bad_values_fail() -> None:
    errors = validate_batch_xml(batch_manifest_xml(BatchManifest(package_count="many", sent_at="昨天")))
    _assert_names(errors, s.BATCH_FIELDS["package_count"])
    _assert_names(errors, s.BATCH_FIELDS["sent_at"])
