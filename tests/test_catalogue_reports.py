"""The 归档目录 (XLSX, PDF) and the 归档登记表 as XLSX: values read back with openpyxl, the CJK font
embedded in the PDF, and the download views."""

from __future__ import annotations

import io
from datetime import date
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from dangan.core.checks.model import Outcome
from dangan.reports import registration_form
from dangan.reports.catalogue import (
    COLUMNS,
    Catalogue,
    CatalogueEntry,
    catalogue_entries,
    catalogue_from_records,
    catalogue_records,
    render_catalogue_pdf,
    render_catalogue_xlsx,
    render_registration_xlsx,
)
from tests.test_reports import batch, passing_report, pdf_fonts, require_cjk_font, summary

FORMULA = '=HYPERLINK("http://example.invalid","点我")'


def entries() -> list[CatalogueEntry]:
    return [
        CatalogueEntry(
            archival_code="T001-WS·2025-Y-SP-0001",
            file_number="330899-T001-TEST-2025-Y-000001",
            title="关于张三申请食品经营许可的办件",
            responsible="示范市市场监督管理局",
            date=date(2024, 2, 29),
            year=2024,
            retention="Y",
            security="内部",
            file_count=3,
            byte_total=1_234_567,
            remarks="容缺：营业执照复印件后补",
        ),
        CatalogueEntry(
            archival_code="T001-WS·2025-D30-SP-0002",
            file_number="330899-T001-TEST-2025-D30-000002",
            title=FORMULA,
            responsible="示范市行政审批服务局",
            date=None,
            year=2025,
            retention="D30",
            file_count=4,
            byte_total=1000,
            remarks="bad\x01control",
        ),
    ]


def catalogue() -> Catalogue:
    return Catalogue(
        entries=entries(),
        unit_name="示范市行政审批服务局",
        fonds_code="T001",
        archived_from=date(2025, 1, 1),
        archived_to=date(2025, 1, 31),
        batch="PC-2025-001",
    )


def workbook(data: bytes):
    assert data[:2] == b"PK"
    return load_workbook(io.BytesIO(data))


# --- 归档目录 XLSX ------------------------------------------------------------------------------


def test_catalogue_xlsx_values_header_and_totals():
    wb = workbook(render_catalogue_xlsx(catalogue()))
    assert wb.sheetnames == ["归档目录"]
    ws = wb["归档目录"]
    assert ws["A1"].value == "归档目录" and ws["A1"].font.bold
    heading = ws["A2"].value
    assert "立档单位：示范市行政审批服务局" in heading and "全宗号：T001" in heading
    assert "2025-01-01 至 2025-01-31" in heading and "批次号：PC-2025-001" in heading
    assert [c.value for c in ws[3]] == [c.label[0] for c in COLUMNS]
    assert [c.value for c in ws[3]][:6] == ["序号", "档号", "电子文件号", "题名", "责任者", "日期"]
    assert ws.freeze_panes == "A4" and ws.print_title_rows == "$3:$3"
    assert ws.auto_filter.ref == "A3:L5"

    first = {c.label[0]: cell.value for c, cell in zip(COLUMNS, ws[4], strict=True)}
    assert first["序号"] == 1 and first["档号"] == "T001-WS·2025-Y-SP-0001"
    assert first["题名"] == "关于张三申请食品经营许可的办件" and first["责任者"] == "示范市市场监督管理局"
    assert first["日期"].date() == date(2024, 2, 29) and ws["F4"].number_format == "yyyy-mm-dd"
    assert first["保管期限"] == "永久" and first["密级"] == "内部" and first["文件数"] == 3
    assert first["字节数"] == 1_234_567 and first["年度"] == 2024
    assert first["备注"] == "容缺：营业执照复印件后补"

    second = {c.key: cell for c, cell in zip(COLUMNS, ws[5], strict=True)}
    assert second["title"].value == FORMULA and second["title"].data_type == "s"  # text, never a formula
    assert second["date"].value is None and second["retention"].value == "定期30年"
    assert second["remarks"].value == "badcontrol"

    total = {c.key: cell.value for c, cell in zip(COLUMNS, ws[6], strict=True)}
    assert total["no"] == "合计" and total["archival_code"] == "2 件"
    assert total["files"] == 7 and total["bytes"] == 1_235_567
    assert total["retention"] == "永久 1，定期30年 1"
    assert ws.max_row == 6


def test_catalogue_xlsx_column_widths_and_wrapping():
    ws = workbook(render_catalogue_xlsx(catalogue()))["归档目录"]
    widths = {c.key: ws.column_dimensions[chr(ord("A") + i)].width for i, c in enumerate(COLUMNS)}
    assert widths["title"] >= 40 and widths["archival_code"] >= 24 and widths["no"] <= 8
    assert ws["D4"].alignment.wrap_text and ws["D3"].font.bold
    assert ws.merged_cells.ranges and "A1:L1" in {str(r) for r in ws.merged_cells.ranges}


