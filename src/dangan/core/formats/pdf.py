"""PDF validation with pikepdf (qpdf): opens, structure check, encryption, PDF/A claim, active content.

Decompression is bounded everywhere:

- qpdf's per-stream memory limits (Flate, RunLength, DCT, PNG/TIFF predictors) are set to
  ``Limits.max_stream_bytes`` before any file is opened. They are process-wide and only ever
  tightened here, never loosened.
- The structure check (what ``Pdf.check_pdf_syntax`` does: decode every stream, parse every page's
  content) is done stream by stream so that it can stop: at a stream that would decode past the
  per-stream limit, when all decoded data passes ``max(Limits.max_decoded_bytes,
  Limits.decoded_ratio × file size)``, or when the time budget is spent. Streams whose filters
  qpdf sets no memory limit for (LZW, ASCII85) are decoded only when their input is small enough
  that the worst case stays under the per-stream limit.
- The XMP metadata is read raw and inflated here with zlib under the XML size cap.
"""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import settings as qpdf_settings

from dangan.core import xmlsafe
from dangan.core.errors import MetadataError
from dangan.core.formats.limits import DEFAULT_LIMITS, BudgetExceeded, Deadline, Limits, size_text
from dangan.core.formats.result import DECRYPT_RULE, Validation, describe_error, invalid

TOOL = f"pikepdf {pikepdf.__version__} (qpdf {pikepdf.__libqpdf_version__})"
PDFAID_NS = "http://www.aiim.org/pdfa/ns/id/"
MAX_OBJECTS_SCANNED = 500_000
MAX_PROBLEMS_LISTED = 10
MAX_XMP_FILTERS = 3
JPEG_HEAD_BYTES = 1024 * 1024  # a JPEG's frame header is looked for in this much decoded data
DCT_MAX_PROGRESSIVE_SCANS = 100  # real progressive JPEGs have about 10; each scan rereads the image
_CHECK_EVERY = 64  # streams or pages between time-budget checks
_TOKENS_BETWEEN_CHECKS = 20_000

# Actions that run code or reach outside the document (ISO 32000-1 12.6.4).
_RISKY_ACTIONS = {
    "/JavaScript": "JavaScript action",
    "/Launch": "Launch action (starts an external program or opens a file)",
    "/ImportData": "ImportData action (loads external form data)",
    "/SubmitForm": "SubmitForm action (sends form data to a URL)",
    "/GoToE": "GoToE action (opens an embedded document)",
    "/Rendition": "Rendition action (may carry JavaScript)",
}

# Filters qpdf decodes in its structure check, by full name and abbreviation. Output of the capped
# ones is bounded by qpdf's memory limits; the others grow at most by the factor given.
_CAPPED = {"/FlateDecode": 1032, "/Fl": 1032, "/RunLengthDecode": 64, "/RL": 64}
_GROWTH = {"/LZWDecode": 2731, "/LZW": 2731, "/ASCII85Decode": 4, "/A85": 4}
_SHRINK = {"/ASCIIHexDecode", "/AHx"}
_DCT = {"/DCTDecode", "/DCT"}
_LIMIT_HIT = "memory limit exceeded"


def harden_qpdf(limits: Limits = DEFAULT_LIMITS) -> None:
    """Set qpdf's per-stream decoding limits to at most ``limits.max_stream_bytes`` (process-wide).

    A limit already stricter (set by an earlier call or by the application) is kept.
    """
    cap = max(1, limits.max_stream_bytes)
    current = qpdf_settings.get_qpdf_limits()

    def tighter(name: str, value: int) -> int | None:
        now = int(current[name])
        return value if now == 0 or now > value else None  # None: leave as it is

    qpdf_settings.set_qpdf_limits(
        flate_max_memory=tighter("flate_max_memory", cap),
        run_length_max_memory=tighter("run_length_max_memory", cap),
        png_max_memory=tighter("png_max_memory", cap),
        tiff_max_memory=tighter("tiff_max_memory", cap),
        dct_max_memory=tighter("dct_max_memory", cap),
        dct_max_progressive_scans=tighter("dct_max_progressive_scans", DCT_MAX_PROGRESSIVE_SCANS),
    )


