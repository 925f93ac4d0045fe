"""The OFD container: safe opening, name decoding, path resolution, limits."""

from __future__ import annotations

import zipfile

import pytest

from dangan.core.errors import DanganError
from dangan.core.ofd import (
    OfdContainer,
    OfdError,
    OfdLimits,
    validate_ofd,
    verify_document,
    verify_signatures,
)
from dangan.core.ofd.container import OfdPathError, resolve

from .builders import ofd_files, set_encrypted_flag, write_zip


def test_ofd_error_is_a_typed_dangan_error(tmp_path):
    bad = tmp_path / "x.ofd"
    bad.write_bytes(b"this is not a zip file at all")
    with pytest.raises(OfdError) as err:
        OfdContainer(bad)
    assert isinstance(err.value, DanganError)
    assert err.value.code == "OFD_UNREADABLE"
    assert "not a readable ZIP" in err.value.message


def test_missing_file(tmp_path):
    with pytest.raises(OfdError) as err:
        OfdContainer(tmp_path / "nope.ofd")
    assert err.value.code == "OFD_NOT_FOUND"


def test_not_a_zip_everywhere_is_a_clear_error(tmp_path):
    bad = tmp_path / "fake.ofd"
    bad.write_bytes(b"%PDF-1.7 pretending")
    v = validate_ofd(bad)
    assert not v.readable and [p.rule for p in v.problems] == ["OFD_UNREADABLE"]
    report = verify_document(bad)
    assert not report.signed and report.error_code == "OFD_UNREADABLE" and report.error
    with pytest.raises(OfdError):
        verify_signatures(bad)


def test_zip_without_ofd_xml(tmp_path):
    path = write_zip(tmp_path / "empty.ofd", {"Doc_0/Document.xml": b"<Document/>"})
    v = validate_ofd(path)
    assert not v.readable
    assert [p.rule for p in v.errors] == ["OFD_NO_ENTRY"]
    report = verify_document(path)
    assert report.error_code == "OFD_NO_ENTRY" and "OFD.xml is missing" in (report.error or "")


def test_ofd_xml_not_well_formed(tmp_path):
    files = ofd_files()
    files["OFD.xml"] = b"<ofd:OFD xmlns:ofd='x'><unclosed></ofd:OFD>"
    v = validate_ofd(write_zip(tmp_path / "bad.ofd", files))
    assert not v.readable and v.rules("error") == {"OFD_XML_INVALID"}


def test_ofd_xml_with_doctype_is_refused(tmp_path):
    files = ofd_files()
    files["OFD.xml"] = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><OFD>&a;</OFD>'
    v = validate_ofd(write_zip(tmp_path / "xxe.ofd", files))
    assert not v.readable and "DOCTYPE" in v.errors[0].message


def test_path_traversal_entry_is_refused(tmp_path):
    files = ofd_files()
    files["../evil.txt"] = b"x"
    path = write_zip(tmp_path / "trav.ofd", files)
    with pytest.raises(OfdError) as err:
        OfdContainer(path)
    assert err.value.code == "OFD_UNSAFE" and ".." in err.value.message
    v = validate_ofd(path)
    assert not v.readable and v.errors[0].rule == "OFD_UNSAFE"
    assert verify_document(path).error_code == "OFD_UNSAFE"


def test_absolute_entry_is_refused(tmp_path):
    files = ofd_files()
    files["/etc/passwd"] = b"x"
    with pytest.raises(OfdError, match="absolute"):
        OfdContainer(write_zip(tmp_path / "abs.ofd", files))


def test_duplicate_entry_is_refused(tmp_path):
    path = tmp_path / "dup.ofd"
    with zipfile.ZipFile(path, "w") as zf, pytest.warns(UserWarning):
        for name, data in ofd_files().items():
            zf.writestr(name, data)
        zf.writestr("Doc_0/Pages/Page_0/Content.xml", b"<other/>")
    with pytest.raises(OfdError, match="duplicate"):
        OfdContainer(path)


def test_zip_bomb_ratio_is_refused(tmp_path):
    files = ofd_files()
    files["Doc_0/Res/bomb.bin"] = b"\x00" * (4 * 1024 * 1024)
    path = write_zip(tmp_path / "bomb.ofd", files)
    with pytest.raises(OfdError, match="ratio"):
        OfdContainer(path)


def test_limits_on_entries_and_sizes(tmp_path):
    path = write_zip(tmp_path / "ok.ofd", ofd_files())
    with pytest.raises(OfdError, match="entries"):
        OfdContainer(path, OfdLimits(max_entries=2))
    with pytest.raises(OfdError, match="unpacked size"):
        OfdContainer(path, OfdLimits(max_total_bytes=100))
    with OfdContainer(path, OfdLimits(max_xml_bytes=50)) as c, pytest.raises(OfdError) as err:
        c.read_xml("OFD.xml")
    assert err.value.code == "OFD_PART_TOO_LARGE"