def test_catalogue_xlsx_in_english_and_empty():
    ws = workbook(render_catalogue_xlsx(catalogue(), lang="en")).active
    assert ws.title == "Catalogue" and ws["A1"].value == "Archiving catalogue"
    assert ws["B3"].value == "Archival code" and ws["H4"].value == "Permanent"
    assert ws["B6"].value == "2 records"
    empty = workbook(render_catalogue_xlsx(Catalogue(entries=[]))).active
    assert empty["A4"].value == "合计" and empty["B4"].value == "0 件"


def test_catalogue_xlsx_reads_a_generator_once():
    def gen():
        yield from entries()

    ws = workbook(render_catalogue_xlsx(Catalogue(entries=gen()))).active
    assert ws["B6"].value == "2 件"


# --- 归档目录 PDF -------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def test_catalogue_pdf_embeds_the_cjk_font_and_shows_the_rows():
    font = require_cjk_font()
    data = render_catalogue_pdf(catalogue())
    assert data.startswith(b"%PDF")
    used = pdf_fonts(data)
    assert any(font.face_name in name for name, embedded in used if embedded), used
    assert all(embedded for _, embedded in used), used
    text = pdf_text(data)
    for expected in ("归档目录", "示范市行政审批服务局", "T001-WS·2025-Y-SP-0001", "食品经营许可", "2024-02-29",
                     "合计", "2 件", "永久 1，定期30年 1", "PC-2025-001"):  # fmt: skip
        assert expected in text.replace("\r", "").replace("\n", ""), expected
    assert "HYPERLINK" in text  # shown as text


