"""Real file content for demo cases: PDF, OFD licence, JPEG scan, WAV recording, MP4 video.

Every generator is deterministic for a given ``random.Random`` state and never reads the clock:
PDFs are written with reportlab's ``invariant=1``, ZIP entries (OFD) and the MP4 creation time carry
dates passed in by the caller. Defaults keep files small (tens of KB) so a quickstart batch of 50+
cases is quick; ``FileOptions`` asks for larger, still realistic files (more pages, bigger scans).
"""

from __future__ import annotations

import array
import io
import math
import random
import sys
import wave
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache

from lxml import etree
from PIL import Image, ImageChops, ImageDraw, ImageFont

# --- options and ZIP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileOptions:
    """How big generated files should be.

    ``scale`` multiplies text volume (pages) and scan resolution (1 = quickstart size, e.g. 4 gives
    roughly four times the pages and twice the scan resolution). ``min_file_bytes`` pads every PDF
    (with scanned attachment pages) and every JPEG (with a higher scan resolution) to at least that
    many bytes; 0 = no padding.
    """

    scale: float = 1.0
    min_file_bytes: int = 0


DEFAULT_OPTIONS = FileOptions()


def zip_date_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    """ZIP entry timestamp (DOS time has 2-second resolution and starts in 1980)."""
    m = max(moment, datetime(1980, 1, 1))
    return (m.year, m.month, m.day, m.hour, m.minute, m.second - m.second % 2)