MAX_SIGNATURE_FIELDS = 1000


def validate_pdf(path: Path, limits: Limits = DEFAULT_LIMITS) -> Validation:
    harden_qpdf(limits)
    deadline = limits.deadline()
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return Validation(
            "invalid",
            TOOL,
            encrypted=True,
            problems=[f"encrypted with a user password, so it cannot be opened without it; {DECRYPT_RULE}"],
        )
    except Exception as exc:  # pikepdf.PdfError and anything qpdf raises on hostile input
        return invalid(TOOL, f"cannot be opened as PDF: {describe_error(exc)}")
    with pdf:
        return _inspect(pdf, limits, deadline, path.stat().st_size)


def _inspect(pdf: pikepdf.Pdf, limits: Limits, deadline: Deadline, file_size: int) -> Validation:
    result = Validation("valid", TOOL)
    details = result.details
    opened_warnings = list(pdf.get_warnings())
    details["version"] = pdf.pdf_version
    if pdf.is_encrypted:
        result.encrypted = True
        enc = pdf.encryption
        details["encryption"] = {"R": enc.R, "bits": enc.bits, "method": str(enc.stream_method), "P": enc.P}
        result.problems.append(f"encrypted (standard security handler revision {enc.R}); {DECRYPT_RULE}")
    try:
        details["pages"] = len(pdf.pages)
    except Exception as exc:
        result.status = "invalid"
        result.problems.append(f"page tree is broken: {describe_error(exc)}")
        return result
    if details["pages"] == 0:
        result.status = "invalid"
        result.problems.append("the document has no pages")
    check = _StructureCheck(pdf, limits, deadline, file_size)
    refused = None
    try:
        check.run()
    except BudgetExceeded as exc:
        refused = exc.message
    syntax = check.errors + [str(w) for w in pdf.get_warnings()]
    details["structure_check"] = check.summary()
    repaired = [w for w in opened_warnings if "reconstruct" in w.lower() or "xref" in w.lower()]
    if repaired:
        details["repaired"] = True
        result.problems.append(
            "the cross-reference table is damaged; qpdf rebuilt it to open the file: " + _first(repaired)
        )
    if refused is not None:
        result.status = "invalid"
        result.problems.append(refused)
    other = [w for w in opened_warnings if w not in repaired] + syntax
    if other:
        details["structure_errors"] = other[:MAX_PROBLEMS_LISTED]
        result.status = "invalid"
        result.problems.append(f"{len(other)} structure error(s), first: {_first(other)}")
    if check.skipped_risky:
        result.problems.append(
            f"{sum(check.skipped_risky.values())} stream(s) not decoded by the structure check: "
            + "; ".join(f"{k} ({n}×)" for k, n in sorted(check.skipped_risky.items()))
        )
    _pdfa(pdf, result)
    _active_content(pdf, result, deadline)
    _signature_fields(pdf, result)
    return result


def _signature_fields(pdf: pikepdf.Pdf, result: Validation) -> None:
    """Count signed signature fields (AcroForm /FT /Sig with a value): check 1-1 must say it did not
    verify them rather than stay silent."""
    signed = 0
    try:
        form = pdf.Root.get("/AcroForm")
        fields = form.get("/Fields") if isinstance(form, pikepdf.Dictionary) else None
        for field in list(fields or [])[:MAX_SIGNATURE_FIELDS]:
            if isinstance(field, pikepdf.Dictionary) and field.get("/FT") == "/Sig" and "/V" in field:
                signed += 1
    except (pikepdf.PdfError, AttributeError, TypeError, ValueError):
        result.problems.append("signature fields could not be read")
    result.details["signatures"] = signed


# --- structure check --------------------------------------------------------------------------


