"""Sample files for the format tests, made in the test's tmp_path (nothing checked in).

Includes a small compound-file (OLE2, MS-CFB version 3) writer so that DOC/XLS/PPT/encrypted
OOXML can be crafted without Office; tests cross-check its output with olefile.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import struct
import tarfile
import wave
import zipfile
from pathlib import Path

from PIL import Image

# --- documents -------------------------------------------------------------------------------


def pdf_bytes(text: str = "dangan format test", pages: int = 1) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for i in range(pages):
        c.drawString(72, 720, f"{text} {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def pdf_variant(path: Path, *, encryption=None, javascript: bool = False, launch: bool = False,
                pdfa: tuple[str, str] | None = None) -> Path:  # fmt: skip
    import pikepdf

    src = io.BytesIO(pdf_bytes())
    with pikepdf.open(src) as pdf:
        if javascript:
            pdf.Root.OpenAction = pdf.make_indirect(
                pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')"))
            )
        if launch:
            pdf.pages[0].obj.AA = pikepdf.Dictionary(
                O=pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")))
            )
        if pdfa is not None:
            xmp = (
                '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
                '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">'
                f"<pdfaid:part>{pdfa[0]}</pdfaid:part><pdfaid:conformance>{pdfa[1]}</pdfaid:conformance>"
                '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
            ).encode()
            stream = pdf.make_stream(xmp)
            stream.Type = pikepdf.Name.Metadata
            stream.Subtype = pikepdf.Name.XML
            pdf.Root.Metadata = stream
        if encryption is not None:
            pdf.save(path, encryption=encryption)
        else:
            pdf.save(path)
    return path


def zip_bytes(entries: list[tuple[str, bytes]], *, compress: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def set_encrypted_flag(data: bytes) -> bytes:
    """Set general-purpose flag bit 0 (encrypted) on every local and central header of a ZIP."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(sig)
        while pos >= 0:
            flags = struct.unpack_from("<H", out, pos + offset)[0]
            struct.pack_into("<H", out, pos + offset, flags | 1)
            pos = out.find(sig, pos + 4)
    return bytes(out)


_MAIN_TYPES = {
    "DOCX": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
             "application/vnd.ms-word.document.macroEnabled.main+xml"),
    "XLSX": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
             "application/vnd.ms-excel.sheet.macroEnabled.main+xml"),
    "PPTX": ("ppt/presentation.xml",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
             "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"),
}  # fmt: skip


def ooxml(kind: str, *, macros: bool = False, broken_main: bool = False) -> bytes:
    """A minimal Office Open XML package with the content types Office writes for its main part."""
    main, plain_type, macro_type = _MAIN_TYPES[kind]
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main}" ContentType="{macro_type if macros else plain_type}"/></Types>'
    ).encode()
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        f'officeDocument" Target="{main}"/></Relationships>'
    ).encode()
    body = b"<doc><unclosed></doc>" if broken_main else b'<?xml version="1.0"?><root>text</root>'
    entries = [("[Content_Types].xml", content_types), ("_rels/.rels", rels), (main, body)]
    if macros:
        entries.append((main.split("/")[0] + "/vbaProject.bin", b"\xd0\xcf\x11\xe0" + bytes(100)))
    return zip_bytes(entries)


def odt() -> bytes:
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        b'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        b'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        b"</manifest:manifest>"
    )
    content = (
        b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2"/>'
    )
    return zip_bytes(
        [
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("META-INF/manifest.xml", manifest),
            ("content.xml", content),
        ],
        compress=False,
    )


