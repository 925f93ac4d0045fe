"""Structure and OFD-A checks on the real samples and on small crafted documents."""

from __future__ import annotations

import pytest

from dangan.core.ofd import validate_ofd

from .builders import NS, ofd_files, rezip, write_zip

UNSIGNED = ["helloworld.ofd", "chineseDir.ofd", "AddAttachment.ofd", "containsJPEG.ofd", "test-ofda.ofd"]


@pytest.mark.parametrize(
    "name", [*UNSIGNED, "v4signed.ofd", "signedFile.ofd", "DigitalSign.ofd", "keyword.ofd"]
)
def test_every_fixture_is_readable(fixture, name):
    v = validate_ofd(fixture(name))
    assert v.readable and not v.encrypted
    assert v.details["documents"] == 1 and v.details["pages"] >= 1


def test_test_ofda_fails_ofda_because_its_font_is_not_embedded(fixture):
    """test-ofda.ofd declares DocType OFD-A, but its only font (宋体) has no FontFile: OFD-A fails."""
    v = validate_ofd(fixture("test-ofda.ofd"))
    assert v.details["doc_type"] == "OFD-A" and v.details["version"] == "1.2"
    assert v.structure_ok
    assert not v.ofda_ok
    assert v.rules("error") == {"OFDA_FONT_NOT_EMBEDDED"}
    assert v.rules("warning") == set()
    assert v.details["fonts"] == [
        {
            "id": "3",
            "name": "宋体",
            "family": "宋体",
            "part": "Doc_0/PublicRes.xml",
            "file": None,
            "embedded": False,
        }
    ]


@pytest.mark.parametrize("name", ["helloworld.ofd", "chineseDir.ofd", "AddAttachment.ofd", "DigitalSign.ofd"])
def test_simple_fixtures_are_sound_but_not_ofda(fixture, name):
    """Sound OFDs that name 宋体 without embedding it: structure fine, OFD-A fails on the font only."""
    v = validate_ofd(fixture(name))
    assert v.structure_ok and not v.ofda_ok
    assert v.rules("error") == {"OFDA_FONT_NOT_EMBEDDED"}
    assert v.rules("warning") == {"OFDA_DOCTYPE"}


def test_add_attachment_details(fixture):
    v = validate_ofd(fixture("AddAttachment.ofd"))
    assert v.details["attachments"] == 1


def test_contains_jpeg_case_mismatch_is_a_warning(fixture):
    """containsJPEG.ofd (WPS) references Doc_0/Res/Image_4.JPEG but stores DOC_0/Res/...: a warning.
    It has no fonts (images only), so no OFD-A error remains; it does not declare DocType OFD-A."""
    v = validate_ofd(fixture("containsJPEG.ofd"))
    assert v.structure_ok and v.ofda_ok
    assert v.details["pages"] == 2 and v.details["fonts"] == []
    assert v.rules("warning") == {"OFD_PATH_CASE", "OFDA_DOCTYPE"}
    assert sum(p.rule == "OFD_PATH_CASE" for p in v.problems) == 2


def test_signed_invoices(fixture):
    for name, fonts in (("v4signed.ofd", 3), ("signedFile.ofd", 4)):
        v = validate_ofd(fixture(name))
        assert v.structure_ok, v.problems
        assert v.details["signatures"] == 1
        assert v.details["fonts_not_embedded"] == fonts
        assert v.rules("error") == {"OFDA_FONT_NOT_EMBEDDED"}
    # v4signed.ofd references TPLS/Tpl_0/Content.xml; the entry is Doc_0/Tpls/Tpl_0/Content.xml
    v = validate_ofd(fixture("v4signed.ofd"))
    assert any(p.rule == "OFD_PATH_CASE" and "TPLS" in p.message for p in v.problems)


def test_keyword_misses_its_annotations_file(fixture):
    """keyword.ofd's Document.xml names Annotations.xml, which is not in the container (a real defect)."""
    v = validate_ofd(fixture("keyword.ofd"))
    assert not v.structure_ok
    assert [(p.rule, p.part) for p in v.errors] == [("OFD_MISSING_PART", "Doc_0/Document.xml")]
    assert "Annotations.xml" in v.errors[0].message
    assert v.details["fonts_embedded"] == 1 and v.details["signatures"] == 2


def test_crafted_ofda_document_passes(tmp_path):
    v = validate_ofd(write_zip(tmp_path / "a.ofd", ofd_files()))
    assert v.readable and v.structure_ok and v.ofda_ok, v.problems
    assert v.problems == []
    assert v.details["fonts"][0]["embedded"] and v.details["fonts"][0]["file"] == "Doc_0/Res/font_3.ttf"