def zip_bytes(entries: Sequence[tuple[str, bytes]], *, moment: datetime, compress: bool = True) -> bytes:
    """A ZIP with the given entries in order, every entry stamped ``moment`` (byte-reproducible)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(zip_info(name, moment, compress=compress), data)
    return buf.getvalue()


def zip_info(name: str, moment: datetime, *, compress: bool = True) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=zip_date_time(moment))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.create_system = 3  # Unix, so external_attr carries the mode on every platform
    info.external_attr = (0o100644 << 16) if not name.endswith("/") else (0o40755 << 16) | 0x10
    return info


# --- PDF ---------------------------------------------------------------------------------------

PDF_FONT = "STSong-Light"
_PAGE_W, _PAGE_H = 595.2756, 841.8898  # A4 in points
_MARGIN_X = 60.0
_TOP = 785.0
_BOTTOM = 70.0
_RED = (0.82, 0.1, 0.1)


@cache
def _register_pdf_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


@cache
def _char_width(ch: str) -> float:
    """Width of ``ch`` at size 1 in the CID font."""
    from reportlab.pdfbase import pdfmetrics

    return float(pdfmetrics.stringWidth(ch, PDF_FONT, 1000)) / 1000.0


def _text_width(text: str, size: float) -> float:
    return sum(_char_width(c) for c in text) * size


def _wrap(text: str, size: float, width: float, *, indent: float = 0.0) -> list[str]:
    """Break CJK/latin text into lines of at most ``width`` points (first line indented)."""
    lines: list[str] = []
    current = ""
    used = indent
    for ch in text:
        w = _char_width(ch) * size
        if current and used + w > width:
            # Chinese typesetting: closing punctuation does not start a line.
            if ch in "，。、；：！？）》」』”’":
                current += ch
                lines.append(current)
                current, used = "", 0.0
                continue
            lines.append(current)
            current, used = "", 0.0
        current += ch
        used += w
    if current:
        lines.append(current)
    return lines or [""]


@dataclass(frozen=True)
class PdfContent:
    """What a generated official document or form shows."""

    title: str
    fields: Sequence[tuple[str, str]] = ()  # table rows (label, value)
    paragraphs: Sequence[str] = ()  # body text; "第一条 …" clauses, opinions, notices
    doc_number: str | None = None  # 文号 shown top right, e.g. 示审受字〔2024〕第000123号
    addressee: str | None = None  # "XX有限公司：" line before the body
    signatures: Sequence[str] = ()  # "申请人（签字/盖章）：" lines for forms the applicant signs
    issuer: str | None = None  # issuing authority (with a red seal) at the end
    date_text: str = ""  # 2024年3月5日
    subject: str = ""  # PDF /Subject
    author: str = ""  # PDF /Author


class _PdfLayout:
    def __init__(self, canvas: object, rng: random.Random) -> None:
        from reportlab.pdfgen.canvas import Canvas

        assert isinstance(canvas, Canvas)
        self.c = canvas
        self.rng = rng
        self.y = _TOP
        self.page = 1

    def new_page(self) -> None:
        self._page_number()
        self.c.showPage()
        self.page += 1
        self.y = _TOP

    def _page_number(self) -> None:
        self.c.setFont(PDF_FONT, 10)
        self.c.setFillColorRGB(0, 0, 0)
        self.c.drawCentredString(_PAGE_W / 2, 40, f"— {self.page} —")

    def finish(self) -> None:
        self._page_number()
        self.c.showPage()

    def ensure(self, height: float) -> None:
        if self.y - height < _BOTTOM:
            self.new_page()

    def doc_number(self, text: str) -> None:
        self.c.setFont(PDF_FONT, 11)
        self.c.drawRightString(_PAGE_W - _MARGIN_X, self.y, text)
        self.y -= 26

    def title(self, text: str) -> None:
        size = 20.0 if len(text) <= 16 else 16.0
        self.ensure(40)
        self.c.setFont(PDF_FONT, size)
        self.c.drawCentredString(_PAGE_W / 2, self.y - size, text)
        self.y -= size + 24

    def table(self, rows: Sequence[tuple[str, str]]) -> None:
        size, leading = 10.5, 14.0
        label_w = 118.0
        width = _PAGE_W - 2 * _MARGIN_X
        value_w = width - label_w
        self.c.setLineWidth(0.7)
        for label, value in rows:
            value_lines = _wrap(value, size, value_w - 12)
            label_lines = _wrap(label, size, label_w - 12)
            h = max(len(value_lines), len(label_lines)) * leading + 10
            self.ensure(h)
            top, x0 = self.y, _MARGIN_X
            self.c.rect(x0, top - h, label_w, h)
            self.c.rect(x0 + label_w, top - h, value_w, h)
            self.c.setFont(PDF_FONT, size)
            for i, line in enumerate(label_lines):
                self.c.drawString(x0 + 6, top - 5 - size - i * leading, line)
            for i, line in enumerate(value_lines):
                self.c.drawString(x0 + label_w + 6, top - 5 - size - i * leading, line)
            self.y -= h
        self.y -= 18

    def paragraph(self, text: str, *, size: float = 12.0, leading: float = 21.0) -> None:
        width = _PAGE_W - 2 * _MARGIN_X
        heading = text.startswith("第") and "条" in text[:6]
        indent = 0.0 if heading else 2 * size
        lines = _wrap(text, size, width, indent=indent)
        self.c.setFont(PDF_FONT, size)
        for i, line in enumerate(lines):
            self.ensure(leading)
            self.c.drawString(_MARGIN_X + (indent if i == 0 else 0.0), self.y - size, line)
            self.y -= leading
        self.y -= 4

    def line(self, text: str, *, right: bool = False, size: float = 12.0) -> None:
        self.ensure(24)
        self.c.setFont(PDF_FONT, size)
        if right:
            self.c.drawRightString(_PAGE_W - _MARGIN_X - 20, self.y - size, text)
        else:
            self.c.drawString(_MARGIN_X, self.y - size, text)
        self.y -= 24

    def seal(self, issuer: str, cx: float, cy: float) -> None:
        """A red round official seal (公章) with the issuer's name around the rim and a star."""
        c = self.c
        r = 42.0
        c.saveState()
        c.setStrokeColorRGB(*_RED)
        c.setFillColorRGB(*_RED)
        c.setLineWidth(2.4)
        c.circle(cx, cy, r, stroke=1, fill=0)
        # star
        pts = []
        for k in range(10):
            a = math.pi / 2 + k * math.pi / 5
            rr = 12.0 if k % 2 == 0 else 4.8
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        path = c.beginPath()
        path.moveTo(*pts[0])
        for p in pts[1:]:
            path.lineTo(*p)
        path.close()
        c.drawPath(path, stroke=0, fill=1)
        # name along the upper rim
        c.setFont(PDF_FONT, 9.5)
        n = len(issuer)
        span = min(250.0, 19.0 * n)
        for i, ch in enumerate(issuer):
            angle = 90 + span / 2 - (i + 0.5) * span / n
            c.saveState()
            c.translate(cx, cy)
            c.rotate(angle - 90)
            c.drawCentredString(0, r - 13, ch)
            c.restoreState()
        c.restoreState()

    def signature_block(self, content: PdfContent) -> None:
        if content.signatures:
            self.y -= 8
            for s in content.signatures:
                self.line(s + "________________")
        if content.issuer:
            self.ensure(110)
            self.y -= 10
            top = self.y
            self.line(content.issuer, right=True)
            self.line(content.date_text, right=True)
            self.seal(content.issuer, _PAGE_W - _MARGIN_X - 80 + self.rng.uniform(-6, 6), top - 20)
        elif content.date_text:
            self.line(content.date_text, right=True)

    def scan_page(self, jpeg: bytes, caption: str) -> None:
        from reportlab.lib.utils import ImageReader

        self.new_page()
        self.c.setFont(PDF_FONT, 10)
        self.c.drawString(_MARGIN_X, _PAGE_H - 40, caption)
        img = ImageReader(io.BytesIO(jpeg))
        iw, ih = img.getSize()
        box_w, box_h = _PAGE_W - 2 * _MARGIN_X, _PAGE_H - 140
        k = min(box_w / iw, box_h / ih)
        self.c.drawImage(img, (_PAGE_W - iw * k) / 2, 70, iw * k, ih * k)


