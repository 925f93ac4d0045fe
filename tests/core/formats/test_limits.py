"""Resource limits: decompression bombs, frame bombs, time budget, oversized ZIPs, strict parsing.

Every bomb is built in memory a few KB large and must be refused quickly, before it expands.
"""

from __future__ import annotations

import base64
import importlib
import io
import math
import struct
import time
import zlib

import pikepdf
import pikepdf.settings
import pytest
from PIL import Image

from dangan.core.formats import Limits, identify, images, media, pdf, validate
from dangan.core.formats.limits import MIB

from . import samples as s

FAST = 3.0  # seconds: a refused bomb must cost no more than this
identify_module = importlib.import_module("dangan.core.formats.identify")  # the package exports the function


@pytest.fixture
def qpdf_limits():
    """Tests that tighten qpdf's process-wide limits put them back afterwards."""
    saved = pikepdf.settings.get_qpdf_limits()
    yield
    pikepdf.settings.set_qpdf_limits(**saved)


def _validate(path, limits=None):
    started = time.perf_counter()
    result = validate(path, identify(path), use_ffprobe=False, **({"limits": limits} if limits else {}))
    return result, time.perf_counter() - started


# --- PDF --------------------------------------------------------------------------------------


def _stream(data: bytes, **entries: str) -> bytes:
    d = " ".join(f"/{k} {v}" for k, v in entries.items())
    return b"<< %s /Length %d >>\nstream\n" % (d.encode(), len(data)) + data + b"\nendstream"


def _pdf(
    *, metadata: bytes | None = None, contents: list[bytes] | None = None, extra: list[bytes] = ()
) -> bytes:
    """A one-page PDF: objects 1 catalog, 2 pages, 3 page, 4 metadata (if any), then contents, extra."""
    objs = [b"", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", b""]
    catalog = b"<< /Type /Catalog /Pages 2 0 R"
    if metadata is not None:
        objs.append(metadata)
        catalog += b" /Metadata 4 0 R"
    objs[0] = catalog + b" >>"
    refs = []
    for c in contents or []:
        objs.append(c)
        refs.append(b"%d 0 R" % len(objs))
    objs.extend(extra)
    objs[2] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> /Contents [%s] >>" % (
        b" ".join(refs)
    )
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _double_flate(size: int) -> bytes:
    """``size`` zero bytes deflated twice, built in 16 MiB steps (never ``size`` bytes in memory)."""
    inner, chunk = zlib.compressobj(1), bytes(16 * MIB)
    parts = [inner.compress(chunk[: min(len(chunk), size - done)]) for done in range(0, size, len(chunk))]
    return zlib.compress(b"".join(parts) + inner.flush(), 9)


CONTENT = _stream(b"BT /F1 12 Tf 72 720 Td (ok) Tj ET")


def test_xmp_bomb_is_not_inflated_and_the_claim_is_unknown(tmp_path):
    # 40 MB of zeros compressed twice: a few hundred bytes; over the 32 MB XML cap once inflated.
    xmp = _stream(
        _double_flate(40 * MIB), Type="/Metadata", Subtype="/XML", Filter="[/FlateDecode /FlateDecode]"
    )
    path = s.write(tmp_path / "xmp.pdf", _pdf(metadata=xmp, contents=[CONTENT]))
    assert path.stat().st_size < 2000
    result, took = _validate(path)
    assert took < FAST
    assert result.details["pages"] == 1  # the document is still opened and checked
    assert result.details["pdfa"] is None and result.details["pdfa_status"] == "unknown"
    assert any("PDF/A claim unknown" in p and "inflates to more than" in p for p in result.problems)


def test_xmp_with_an_unsupported_filter_is_unknown_not_pdfa(tmp_path):
    claim = b'<x:xmpmeta xmlns:x="adobe:ns:meta/" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="2" pdfaid:conformance="B"/>'
    xmp = _stream(claim.hex().encode() + b">", Type="/Metadata", Subtype="/XML", Filter="/ASCIIHexDecode")
    path = s.write(tmp_path / "hex.pdf", _pdf(metadata=xmp, contents=[CONTENT]))
    result, _ = _validate(path)
    assert result.details["pdfa"] is None and result.details["pdfa_status"] == "unknown"
    assert any("ASCIIHexDecode" in p for p in result.problems)
    plain = s.write(
        tmp_path / "plain.pdf", _pdf(metadata=_stream(claim, Type="/Metadata"), contents=[CONTENT])
    )
    result, _ = _validate(plain)
    assert (result.details["pdfa"], result.details["pdfa_status"]) == ("2B", "claimed")