def test_encrypted_entry_is_flagged_and_unreadable(tmp_path):
    path = write_zip(tmp_path / "enc.ofd", ofd_files())
    set_encrypted_flag(path, "Doc_0/Pages/Page_0/Content.xml")
    with OfdContainer(path) as c:
        assert c.encrypted_entries == ["Doc_0/Pages/Page_0/Content.xml"]
        with pytest.raises(OfdError) as err:
            c.read("Doc_0/Pages/Page_0/Content.xml")
        assert err.value.code == "OFD_ENCRYPTED"
    v = validate_ofd(path)
    assert v.readable and v.encrypted
    assert "OFDA_ENCRYPTED" in v.rules("error")
    assert not v.ofda_ok


def test_encrypted_ofd_xml_makes_the_file_unreadable(tmp_path):
    path = write_zip(tmp_path / "enc.ofd", ofd_files())
    set_encrypted_flag(path, "OFD.xml")
    v = validate_ofd(path)
    assert not v.readable and v.encrypted
    assert verify_document(path).error_code == "OFD_ENCRYPTED"


def test_gb18030_names_without_utf8_flag_are_decoded(tmp_path):
    name = "Doc_0/Res/中文目录/数据.txt"

    class GbkInfo(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):
            return name.encode("gb18030"), self.flag_bits & ~0x800

    path = tmp_path / "gbk.ofd"
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in ofd_files().items():
            zf.writestr(n, data)
        zf.writestr(GbkInfo(name), b"data")
    with zipfile.ZipFile(path) as zf:
        assert not zf.getinfo(name.encode("gb18030").decode("cp437")).flag_bits & 0x800
    with OfdContainer(path) as c:
        assert name in c.entries
        assert c.read(name) == b"data"


def test_chinese_dir_fixture(fixture):
    with OfdContainer(fixture("chineseDir.ofd")) as c:
        assert "Doc_0/Res/这是一个中文目录/数据文件.txt" in c.entries
        assert c.find("/Doc_0/Res/这是一个中文目录/数据文件.txt") is not None
        assert c.find("这是一个中文目录/数据文件.txt", "Doc_0/Res") is not None


def test_resolve_rules():
    assert resolve("/Doc_0/Document.xml", "Doc_0/Signs") == "Doc_0/Document.xml"
    assert resolve("Pages/Page_0/Content.xml", "Doc_0") == "Doc_0/Pages/Page_0/Content.xml"
    assert resolve("../Res/a.png", "Doc_0/Pages") == "Doc_0/Res/a.png"
    assert resolve("./Doc_0/Document.xml", "") == "Doc_0/Document.xml"
    assert resolve("Res\\x.ttf", "Doc_0") == "Doc_0/Res/x.ttf"
    for bad in ("http://example.com/f.ttf", "https://x/y", "file:///etc/passwd", "C:\\Windows\\x.ttf"):
        with pytest.raises(OfdPathError):
            resolve(bad, "Doc_0")
    with pytest.raises(OfdPathError, match="leaves"):
        resolve("../../x", "Doc_0")
    with pytest.raises(OfdError):
        resolve("  ", "Doc_0")


def test_case_mismatch_lookup(fixture):
    # containsJPEG.ofd (WPS) stores DOC_0/Res/... but references Doc_0/Res/...
    with OfdContainer(fixture("containsJPEG.ofd")) as c:
        found = c.find("Image_4.JPEG", "Doc_0/Res")
        assert found is not None and found.name == "DOC_0/Res/Image_4.JPEG" and found.how == "case"
        assert len(c.read(found.name)) == 479866


def test_digest_streams(fixture):
    with OfdContainer(fixture("helloworld.ofd")) as c:
        import hashlib

        assert c.digest("OFD.xml") == hashlib.new("sm3", c.read("OFD.xml")).digest()
        with pytest.raises(OfdError) as err:
            c.digest("nope.xml")
        assert err.value.code == "OFD_MISSING_PART"


def test_unsupported_zip_version_is_a_clear_error(tmp_path, fixture):
    """A central directory asking for an unknown ZIP version made zipfile raise NotImplementedError."""
    data = bytearray(fixture("helloworld.ofd").read_bytes())
    pos = data.find(b"PK\x01\x02")
    data[pos + 6] = 200  # version needed to extract: 20.0
    path = tmp_path / "v.ofd"
    path.write_bytes(bytes(data))
    with pytest.raises(OfdError) as err:
        OfdContainer(path)
    assert err.value.code == "OFD_UNREADABLE"
    assert not validate_ofd(path).readable


def test_mutated_parts_never_crash(tmp_path, fixture):
    """Random damage inside the parts (CRC kept valid) gives problems and verdicts, never exceptions."""
    import random

    rng = random.Random(7)
    with zipfile.ZipFile(fixture("keyword.ofd")) as zf:
        entries = [(i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir()]
    for i in range(40):
        index = rng.randrange(len(entries))
        damaged = bytearray(entries[index][1])
        for _ in range(rng.randint(1, 6)):
            if damaged:
                damaged[rng.randrange(len(damaged))] = rng.choice([0x3C, 0x3E, 0x22, 0x30, 0x80, 0x00, 0xFF])
        files = {name: (bytes(damaged) if j == index else data) for j, (name, data) in enumerate(entries)}
        path = write_zip(tmp_path / f"m{i}.ofd", files)
        validate_ofd(path)
        report = verify_document(path)
        assert report.error is None or report.error_code