def _render_pdf(rng: random.Random, content: PdfContent, attachments: Sequence[bytes]) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    _register_pdf_font()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(_PAGE_W, _PAGE_H), invariant=1, pageCompression=1)
    c.setTitle(content.title)
    c.setSubject(content.subject or content.title)
    c.setAuthor(content.author or (content.issuer or ""))
    c.setCreator("dangan demo data")
    layout = _PdfLayout(c, rng)
    if content.doc_number:
        layout.doc_number(content.doc_number)
    layout.title(content.title)
    if content.addressee:
        layout.line(content.addressee)
    if content.fields:
        layout.table(content.fields)
    for p in content.paragraphs:
        layout.paragraph(p)
    layout.signature_block(content)
    for i, jpeg in enumerate(attachments, 1):
        layout.scan_page(jpeg, f"附件{i}：纸质材料扫描件")
    layout.finish()
    c.save()
    return buf.getvalue()


def pdf_document(rng: random.Random, content: PdfContent, *, options: FileOptions = DEFAULT_OPTIONS) -> bytes:
    """A PDF (1–3 pages by default) with Chinese text in the built-in STSong-Light CID font.

    With ``options.min_file_bytes`` the PDF gets scanned attachment pages until it is big enough.
    """
    state = rng.getstate()
    data = _render_pdf(rng, content, ())
    if len(data) >= options.min_file_bytes:
        return data
    attachments: list[bytes] = []
    scan_rng = random.Random(rng.getrandbits(64))
    while True:
        missing = options.min_file_bytes - len(data)
        if missing <= 0:
            return data
        per_page = len(attachments[-1]) if attachments else 0
        more = max(1, math.ceil(missing / per_page)) if per_page else 1
        for _ in range(more):
            attachments.append(
                scan_jpeg(
                    scan_rng, ScanKind.SIGNED_FORM, (content.title,), options=FileOptions(scale=options.scale)
                )
            )
        rng.setstate(state)
        data = _render_pdf(rng, content, attachments)


# --- JPEG scans ----------------------------------------------------------------------------------


class ScanKind(StrEnum):
    ID_CARD = "id_card"  # copy of both sides of a resident ID card on A4
    BANK_CARD = "bank_card"
    SIGNED_FORM = "signed_form"  # a filled-in, signed and stamped paper form
    PAPER_CERT = "paper_cert"  # a paper certificate (e.g. 建设工程规划许可证)


@cache
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, px))