@pytest.mark.parametrize("part", ["２", "+2", "1_0", "02x", ""])
def test_pdfa_part_must_be_an_ascii_digit(tmp_path, part):
    claim = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
        f"<pdfaid:part>{part}</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    path = s.write(tmp_path / "p.pdf", _pdf(metadata=_stream(claim, Type="/Metadata"), contents=[CONTENT]))
    result, _ = _validate(path)
    assert result.details["pdfa"] is None
    assert result.details["pdfa_status"] == ("none" if part == "" else "unknown")


def test_content_stream_bomb_stops_at_the_per_stream_limit(tmp_path, qpdf_limits):
    bomb = _stream(_double_flate(24 * MIB), Filter="[/FlateDecode /FlateDecode]")
    path = s.write(tmp_path / "content.pdf", _pdf(contents=[bomb]))
    result, took = _validate(path, Limits(max_stream_bytes=4 * MIB))
    assert took < FAST
    assert result.status == "invalid"
    assert "limit per stream" in result.problems[0] and "decompression bomb" in result.problems[0]


def test_default_qpdf_limit_refuses_the_review_bomb_quickly(tmp_path):
    # the reviewer's file inflated to 4 GiB; 300 MiB is enough to cross the 256 MiB default here
    bomb = _stream(_double_flate(300 * MIB), Filter="[/FlateDecode /FlateDecode]")
    path = s.write(tmp_path / "bomb.pdf", _pdf(contents=[CONTENT, bomb]))
    result, took = _validate(path)
    assert took < FAST
    assert result.status == "invalid" and "256 MiB" in result.problems[0]


def test_all_streams_together_have_a_budget(tmp_path, qpdf_limits):
    streams = [_stream(zlib.compress(bytes(3 * MIB)), Filter="/FlateDecode") for _ in range(5)]
    path = s.write(tmp_path / "many.pdf", _pdf(contents=[CONTENT], extra=streams))
    limits = Limits(max_stream_bytes=4 * MIB, max_decoded_bytes=10 * MIB, decoded_ratio=1)
    result, _ = _validate(path, limits)
    assert result.status == "invalid" and "in all" in result.problems[0]
    assert validate(path, identify(path), limits=Limits(max_stream_bytes=4 * MIB)).status == "valid"


def test_jpeg_in_a_pdf_is_sized_from_its_header_before_decoding(tmp_path):
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 60000, 60000, 3) + bytes(9)
    jpeg = b"\xff\xd8" + sof + b"\xff\xd9"
    assert pdf.jpeg_frame(jpeg) == (60000, 60000, 3, 8)
    image = _stream(jpeg, Type="/XObject", Subtype="/Image", Width="60000", Height="60000",
                    ColorSpace="/DeviceRGB", BitsPerComponent="8", Filter="/DCTDecode")  # fmt: skip
    path = s.write(tmp_path / "jpeg.pdf", _pdf(contents=[CONTENT], extra=[image]))
    result, took = _validate(path)
    assert took < FAST
    assert result.status == "invalid" and "60000×60000 JPEG" in result.problems[0]