def test_missing_page(tmp_path):
    files = ofd_files()
    del files["Doc_0/Pages/Page_0/Content.xml"]
    v = validate_ofd(write_zip(tmp_path / "a.ofd", files))
    assert v.readable and not v.structure_ok
    assert v.errors[0].rule == "OFD_MISSING_PART" and "Pages/Page_0/Content.xml" in v.errors[0].message


def test_missing_font_file(tmp_path, fixture):
    src = write_zip(tmp_path / "a.ofd", ofd_files())
    v = validate_ofd(rezip(src, tmp_path / "b.ofd", replace={"Doc_0/Res/font_3.ttf": None}))
    assert v.rules("error") == {"OFD_MISSING_PART", "OFDA_FONT_NOT_EMBEDDED"}


def test_missing_attachment_has_its_own_rule(tmp_path, fixture):
    src = fixture("AddAttachment.ofd")
    v = validate_ofd(rezip(src, tmp_path / "b.ofd", replace={"Doc_0/Res/eg_tulip.jpg": None}))
    assert "OFD_MISSING_ATTACHMENT" in v.rules("error")


def test_missing_document_and_no_docbody(tmp_path):
    files = ofd_files()
    del files["Doc_0/Document.xml"]
    v = validate_ofd(write_zip(tmp_path / "a.ofd", files))
    assert v.readable and v.errors[0].rule == "OFD_MISSING_PART"
    files = ofd_files()
    files["OFD.xml"] = f'<ofd:OFD xmlns:ofd="{NS}" Version="1.0" DocType="OFD-A"/>'.encode()
    v = validate_ofd(write_zip(tmp_path / "b.ofd", files))
    assert v.rules("error") == {"OFD_NO_DOCUMENT"}


def test_bad_page_xml(tmp_path):
    files = ofd_files()
    files["Doc_0/Pages/Page_0/Content.xml"] = b"<ofd:Page"
    v = validate_ofd(write_zip(tmp_path / "a.ofd", files))
    assert v.rules("error") == {"OFD_XML_INVALID"}


@pytest.mark.parametrize(
    "font_file_ref",
    ["http://fonts.example.com/simsun.ttf", "file:///C:/Windows/Fonts/simsun.ttc", "../../../simsun.ttf"],
)
def test_external_font_reference(tmp_path, font_file_ref):
    files = ofd_files()
    files["Doc_0/PublicRes.xml"] = (
        f'<ofd:Res xmlns:ofd="{NS}" BaseLoc="Res"><ofd:Fonts><ofd:Font ID="3" FontName="SimSun">'
        f"<ofd:FontFile>{font_file_ref}</ofd:FontFile></ofd:Font></ofd:Fonts></ofd:Res>"
    ).encode()
    v = validate_ofd(write_zip(tmp_path / "a.ofd", files))
    assert "OFDA_EXTERNAL_REFERENCE" in v.rules("error")
    assert "OFDA_FONT_NOT_EMBEDDED" in v.rules("error")


def test_external_media_reference(tmp_path):
    res = (
        '<ofd:MultiMedias><ofd:MultiMedia ID="7" Type="Image" Format="PNG">'
        "<ofd:MediaFile>https://img.example.com/logo.png</ofd:MediaFile></ofd:MultiMedia></ofd:MultiMedias>"
    )
    v = validate_ofd(write_zip(tmp_path / "a.ofd", ofd_files(res_extra=res)))
    assert v.rules("error") == {"OFDA_EXTERNAL_REFERENCE"}
    assert "https://img.example.com/logo.png" in v.errors[0].message


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        ('<ofd:URI URI="https://example.com/"/>', "OFDA_ACTION_URI"),
        ('<ofd:Sound ResourceID="9"/>', "OFDA_ACTION_MULTIMEDIA"),
        ('<ofd:Movie ResourceID="9"/>', "OFDA_ACTION_MULTIMEDIA"),
    ],
)
def test_forbidden_actions(tmp_path, action, rule):
    page_actions = f'<ofd:Actions><ofd:Action Event="CLICK">{action}</ofd:Action></ofd:Actions>'
    v = validate_ofd(write_zip(tmp_path / "a.ofd", ofd_files(page_extra=page_actions)))
    assert v.structure_ok
    assert v.rules("error") == {rule}
    assert v.errors[0].part == "Doc_0/Pages/Page_0/Content.xml"


def test_internal_goto_is_allowed(tmp_path):
    doc_actions = (
        '<ofd:Actions><ofd:Action Event="DO"><ofd:Goto><ofd:Dest Type="XYZ" PageID="1"/></ofd:Goto>'
        "</ofd:Action></ofd:Actions>"
    )
    v = validate_ofd(write_zip(tmp_path / "a.ofd", ofd_files(document_extra=doc_actions)))
    assert v.ofda_ok, v.problems