class _Sheet:
    """Drawing in millimetres on an A4 sheet at ``dpi``."""

    def __init__(self, dpi: float) -> None:
        self.dpi = dpi
        self.w = self.px(210)
        self.h = self.px(297)
        self.img = Image.new("RGB", (self.w, self.h), (247, 244, 236))
        self.draw = ImageDraw.Draw(self.img)

    def px(self, mm: float) -> int:
        return round(mm * self.dpi / 25.4)

    def box(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        width: float = 0.3,
        radius: float = 0.0,
        outline: tuple[int, int, int] = (40, 40, 40),
        fill: tuple[int, int, int] | None = None,
    ) -> None:
        xy = (self.px(x), self.px(y), self.px(x + w), self.px(y + h))
        lw = max(1, self.px(width))
        if radius:
            self.draw.rounded_rectangle(xy, radius=self.px(radius), outline=outline, width=lw, fill=fill)
        else:
            self.draw.rectangle(xy, outline=outline, width=lw, fill=fill)

    def text(
        self, x: float, y: float, s: str, *, size_mm: float = 3.2, color: tuple[int, int, int] = (30, 30, 30)
    ) -> None:
        self.draw.text((self.px(x), self.px(y)), s, fill=color, font=_font(self.px(size_mm)))

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        width: float = 0.25,
        color: tuple[int, int, int] = (40, 40, 40),
    ) -> None:
        self.draw.line(
            (self.px(x1), self.px(y1), self.px(x2), self.px(y2)), fill=color, width=max(1, self.px(width))
        )

    def scribble(
        self,
        rng: random.Random,
        x: float,
        y: float,
        w: float,
        h: float,
        color: tuple[int, int, int] = (20, 30, 110),
    ) -> None:
        """Handwriting-like strokes (a signature or a filled-in value)."""
        pts: list[tuple[int, int]] = []
        steps = max(6, int(w * 1.6))
        phase = rng.uniform(0, 6.28)
        for i in range(steps):
            t = i / (steps - 1)
            yy = y + h / 2 + math.sin(phase + t * rng.uniform(14, 22)) * h * 0.4 * rng.uniform(0.6, 1.0)
            pts.append((self.px(x + t * w), self.px(yy)))
        self.draw.line(pts, fill=color, width=max(1, self.px(0.35)), joint="curve")

    def stamp(self, rng: random.Random, cx: float, cy: float, r: float = 20.0) -> None:
        """A red ink stamp, slightly uneven."""
        red = (200, 40 + rng.randint(0, 30), 45)
        for k in range(2):
            rr = r - k * 1.3
            self.draw.ellipse(
                (self.px(cx - rr), self.px(cy - rr), self.px(cx + rr), self.px(cy + rr)),
                outline=red,
                width=max(1, self.px(0.8 if k == 0 else 0.3)),
            )
        star = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            rr = r * (0.3 if k % 2 == 0 else 0.12)
            star.append((self.px(cx + rr * math.cos(a)), self.px(cy + rr * math.sin(a))))
        self.draw.polygon(star, fill=red)
        for k in range(12):
            a = math.pi + (k + 0.5) * math.pi / 12
            self.draw.rectangle(
                (
                    self.px(cx + (r - 5) * math.cos(a) - 1.2),
                    self.px(cy + (r - 5) * math.sin(a) - 1.2),
                    self.px(cx + (r - 5) * math.cos(a) + 1.2),
                    self.px(cy + (r - 5) * math.sin(a) + 1.2),
                ),
                fill=red,
            )


def _card(
    sheet: _Sheet, rng: random.Random, x: float, y: float, lines: Sequence[str], *, photo: bool, emblem: bool
) -> None:
    w, h = 85.6 * 1.15, 54.0 * 1.15  # copies are usually slightly enlarged
    sheet.box(x, y, w, h, width=0.4, radius=4, outline=(70, 70, 70), fill=(236, 234, 228))
    for i in range(5):  # background guilloche-like lines, faint
        sheet.line(x + 3, y + 8 + i * 11, x + w - 3, y + 4 + i * 11, width=0.15, color=(205, 205, 200))
    if photo:
        px0 = x + w - 33
        sheet.box(px0, y + 10, 26, 33, width=0.2, outline=(120, 120, 120), fill=(200, 200, 198))
        sheet.draw.ellipse(
            (sheet.px(px0 + 7), sheet.px(y + 14), sheet.px(px0 + 19), sheet.px(y + 29)), fill=(120, 120, 118)
        )
        sheet.draw.pieslice(
            (sheet.px(px0 + 2), sheet.px(y + 30), sheet.px(px0 + 24), sheet.px(y + 54)),
            180,
            360,
            fill=(120, 120, 118),
        )
    if emblem:
        sheet.draw.ellipse(
            (sheet.px(x + 6), sheet.px(y + 6), sheet.px(x + 24), sheet.px(y + 24)),
            outline=(150, 60, 60),
            width=max(1, sheet.px(0.5)),
        )
    for i, s in enumerate(lines):
        sheet.text(x + (30 if emblem else 6), y + 9 + i * 8.5, s, size_mm=3.0)


