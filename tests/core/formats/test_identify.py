"""Identification by content: every format, mismatched extensions, truncated copies, random bytes."""

from __future__ import annotations

import random
import shutil
import struct

import olefile
import pytest

from dangan.core.formats import FORMATS, extension_matches, identify
from dangan.core.formats.registry import FORMAT_NAMES

from . import samples as s

EXPECTED = {
    "PDF": ("PDF", "application/pdf"),
    "JPEG": ("JPEG", "image/jpeg"),
    "PNG": ("PNG", "image/png"),
    "TIFF": ("TIFF", "image/tiff"),
    "GIF": ("GIF", "image/gif"),
    "BMP": ("BMP", "image/bmp"),
    "WEBP": ("WEBP", "image/webp"),
    "WAV": ("WAV", "audio/wav"),
    "MP3": ("MP3", "audio/mpeg"),
    "FLAC": ("FLAC", "audio/flac"),
    "MP4": ("MP4", "video/mp4"),
    "MOV": ("MOV", "video/quicktime"),
    "AVI": ("AVI", "video/x-msvideo"),
    "XML": ("XML", "application/xml"),
    "JSON": ("JSON", "application/json"),
    "TXT": ("TXT", "text/plain"),
    "TXT-GB18030": ("TXT", "text/plain"),
    "HTML": ("HTML", "text/html"),
    "RTF": ("RTF", "application/rtf"),
    "DOCX": ("DOCX", FORMATS["DOCX"].mime),
    "XLSX": ("XLSX", FORMATS["XLSX"].mime),
    "PPTX": ("PPTX", FORMATS["PPTX"].mime),
    "ODT": ("ODT", FORMATS["ODT"].mime),
    "DOC": ("DOC", "application/msword"),
    "XLS": ("XLS", "application/vnd.ms-excel"),
    "PPT": ("PPT", "application/vnd.ms-powerpoint"),
    "OOXML": ("OOXML", FORMATS["OOXML"].mime),
    "ZIP": ("ZIP", "application/zip"),
    "RAR": ("RAR", "application/vnd.rar"),
    "7Z": ("7Z", "application/x-7z-compressed"),
    "GZIP": ("GZIP", "application/gzip"),
    "BZIP2": ("BZIP2", "application/x-bzip2"),
    "XZ": ("XZ", "application/x-xz"),
    "TAR": ("TAR", "application/x-tar"),
    "OFD": ("OFD", "application/ofd"),
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_each_format_is_identified_and_its_extension_matches(sample_files, key):
    path = sample_files[key]
    fid = identify(path)
    name, mime = EXPECTED[key]
    assert (fid.name, fid.mime) == (name, mime), fid
    assert fid.basis
    assert extension_matches(fid, path.name), (fid.name, path.name)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_content_decides_not_the_name(sample_files, tmp_path, key):
    """The same bytes under a misleading name are identified the same; the extension check fails."""
    wrong = ".txt" if EXPECTED[key][0] != "TXT" else ".pdf"
    disguised = tmp_path / f"disguised{wrong}"
    shutil.copyfile(sample_files[key], disguised)
    fid = identify(disguised)
    assert fid.name == EXPECTED[key][0]
    assert not extension_matches(fid, disguised.name)


def test_png_named_jpg_is_a_mismatch(sample_files, tmp_path):
    fake = tmp_path / "scan.jpg"
    shutil.copyfile(sample_files["PNG"], fake)
    fid = identify(fake)
    assert fid.name == "PNG"
    assert not extension_matches(fid, "scan.jpg")
    assert extension_matches(fid, "scan.PNG")


def test_every_ofd_fixture_is_identified_as_ofd_with_its_version(ofd_fixtures):
    for path in ofd_fixtures:
        fid = identify(path)
        assert fid.name == "OFD", (path.name, fid)
        assert "OFD.xml" in fid.basis
        assert fid.version in {"1.0", "1.1", "1.2"}, (path.name, fid.version)


def test_versions_and_puids(sample_files):
    pdf = identify(sample_files["PDF"])
    assert pdf.version == "1.3" and pdf.puid == "fmt/17" and pdf.basis == "signature %PDF-1.3 at 0"
    jpeg = identify(sample_files["JPEG"])
    assert jpeg.version == "1.01" and jpeg.puid == "fmt/43"
    gif = identify(sample_files["GIF"])
    assert (gif.version, gif.puid) == ("87a", "fmt/3")  # Pillow writes 87a unless 89a features are used
    assert identify(sample_files["WAV"]).puid == "fmt/141"  # 16-byte PCM fmt chunk
    assert identify(sample_files["MP4"]).puid == "fmt/199"
    assert identify(sample_files["XML"]).puid == "fmt/101"
    assert identify(sample_files["DOCX"]).puid == "fmt/412"
    assert identify(sample_files["OFD"]).puid is None  # PRONOM has no OFD entry


def test_text_encodings(sample_files, tmp_path):
    assert identify(sample_files["TXT"]).encoding == "utf-8"
    assert identify(sample_files["TXT-GB18030"]).encoding == "gb18030"
    bom = s.write(tmp_path / "bom.txt", b"\xef\xbb\xbf" + "档案".encode())
    assert identify(bom).encoding == "utf-8-sig"
    gbk_xml = s.write(
        tmp_path / "gb.xml", '<?xml version="1.0" encoding="GB18030"?><根>档案</根>'.encode("gb18030")
    )
    fid = identify(gbk_xml)
    assert (fid.name, fid.encoding) == ("XML", "gb18030")
    utf16 = s.write(tmp_path / "u16.xml", '<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16-le"))
    assert identify(utf16).name == "XML"


def test_xml_without_declaration_and_svg(tmp_path):
    assert identify(s.write(tmp_path / "a", b"  \n<root><x/></root>")).name == "XML"
    assert identify(s.write(tmp_path / "b", b'<svg xmlns="http://www.w3.org/2000/svg"/>')).name == "SVG"
    assert identify(s.write(tmp_path / "c", b"<!-- c --><html><body/></html>")).name == "HTML"
    assert identify(s.write(tmp_path / "d", b"a < b and c > d")).name == "TXT"


def test_json_must_parse_when_small(tmp_path):
    assert identify(s.write(tmp_path / "a", b'[1, 2, {"a": null}]')).name == "JSON"
    assert identify(s.write(tmp_path / "b", b"{not json at all}")).name == "TXT"


def test_zip_family_by_members(tmp_path):
    macro = identify(s.write(tmp_path / "m.docm", s.ooxml("DOCX", macros=True)))
    assert (macro.name, macro.puid) == ("DOCX", "fmt/523") and "macro" in macro.basis
    plain = identify(s.write(tmp_path / "ct.zip", s.zip_bytes([("[Content_Types].xml", b"<Types/>")])))
    assert plain.name == "ZIP"
    enc = identify(s.write(tmp_path / "e.zip", s.set_encrypted_flag(s.zip_bytes([("a.txt", b"x" * 50)]))))
    assert enc.name == "ZIP" and enc.encrypted


def test_truncated_ofd_is_still_ofd_from_its_local_headers(ofd_fixtures, tmp_path):
    cut = s.truncate(ofd_fixtures[0], tmp_path / "cut.ofd", 0.6)
    fid = identify(cut)
    assert fid.name == "OFD" and "local headers" in fid.basis, fid


def test_ole_documents_and_encryption(tmp_path):
    doc = identify(s.write(tmp_path / "a.doc", s.doc()))
    assert (doc.name, doc.encrypted) == ("DOC", False)
    enc_doc = identify(s.write(tmp_path / "b.doc", s.doc(encrypted=True)))
    assert (enc_doc.name, enc_doc.encrypted, enc_doc.puid) == ("DOC", True, "fmt/754")
    wps = identify(s.write(tmp_path / "c.wps", s.doc(wps=True)))
    assert wps.name == "DOC" and "Kingsoft WPS" in wps.basis
    assert extension_matches(wps, "c.wps") and extension_matches(wps, "c.doc")
    for small in (True, False):  # Workbook in the mini stream and in regular sectors
        assert identify(s.write(tmp_path / "a.xls", s.xls(small=small))).encrypted is False
        enc = identify(s.write(tmp_path / "b.xls", s.xls(encrypted=True, small=small)))
        assert (enc.name, enc.encrypted) == ("XLS", True)
    assert extension_matches(enc, "book.et")
    assert identify(s.write(tmp_path / "e.ppt", s.ppt(encrypted=True))).encrypted
    ooxml = identify(s.write(tmp_path / "x.docx", s.encrypted_ooxml()))
    assert (ooxml.name, ooxml.encrypted) == ("OOXML", True)
    other = identify(s.write(tmp_path / "x.msg", s.cfb({"__substg1.0_0037001F": b"hi"})))
    assert other.name == "OLE"


def test_crafted_compound_files_read_the_same_with_olefile(tmp_path):
    """Our CFB writer (tests) and reader (core) agree with an independent implementation."""
    for data, names in (
        (s.doc(wps=True), {"WordDocument", "1Table", "WpsCustomData", "\x01CompObj"}),
        (s.xls(), {"Workbook"}),
        (s.encrypted_ooxml(), {"EncryptionInfo", "EncryptedPackage"}),
    ):
        with olefile.OleFileIO(data) as of:
            assert {e[0] for e in of.listdir()} == names
            for name in names:
                assert of.openstream(name).read() == _stream_of(data, name)


def _stream_of(data: bytes, name: str) -> bytes:
    import io

    from dangan.core.formats.ole import CompoundFile

    cf = CompoundFile(io.BytesIO(data), len(data))
    entry = cf.find(name)
    assert entry is not None
    return cf.read_stream(entry, entry.size)


def test_mp3_needs_two_frames_or_id3(tmp_path, sample_files):
    data = sample_files["MP3"].read_bytes()
    start = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    bare = s.write(tmp_path / "bare.mp3", data[start:])  # no ID3 tag: frame sync + next frame
    fid = identify(bare)
    assert fid.name == "MP3" and "frame sync" in fid.basis
    one_header = s.write(tmp_path / "fake.mp3", data[start : start + 4] + bytes(2000))
    assert identify(one_header).name != "MP3"


@pytest.mark.parametrize("key", ["PDF", "JPEG", "PNG", "GIF", "WAV", "MP4", "DOCX", "DOC", "ZIP", "OFD"])
def test_truncated_files_keep_their_identity(sample_files, tmp_path, key):
    """Identification reads the start; validation (not identification) finds the damage."""
    cut = s.truncate(sample_files[key], tmp_path / f"cut-{sample_files[key].name}", 0.7)
    assert identify(cut).name == EXPECTED[key][0]


def test_random_bytes_and_empty_files_are_unknown(tmp_path):
    rng = random.Random(20261121)
    for i in range(200):
        blob = rng.randbytes(rng.choice([100, 4096, 20000]))
        fid = identify(s.write(tmp_path / f"r{i}.bin", blob))
        assert fid.name == "UNKNOWN", (i, fid)
        assert not extension_matches(fid, "r.bin")
    empty = identify(s.write(tmp_path / "empty.pdf", b""))
    assert empty.name == "UNKNOWN" and "empty" in empty.basis
    assert identify(tmp_path / "missing").name == "UNKNOWN"


def test_registry_is_consistent():
    for name, entry in FORMATS.items():
        assert entry.name == name and entry.mime
        assert all(e.startswith(".") and e == e.lower() for e in entry.extensions)
    assert "OFD" in FORMAT_NAMES and "UNKNOWN" in FORMAT_NAMES
    assert extension_matches("JPEG", "x.JPE") and extension_matches("TIFF", "x.tiff")
    assert not extension_matches("JPEG", "noextension")


def test_compound_file_with_a_looping_chain_is_reported_not_hung(tmp_path):
    data = bytearray(s.doc())
    # sector 1 holds the directory (sector 0 is the only FAT sector): point its FAT entry at itself
    struct.pack_into("<I", data, 512 + 4, 1)
    fid = identify(s.write(tmp_path / "loop.doc", bytes(data)))
    assert fid.name == "OLE" and "loops" in fid.basis
