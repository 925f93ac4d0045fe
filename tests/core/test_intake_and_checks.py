"""Safe intake (ZIP and folder) and the archiving-stage checks, on hand-made packages."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from dangan.core.checks.model import Outcome
from dangan.core.checks.runner import build_context, run_profile
from dangan.core.errors import UnsafeArchiveError
from dangan.core.package import schema, writer
from dangan.core.package.intake import IntakeLimits, receive_folder, receive_zip
from dangan.core.package.metadata import metadata_xml, parse_metadata
from tests.factories import make_case, zip_with_raw_names


def _check(tmp_path: Path, pkg, files, *, metadata: bytes | None = None, as_zip: bool = False):
    src = tmp_path / "src"
    if as_zip:
        path = writer.write_zip(pkg, files, src, metadata=metadata)
        received = receive_zip(path, tmp_path / "q")
    else:
        path = writer.write_folder(pkg, files, src, metadata=metadata)
        received = receive_folder(path, tmp_path / "q")
    return run_profile(build_context(received)), received


def _codes(report) -> set[str]:
    return {r.code for r in report.failures()}


def test_good_package_passes_and_digest_is_transport_independent(tmp_path: Path) -> None:
    pkg, files = make_case()
    report, folder = _check(tmp_path / "a", pkg, files)
    assert report.passed, report.errors()
    report2, zipped = _check(tmp_path / "b", pkg, files, as_zip=True)
    assert report2.passed
    assert folder.content_digest() == zipped.content_digest()
    outcomes = {r.code: r.outcome for r in report.results}
    assert outcomes["GD-1-1"] == Outcome.PASS
    assert outcomes["GD-4-2"] == Outcome.NOT_RUN  # no scanner configured: never "pass"


def test_metadata_round_trip() -> None:
    pkg, _ = make_case()
    again = parse_metadata(metadata_xml(pkg))
    assert again.case == pkg.case
    assert again.files == pkg.files
    assert again.config.scope == pkg.config.scope


@pytest.mark.parametrize(
    ("mutate", "code", "target"),
    [
        (lambda p, f: f.pop("过程材料/受理通知书.pdf"), "GD-2-11", "过程材料/受理通知书.pdf"),
        (lambda p, f: f.__setitem__("申报材料/多余.pdf", b"x"), "GD-2-11", "申报材料/多余.pdf"),
        (lambda p, f: f.__setitem__("申报材料/申请书.pdf", b"changed"), "GD-1-1", "申报材料/申请书.pdf"),
        (lambda p, f: setattr(p.files[0], "size", "1"), "GD-1-10", "申报材料/申请书.pdf"),
        (lambda p, f: setattr(p.case, "title", None), "GD-2-3", "办件基本信息/办件名称"),
        (lambda p, f: setattr(p.case, "accepting_unit", ""), "GD-2-4", "办件基本信息/受理单位"),
        (lambda p, f: setattr(p, "declared_file_count", "4"), "GD-2-1", "文件信息/@文件总数"),
        (lambda p, f: setattr(p, "declared_byte_total", "1"), "GD-2-2", "文件信息/@总字节数"),
        (lambda p, f: setattr(p.case, "completed_at", "2025/03/05"), "GD-1-3", "办件基本信息/办结时间"),
    ],
)
def test_each_defect_is_named(tmp_path: Path, mutate, code: str, target: str) -> None:
    pkg, files = make_case()
    mutate(pkg, files)
    report, _ = _check(tmp_path, pkg, files)
    assert not report.passed
    failing = [r for r in report.failures() if r.code == code]
    assert failing, report.errors()
    assert any(target in r.target or target in r.message for r in failing)


def test_missing_scope_material(tmp_path: Path) -> None:
    pkg, files = make_case()
    pkg.files = [e for e in pkg.files if e.material_code != "B01"]
    files.pop("过程材料/受理通知书.pdf")
    for e in pkg.files:
        e.sequence = None  # renumber, so only the scope is wrong
    writer.complete(pkg, files)
    report, _ = _check(tmp_path, pkg, files)
    assert _codes(report) == {"GD-2-9"}


def test_malformed_and_hostile_xml_fail_3_1(tmp_path: Path) -> None:
    pkg, files = make_case()
    for i, bad in enumerate(
        [
            b"<\xe5\xbd\x92",
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>',
            b"<a>" * 200 + b"</a>" * 200,
        ]
    ):
        report, _ = _check(tmp_path / str(i), pkg, files, metadata=bad)
        assert "GD-3-1" in _codes(report)
        assert all(r.outcome == Outcome.NOT_RUN for r in report.results if r.code == "GD-1-1")


def test_file_outside_category_folder(tmp_path: Path) -> None:
    pkg, files = make_case()
    files["其他/说明.txt"] = b"x"
    pkg.files[0].path = "其他/说明.txt"
    pkg.files[0].format = "TXT"
    files.pop("申报材料/申请书.pdf")
    writer.complete(pkg, files)
    report, _ = _check(tmp_path, pkg, files)
    assert "GD-1-13" in _codes(report)


def test_no_metadata_file(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    (folder / "申报材料").mkdir(parents=True)
    (folder / "申报材料" / "a.pdf").write_bytes(b"x")
    report = run_profile(build_context(receive_folder(folder, tmp_path / "q")))
    assert "GD-1-12" in _codes(report)


# --------------------------------------------------------------------------- hostile ZIPs


def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _refused(tmp_path: Path, zpath: Path, code: str, limits: IntakeLimits = IntakeLimits()) -> None:
    dest = tmp_path / "q"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError) as exc:
        receive_zip(zpath, dest, limits)
    assert exc.value.code == code, exc.value.message
    assert not (tmp_path / "evil.txt").exists()


def test_zip_slip_absolute_and_link(tmp_path: Path) -> None:
    _refused(tmp_path, _zip(tmp_path / "a.zip", [("../evil.txt", b"x")]), "ZIP_PATH_TRAVERSAL")
    _refused(
        tmp_path / "b", _zip(_mk(tmp_path / "b") / "b.zip", [("/tmp/evil.txt", b"x")]), "ZIP_ABSOLUTE_PATH"
    )
    link = zipfile.ZipInfo("申报材料/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    _refused(tmp_path / "c", _zip(_mk(tmp_path / "c") / "c.zip", [(link, b"/etc/passwd")]), "ZIP_LINK")


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def test_zip_encrypted_flag_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "e.zip", [("申报材料/a.pdf", b"secret")])
    raw = bytearray(z.read_bytes())
    # Set bit 0 (encrypted) of the general-purpose flags in the local and central headers.
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = raw.find(sig)
        raw[i + offset] |= 0x01
    z.write_bytes(bytes(raw))
    _refused(tmp_path, z, "ZIP_ENCRYPTED")


def test_zip_bomb_and_size_limits(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.zip", [("申报材料/zeros.bin", b"\0" * (20 * 1024 * 1024))])
    _refused(tmp_path, bomb, "ZIP_BOMB")
    big = _zip(_mk(tmp_path / "t") / "big.zip", [("申报材料/a.bin", os.urandom(4096))])
    _refused(tmp_path / "t", big, "ZIP_TOO_LARGE", IntakeLimits(max_total_bytes=1000))
    many = _zip(_mk(tmp_path / "m") / "many.zip", [(f"申报材料/{i}.txt", b"x") for i in range(20)])
    _refused(tmp_path / "m", many, "ZIP_TOO_MANY_ENTRIES", IntakeLimits(max_entries=10))


def test_zip_corrupt_and_duplicates(tmp_path: Path) -> None:
    z = _zip(tmp_path / "c.zip", [("申报材料/a.pdf", os.urandom(5000))])
    z.write_bytes(z.read_bytes()[:3000])
    _refused(tmp_path, z, "ZIP_CORRUPT")
    d = tmp_path / "d"
    d.mkdir()
    with zipfile.ZipFile(d / "dup.zip", "w") as zf:
        zf.writestr("申报材料/a.pdf", b"1")
        with pytest.warns(UserWarning):
            zf.writestr("申报材料/a.pdf", b"2")
    _refused(d, d / "dup.zip", "ZIP_DUPLICATE_ENTRY")


def test_gbk_names_without_utf8_flag_are_decoded(tmp_path: Path) -> None:
    pkg, files = make_case()
    entries = {schema.METADATA_FILENAME: metadata_xml(pkg), **files}
    path = zip_with_raw_names(tmp_path / "gbk.zip", entries, "gbk")
    received = receive_zip(path, tmp_path / "q")
    assert set(received.files) == {schema.METADATA_FILENAME, *files}
    assert run_profile(build_context(received)).passed


def test_wrapped_zip_folder_is_unwrapped(tmp_path: Path) -> None:
    pkg, files = make_case()
    path = tmp_path / "w.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{pkg.file_number}/{schema.METADATA_FILENAME}", metadata_xml(pkg))
        for name, data in files.items():
            zf.writestr(f"{pkg.file_number}/{name}", data)
    assert run_profile(build_context(receive_zip(path, tmp_path / "q"))).passed


def test_folder_with_symlink_refused(tmp_path: Path) -> None:
    pkg, files = make_case()
    folder = writer.write_folder(pkg, files, tmp_path / "src")
    os.symlink("/etc/passwd", folder / "申报材料" / "link.pdf")
    with pytest.raises(UnsafeArchiveError) as exc:
        receive_folder(folder, tmp_path / "q")
    assert exc.value.code == "PACKAGE_LINK"