def _draw_scan(sheet: _Sheet, rng: random.Random, kind: ScanKind, lines: Sequence[str]) -> None:
    latin = [s for s in lines if s.isascii()]
    if kind in (ScanKind.ID_CARD, ScanKind.BANK_CARD):
        front = latin[:5] or ["ID 000000000000000000"]
        if kind == ScanKind.ID_CARD:
            _card(sheet, rng, 53, 35 + rng.uniform(-3, 3), front, photo=True, emblem=False)
            back = ["RESIDENT IDENTITY CARD", *latin[5:8]]
            _card(sheet, rng, 53, 120 + rng.uniform(-3, 3), back, photo=False, emblem=True)
        else:
            _card(sheet, rng, 53, 50 + rng.uniform(-3, 3), front, photo=False, emblem=True)
        sheet.text(40, 205, "COPY - SAME AS ORIGINAL", size_mm=5, color=(30, 40, 120))
        sheet.scribble(rng, 115, 215, 45, 10)
        for i, s in enumerate(latin[8:10]):
            sheet.text(40, 240 + i * 8, s, size_mm=3.5, color=(30, 40, 120))
        return
    if kind == ScanKind.PAPER_CERT:
        sheet.box(12, 12, 186, 273, width=1.6, outline=(150, 110, 50))
        sheet.box(16, 16, 178, 265, width=0.4, outline=(150, 110, 50))
        sheet.draw.ellipse(
            (sheet.px(90), sheet.px(28), sheet.px(120), sheet.px(58)),
            outline=(170, 40, 40),
            width=max(1, sheet.px(0.8)),
        )
        for i, s in enumerate(latin[:12]):
            sheet.text(30, 75 + i * 10, s, size_mm=4.0)
        for i in range(6):
            sheet.line(30, 205 + i * 9, 180, 205 + i * 9, width=0.2, color=(150, 150, 150))
        sheet.stamp(rng, 150, 245, 19)
        return
    # SIGNED_FORM: a printed form filled in by hand, signed and stamped
    sheet.text(60, 18, (latin[0] if latin else "APPLICATION FORM")[:40], size_mm=6)
    rows = rng.randint(9, 13)
    top = 40.0
    row_h = 15.0
    sheet.box(20, top, 170, rows * row_h, width=0.45)
    for i in range(1, rows):
        sheet.line(20, top + i * row_h, 190, top + i * row_h)
    sheet.line(65, top, 65, top + rows * row_h)
    for i in range(rows):
        label = latin[1 + i] if 1 + i < len(latin) else f"ITEM {i + 1:02d}"
        sheet.text(23, top + i * row_h + 5, label[:18], size_mm=3.0)
        if rng.random() < 0.85:
            sheet.scribble(rng, 70, top + i * row_h + 3, rng.uniform(25, 100), 8)
    y = top + rows * row_h + 15
    sheet.text(23, y, "SIGNATURE", size_mm=3.5)
    sheet.scribble(rng, 60, y - 4, 50, 12, color=(15, 15, 15))
    sheet.text(23, y + 14, "DATE", size_mm=3.5)
    sheet.scribble(rng, 60, y + 10, 35, 8)
    sheet.stamp(rng, 150 + rng.uniform(-5, 5), y + 8 + rng.uniform(-5, 5), 18)


def _age(img: Image.Image, rng: random.Random) -> Image.Image:
    """Make a clean drawing look scanned: paper texture, dust, slight skew and softness."""
    w, h = img.size
    nw, nh = max(8, w // 6), max(8, h // 6)
    noise = Image.frombytes("L", (nw, nh), rng.randbytes(nw * nh)).point(lambda v: v * 14 // 255)
    noise = noise.resize((w, h), Image.Resampling.BILINEAR).convert("RGB")
    img = ImageChops.subtract(img, noise)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(15, 40)):  # dust
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.choice((1, 1, 1, 2))
        g = rng.randint(90, 170)
        draw.ellipse((x, y, x + r, y + r), fill=(g, g, g))
    # the bilinear resampling of the skew also gives the slight softness of a scanner
    return img.rotate(rng.uniform(-1.2, 1.2), resample=Image.Resampling.BILINEAR, fillcolor=(225, 225, 222))


def scan_jpeg(
    rng: random.Random, kind: ScanKind, lines: Sequence[str] = (), *, options: FileOptions = DEFAULT_OPTIONS
) -> bytes:
    """A JPEG "scan" of A4 paper (about 100 dpi by default, quality 85).

    ``lines`` are printed on the paper where they are ASCII (Pillow has no CJK font here), e.g. an ID
    number, a date, a certificate number.
    """
    dpi = min(600.0, 100.0 * math.sqrt(max(1.0, options.scale)))
    state = rng.getstate()
    for _ in range(6):
        rng.setstate(state)
        sheet = _Sheet(dpi)
        _draw_scan(sheet, rng, kind, lines)
        img = _age(sheet.img, rng)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85, dpi=(round(dpi), round(dpi)), optimize=False)
        data = buf.getvalue()
        if len(data) >= options.min_file_bytes or dpi >= 600:
            return data
        dpi = min(600.0, dpi * math.sqrt(options.min_file_bytes / len(data)) * 1.08)
    return data


