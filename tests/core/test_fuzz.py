"""Hostile input, generated: intake and XML parsing either succeed safely or fail with a typed error.

Bounded (a few hundred examples each) so CI time stays predictable; the deeper fuzzing campaign
belongs to the hardening issue.
"""

from __future__ import annotations

import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dangan.core import xmlsafe
from dangan.core.checks.runner import build_context, run_profile
from dangan.core.errors import DanganError, MetadataError, UnsafeArchiveError
from dangan.core.package import schema
from dangan.core.package.intake import IntakeLimits, receive_zip, safe_relative
from dangan.core.package.metadata import parse_metadata

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

name_parts = st.sampled_from(
    ["..", ".", "", "a", "申报材料", "x.pdf", "C:", "\\", "/", " ", "\x00", "ü", "%2e%2e"]
)
names = st.lists(name_parts, min_size=1, max_size=6).map("/".join) | st.text(max_size=40)


@FUZZ
@given(names)
def test_safe_relative_never_escapes(name: str) -> None:
    try:
        rel = safe_relative(name)
    except UnsafeArchiveError:
        return
    parts = rel.split("/")
    assert ".." not in parts and "" not in parts and not rel.startswith("/") and "\x00" not in rel
    assert not (len(rel) > 1 and rel[1] == ":")


@pytest.mark.filterwarnings("ignore:Duplicate name")
@FUZZ
@given(entries=st.lists(st.tuples(names, st.binary(max_size=64)), min_size=1, max_size=5))
def test_receive_zip_stays_inside(tmp_path_factory, entries) -> None:
    root = tmp_path_factory.mktemp("z")
    zpath = root / "in.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for name, data in entries:
            if name and "\x00" not in name:
                zf.writestr(name, data)
    dest = root / "q"
    dest.mkdir()
    before = set(os.listdir(root))
    try:
        received = receive_zip(zpath, dest, IntakeLimits(max_total_bytes=10_000))
    except UnsafeArchiveError:
        pass
    else:
        for rel in received.files:
            real = os.path.realpath(dest / rel)
            assert real.startswith(os.path.realpath(dest) + os.sep)
    assert set(os.listdir(root)) == before  # nothing written beside the quarantine folder


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_as_zip(tmp_path_factory, data: bytes) -> None:
    root = tmp_path_factory.mktemp("b")
    (root / "x.zip").write_bytes(b"PK\x03\x04" + data)
    (root / "q").mkdir()
    try:
        receive_zip(root / "x.zip", root / "q")
    except UnsafeArchiveError as exc:
        assert exc.code.startswith("ZIP_")


xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
leaf_names = st.sampled_from([e.name for e in schema.ELEMENTS])
group_names = st.sampled_from([g.value for g in schema.Group])


@st.composite
def metadata_documents(draw) -> bytes:
    children = []
    for _ in range(draw(st.integers(0, 6))):
        group = draw(group_names)
        leaves = "".join(
            f"<{n}>{_escape(draw(xml_text))}</{n}>" for n in draw(st.lists(leaf_names, max_size=6))
        )
        children.append(f"<{group}>{leaves}</{group}>")
    root = draw(st.sampled_from([schema.ROOT, schema.ROOT, "别的根"]))
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}>{"".join(children)}</{root}>'.encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@FUZZ
@given(st.binary(max_size=1024) | metadata_documents())
def test_xml_parser_fails_only_with_metadata_error(data: bytes) -> None:
    try:
        xmlsafe.parse(data)
        parse_metadata(data)
    except MetadataError:
        pass


@FUZZ
@given(
    metadata_documents(),
    st.dictionaries(st.sampled_from(["申报材料/a.pdf", "其他/b", "c.txt"]), st.binary(max_size=16)),
)
def test_checks_never_crash_on_strange_metadata(
    tmp_path_factory, xml: bytes, files: dict[str, bytes]
) -> None:
    root = tmp_path_factory.mktemp("p")
    pkg = root / "pkg"
    pkg.mkdir()
    (pkg / schema.METADATA_FILENAME).write_bytes(xml)
    for rel, data in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_bytes(data)
    from dangan.core.package.intake import receive_folder

    report = run_profile(build_context(receive_folder(pkg, root / "q")))
    assert not [r for r in report.results if r.message.startswith("checker error")], report.errors()


def test_gb18030_declared_metadata_is_read() -> None:
    text = f'<?xml version="1.0" encoding="GB18030"?><{schema.ROOT}><办件基本信息><办件名称>㐀测试</办件名称></办件基本信息></{schema.ROOT}>'
    pkg = parse_metadata(text.encode("gb18030"))
    assert pkg.case.title == "㐀测试"


def test_invalid_utf8_is_a_metadata_error() -> None:
    try:
        parse_metadata(b'<?xml version="1.0" encoding="UTF-8"?><' + "归档信息包".encode() + b">\xff\xfe</x>")
    except MetadataError as exc:
        assert "not well-formed" in exc.message or "decode" in exc.message
    else:
        raise AssertionError("invalid UTF-8 accepted")


def test_deep_nesting_refused() -> None:
    deep = b"<a>" * 100 + b"</a>" * 100
    try:
        xmlsafe.parse(deep)
    except DanganError as exc:
        assert exc.code == "METADATA_INVALID"
    else:
        raise AssertionError("deep nesting accepted")