# --- compound files (MS-CFB v3) --------------------------------------------------------------

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def cfb(streams: dict[str, bytes]) -> bytes:
    """A version-3 compound file with ``streams`` at the root (small ones in the mini stream)."""
    ss = 512

    def nsec(n: int) -> int:
        return -(-n // ss)

    small = [(n, d) for n, d in streams.items() if len(d) < 4096]
    big = [(n, d) for n, d in streams.items() if len(d) >= 4096]
    ministream, minifat, starts = b"", [], {}
    for name, data in small:
        if not data:
            starts[name] = _END
            continue
        first = len(ministream) // 64
        count = -(-len(data) // 64)
        starts[name] = first
        minifat += [first + i + 1 for i in range(count - 1)] + [_END]
        ministream += data + bytes(count * 64 - len(data))
    names = [n for n, _ in small] + [n for n, _ in big]
    dir_secs = nsec((1 + len(names)) * 128)
    minifat_secs = nsec(len(minifat) * 4)
    mini_secs = nsec(len(ministream))
    big_secs = [nsec(len(d)) for _, d in big]
    other = dir_secs + minifat_secs + mini_secs + sum(big_secs)
    fat_secs = 1
    while fat_secs * 128 < fat_secs + other:
        fat_secs += 1
    fat: list[int] = [_FATSECT] * fat_secs

    def chain(n: int) -> int:
        if n == 0:
            return _END
        first = len(fat)
        fat.extend(first + i + 1 for i in range(n - 1))
        fat.append(_END)
        return first

    dir_start = chain(dir_secs)
    minifat_start = chain(minifat_secs)
    mini_start = chain(mini_secs)
    for (name, _), n in zip(big, big_secs, strict=True):
        starts[name] = chain(n)
    fat += [_FREE] * (fat_secs * 128 - len(fat))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le")
        return (
            raw.ljust(64, b"\0")
            + struct.pack("<HBB", len(raw) + 2, kind, 1)
            + struct.pack("<III", _NOSTREAM, right, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, size)
        )

    order = sorted(names, key=lambda n: (len(n), n.upper()))
    index = {n: i + 1 for i, n in enumerate(order)}
    directory = entry("Root Entry", 5, 1 if order else _NOSTREAM, _NOSTREAM, mini_start, len(ministream))
    for i, name in enumerate(order):
        right = index[order[i + 1]] if i + 1 < len(order) else _NOSTREAM
        directory += entry(name, 2, _NOSTREAM, right, starts[name], len(streams[name]))
    directory = directory.ljust(dir_secs * ss, b"\0")
    # unused directory slots must be empty entries with NOSTREAM links
    empty = bytes(64) + struct.pack("<HBB", 0, 0, 0) + struct.pack("<III", _NOSTREAM, _NOSTREAM, _NOSTREAM)
    empty = empty.ljust(128, b"\0")
    used = (1 + len(order)) * 128
    directory = directory[:used] + empty * ((len(directory) - used) // 128)

    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, fat_secs, dir_start, 0, 4096, minifat_start, minifat_secs, _END, 0)
    )
    difat = list(range(fat_secs)) + [_FREE] * (109 - fat_secs)
    header += struct.pack("<109I", *difat)
    body = struct.pack(f"<{len(fat)}I", *fat)
    body += directory
    body += struct.pack(f"<{len(minifat)}I", *minifat).ljust(minifat_secs * ss, b"\xff")
    body += ministream.ljust(mini_secs * ss, b"\0")
    for _, data in big:
        body += data.ljust(nsec(len(data)) * ss, b"\0")
    return header + body


def word_stream(*, encrypted: bool = False) -> bytes:
    flags = 0x0100 if encrypted else 0
    fib = struct.pack("<HHHHHH", 0xA5EC, 0x00C1, 0, 0x0804, 0, flags)
    return fib.ljust(4608, b"\0")


def _compobj(prog_id: bytes = b"Word.Document.8") -> bytes:
    """The CompObj stream Word writes: a header, the user type and the program id (MS-OLEDS 2.3.8)."""
    user_type = b"Microsoft Word 97-2003 Document\0"
    return (
        struct.pack("<HHII", 1, 0xFFFE, 0x0A03, 0xFFFFFFFF)
        + bytes.fromhex("0609020000000000c000000000000046")
        + struct.pack("<I", len(user_type))
        + user_type
        + struct.pack("<I", 10)
        + b"MSWordDoc\0"
        + struct.pack("<I", len(prog_id) + 1)
        + prog_id
        + b"\0"
        + struct.pack("<I", 0x71B239F4)
    )


def doc(*, encrypted: bool = False, wps: bool = False) -> bytes:
    streams = {
        "WordDocument": word_stream(encrypted=encrypted),
        "1Table": bytes(600),
        "\x01CompObj": _compobj(),
    }
    if wps:
        streams["WpsCustomData"] = b"\0" * 100
    return cfb(streams)


def xls(*, encrypted: bool = False, small: bool = True) -> bytes:
    bof = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x0600, 0x0005, 0, 0, 0, 0)
    body = bof
    if encrypted:
        body += struct.pack("<HH", 0x002F, 6) + struct.pack("<HHH", 1, 1, 1)
    body += struct.pack("<HH", 0x0042, 2) + b"\xe4\x04"  # CodePage
    body += struct.pack("<HH", 0x000A, 0)  # EOF
    if not small:
        body = body.ljust(5000, b"\0")
    return cfb({"Workbook": body})


def ppt(*, encrypted: bool = False) -> bytes:
    streams = {"PowerPoint Document": bytes(5000), "Current User": bytes(60)}
    if encrypted:
        streams["EncryptedSummary"] = bytes(200)
    return cfb(streams)


def encrypted_ooxml() -> bytes:
    return cfb({"EncryptionInfo": bytes(300), "EncryptedPackage": bytes(6000)})


# --- images ----------------------------------------------------------------------------------


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    for x in range(size[0]):
        img.putpixel((x, x % size[1]), (x * 3 % 256, 90, 200))
    if fmt == "GIF":
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )


# --- audio and video -------------------------------------------------------------------------


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    n = int(seconds * rate)
    frames = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def audio_file(path: Path, container: str, codec: str, *, seconds: float = 0.6, rate: int = 44100) -> Path:
    import av

    sample_fmt = "s16p" if codec == "libmp3lame" else "s16"
    with av.open(str(path), "w", format=container) as c:
        s = c.add_stream(codec, rate=rate)
        s.layout = "mono"
        s.format = sample_fmt
        t, n = 0, 1152
        while t < int(rate * seconds):
            frame = av.AudioFrame(format=sample_fmt, layout="mono", samples=n)
            frame.planes[0].update(
                b"".join(
                    struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * (t + i) / rate)))
                    for i in range(n)
                )
            )
            frame.sample_rate = rate
            frame.pts = t
            t += n
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def video_file(path: Path, container: str = "mp4", *, frames: int = 12, codec: str = "mpeg4") -> Path:
    import av

    with av.open(str(path), "w", format=container) as c:
        s = c.add_stream(codec, rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = Image.new("RGB", (64, 48), (i * 20 % 256, 100, 150))
            for p in s.encode(av.VideoFrame.from_image(img)):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


# --- text and archives -----------------------------------------------------------------------

XML_DOC = '<?xml version="1.0" encoding="UTF-8"?>\n<归档信息包><题名>测试</题名></归档信息包>\n'.encode()
JSON_DOC = json.dumps({"题名": "测试", "件数": 3}, ensure_ascii=False).encode()
TEXT_UTF8 = ("政务服务电子文件归档\n" * 50).encode()
TEXT_GB18030 = ("政务服务电子文件归档和电子档案管理\n" * 50).encode("gb18030")


def tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


def gzip_bytes() -> bytes:
    return gzip.compress(b"hello " * 100, mtime=0)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def truncate(src: Path, dest: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: max(1, int(len(data) * fraction))])
    return dest