# --- WAV ---------------------------------------------------------------------------------------

_SINE = [math.sin(2 * math.pi * i / 1024) for i in range(1024)]


def wav_recording(rng: random.Random, *, seconds: float = 4.0, rate: int = 8000) -> bytes:
    """8 kHz mono 16-bit PCM that sounds like two people talking (syllables with Mandarin-like tones)."""
    n = int(seconds * rate)
    samples = array.array("h", bytes(2 * n))
    speakers = (rng.uniform(100, 130), rng.uniform(190, 230))  # base pitch of the two speakers
    pos = int(rate * rng.uniform(0.15, 0.3))
    speaker = 0
    while pos < n - rate // 10:
        turn_end = min(n, pos + int(rate * rng.uniform(0.8, 2.2)))
        f_base = speakers[speaker]
        while pos < turn_end:
            length = int(rate * rng.uniform(0.12, 0.28))
            tone = rng.randrange(4)  # 阴平 flat, 阳平 rising, 上声 dipping, 去声 falling
            formant = rng.uniform(500, 1800)
            amp = rng.uniform(4000, 9000)
            phase = phase_f = 0.0
            end = min(n, pos + length)
            for i in range(pos, end):
                t = (i - pos) / length
                contour = (0.0, 0.25 * t, 0.2 * (2 * t - 1) ** 2 - 0.15, 0.2 - 0.35 * t)[tone]
                f0 = f_base * (1 + contour)
                phase = (phase + f0 * 1024 / rate) % 1024
                phase_f = (phase_f + formant * 1024 / rate) % 1024
                env = _SINE[int(512 * t) % 1024] if t < 1 else 0.0
                p = int(phase)
                v = _SINE[p] + 0.5 * _SINE[(2 * p) % 1024] + 0.3 * _SINE[(3 * p) % 1024]
                v = v * (0.7 + 0.3 * _SINE[int(phase_f)])
                samples[i] = int(max(-32000, min(32000, amp * env * v)))
            pos = end + int(rate * rng.uniform(0.02, 0.08))
        pos += int(rate * rng.uniform(0.25, 0.6))
        speaker = 1 - speaker
    hiss = rng.randbytes(n)
    for i in range(n):
        samples[i] = max(-32768, min(32767, samples[i] + (hiss[i] - 128) * 2))
    if sys.byteorder == "big":
        samples.byteswap()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


# --- MP4 ---------------------------------------------------------------------------------------


@cache
def video_codec() -> str:
    """MPEG-4 Part 2 (deterministic for a seed), else H.264 (libx264).

    The bundled libx264 gives different bytes for the same frames from run to run even with one
    thread, which would break "same seed, same bytes"; FFmpeg's own mpeg4 encoder does not.
    """
    import av

    for name in ("mpeg4", "libx264"):
        try:
            av.codec.Codec(name, "w")
        except Exception:  # noqa: S112 - codec not in this FFmpeg build
            continue
        return name
    raise RuntimeError("no usable video encoder in the bundled FFmpeg (need libx264 or mpeg4)")


def _site_frame(i: int, frames: int, rng_vals: Sequence[float], stamp: str, caption: str) -> Image.Image:
    w, h = 320, 240
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    for y in range(0, 150, 6):  # sky
        c = 150 + y // 3
        d.rectangle((0, y, w, y + 6), fill=(c - 40, c - 10, min(255, c + 60)))
    pan = int(i * 60 / frames)  # the camera pans right
    d.rectangle((0, 150, w, h), fill=(150, 120, 85))  # earth
    # building frame under construction
    bx = 60 - pan
    floors = 5
    for f in range(floors):
        y0 = 150 - (f + 1) * 18
        d.rectangle((bx, y0, bx + 120, y0 + 4), fill=(170, 170, 170))
        for k in range(5):
            d.rectangle((bx + k * 29, y0, bx + k * 29 + 5, y0 + 18), fill=(155, 155, 155))
    # crane: tower and a rotating jib
    cx = 230 - pan
    d.rectangle((cx, 40, cx + 8, 150), outline=(230, 180, 20), width=2)
    angle = -0.3 + 0.6 * i / frames
    jx = cx + 4 + int(110 * math.cos(angle))
    jy = 40 + int(20 * math.sin(angle))
    d.line(
        (cx + 4 - int(40 * math.cos(angle)), 40 - int(8 * math.sin(angle)), jx, jy),
        fill=(230, 180, 20),
        width=3,
    )
    d.line((jx - 20, jy, jx - 20, jy + 50 + int(10 * rng_vals[0])), fill=(60, 60, 60), width=1)
    # a truck driving by
    tx = int(-80 + (w + 160) * i / frames * rng_vals[1]) - pan // 2
    d.rectangle((tx, 175, tx + 60, 200), fill=(40, 90, 160))
    d.rectangle((tx + 60, 182, tx + 78, 200), fill=(30, 70, 130))
    for wx in (tx + 10, tx + 45, tx + 66):
        d.ellipse((wx, 196, wx + 10, 206), fill=(20, 20, 20))
    # on-screen data of a body camera / inspection recorder
    font = _font(12)
    d.rectangle((0, 0, w, 16), fill=(0, 0, 0))
    d.text((4, 2), stamp, fill=(255, 255, 255), font=font)
    d.text((4, h - 16), caption[:48], fill=(255, 255, 0), font=font)
    if i % 10 < 5:
        d.ellipse((w - 14, 4, w - 6, 12), fill=(230, 0, 0))  # REC dot
    return img


