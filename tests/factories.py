"""Small hand-made case packages for unit tests (the demo generator makes the realistic ones)."""

from __future__ import annotations

from pathlib import Path

from dangan.core.identifiers import id_check_digit
from dangan.core.package import writer
from dangan.core.package.model import (
    Applicant,
    ArchiveConfig,
    CaseInfo,
    CasePackage,
    FileEntry,
    ProcessStep,
    ScopeItem,
)


def minimal_pdf(label: str) -> bytes:
    """A small, valid one-page PDF (correct xref offsets) whose info dictionary carries ``label``."""
    title = label.encode("latin-1", errors="replace").replace(b"(", b"[").replace(b")", b"]")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
        b"<< /Title (" + title + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


ID_NUMBER = "11010119900307123" + id_check_digit("11010119900307123")


def make_case(
    file_number: str = "330899-A101-TEST-2025-D30-000001",
    *,
    fonds: str = "T001",
    item: str = "TEST-ITEM",
    extra: bytes = b"",
) -> tuple[CasePackage, dict[str, bytes]]:
    files = {
        "申报材料/申请书.pdf": minimal_pdf("application form " + extra.hex()),
        "过程材料/受理通知书.pdf": minimal_pdf("acceptance notice"),
        "结果材料/决定书.pdf": minimal_pdf("decision"),
    }
    pkg = CasePackage(
        config=ArchiveConfig(
            item_code=item, item_name="测试事项", item_version="1", item_type="行政许可",
            implementing_agency="示范市行政审批服务局", retention="D30",
            scope=[ScopeItem("A01", "申请书", True), ScopeItem("B01", "受理通知书", True),
                   ScopeItem("C01", "决定书", True), ScopeItem("A09", "其他材料", False)],
        ),
        case=CaseInfo(
            file_number=file_number, case_number="BJ-2025-0001", title="关于张三测试事项的办件",
            case_type="承诺件", region_code="330899", fonds_code=fonds, fonds_unit="示范市行政审批服务局",
            accepting_unit="示范市政务服务中心", accepted_at="2025-03-03T09:15:00",
            completed_at="2025-03-05T16:40:00", result="准予许可", security_class="内部", retention="D30",
            applicant=Applicant(name="张三", kind="自然人", id_type="居民身份证", id_number=ID_NUMBER),
        ),
        steps=[
            ProcessStep(name="受理", handler="李四", opinion="材料齐全，予以受理", started_at="2025-03-03T09:15:00",
                        ended_at="2025-03-03T09:30:00"),
            ProcessStep(name="办结", handler="王五", opinion="准予许可", started_at="2025-03-05T16:00:00",
                        ended_at="2025-03-05T16:40:00"),
        ],
        files=[
            FileEntry(material_code="A01", category="申报材料", standard_name="申请书", actual_name="申请书.pdf",
                      path="申报材料/申请书.pdf", format="PDF", created_at="2025-03-03T09:10:00"),
            FileEntry(material_code="B01", category="过程材料", standard_name="受理通知书", actual_name="受理通知书.pdf",
                      path="过程材料/受理通知书.pdf", format="PDF"),
            FileEntry(material_code="C01", category="结果材料", standard_name="决定书", actual_name="决定书.pdf",
                      path="结果材料/决定书.pdf", format="PDF"),
        ],
    )  # fmt: skip
    writer.complete(pkg, files)
    return pkg, files


def write_case(dest: Path, *, as_zip: bool = False, **kw: object) -> Path:
    pkg, files = make_case(**kw)  # type: ignore[arg-type]
    return writer.write_zip(pkg, files, dest) if as_zip else writer.write_folder(pkg, files, dest)


def zip_with_raw_names(path: Path, entries: dict[str, bytes], encoding: str) -> Path:
    """A ZIP whose names are stored in ``encoding`` *without* the UTF-8 flag, as Windows tools (GBK)
    and Info-ZIP/macOS (UTF-8) write them. Python always flags non-ASCII names as UTF-8, so ASCII
    placeholders of the same byte length are written first and the raw bytes patched in."""
    import zipfile

    swaps = []
    with zipfile.ZipFile(path, "w") as zf:
        for i, (name, data) in enumerate(entries.items()):
            raw = name.encode(encoding)
            placeholder = f"n{i}".ljust(len(raw), "_").encode()
            swaps.append((placeholder, raw))
            zf.writestr(placeholder.decode(), data)
    content = path.read_bytes()
    for placeholder, raw in swaps:
        content = content.replace(placeholder, raw)
    path.write_bytes(content)
    return path