class _Stop(Exception):
    """Raised from the content-stream parser callback to abandon parsing."""


class _DiscardingParser(pikepdf.StreamParser):
    """Parses a page's content and discards it; stops when the time budget is spent."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()  # required for C++
        self._deadline = deadline
        self._tokens = 0

    def handle_object(self, *_args: Any) -> None:
        self._tokens += 1
        if self._tokens % _TOKENS_BETWEEN_CHECKS == 0 and self._deadline.expired():
            raise _Stop

    def handle_eof(self) -> None:
        pass


def _within_pillow_limit(frame: tuple[int, int, int, int]) -> bool:
    """Pillow refuses images over its decompression-bomb size (our own per-stream limit is checked
    before): a larger scan is decoded by qpdf instead, as before the Pillow path existed."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    return limit is None or frame[0] * frame[1] <= limit


class _StructureCheck:
    """qpdf's check (every stream decoded, every page's content parsed), within the limits."""

    def __init__(self, pdf: pikepdf.Pdf, limits: Limits, deadline: Deadline, file_size: int) -> None:
        self.pdf = pdf
        self.limits = limits
        self.deadline = deadline
        self.budget = max(limits.max_decoded_bytes, limits.decoded_ratio * file_size)
        self.decoded = 0
        self.streams = 0
        self.decoded_streams = 0
        self.errors: list[str] = []
        self.sizes: dict[tuple[int, int], int] = {}  # decoded size of each stream decoded (or unfiltered)
        self.skipped: dict[str, int] = {}  # filters qpdf never decodes (JPX, JBIG2, CCITT …)
        self.undecodable: dict[tuple[int, int], str] = {}  # those streams, with their filters
        self.skipped_risky: dict[str, int] = {}  # filters qpdf decodes but we did not, and why
        self.pages_parsed = 0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "streams": self.streams,
            "decoded": self.decoded_streams,
            "decoded_bytes": self.decoded,
            "pages_parsed": self.pages_parsed,
        }
        if self.skipped:
            out["not_decodable"] = dict(sorted(self.skipped.items()))
        if self.skipped_risky:
            out["not_decoded"] = dict(sorted(self.skipped_risky.items()))
        return out

    def run(self) -> None:
        try:
            for obj in self.pdf.objects:
                if isinstance(obj, pikepdf.Stream):
                    self.streams += 1
                    if self.streams % _CHECK_EVERY == 0:
                        self.deadline.check(f"decoding stream {self.streams}")
                    self._guarded(self._stream, obj)
            for n, page in enumerate(self.pdf.pages, 1):
                if n % _CHECK_EVERY == 0:
                    self.deadline.check(f"parsing the content of page {n}")
                self._guarded(self._page, page, n)
        except BudgetExceeded:
            raise
        except Exception as exc:  # qpdf errors while walking the objects of a hostile file
            self.errors.append(f"structure check failed: {describe_error(exc)}")

    def _guarded(self, step: Any, *args: Any) -> None:
        try:
            step(*args)
        except BudgetExceeded:
            raise
        except Exception as exc:  # one broken object must not hide the others
            self.errors.append(f"structure check failed on {args[0]!r:.80}: {describe_error(exc)}")

    def _stream(self, obj: pikepdf.Stream) -> None:
        og = obj.objgen
        label = f"stream {og[0]} {og[1]} R"
        filters = stream_filters(obj)
        if filters is None:
            self.errors.append(f"{label}: /Filter is not a name or an array of names")
            return
        if not filters:
            declared = obj.stream_dict.get("/Length")
            self.sizes[og] = (
                int(declared) if isinstance(declared, int) and not isinstance(declared, bool) else 0
            )
            return
        unknown = [f for f in filters if f not in _CAPPED and f not in _GROWTH and f not in _SHRINK
                   and f not in _DCT]  # fmt: skip
        if unknown:
            key = "/".join(f.lstrip("/") for f in unknown)
            self.skipped[key] = self.skipped.get(key, 0) + 1
            self.undecodable[og] = key
            return
        raw = obj.read_raw_bytes()
        cap = self.limits.max_stream_bytes
        dct = next((i for i, f in enumerate(filters) if f in _DCT), None)
        if dct is not None and dct != len(filters) - 1:
            self._skip_risky("filters after DCTDecode")
            return
        bound = chain_bound(len(raw), filters if dct is None else filters[:dct], cap)
        if isinstance(bound, str):
            self._skip_risky(bound)
            return
        if dct is not None:
            head: bytes | None = raw
            frame = None
            for n in (16 * 1024, JPEG_HEAD_BYTES) if dct else (len(raw),):
                head = raw if dct == 0 else filtered_head(raw, filters[:dct], n)
                frame = jpeg_frame(head) if head is not None else None
                if frame is not None or head is None or len(head) < n:
                    break
            if frame is None:
                if dct == 0 or (head is not None and len(head) < JPEG_HEAD_BYTES):
                    self.errors.append(f"{label}: DCTDecode data without a readable JPEG frame header")
                else:
                    self._skip_risky(f"JPEG frame header not found in the first {size_text(JPEG_HEAD_BYTES)}")
                return
            width, height, components, precision = frame
            bound = width * height * components * (2 if precision > 8 else 1)
            if bound > cap:
                raise BudgetExceeded(
                    f"{label} is a {width}×{height} JPEG that decodes to {size_text(bound)}, over the "
                    f"{size_text(cap)} limit per stream (possible decompression bomb); not decoded"
                )
        if dct == 0 and frame is not None and _baseline_jpeg(raw) and _within_pillow_limit(frame):
            self._jpeg_stream(label, og, raw, bound)
            return
        del raw
        try:
            size = len(obj.read_bytes(decode_level=pikepdf.StreamDecodeLevel.all))
        except pikepdf.PdfError as exc:
            if _LIMIT_HIT in str(exc).lower():
                raise BudgetExceeded(
                    f"{label} decodes to more than {size_text(cap)}, the limit per stream "
                    "(possible decompression bomb); refused"
                ) from None
            self.errors.append(f"{label} cannot be decoded: {describe_error(exc)}")
            return
        self.decoded_streams += 1
        self.sizes[og] = size
        self._count(size, f"decoding {label}")

    def _jpeg_stream(self, label: str, og: tuple[int, int], raw: bytes, size: int) -> None:
        """A plain sequential DCTDecode stream (an embedded JPEG, usually a scan) decoded with
        libjpeg through Pillow at 1/8 scale: every scan is read and every coefficient entropy-decoded,
        so damaged data fails as in qpdf's full decode, at a third of the cost (see
        ``images._scaled_jpeg_decode``). Its decoded size is what a full decode gives: width × height
        × components. Progressive JPEGs still go through qpdf, which limits their number of scans."""
        import io

        from PIL import Image

        try:
            with Image.open(io.BytesIO(raw), formats=["JPEG"]) as img:
                width, height = img.size
                img.draft(img.mode, (max(1, -(-width // 8)), max(1, -(-height // 8))))
                img.load()
        except Exception as exc:  # OSError (truncated, broken data), SyntaxError, ValueError …
            self.errors.append(f"{label} cannot be decoded: {describe_error(exc)}")
            return
        self.decoded_streams += 1
        self.sizes[og] = size
        self._count(size, f"decoding {label}")

    def _skip_risky(self, why: str) -> None:
        self.skipped_risky[why] = self.skipped_risky.get(why, 0) + 1

    def _count(self, size: int, doing: str) -> None:
        self.decoded += size
        if self.decoded > self.budget:
            raise BudgetExceeded(
                f"the streams decode to more than {size_text(self.budget)} in all (the limit for a file of "
                f"this size; stopped while {doing}); refused as a possible decompression bomb"
            )

    def _page(self, page: pikepdf.Page, n: int) -> None:
        contents = page.obj.get("/Contents")
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        total = 0
        for s in streams:
            if s is None:
                continue
            if not isinstance(s, pikepdf.Stream):
                self.errors.append(f"page {n}: /Contents holds a non-stream object")
                return
            if s.objgen in self.undecodable:
                self.errors.append(
                    f"page {n}: content stream {s.objgen[0]} {s.objgen[1]} R cannot be decoded "
                    f"(filter {self.undecodable[s.objgen]})"
                )
                return
            size = self.sizes.get(s.objgen)
            if size is None:
                return  # not decoded above (broken, or skipped as risky): parsing would decode it unbounded
            total += size
        if total > self.limits.max_stream_bytes:
            raise BudgetExceeded(
                f"the content streams of page {n} decode to {size_text(total)} together, over the "
                f"{size_text(self.limits.max_stream_bytes)} limit (possible decompression bomb); not parsed"
            )
        self._count(total, f"parsing the content of page {n}")
        try:
            page.parse_contents(_DiscardingParser(self.deadline))
        except _Stop:
            self.deadline.check(f"parsing the content of page {n}")
        except pikepdf.PdfError as exc:
            self.errors.append(f"page {n}: content cannot be parsed: {describe_error(exc)}")
        self.pages_parsed += 1


def chain_bound(raw_size: int, filters: list[str], cap: int) -> int | str:
    """An upper bound of the decoded size through ``filters`` (none of them DCT), or why there is none.

    qpdf stops the capped filters (Flate, RunLength) at ``cap``; LZW and ASCII85 grow without a
    limit, so a chain whose bound after one of those passes ``cap`` is not decoded at all.
    """
    bound = raw_size
    for f in filters:
        if f in _CAPPED:
            bound = min(bound * _CAPPED[f], cap)
        elif f in _GROWTH:
            bound *= _GROWTH[f]
            if bound > cap:
                return (
                    f"{f.lstrip('/')} whose output could exceed {size_text(cap)} (qpdf sets no limit for it)"
                )
        else:
            bound = bound // 2 + 1
    return bound


def filtered_head(data: bytes, filters: list[str], n: int) -> bytes | None:
    """About the first ``n`` bytes of ``data`` decoded through ``filters`` (Flate, ASCII85, ASCIIHex),
    decoding only what that needs; None if a filter cannot be applied here or the data is broken."""
    for f in filters:
        try:
            if f in ("/FlateDecode", "/Fl"):
                data = zlib.decompressobj().decompress(data[: n * 4 + 1024], n)
            elif f in ("/ASCII85Decode", "/A85"):
                text = re.sub(rb"[\x00\t\n\x0c\r ]", b"", data[: n * 2 + 1024])
                text = text.removeprefix(b"<~").split(b"~>", 1)[0]
                data = base64.a85decode(text[: n * 5 // 4 + 10])[:n]
            elif f in ("/ASCIIHexDecode", "/AHx"):
                digits = re.sub(rb"[^0-9A-Fa-f>]", b"", data[: n * 3 + 1024]).split(b">", 1)[0]
                digits = digits[: n * 2]
                data = bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))
            else:
                return None
        except (zlib.error, ValueError):
            return None
    return data


def stream_filters(obj: pikepdf.Stream) -> list[str] | None:
    """The stream's filter names in order ([] for none), or None if /Filter is malformed."""
    value = obj.stream_dict.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Name):
        return [_name(value)]
    if isinstance(value, pikepdf.Array):
        names = [_name(v) for v in value if isinstance(v, pikepdf.Name)]
        return names if len(names) == len(value) else None
    return None


def _name(name: pikepdf.Name) -> str:
    try:
        return str(name)
    except UnicodeDecodeError:  # a name that is not UTF-8 is no filter qpdf knows
        return "/(undecodable name)"


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _baseline_jpeg(data: bytes) -> bool:
    """True if the JPEG's first frame marker is SOF0 or SOF1 (sequential Huffman, not progressive)."""
    if data[:2] != b"\xff\xd8":
        return False
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xC0, 0xC1):
            return True
        if 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return False  # progressive, lossless, arithmetic: qpdf decodes those
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        pos += 2 + ((data[pos + 2] << 8) | data[pos + 3])
    return False


def jpeg_frame(data: bytes) -> tuple[int, int, int, int] | None:
    """(width, height, components, precision) from a JPEG's frame header, None if not found."""
    if data[:2] != b"\xff\xd8":
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        if marker in _SOF:
            if pos + 10 > end:
                return None
            precision = data[pos + 4]
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height, data[pos + 9], precision
        pos += 2 + length
    return None


def _first(items: list[str]) -> str:
    text = items[0]
    return text[:300]


# --- PDF/A claim --------------------------------------------------------------------------------


class _Unreadable(Exception):
    pass


def read_stream_bounded(stream: pikepdf.Stream, cap: int) -> bytes:
    """The decoded data of ``stream`` if it is unfiltered or FlateDecode (up to MAX_XMP_FILTERS
    times, no predictor) and at most ``cap`` bytes; otherwise _Unreadable saying why.

    The raw data is read (it is no larger than the file) and inflated here with a bounded zlib
    decoder, so a compressed bomb costs at most ``cap`` bytes per stage, never its full size.
    """
    declared = stream.stream_dict.get("/Length")
    if isinstance(declared, int) and not isinstance(declared, bool) and int(declared) > cap:
        raise _Unreadable(f"its raw data is {int(declared)} bytes, over the {size_text(cap)} limit")
    filters = stream_filters(stream)
    if filters is None:
        raise _Unreadable("its /Filter is malformed")
    if any(f not in ("/FlateDecode", "/Fl") for f in filters):
        raise _Unreadable(f"it is encoded with {' '.join(filters)}; only FlateDecode is decoded here")
    if len(filters) > MAX_XMP_FILTERS:
        raise _Unreadable(f"it has {len(filters)} filters (at most {MAX_XMP_FILTERS} are decoded)")
    parms = stream.stream_dict.get("/DecodeParms")
    for p in parms if isinstance(parms, pikepdf.Array) else [parms]:
        if isinstance(p, pikepdf.Dictionary) and p.get("/Predictor") not in (None, 1):
            raise _Unreadable("it uses a predictor, which is not decoded here")
    data = stream.read_raw_bytes()
    if len(data) > cap:
        raise _Unreadable(f"its raw data is {len(data)} bytes, over the {size_text(cap)} limit")
    for n in range(len(filters)):
        data = inflate_bounded(data, cap, stage=n + 1)
    return data


def inflate_bounded(data: bytes, cap: int, *, stage: int = 1) -> bytes:
    """zlib-inflate ``data``, refusing (``_Unreadable``) as soon as the output passes ``cap``."""
    decoder = zlib.decompressobj()
    try:
        out = decoder.decompress(data, cap + 1)
    except zlib.error as exc:
        raise _Unreadable(f"FlateDecode stage {stage} fails: {exc}") from None
    if len(out) > cap or decoder.unconsumed_tail:
        raise _Unreadable(
            f"FlateDecode stage {stage} inflates to more than {size_text(cap)} (possible decompression bomb)"
        )
    return out


_PART = re.compile(r"[1-9]", re.ASCII)
_CONFORMANCE = re.compile(r"[A-Za-z]?", re.ASCII)


def _pdfa(pdf: pikepdf.Pdf, result: Validation) -> None:
    """The PDF/A claim of the XMP metadata (pdfaid:part + pdfaid:conformance), e.g. "2B".

    ``details["pdfa"]`` is the claim or None; ``details["pdfa_status"]`` is "claimed", "none" (no
    metadata or no pdfaid:part) or "unknown" (the metadata could not be read within the limits or
    the claim is malformed; ``problems`` says why). Only "claimed" means the file claims PDF/A.
    """
    details = result.details
    details["pdfa"] = None
    details["pdfa_status"] = "unknown"
    try:
        metadata = pdf.Root.get("/Metadata")
        if metadata is None:
            details["pdfa_status"] = "none"
            return
        if not isinstance(metadata, pikepdf.Stream):
            result.problems.append("PDF/A claim unknown: /Metadata is not a stream")
            return
        xmp = read_stream_bounded(metadata, xmlsafe.MAX_XML_BYTES)
    except _Unreadable as exc:
        result.problems.append(f"PDF/A claim unknown: the XMP metadata stream is not read because {exc}")
        return
    except Exception as exc:
        result.problems.append(
            f"PDF/A claim unknown: XMP metadata stream cannot be read: {describe_error(exc)}"
        )
        return
    try:
        root = xmlsafe.parse(xmp, name="XMP metadata")
    except MetadataError as exc:
        result.problems.append(f"PDF/A claim unknown: {exc.message}")
        return
    part = conformance = None
    for el in root.iter():
        if isinstance(el.tag, str):
            part = part or _pdfaid(el, "part")
            conformance = conformance or _pdfaid(el, "conformance")
    if part is None:
        details["pdfa_status"] = "none"
        return
    conformance = conformance or ""
    if not _PART.fullmatch(part) or not _CONFORMANCE.fullmatch(conformance):
        result.problems.append(
            f"PDF/A claim unknown: pdfaid:part {part[:20]!r} / pdfaid:conformance {conformance[:20]!r} "
            "is not a PDF/A part number and conformance level"
        )
        return
    details["pdfa"] = f"{part}{conformance.upper()}"
    details["pdfa_status"] = "claimed"


def _pdfaid(el: Any, name: str) -> str | None:
    """pdfaid:``name`` as an attribute of ``el`` or as ``el`` itself, stripped; None if absent or empty."""
    value = el.get(f"{{{PDFAID_NS}}}{name}")
    if value is None and el.tag == f"{{{PDFAID_NS}}}{name}":
        value = el.text
    value = (value or "").strip()
    return value or None


# --- active content -----------------------------------------------------------------------------


def _active_content(pdf: pikepdf.Pdf, result: Validation, deadline: Deadline) -> None:
    found: dict[str, int] = {}
    embedded = 0

    def note(kind: str) -> None:
        found[kind] = found.get(kind, 0) + 1

    try:
        root = pdf.Root
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary) and "/JavaScript" in names:
            note("document-level JavaScript (/Names /JavaScript)")
        acroform = root.get("/AcroForm")
        if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
            note("XFA form (may carry scripts)")
        for n, obj in enumerate(pdf.objects):
            if n >= MAX_OBJECTS_SCANNED:
                result.details["active_content_scan"] = f"stopped after {MAX_OBJECTS_SCANNED} objects"
                break
            if n % 4096 == 0 and deadline.expired():
                result.details["active_content_scan"] = f"stopped after {n} objects: time budget spent"
                result.problems.append(f"active-content scan incomplete: time budget spent after {n} objects")
                break
            d: Any = obj
            if isinstance(obj, pikepdf.Stream):
                d = obj.stream_dict
            elif not isinstance(obj, pikepdf.Dictionary):
                continue
            kind = d.get("/S")
            if isinstance(kind, pikepdf.Name) and str(kind) in _RISKY_ACTIONS:
                note(_RISKY_ACTIONS[str(kind)])
            elif "/JS" in d:
                note(_RISKY_ACTIONS["/JavaScript"])
            if d.get("/Type") == pikepdf.Name.EmbeddedFile:
                embedded += 1
    except Exception as exc:
        result.problems.append(f"active-content scan failed: {describe_error(exc)}")
    result.details["embedded_files"] = embedded
    result.details["active_content"] = sorted(found)
    for kind, count in sorted(found.items()):
        result.problems.append(f"contains {kind} ({count}×)")