def mp4_video(
    rng: random.Random,
    *,
    start: datetime,
    caption: str,
    seconds: float = 2.5,
    fps: int = 10,
    options: FileOptions = DEFAULT_OPTIONS,
) -> bytes:
    """A short site-inspection clip (320x240, H.264 or MPEG-4, moving shapes, burnt-in timestamp)."""
    import av

    frames = max(2, int(seconds * fps * max(1.0, options.scale)))
    rng_vals = (rng.random(), rng.uniform(0.6, 1.0))
    codec = video_codec()
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", container_options={"fflags": "+bitexact"}) as container:
        container.metadata["creation_time"] = start.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        container.metadata["title"] = "现场勘验视频"
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.codec_context.thread_count = 1  # threaded encoders make bytes depend on timing
        stream.width = 320
        stream.height = 240
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            moment = start + timedelta(seconds=i / fps)
            img = _site_frame(i, frames, rng_vals, moment.strftime("%Y-%m-%d %H:%M:%S"), caption)
            frame = av.VideoFrame.from_image(img)  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


# --- OFD licence -------------------------------------------------------------------------------

OFD_NS = "http://www.ofdspec.org/2016"
_OFD = "{%s}" % OFD_NS  # noqa: UP031 - Clark notation prefix


def _ofd_el(
    tag: str, parent: etree._Element | None = None, text: str | None = None, **attrs: str
) -> etree._Element:
    el = (
        etree.Element(_OFD + tag, nsmap={"ofd": OFD_NS})
        if parent is None
        else etree.SubElement(parent, _OFD + tag)
    )
    for k, v in attrs.items():
        el.set(k, v)
    if text is not None:
        el.text = text
    return el


def _ofd_xml(root: etree._Element) -> bytes:
    # the declaration with double quotes, as OFD producers write it
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + bytes(
        etree.tostring(root, encoding="utf-8", xml_declaration=False)
    )


