"""ZIP, office packages (OOXML, OpenDocument) and OLE2 documents: structure and encryption.

What is checked:

- ZIP: the central directory reads, every entry's CRC matches (entries are streamed, never stored),
  encrypted entries (general-purpose flag bit 0) are reported. A ZIP whose entries declare more than
  ``Limits.max_zip_bytes`` uncompressed, or whose CRC check outlasts the time budget, is invalid:
  it is never called valid without its CRCs checked.
- DOCX/XLSX/PPTX/ODT/ODS/ODP/EPUB/XPS: the same ZIP checks, then the package's own index
  ([Content_Types].xml or META-INF/manifest.xml) and its main part are well-formed XML (through the
  safe parser). VBA projects are reported. The content is not rendered: format migration converts it.
- Encrypted OOXML (an OLE2 file holding EncryptionInfo + EncryptedPackage) cannot be opened: invalid.
- DOC/XLS/PPT: the compound-file directory reads; encryption is read from the Word FIB fEncrypted
  bit, an Excel FILEPASS record, or a PowerPoint EncryptedSummary stream; when that cannot be read,
  ``encryption_unknown`` is set with a problem. No validator of the document content itself
  (``not_run``).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Any

from dangan.core import xmlsafe
from dangan.core.errors import MetadataError
from dangan.core.formats import ole
from dangan.core.formats.identify import FormatId, excel_encrypted, word_encrypted
from dangan.core.formats.limits import DEFAULT_LIMITS, BudgetExceeded, Deadline, Limits, size_text
from dangan.core.formats.result import DECRYPT_RULE, Validation, describe_error, invalid, not_run

ZIP_TOOL = "python zipfile"
PACKAGE_TOOL = "python zipfile + lxml (package structure)"
OLE_TOOL = "dangan compound-file reader"
CHUNK = 1024 * 1024
MAX_LISTED = 10

_MAIN_PARTS = {
    "DOCX": ("word/document.xml",),
    "XLSX": ("xl/workbook.xml",),
    "PPTX": ("ppt/presentation.xml",),
    "ODT": ("content.xml",),
    "ODS": ("content.xml",),
    "ODP": ("content.xml",),
    "EPUB": ("META-INF/container.xml",),
    "XPS": ("FixedDocumentSequence.fdseq", "FixedDocSeq.fdseq"),
}
_INDEX = {"DOCX": "[Content_Types].xml", "XLSX": "[Content_Types].xml", "PPTX": "[Content_Types].xml",
          "XPS": "[Content_Types].xml", "ODT": "META-INF/manifest.xml", "ODS": "META-INF/manifest.xml",
          "ODP": "META-INF/manifest.xml"}  # fmt: skip
PACKAGE_FORMATS = set(_MAIN_PARTS)
OLE_DOCUMENTS = {"DOC", "XLS", "PPT"}


def validate_zip(path: Path, name: str = "ZIP", limits: Limits = DEFAULT_LIMITS) -> Validation:
    tool = ZIP_TOOL if name == "ZIP" else PACKAGE_TOOL
    deadline = limits.deadline()
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, LargeZipFile, OSError, struct errors on hostile input
        return invalid(tool, f"cannot be read as ZIP: {describe_error(exc)}")
    with zf:
        result = Validation("valid", tool)
        infos = zf.infolist()
        encrypted = [i.filename for i in infos if i.flag_bits & 1]
        total = sum(i.file_size for i in infos)
        result.details.update(entries=len(infos), uncompressed_bytes=total)
        if encrypted:
            result.encrypted = True
            result.details["encrypted_entries"] = encrypted[:MAX_LISTED]
            result.problems.append(f"{len(encrypted)} encrypted entr{'y' if len(encrypted) == 1 else 'ies'} "
                                   f"(first: {encrypted[0]}); {DECRYPT_RULE}")  # fmt: skip
        result.details["crc_checked"] = False
        if total > limits.max_zip_bytes:
            result.status = "invalid"
            result.problems.append(
                f"not checked: the entries declare {total} bytes ({size_text(total)}) uncompressed, over the "
                f"{size_text(limits.max_zip_bytes)} limit for the CRC check, so nothing shows that they "
                "read back intact; refused (possible decompression bomb)"
            )
            return result
        try:
            bad = _crc_check(zf, [i for i in infos if not i.flag_bits & 1], deadline)
        except BudgetExceeded as exc:
            result.status = "invalid"
            result.problems.append(exc.message)
            return result
        result.details["crc_checked"] = True
        if bad:
            result.status = "invalid"
            result.problems.append(f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} cannot be read "
                                   f"or fail the CRC check, first: {bad[0]}")  # fmt: skip
        if name in PACKAGE_FORMATS and result.status == "valid":
            _package(zf, name, result, encrypted)
        return result


def _crc_check(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], deadline: Deadline) -> list[str]:
    """Entries that cannot be read or fail their CRC; BudgetExceeded when the time budget is spent."""
    bad: list[str] = []
    for info in infos:
        if info.is_dir():
            continue
        deadline.check(f"reading {info.filename[:200]!r}")
        try:
            with zf.open(info) as member:
                while member.read(CHUNK):
                    deadline.check(f"reading {info.filename[:200]!r}")
        except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, NotImplementedError (method)
            bad.append(f"{info.filename}: {describe_error(exc)}")
            if len(bad) >= MAX_LISTED:
                break
    return bad


def _package(zf: zipfile.ZipFile, name: str, result: Validation, encrypted: list[str]) -> None:
    names = set(zf.namelist())
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        result.details["macros"] = True
        result.problems.append("contains a VBA project (macros)")
    needed = [_INDEX[name]] if name in _INDEX else []
    main = next((m for m in _MAIN_PARTS[name] if m in names), None)
    if main is None:
        result.status = "invalid"
        result.problems.append(f"main part {_MAIN_PARTS[name][0]} is missing")
        return
    needed.append(main)
    result.details["main_part"] = main
    for part in needed:
        if part not in names:
            result.status = "invalid"
            result.problems.append(f"package index {part} is missing")
            continue
        if part in encrypted:
            continue
        try:
            info = zf.getinfo(part)
            xmlsafe.check_size(info.file_size, name=part)
            with zf.open(info) as member:
                xmlsafe.parse(member.read(xmlsafe.MAX_XML_BYTES + 1), name=part)
        except MetadataError as exc:
            result.status = "invalid"
            result.problems.append(exc.message)
        except Exception as exc:
            result.status = "invalid"
            result.problems.append(f"{part} cannot be read: {describe_error(exc)}")
    result.details["checked"] = "ZIP CRCs, package index and main part well-formed; content not rendered"


def validate_ole(path: Path, fmt: FormatId) -> Validation:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            cf = ole.CompoundFile(f, size)
            streams = cf.root_names()
            broken = cf.verify()
            details: dict[str, Any] = {"streams": streams[:40]}
            encrypted: bool | None
            if fmt.name == "DOC":
                encrypted = word_encrypted(cf)
                how = "the fEncrypted bit of the Word FIB"
            elif fmt.name == "XLS":
                lower = {s.lower() for s in streams}
                encrypted = excel_encrypted(cf, "Workbook" if "workbook" in lower else "Book")
                how = "a FILEPASS record in the workbook globals"
            elif fmt.name == "PPT":
                encrypted = any(s.lower() == "encryptedsummary" for s in streams)
                how = "an EncryptedSummary stream"
            else:
                encrypted, how = None, ""
    except (ole.OleError, struct.error, OSError, ValueError) as exc:
        return invalid(OLE_TOOL, f"compound-file structure is broken: {describe_error(exc)}")
    if broken:
        result = invalid(OLE_TOOL, f"compound-file structure is broken: {broken[0]}", **details)
        result.details["stream_errors"] = broken
        return result
    if fmt.name == "OOXML":
        return Validation("invalid", OLE_TOOL, encrypted=True, details=details,
                          problems=[f"password-encrypted Office Open XML (EncryptedPackage): cannot be opened "
                                    f"without the password; {DECRYPT_RULE}"])  # fmt: skip
    problems: list[str] = []
    if encrypted:
        problems.append(f"encrypted (found by {how}); {DECRYPT_RULE}")
    details["encryption_detected_by"] = how or None
    unknown = encrypted is None
    if unknown:
        details["encryption"] = "could not be determined"
        problems.append(
            f"whether it is encrypted could not be determined: {how or 'no encryption marker'} cannot be read"
        )
    reason = (
        f"no validator for {fmt.name}; the compound-file structure reads, the content is converted by "
        "format migration"
    )
    result = not_run(
        reason, tool=OLE_TOOL, encrypted=bool(encrypted), problems=problems, encryption_unknown=unknown
    )
    result.details = details
    return result
