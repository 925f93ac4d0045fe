"""Fixtures for 容缺归档 and AIP versions: a catalogue whose item allows gaps, and small case packages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.factories import minimal_pdf

from dangan.accounts.roles import Actor, Perm
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

# The archive-stage profile adjustment that lets cases with missing required materials in (容缺).
ALLOW_GAP = {"archive": {"2-9": {"blocking": False}}}
FILES = {
    "申报材料/申请书.pdf": ("A01", "申报材料", "申请书"),
    "过程材料/受理通知书.pdf": ("B01", "过程材料", "受理通知书"),
    "结果材料/决定书.pdf": ("C01", "结果材料", "决定书"),
}


def pdf(label: str) -> bytes:
    """A small valid one-page PDF whose info dictionary carries ``label`` (so bytes differ by label)."""
    return minimal_pdf(label)


def case_package(
    file_number: str, *, item: str, omit: tuple[str, ...] = ()
) -> tuple[CasePackage, dict[str, bytes]]:
    files = {path: pdf(f"{file_number} {code}") for path, (code, _c, _n) in FILES.items() if path not in omit}
    id_number = "11010119900307123" + id_check_digit("11010119900307123")
    pkg = CasePackage(
        config=ArchiveConfig(
            item_code=item, item_name="容缺测试事项", item_version="1", item_type="行政许可",
            implementing_agency="示范市行政审批服务局", retention="D30",
            scope=[ScopeItem("A01", "申请书", True), ScopeItem("B01", "受理通知书", True),
                   ScopeItem("C01", "决定书", True), ScopeItem("A09", "其他材料", False)],
        ),
        case=CaseInfo(
            file_number=file_number, case_number=f"BJ-{file_number}", title="关于张三容缺测试事项的办件",
            case_type="承诺件", region_code="330899", fonds_code="T001", fonds_unit="示范市行政审批服务局",
            accepting_unit="示范市政务服务中心", accepted_at="2025-03-03T09:15:00",
            completed_at="2025-03-05T16:40:00", result="准予许可", security_class="内部", retention="D30",
            applicant=Applicant(name="张三", kind="自然人", id_type="居民身份证", id_number=id_number),
        ),
        steps=[
            ProcessStep(name="受理", handler="李四", opinion="予以受理", started_at="2025-03-03T09:15:00",
                        ended_at="2025-03-03T09:30:00"),
            ProcessStep(name="办结", handler="王五", opinion="准予许可", started_at="2025-03-05T16:00:00",
                        ended_at="2025-03-05T16:40:00"),
        ],
        files=[
            FileEntry(material_code=code, category=category, standard_name=name, actual_name=path.rsplit("/", 1)[1],
                      path=path, format="PDF")
            for path, (code, category, name) in FILES.items()
            if path not in omit
        ],
    )  # fmt: skip
    writer.complete(pkg, files)
    return pkg, files


@pytest.fixture
def operator() -> Actor:
    return Actor.system("test-operator")


@pytest.fixture
def officer() -> Actor:
    return Actor.system(
        "officer",
        frozenset({Perm.CONFIRM, Perm.RETURN, Perm.DOWNLOAD, Perm.VIEW_RECORDS, Perm.SUPPLEMENT, Perm.CORRECT,
                   Perm.VERIFY}),
    )  # fmt: skip


@pytest.fixture
def catalogue(db, operator):
    """Fonds T001: GAP-ITEM allows 容缺 (2-9 not blocking), STRICT-ITEM does not, AUTO-GAP auto-confirms."""
    from dangan.catalog import services

    fonds = services.upsert_fonds(operator, code="T001", name="示范市行政审批服务局", region_code="330899")
    for code, extra in (
        ("GAP-ITEM", {"check_profile": ALLOW_GAP}),
        ("STRICT-ITEM", {}),
        ("AUTO-GAP", {"check_profile": ALLOW_GAP, "auto_confirm": True}),
    ):
        services.upsert_service_item(
            operator, fonds, code=code, name="容缺测试事项", retention="D30", class_code="SP", **extra
        )
    return fonds


@pytest.fixture
def ingest_case(catalogue, operator, tmp_path) -> Callable[..., object]:
    """Write and ingest a case; returns the submission."""
    from dangan.ingest import services as ingest

    def make(file_number: str = "T-0001", *, item: str = "GAP-ITEM", omit: tuple[str, ...] = ()) -> object:
        pkg, files = case_package(file_number, item=item, omit=omit)
        folder = writer.write_folder(pkg, files, tmp_path / "in" / file_number)
        return ingest.ingest_path(operator, folder)

    return make


@pytest.fixture
def gap_record(ingest_case, officer):
    """A record archived with a gap: 申请书 (A01) missing, archived with a reason."""
    from dangan.archive import services

    sub = ingest_case("T-GAP-1", omit=("申报材料/申请书.pdf",))
    assert sub.status == "accepted", sub.errors
    return services.confirm(officer, sub.record.pk, gap_reason="申请人承诺五日内补交申请书")


def upload(name: str, data: bytes, **kw: str):
    import io

    from dangan.archive.services import Upload

    return Upload(filename=name, stream=io.BytesIO(data), **kw)


@pytest.fixture
def tmp_bag_dir(tmp_path) -> Path:
    return tmp_path / "bags"