def test_catalogue_pdf_repeats_the_header_on_every_page():
    require_cjk_font()
    many = [
        CatalogueEntry(
            archival_code=f"T001-WS·2025-D30-SP-{n:04d}", title=f"办件 {n}", retention="D30", file_count=1
        )
        for n in range(1, 121)
    ]
    data = render_catalogue_pdf(Catalogue(entries=many), lang="en")
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        pages = [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()
    assert len(pages) >= 2
    assert all("Archival code" in p for p in pages)
    assert "120 records" in pages[-1]
    assert f"Page 1 of {len(pages)}" in pages[0] and f"Page {len(pages)} of {len(pages)}" in pages[-1]


# --- 归档登记表 XLSX ----------------------------------------------------------------------------


def test_registration_xlsx_form_and_list():
    data = batch(
        summary("A", passing_report("A", virus=Outcome.NOT_RUN), ["PDF", "JPG", "PDF"]),
        summary("B", passing_report("B"), ["PDF", "MP4"], av_seconds=125),
    )
    form = registration_form(data)
    wb = workbook(render_registration_xlsx(data))
    assert wb.sheetnames == ["归档登记表", "归档电子文件清单"]
    ws = wb["归档登记表"]
    assert ws["A1"].value == "电子文件归档登记表" and "GB/T 18894" in ws["A2"].value
    assert ws["A3"].value == "单位名称" and ws["B3"].value == "示范市行政审批服务局 <b>"
    assert ws["A4"].value == "归档时间" and ws["B4"].value == "2025-03-01 至 2025-03-31"
    assert ws["E4"].value == "门类" and ws["F4"].value == "政务服务电子文件"
    assert [ws[f"{c}5"].value for c in "ABCDE"] == ["数量", "件", "张", "分钟", "字节"]
    assert ws["B6"].value == 5 and ws["C6"].value == 1 and ws["D6"].value == 3 and ws["E6"].value == 5000
    assert ws["B7"].value == "☑ 在线　　☐ 离线"
    assert [ws[f"{c}8"].value for c in "BCDEFG"] == [
        "载体外观",
        "病毒",
        "真实性",
        "可靠性",
        "完整性",
        "可用性",
    ]
    results = {ws[f"{c}8"].value: ws[f"{c}9"].value for c in "BCDEFG"}
    assert results["载体外观"] == "不适用" and results["病毒"].startswith("部分未检测")
    assert results["真实性"] == form.checks[2].text + (
        f"\n{form.checks[2].detail}" if form.checks[2].detail else ""
    )
    assert "本批共 2 个办件" in ws["B10"].value
    assert "填表人" in ws["A11"].value and "审核人" in ws["C11"].value and "单位（印章）" in ws["F11"].value
    assert {"A5:A6", "B3:G3", "A8:A9"} <= {str(r) for r in ws.merged_cells.ranges}

    ls = wb["归档电子文件清单"]
    assert ls.freeze_panes == "A2"
    assert [c.value for c in ls[1]] == [
        "序号",
        "档号 / 电子文件号",
        "题名",
        "文件数",
        "字节",
        "四性检测",
        "病毒",
    ]
    assert [c.value for c in ls[2]][:5] == [1, "A", "关于A的办件", 3, 3000]
    assert [c.value for c in ls[4]][:5] == ["合计", "2 个办件", None, 5, 5000]


def test_registration_xlsx_in_english():
    data = batch(summary("A", passing_report("A"), ["PDF"]))
    wb = workbook(render_registration_xlsx(data, lang="en"))
    ws = wb.worksheets[0]
    assert ws["A1"].value == "Electronic records archiving registration form"
    assert ws["A3"].value.startswith("Unit") and ws["B6"].value == 1


# --- from the database, and the download views ---------------------------------------------------


@pytest.fixture
def archived(tmp_path, test_catalogue, operator, officer_actor):
    from dangan.archive import services as archive
    from dangan.ingest import services as ingest
    from tests.factories import write_case

    records = []
    for n, batch_no in ((1, "PC-1"), (2, "PC-1"), (3, "PC-2")):
        path = write_case(tmp_path / f"in{n}", file_number=f"330899-A101-TEST-2025-D30-00000{n}")
        sub = ingest.ingest_path(operator, path, batch=batch_no)
        assert sub.status == "accepted", sub.errors
        records.append(archive.confirm(officer_actor, sub.record.pk))
    return records


@pytest.mark.django_db
def test_catalogue_from_records(archived, django_assert_max_num_queries):
    qs = catalogue_records(fonds="T001")
    with django_assert_max_num_queries(2):
        rows = list(catalogue_entries(qs))
    assert [r.archival_code for r in rows] == sorted(r.archival_code for r in archived)
    first = rows[0]
    assert first.title == "关于张三测试事项的办件" and first.responsible == "示范市行政审批服务局"
    assert first.date == date(2025, 3, 5) and first.retention == "D30" and first.security == "内部"
    assert first.file_count == 3 and first.byte_total > 0
    assert [r.file_number for r in catalogue_entries(catalogue_records(batch="PC-2"))] == [
        archived[2].file_number
    ]
    assert not catalogue_records(fonds="T001", date_to=date(2000, 1, 1)).exists()
    cat = catalogue_from_records(qs, fonds="T001")
    assert cat.unit_name == "示范市行政审批服务局"


@pytest.fixture
def officer_client(client, db):
    from dangan.accounts.roles import Role
    from dangan.accounts.services import create_user

    user, _ = create_user("cat-officer", [Role.RECORDS_OFFICER], password="correct-horse-battery-9")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_catalogue_downloads(archived, officer_client):
    from django.urls import reverse

    response = officer_client.get(reverse("web:catalogue-xlsx"), {"fonds": "T001", "batch": "PC-1"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = unquote(response["Content-Disposition"])
    assert disposition.startswith("attachment;") and "归档目录-T001-PC-1.xlsx" in disposition
    ws = workbook(response.content).active
    assert ws["B6"].value == "2 件" and ws["B4"].value == archived[0].archival_code

    pdf = officer_client.get(reverse("web:catalogue-pdf"), {"fonds": "T001"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    form = officer_client.get(reverse("web:registration-form-xlsx"), {"batch": "PC-2"})
    assert form.status_code == 200 and "归档登记表-PC-2.xlsx" in unquote(form["Content-Disposition"])
    wb = workbook(form.content)
    assert wb.worksheets[0]["B6"].value == 3  # three content files of the one record
    assert wb.worksheets[1]["B2"].value == archived[2].archival_code

    form_pdf = officer_client.get(reverse("web:registration-form-pdf"), {"fonds": "T001"})
    assert form_pdf.status_code == 200 and form_pdf.content.startswith(b"%PDF")

    page = officer_client.get(reverse("web:catalogue"), {"fonds": "T001"}).content.decode()
    assert "归档目录（XLSX）" in page and reverse("web:registration-form-xlsx") in page


@pytest.mark.django_db
def test_catalogue_download_errors_and_permissions(archived, officer_client, client):
    from django.test import Client
    from django.urls import reverse

    from dangan.accounts.roles import Role
    from dangan.accounts.services import create_user

    url = reverse("web:catalogue-xlsx")
    assert officer_client.get(url, {"fonds": "NOPE"}).status_code == 404
    assert officer_client.get(url, {"from": "2025-13-01"}).status_code == 400
    assert officer_client.get(url, {"from": "yesterday"}).status_code == 400

    clerk, _ = create_user("cat-clerk", [Role.SERVICE_CLERK], password="correct-horse-battery-9")
    other = Client()
    other.force_login(clerk)
    for name in ("web:catalogue", "web:catalogue-xlsx", "web:catalogue-pdf", "web:registration-form-xlsx"):
        assert other.get(reverse(name)).status_code == 403
        anonymous = Client().get(reverse(name))
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


@pytest.mark.django_db
def test_catalogue_download_refuses_too_many_records(archived, officer_client, monkeypatch):
    from django.urls import reverse

    from dangan.reports import catalogue as catalogue_module

    monkeypatch.setattr(catalogue_module, "MAX_PDF_ROWS", 2)
    response = officer_client.get(reverse("web:catalogue-pdf"))
    assert response.status_code == 400 and "3" in response.content.decode()
    assert officer_client.get(reverse("web:catalogue-xlsx")).status_code == 200
