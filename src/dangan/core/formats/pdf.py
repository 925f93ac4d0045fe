"""PDF validation with pikepdf (qpdf): opens, structure check, encryption, PDF/A claim, active content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pikepdf

from dangan.core import xmlsafe
from dangan.core.errors import MetadataError
from dangan.core.formats.result import DECRYPT_RULE, Validation, describe_error, invalid

TOOL = f"pikepdf {pikepdf.__version__} (qpdf {pikepdf.__libqpdf_version__})"
PDFAID_NS = "http://www.aiim.org/pdfa/ns/id/"
MAX_OBJECTS_SCANNED = 500_000
MAX_PROBLEMS_LISTED = 10

# Actions that run code or reach outside the document (ISO 32000-1 12.6.4).
_RISKY_ACTIONS = {
    "/JavaScript": "JavaScript action",
    "/Launch": "Launch action (starts an external program or opens a file)",
    "/ImportData": "ImportData action (loads external form data)",
    "/SubmitForm": "SubmitForm action (sends form data to a URL)",
    "/GoToE": "GoToE action (opens an embedded document)",
    "/Rendition": "Rendition action (may carry JavaScript)",
}


def validate_pdf(path: Path) -> Validation:
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
        return _inspect(pdf)


def _inspect(pdf: pikepdf.Pdf) -> Validation:
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
    syntax = _check_syntax(pdf)
    repaired = [w for w in opened_warnings if "reconstruct" in w.lower() or "xref" in w.lower()]
    if repaired:
        details["repaired"] = True
        result.problems.append(
            "the cross-reference table is damaged; qpdf rebuilt it to open the file: " + _first(repaired)
        )
    other = [w for w in opened_warnings if w not in repaired] + syntax
    if other:
        details["structure_errors"] = other[:MAX_PROBLEMS_LISTED]
        result.status = "invalid"
        result.problems.append(f"{len(other)} structure error(s), first: {_first(other)}")
    _pdfa(pdf, result)
    _active_content(pdf, result)
    return result


def _check_syntax(pdf: pikepdf.Pdf) -> list[str]:
    """qpdf's check (every object parsed, every stream decoded); errors and warnings as strings."""
    check = getattr(pdf, "check_pdf_syntax", None) or getattr(pdf, "check", None)
    if check is None:  # pragma: no cover - every supported pikepdf has one of the two
        return []
    try:
        found = [str(p) for p in check()]
    except Exception as exc:
        found = [f"structure check failed: {describe_error(exc)}"]
    found += [str(w) for w in pdf.get_warnings()]
    return found


def _first(items: list[str]) -> str:
    text = items[0]
    return text[:300]


def _pdfa(pdf: pikepdf.Pdf, result: Validation) -> None:
    """The PDF/A claim of the XMP metadata (pdfaid:part + pdfaid:conformance), e.g. "2B"."""
    try:
        metadata = pdf.Root.get("/Metadata")
        if not isinstance(metadata, pikepdf.Stream):
            result.details["pdfa"] = None
            return
        xmp = metadata.read_bytes()
    except Exception as exc:
        result.problems.append(f"XMP metadata stream cannot be read: {describe_error(exc)}")
        result.details["pdfa"] = None
        return
    try:
        root = xmlsafe.parse(xmp, name="XMP metadata")
    except MetadataError as exc:
        result.problems.append(exc.message)
        result.details["pdfa"] = None
        return
    part = conformance = None
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        part = part or el.get(f"{{{PDFAID_NS}}}part")
        conformance = conformance or el.get(f"{{{PDFAID_NS}}}conformance")
        if el.tag == f"{{{PDFAID_NS}}}part":
            part = part or (el.text or "").strip()
        elif el.tag == f"{{{PDFAID_NS}}}conformance":
            conformance = conformance or (el.text or "").strip()
    result.details["pdfa"] = f"{part}{(conformance or '').upper()}" if part else None


def _active_content(pdf: pikepdf.Pdf, result: Validation) -> None:
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