def _fmt(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return s or "0"


@dataclass(frozen=True)
class OfdLicense:
    """What an electronic licence (电子证照) shows."""

    title: str  # 营业执照
    number: str  # 证照编号
    holder: str  # 持证主体
    issuer: str  # 颁发机构
    issued: date
    valid_from: date
    valid_to: date | None  # None = 长期
    fields: Sequence[tuple[str, str]] = ()  # further rows (类型, 法定代表人, 住所, 建设规模 …)


def ofd_license(rng: random.Random, lic: OfdLicense, *, created: datetime) -> bytes:
    """An OFD (GB/T 33190) document with one A4 page carrying the licence as text objects."""
    doc_id = "%032x" % rng.getrandbits(128)  # noqa: UP031
    next_id = 0

    def new_id() -> str:
        nonlocal next_id
        next_id += 1
        return str(next_id)

    font_id = new_id()
    page_id = new_id()
    layer_id = new_id()

    page = _ofd_el("Page")
    content = _ofd_el("Content", page)
    layer = _ofd_el("Layer", content, ID=layer_id)

    def text(x: float, y: float, s: str, size: float, color: str = "0 0 0") -> None:
        widths = [size if not ch.isascii() else size * 0.5 for ch in s]
        w = sum(widths) + 1
        obj = _ofd_el(
            "TextObject",
            layer,
            ID=new_id(),
            Boundary=f"{_fmt(x)} {_fmt(y)} {_fmt(w)} {_fmt(size * 1.4)}",
            Font=font_id,
            Size=_fmt(size),
        )
        _ofd_el("FillColor", obj, Value=color)
        code = _ofd_el("TextCode", obj, s, X="0", Y=_fmt(size))
        if len(s) > 1:
            code.set("DeltaX", " ".join(_fmt(v) for v in widths[:-1]))

    # decorative double border
    border = _ofd_el(
        "PathObject", layer, ID=new_id(), Boundary="0 0 210 297", LineWidth="1.2", Stroke="true", Fill="false"
    )
    _ofd_el("StrokeColor", border, Value="176 120 40")
    _ofd_el(
        "AbbreviatedData",
        border,
        "M 10 10 L 200 10 L 200 287 L 10 287 C M 13 13 L 197 13 L 197 284 L 13 284 C",
    )

    title_size = 12.0 if len(lic.title) <= 6 else 9.0
    title_w = len(lic.title) * title_size
    text((210 - title_w) / 2, 30, lic.title, title_size)
    text(20, 58, f"证照编号：{lic.number}", 4.2)
    rows: list[tuple[str, str]] = [("持证主体", lic.holder), *lic.fields]
    valid = f"{lic.valid_from:%Y年%m月%d日}至{lic.valid_to:%Y年%m月%d日}" if lic.valid_to else "长期"
    rows.append(("有效期限", valid))
    y = 80.0
    for label, value in rows:
        text(25, y, f"{label}", 4.5)
        # long values wrap at ~30 characters
        for k in range(0, max(1, len(value)), 30):
            text(60, y, value[k : k + 30], 4.5)
            y += 8
        y += 3
    text(120, 240, lic.issuer, 5.0)
    text(125, 250, f"{lic.issued.year}年{lic.issued.month}月{lic.issued.day}日", 5.0)
    # the issuing authority's (picture of a) seal, red
    seal = _ofd_el(
        "PathObject", layer, ID=new_id(), Boundary="125 220 40 40", LineWidth="1", Stroke="true", Fill="false"
    )
    _ofd_el("StrokeColor", seal, Value="200 30 30")
    _ofd_el("AbbreviatedData", seal, "M 40 20 A 20 20 0 1 1 0 20 A 20 20 0 1 1 40 20 C")
    text(
        20,
        275,
        "国家企业信用信息公示系统网址：http://www.gsxt.gov.cn"
        if "营业执照" in lic.title
        else "本证照为电子证照，与纸质证照具有同等法律效力",
        3.2,
        "90 90 90",
    )
    max_id = next_id

    document = _ofd_el("Document")
    common = _ofd_el("CommonData", document)
    _ofd_el("MaxUnitID", common, str(max_id))
    area = _ofd_el("PageArea", common)
    _ofd_el("PhysicalBox", area, "0 0 210 297")
    _ofd_el("ApplicationBox", area, "0 0 210 297")
    _ofd_el("PublicRes", common, "PublicRes.xml")
    pages = _ofd_el("Pages", document)
    _ofd_el("Page", pages, ID=page_id, BaseLoc="Pages/Page_0/Content.xml")

    res = _ofd_el("Res")
    fonts = _ofd_el("Fonts", res)
    _ofd_el("Font", fonts, ID=font_id, FontName="宋体", FamilyName="宋体")

    ofd = _ofd_el("OFD", Version="1.0", DocType="OFD")
    body = _ofd_el("DocBody", ofd)
    info = _ofd_el("DocInfo", body)
    _ofd_el("DocID", info, doc_id)
    _ofd_el("Title", info, lic.title)
    _ofd_el("Author", info, lic.issuer)
    _ofd_el("Subject", info, f"{lic.title} {lic.number}")
    _ofd_el("CreationDate", info, created.date().isoformat())
    _ofd_el("Creator", info, "dangan demo data")
    _ofd_el("CreatorVersion", info, "1.0")
    _ofd_el("DocRoot", body, "Doc_0/Document.xml")

    return zip_bytes(
        [
            ("OFD.xml", _ofd_xml(ofd)),
            ("Doc_0/Document.xml", _ofd_xml(document)),
            ("Doc_0/PublicRes.xml", _ofd_xml(res)),
            ("Doc_0/Pages/Page_0/Content.xml", _ofd_xml(page)),
        ],
        moment=created,
    )


__all__ = [
    "DEFAULT_OPTIONS",
    "OFD_NS",
    "FileOptions",
    "OfdLicense",
    "PdfContent",
    "ScanKind",
    "mp4_video",
    "ofd_license",
    "pdf_document",
    "scan_jpeg",
    "video_codec",
    "wav_recording",
    "zip_bytes",
    "zip_date_time",
    "zip_info",
]