def test_declared_encryption(tmp_path):
    body = "<ofd:Encryptions>Encryptions.xml</ofd:Encryptions>"
    files = ofd_files(body_extra=body)
    files["Encryptions.xml"] = f'<ofd:Encryptions xmlns:ofd="{NS}"/>'.encode()
    v = validate_ofd(write_zip(tmp_path / "a.ofd", files))
    assert v.encrypted and "OFDA_ENCRYPTED" in v.rules("error")


def test_doctype_warning(tmp_path):
    v = validate_ofd(write_zip(tmp_path / "a.ofd", ofd_files(doc_type="OFD")))
    assert v.ofda_ok and v.rules("warning") == {"OFDA_DOCTYPE"}


def test_as_dict_is_json_ready(fixture):
    import json

    out = validate_ofd(fixture("test-ofda.ofd")).as_dict()
    assert json.loads(json.dumps(out))["ofda_ok"] is False


# --- every entry is read: a damaged font, image or media file is named ---------------------------------


def _stored_with_damage(path, files, name, marker):
    """Write ``files`` uncompressed, then overwrite bytes of ``name``'s data (its CRC no longer matches)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for n, d in files.items():
            z.writestr(n, d)
    raw = bytearray(path.read_bytes())
    pos = raw.find(marker)
    assert pos > 0
    raw[pos : pos + len(marker)] = b"\xff" * len(marker)
    path.write_bytes(bytes(raw))
    return path


def test_font_with_bad_crc_is_named(tmp_path):
    """The reviewer's ofd_crc.py: the font is never parsed as XML, but it is read through now."""
    files = ofd_files(font_file=b"\x00\x01\x00\x00" + b"GLYF" * 5000)
    path = _stored_with_damage(tmp_path / "f.ofd", files, "Doc_0/Res/font_3.ttf", b"GLYF" * 1000)
    v = validate_ofd(path)
    assert v.readable and not v.structure_ok and not v.ofda_ok
    (problem,) = [p for p in v.problems if p.rule == "OFD_CORRUPT"]
    assert problem.part == "Doc_0/Res/font_3.ttf" and problem.severity == "error"
    assert "Bad CRC-32" in problem.message


def test_image_with_damaged_deflate_stream_is_named(tmp_path, fixture):
    import zipfile

    from .builders import read_entries

    entries = read_entries(fixture("containsJPEG.ofd"))
    path = tmp_path / "j.ofd"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            z.writestr(info.filename, data)
    with zipfile.ZipFile(path) as z:
        image = next(i for i in z.infolist() if i.filename.upper().endswith(".JPEG"))
    raw = bytearray(path.read_bytes())
    start = image.header_offset + 30 + len(image.filename.encode()) + len(image.extra)
    for k in range(start + image.compress_size // 2, start + image.compress_size // 2 + 64):
        raw[k] ^= 0x5A
    path.write_bytes(bytes(raw))
    v = validate_ofd(path)
    assert [p.part for p in v.problems if p.rule == "OFD_CORRUPT"] == [image.filename]
    assert not v.structure_ok


@pytest.mark.parametrize(
    "name", [*UNSIGNED, "v4signed.ofd", "signedFile.ofd", "DigitalSign.ofd", "keyword.ofd"]
)
def test_fixtures_read_through_cleanly(fixture, name):
    v = validate_ofd(fixture(name))
    assert "OFD_CORRUPT" not in v.rules()
    assert v.details["entries_read"] == v.details["entries"]


# --- an unreadable OFD is never mistaken for a readable one --------------------------------------------


def test_unreadable_ofd_verdict(tmp_path):
    """The reviewer's ofda_unreadable.py: OFD.xml truncated. Not readable, so structure_ok and ofda_ok
    are False although no OFD-A rule fired: its problems say why it could not be read."""
    files = ofd_files()
    files["OFD.xml"] = files["OFD.xml"][:-20]
    v = validate_ofd(write_zip(tmp_path / "t.ofd", files))
    assert not v.readable and not v.structure_ok and not v.ofda_ok
    assert v.errors and v.details == {}
    assert not any(p.rule.startswith("OFDA_") for p in v.errors)
    out = v.as_dict()
    assert out["readable"] is False and out["structure_ok"] is False and out["ofda_ok"] is False


@pytest.mark.parametrize("content", [b"", b"junk", b"PK\x05\x06" + b"\x00" * 18])
def test_unreadable_files_always_carry_an_error(tmp_path, content):
    path = tmp_path / "x.ofd"
    path.write_bytes(content)
    v = validate_ofd(path)
    assert not v.readable and v.errors and not v.structure_ok and not v.ofda_ok