def test_jpeg_behind_ascii85_is_checked_like_reportlab_writes_it(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(buf, "JPEG")
    data = base64.a85encode(buf.getvalue(), wrapcol=64) + b"~>"
    image = _stream(data, Type="/XObject", Subtype="/Image", Width="40", Height="30",
                    ColorSpace="/DeviceRGB", BitsPerComponent="8", Filter="[/ASCII85Decode /DCTDecode]")  # fmt: skip
    path = s.write(tmp_path / "a85.pdf", _pdf(contents=[CONTENT], extra=[image]))
    result, _ = _validate(path)
    assert result.status == "valid", result.problems
    assert result.details["structure_check"]["decoded"] == 1 and result.problems == []
    assert "not_decoded" not in result.details["structure_check"]


def _scan_jpeg(progressive: bool = False) -> bytes:
    import random

    rng = random.Random(5)
    img = Image.frombytes("RGB", (320, 240), rng.randbytes(320 * 240 * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, progressive=progressive)
    return buf.getvalue()


def _jpeg_pdf(tmp_path, jpeg: bytes, name: str) -> object:
    image = _stream(jpeg, Type="/XObject", Subtype="/Image", Width="320", Height="240",
                    ColorSpace="/DeviceRGB", BitsPerComponent="8", Filter="/DCTDecode")  # fmt: skip
    return s.write(tmp_path / name, _pdf(contents=[CONTENT], extra=[image]))


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_in_a_pdf_is_decoded_and_damage_found(tmp_path, progressive):
    """Sequential JPEGs are decoded at 1/8 scale by Pillow, progressive ones by qpdf: both read every
    coefficient, so a good one is valid with its full decoded size and a damaged one is invalid."""
    good = _scan_jpeg(progressive)
    assert pdf._baseline_jpeg(good) is not progressive
    result, _ = _validate(_jpeg_pdf(tmp_path, good, "good.pdf"))
    assert result.status == "valid", result.problems
    assert result.details["structure_check"]["decoded"] == 1
    assert result.details["structure_check"]["decoded_bytes"] >= 320 * 240 * 3
    header = good.index(b"\xff\xda")  # start of scan: damage the entropy-coded data after it
    broken = bytearray(good)
    for i in range(header + 400, header + 900):
        broken[i] ^= 0x5A
    result, _ = _validate(_jpeg_pdf(tmp_path, bytes(broken), "broken.pdf"))
    assert result.status == "invalid" and "cannot be decoded" in " ".join(
        result.problems + result.details.get("structure_errors", [])
    ), result
    cut = good[: len(good) // 2]
    result, _ = _validate(_jpeg_pdf(tmp_path, cut, "cut.pdf"))
    assert result.status == "invalid", result


def test_jpeg_over_pillows_bomb_size_is_decoded_by_qpdf_not_refused(tmp_path, monkeypatch):
    # A scan larger than Pillow's decompression-bomb size (but within our own per-stream limit) was
    # decoded by qpdf before the Pillow path existed; it must still be, not reported undecodable.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 320×240 is "too big" for Pillow now
    result, _ = _validate(_jpeg_pdf(tmp_path, _scan_jpeg(False), "big-scan.pdf"))
    assert result.status == "valid", result.problems
    assert result.details["structure_check"]["decoded"] == 1


def test_lzw_that_could_grow_past_the_limit_is_not_decoded(tmp_path, qpdf_limits):
    lzw = _stream(bytes(range(256)) * 8, Filter="/LZWDecode")  # 2 KB in, up to 5.6 MB out
    path = s.write(tmp_path / "lzw.pdf", _pdf(contents=[CONTENT], extra=[lzw]))
    result, _ = _validate(path, Limits(max_stream_bytes=1 * MIB))
    assert result.status == "valid"
    assert any("not decoded by the structure check: LZWDecode" in p for p in result.problems)


def test_pdf_structure_check_stops_at_the_time_budget(tmp_path):
    path = s.write(tmp_path / "long.pdf", s.pdf_bytes(pages=70))
    result, took = _validate(path, Limits(time_budget=0))
    assert took < FAST
    assert result.status == "invalid" and "time budget" in result.problems[0]
    assert validate(path, identify(path)).status == "valid"


def test_qpdf_limits_are_only_tightened(qpdf_limits):
    pdf.harden_qpdf(Limits(max_stream_bytes=2 * MIB))
    pdf.harden_qpdf(Limits(max_stream_bytes=64 * MIB))
    assert pikepdf.settings.get_qpdf_limits()["flate_max_memory"] == 2 * MIB


# --- images -----------------------------------------------------------------------------------


def _gif(width: int, height: int, frames: int) -> bytes:
    """A GIF whose logical screen is ``width`` × ``height`` with ``frames`` 1×1 frames (the review's bomb)."""
    out = bytearray(b"GIF89a" + struct.pack("<HH", width, height) + bytes([0xF0, 0, 0]) + bytes(6))
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for i in range(frames):
        out += b"\x21\xf9\x04\x08\x00\x00\x00\x00"
        out += b"\x2c" + struct.pack("<HHHH", i % width, 0, 1, 1) + b"\x00\x02\x02\x44\x01\x00"
    return bytes(out + b"\x3b")


def test_review_gif_frame_bomb_is_refused_before_decoding(tmp_path):
    path = s.write(tmp_path / "bomb.gif", _gif(13000, 13000, 1000))
    assert path.stat().st_size < 30_000
    result, took = _validate(path)
    assert took < 0.5
    assert result.status == "invalid" and "over the 40000000-pixel limit" in result.problems[0]


def test_gif_frames_share_one_pixel_budget(tmp_path):
    path = s.write(tmp_path / "frames.gif", _gif(100, 100, 60))
    result, took = _validate(path, Limits(max_total_pixels=500_000))
    assert took < FAST
    assert result.status == "invalid" and "all frames together" in result.problems[0]
    assert "after 50 frames" in result.problems[0]
    assert validate(path, identify(path)).details["frames"] == 60


def test_frame_count_is_capped(tmp_path):
    path = s.write(tmp_path / "many.gif", _gif(4, 4, 12))
    result, _ = _validate(path, Limits(max_frames=10))
    assert result.status == "invalid" and "more than 10 frames" in result.problems[0]
    assert validate(path, identify(path), limits=Limits(max_frames=12)).details["frames"] == 12


def _animated(fmt: str, sizes: list[tuple[int, int]]) -> bytes:
    frames = [Image.new("RGB", size, (i * 40 % 256, 80, 120)) for i, size in enumerate(sizes)]
    buf = io.BytesIO()
    frames[0].save(
        buf,
        format=fmt,
        save_all=True,
        append_images=frames[1:],
        **({"lossless": True} if fmt == "WEBP" else {}),
    )
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "PNG", "WEBP"])
def test_every_multi_frame_format_counts_all_frames(tmp_path, fmt):
    path = s.write(tmp_path / f"a.{fmt.lower()}", _animated(fmt, [(30, 20)] * 6))
    assert validate(path, identify(path)).details["frames"] == 6
    result, _ = _validate(path, Limits(max_total_pixels=30 * 20 * 4))
    assert result.status == "invalid" and "after 4 frames" in result.problems[0]


def test_a_later_tiff_page_over_the_pixel_limit_is_not_decoded(tmp_path):
    path = s.write(tmp_path / "pages.tif", _animated("TIFF", [(1, 1), (60, 50)]))
    result, _ = _validate(path, Limits(max_image_pixels=2000))
    assert result.status == "invalid" and result.problems[0].startswith("frame 2 is 60×50 = 3000 pixels")


def test_dpi_that_is_not_a_finite_number_is_dropped():
    assert images._dpi((300, 300.004)) == [300.0, 300.0]
    assert images._dpi((math.nan, 300)) is None and images._dpi((math.inf, 1)) is None
    assert images._dpi((0, 0)) is None and images._dpi("300") is None


# --- ZIP and OLE --------------------------------------------------------------------------------


def _declare_sizes(data: bytes, size: int) -> bytes:
    """Rewrite every central-directory entry's uncompressed size (the bytes stay as they are)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<I", out, at + 24, size)
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


def test_zip_declaring_more_than_8_gib_is_never_valid(tmp_path):
    entries = [(f"{i}.txt", b"x") for i in range(3)]
    path = s.write(tmp_path / "huge.zip", _declare_sizes(s.zip_bytes(entries), 0xFFFFFFF0))
    result, took = _validate(path)
    assert took < FAST
    assert result.status == "invalid" and result.details["crc_checked"] is False
    assert result.problems[0].startswith("not checked:") and "8 GiB limit" in result.problems[0]
    small = Limits(max_zip_bytes=2)
    assert validate(s.write(tmp_path / "a.zip", s.zip_bytes(entries)), limits=small).status == "invalid"


def test_zip_crc_check_stops_at_the_time_budget(tmp_path):
    path = s.write(tmp_path / "a.zip", s.zip_bytes([("a.txt", b"hello")]))
    result, _ = _validate(path, Limits(time_budget=0))
    assert result.status == "invalid" and "time budget" in result.problems[0]
    assert result.details["crc_checked"] is False


def test_doc_whose_encryption_flag_cannot_be_read_says_so(tmp_path):
    data = s.cfb({"WordDocument": bytes(4608), "1Table": bytes(600)})  # no FIB magic 0xA5EC
    path = s.write(tmp_path / "x.doc", data)
    result = validate(path, identify(path))
    assert result.status == "not_run"
    assert result.encryption_unknown is True and result.encrypted is False
    assert any("could not be determined" in p for p in result.problems)
    known = validate(s.write(tmp_path / "k.doc", s.doc()))
    assert known.encryption_unknown is False and known.problems == []


# --- strict numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["１２", "+3", "1_0", "-1", " 7", "N/A", "", "٣"])
def test_ffprobe_numbers_are_plain_ascii_digits(text):
    assert media._int(text) is None
    assert media._decimal(text) is None


def test_ffprobe_numbers_that_are_fine():
    assert media._int("44100") == 44100 and media._int(2) == 2
    assert (
        media._decimal("12.5") == 12.5 and media._decimal("nan") is None and media._decimal(math.inf) is None
    )
    assert media._stream({"codec_type": "audio", "sample_rate": "４４１００", "duration": "1.5"}) == {
        "codec_type": "audio",
        "duration": 1.5,
    }


def test_identification_patterns_take_only_ascii_digits_and_spaces():
    assert identify_module._OFD_DOC.match("Doc_0/Pages/Page_1/Content.xml")
    assert not identify_module._OFD_DOC.match("Doc_０/Document.xml")
    assert not identify_module._OFD_DOC.match("Doc_0/Document.xml\n")
    assert identify_module._PDF_HEADER.match("%PDF-１.７".encode()).group(1) is None
    assert not identify_module._XML_DECL.match('<?xml\u3000version="1.0"?>')
    assert not identify_module._JSON_START.match('{\u3000"a": 1}')


def test_image_frames_stop_at_the_time_budget(tmp_path):
    path = s.write(tmp_path / "three.gif", _gif(8, 8, 3))
    result, took = _validate(path, Limits(time_budget=0))
    assert took < FAST
    assert result.status == "invalid" and "time budget" in result.problems[0]
