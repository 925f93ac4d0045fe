"""Check reports for people (HTML, PDF with an embedded CJK font) and the 归档登记表 (GB/T 18894 表A.1)."""

from __future__ import annotations

import io
import os
import re
from datetime import date

import pytest

from dangan.core.checks.catalogue import item_for_code
from dangan.core.checks.model import CheckReport, CheckResult, Outcome, Stage
from dangan.reports import (
    RecordSummary,
    RegistrationInput,
    build_view,
    registration_form,
    render_html,
    render_pdf,
    render_registration_html,
    render_registration_pdf,
)
from dangan.reports import fonts as report_fonts

EVIL = "<script>alert('x')</script>"


def result(code: str, outcome: Outcome, message: str = "", target: str = "", **kw: object) -> CheckResult:
    return CheckResult(
        code=code, stage=Stage.ARCHIVE, outcome=outcome, target=target, message=message or outcome.value, **kw
    )  # type: ignore[arg-type]


def sample_report(
    subject: str = "330899-A101-TEST-2025-D30-000001", *, virus: Outcome = Outcome.NOT_RUN
) -> dict:
    """One result of every outcome across the four properties, plus untrusted text and evidence."""
    report = CheckReport(stage=Stage.ARCHIVE, subject=subject, finished_at="2025-03-05T08:40:00+00:00")
    report.results = [
        result("GD-1-1", Outcome.PASS, "SM3 digests of 3 files match", evidence={"files": 3}),
        result("GD-1-5", Outcome.WARNING, "retention differs", target="办件基本信息/保管期限"),
        result(
            "GD-2-1", Outcome.FAIL, EVIL, target="<img src=x onerror=alert(1)>", evidence={"k": "</pre><b>"}
        ),
        result("GD-2-9", Outcome.NOT_APPLICABLE, "no scope configured"),
        result("GD-3-1", Outcome.PASS, "metadata XML parsed safely"),
        result("GD-4-1", Outcome.NOT_RUN, "not run: no virus scanner configured", blocking=False),
        result("GD-4-2", virus, "virus scan"),
    ]
    return report.to_dict()


def passing_report(subject: str, *, virus: Outcome = Outcome.PASS) -> dict:
    report = CheckReport(stage=Stage.ARCHIVE, subject=subject, finished_at="2025-03-05T08:40:00+00:00")
    report.results = [
        result("GD-1-1", Outcome.PASS),
        result("GD-1-14", Outcome.PASS),
        result("GD-2-1", Outcome.PASS),
        result("GD-3-1", Outcome.PASS),
        result("GD-4-2", virus),
    ]
    return report.to_dict()


# ---------------------------------------------------------------------------------------------
# HTML


def test_html_escapes_everything_from_the_package():
    report = sample_report(subject="<b>subject</b>")
    html = render_html([report])
    assert "<script" not in html  # no script at all: the report's own markup has none either
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>subject" not in html and "&lt;b&gt;subject&lt;/b&gt;" in html
    assert "&lt;/pre&gt;&lt;b&gt;" in html  # evidence, inside <details>
    assert "<details>" in html
    # Self-contained: no external resources.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


def test_html_in_chinese_shows_every_outcome_and_both_item_names():
    html = render_html([sample_report()])
    assert '<html lang="zh-Hans">' in html
    assert "电子文件四性检测报告" in html
    for label in ("通过", "不通过", "警告", "不适用", "未执行"):
        assert f"{label}</span>" in html, label  # a badge with text, not colour alone
    for label in ("真实性", "完整性", "可用性", "安全性"):
        assert label in html
    item = item_for_code("GD-1-1")
    assert item is not None
    assert item.name_zh in html and item.name_en in html
    assert "检测未通过" in html  # the blocking failure decides the verdict
    assert "<svg" in html and "</svg>" in html
    assert "不阻断" in html  # GD-4-1 is non-blocking


def test_html_in_english():
    html = render_html([sample_report()], lang="en", title="Batch 7 & more")
    assert '<html lang="en">' in html
    assert "<title>Batch 7 &amp; more</title>" in html
    for label in ("Pass", "Fail", "Warning", "Not applicable", "Not run"):
        assert f"{label}</span>" in html, label
    for label in ("Authenticity", "Integrity", "Usability", "Security", "Summary by property"):
        assert label in html
    assert "Failed" in html


def test_html_batch_has_a_package_table_and_each_report():
    reports = [passing_report("CASE-A"), sample_report("CASE-B")]
    html = render_html(reports)
    assert "信息包汇总" in html
    assert 'href="#report-1"' in html and 'id="report-2"' in html
    assert html.count("CASE-A") >= 2 and html.count("CASE-B") >= 2
    assert "电子文件四性检测报告（批量）" in html
    assert "检测未通过" in html  # one failing package fails the batch


def test_grouping_counts_by_property():
    view = build_view(sample_report(), "zh-hans")
    groups = {g.key: g for g in view.groups}
    assert [g.key for g in view.groups] == ["authenticity", "integrity", "usability", "security"]
    assert groups["authenticity"].counts["pass"] == 1 and groups["authenticity"].counts["warning"] == 1
    assert groups["authenticity"].verdict == "warning"
    assert groups["integrity"].verdict == "fail"
    assert groups["security"].counts["not_run"] == 2 and groups["security"].verdict == "not_run"
    assert view.total == 7 and view.verdict == "fail" and view.not_run == 2


def test_unknown_codes_are_shown_not_dropped():
    report = passing_report("X")
    report["results"].append(
        {"code": "ZZ-9-9", "stage": "archive", "outcome": "pass", "target": "", "message": "m"}
    )
    view = build_view(report, "en")
    assert view.groups[-1].key == "other" and view.groups[-1].total == 1
    assert "ZZ-9-9" in render_html([report], lang="en")


def test_empty_report():
    html = render_html([{}])
    assert "本报告没有检测结果。" in html and "没有检测结果" in html


# ---------------------------------------------------------------------------------------------
# PDF


def require_cjk_font() -> report_fonts.FontChoice:
    """The embeddable CJK font, or skip (locally) / fail (CI) with how to install one."""
    report_fonts._resolve.cache_clear()
    font = report_fonts.pdf_font()
    if not font.embedded:
        message = f"no CJK TrueType font on this machine ({report_fonts.INSTALL_HINT})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have a CJK font: {message}")
        pytest.skip(message)
    return font


def pdf_fonts(data: bytes) -> list[tuple[str, bool]]:
    """(BaseFont, has FontFile2) of every font used on any page."""
    import pikepdf

    out = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            resources = page.obj.get("/Resources")
            for _, font in (resources.get("/Font") or {}).items() if resources is not None else []:
                descriptor = font.get("/FontDescriptor")
                if descriptor is None and "/DescendantFonts" in font:
                    descriptor = font["/DescendantFonts"][0].get("/FontDescriptor")
                embedded = descriptor is not None and "/FontFile2" in descriptor
                out.append((str(font.get("/BaseFont")), embedded))
    return out


def render_page(data: bytes, index: int = 0, scale: float = 2.0):
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return pdf[index].render(scale=scale).to_pil().convert("L"), len(pdf)
    finally:
        pdf.close()


def dark_ratio(image, threshold: int = 200) -> float:
    hist = image.histogram()
    return sum(hist[:threshold]) / max(1, sum(hist))


def test_pdf_embeds_the_cjk_font_and_shows_the_chinese_title(tmp_path):
    font = require_cjk_font()
    data = render_pdf([sample_report()])
    assert data.startswith(b"%PDF")
    used = pdf_fonts(data)
    embedded = [name for name, has_file in used if has_file]
    assert any(font.face_name in name for name in embedded), used
    assert all(has_file for _, has_file in used), f"every font is embedded: {used}"

    image, pages = render_page(data)
    image.save(tmp_path / "report-page1.png")
    assert pages >= 1
    assert dark_ratio(image, 250) > 0.02, "page 1 is blank"
    # The title (电子文件四性检测报告, 17 pt) sits at the top left, under the running header.
    w, h = image.size
    title = image.crop((int(w * 0.06), int(h * 0.055), int(w * 0.45), int(h * 0.095)))
    title.save(tmp_path / "report-title.png")
    assert dark_ratio(title, 128) > 0.03, "no dark (text) pixels where the Chinese title is"


def test_pdf_text_is_extractable_in_both_languages():
    require_cjk_font()
    import pypdfium2 as pdfium

    for lang, words in (
        ("zh-hans", ["电子文件四性检测报告", "真实性", "未执行"]),
        ("en", ["Authenticity", "Not run"]),
    ):
        pdf = pdfium.PdfDocument(render_pdf([sample_report()], lang=lang))
        try:
            text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        finally:
            pdf.close()
        for word in words:
            assert word in text, (lang, word)
        assert EVIL in text  # shown as text, verbatim


def test_pdf_wraps_long_text_and_numbers_pages():
    require_cjk_font()
    report = sample_report()
    report["results"][0]["target"] = "申报材料/" + "a" * 400 + ".pdf"  # no space to break at
    report["results"][1]["message"] = "很长的说明" * 800
    report["results"][2]["evidence"] = {"blob": "x" * 10_000}
    data = render_pdf([report, passing_report("CASE-B")], lang="en")
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        pages = len(pdf)
        last = pdf[pages - 1].get_textpage().get_text_range()
    finally:
        pdf.close()
    assert pages >= 2
    assert f"Page {pages} of {pages}" in last


def test_pdf_without_a_cjk_font_falls_back_and_says_so(monkeypatch):
    monkeypatch.setenv(report_fonts.ENV, "/nonexistent/font.ttf")
    monkeypatch.setattr(report_fonts, "SYSTEM_FONTS", ())
    monkeypatch.setattr(report_fonts, "_fontconfig_candidates", lambda: [])
    report_fonts._resolve.cache_clear()
    try:
        warnings: list[str] = []
        data = render_pdf([sample_report()], warnings=warnings)
        assert warnings and "fonts-wqy-microhei" in warnings[0]
        used = pdf_fonts(data)
        assert any("STSong-Light" in name for name, _ in used)
        assert not any(has_file for _, has_file in used)
        image, _ = render_page(data)
        assert dark_ratio(image, 250) > 0.01
    finally:
        report_fonts._resolve.cache_clear()


# ---------------------------------------------------------------------------------------------
# 归档登记表 (GB/T 18894 表A.1)


def batch(*summaries: RecordSummary, method: str = "online") -> RegistrationInput:
    return RegistrationInput(
        unit_name="示范市行政审批服务局 <b>",
        records=list(summaries),
        archived_from=date(2025, 3, 1),
        archived_to=date(2025, 3, 31),
        method=method,
    )


def summary(ref: str, report: dict, formats: list[str], av_seconds: float | None = None) -> RecordSummary:
    return RecordSummary(
        ref=ref, title=f"关于{ref}的办件", file_count=len(formats), byte_total=1000 * len(formats),
        formats=formats, av_seconds=av_seconds, report=report,
    )  # fmt: skip


def checks(form) -> dict[str, tuple[str, str]]:
    return {c.key: (c.status, c.text) for c in form.checks}


def test_registration_values_computed_from_the_reports():
    form = registration_form(
        batch(
            summary("A", passing_report("A", virus=Outcome.NOT_RUN), ["PDF", "JPG", "PDF"]),
            summary("B", passing_report("B", virus=Outcome.NOT_RUN), ["PDF", "MP4"], av_seconds=125),
        )
    )
    assert (form.pieces, form.sheets, form.minutes, form.bytes) == (5, 1, "3", 5000)
    got = checks(form)
    assert got["virus"] == ("not_run", "未检测")  # 4-2 not run: never 合格
    assert got["authenticity"] == ("pass", "合格")
    assert got["reliability"] == ("pass", "合格")
    assert got["integrity"] == ("pass", "合格")
    assert got["usability"] == ("pass", "合格")
    assert got["carrier"] == ("not_applicable", "不适用")  # online
    assert form.period == "2025-03-01 至 2025-03-31"
    assert "本批共 2 个办件" in form.notes[0]


def test_registration_failures_partial_and_unknown_durations():
    form = registration_form(
        batch(
            summary("A", passing_report("A", virus=Outcome.PASS), ["PDF", "MP3"], av_seconds=None),
            summary("B", passing_report("B", virus=Outcome.NOT_RUN), ["PDF"]),
            summary("C", sample_report("C", virus=Outcome.PASS), ["PDF"]),
            method="offline",
        )
    )
    got = checks(form)
    assert got["virus"] == ("partial", "部分未检测")
    assert got["integrity"] == ("fail", "不合格")  # C's 2-1 failed
    assert got["authenticity"][0] == "warning"  # C's 1-5 warning
    assert got["carrier"] == ("not_run", "未检测")  # offline, but no carrier check reported
    assert form.minutes == ""  # an audio file of unknown duration
    assert any("分钟数未填" in n for n in form.notes)
    detail = {c.key: c.detail for c in form.checks}["virus"]
    assert "合格 2 个办件" in detail and "未检测 1 个办件" in detail


def test_registration_html_and_pdf():
    data = batch(summary("A-<x>", passing_report("A", virus=Outcome.NOT_RUN), ["PDF", "JPG"]))
    html = render_registration_html(data)
    assert "电子文件归档登记表" in html and "GB/T 18894" in html
    for label in ("单位名称", "归档时间", "门类", "数量", "分钟", "字节", "归档方式", "载体外观", "病毒",
                  "真实性", "可靠性", "完整性", "可用性", "说明", "填表人", "审核人", "单位（印章）"):  # fmt: skip
        assert label in html, label
    assert "示范市行政审批服务局 &lt;b&gt;" in html and "A-&lt;x&gt;" in html
    assert re.search(r'class="c check-virus status-not_run"><span class="result">未检测', html)
    assert "☑</span> 在线" in html
    english = render_registration_html(data, lang="en")
    assert "Electronic records archiving registration form" in english and "Not checked" in english

    pdf = render_registration_pdf(data)
    image, pages = render_page(pdf)
    assert pages == 2  # the form, then the list of records
    assert dark_ratio(image, 250) > 0.02
    if report_fonts.pdf_font().embedded:
        assert all(has_file for _, has_file in pdf_fonts(pdf))


@pytest.mark.django_db
def test_registration_input_from_records(tmp_path, test_catalogue, operator, officer_actor):
    from dangan.archive import services as archive
    from dangan.ingest import services as ingest
    from dangan.reports.records import archived_records, record_reports, registration_input
    from tests.factories import write_case

    codes = []
    for n in (1, 2):
        sub = ingest.ingest_path(
            operator, write_case(tmp_path / f"in{n}", file_number=f"330899-A101-TEST-2025-D30-00000{n}")
        )
        assert sub.status == "accepted", sub.errors
        codes.append(archive.confirm(officer_actor, sub.record.pk).archival_code)
    records = archived_records(fonds="T001")
    assert [r.archival_code for r in records] == sorted(codes)
    assert not archived_records(fonds="T001", date_to=date(2000, 1, 1)).exists()
    data = registration_input(records)
    assert data.unit_name == "示范市行政审批服务局"
    assert [r.ref for r in data.records] == sorted(codes)
    form = registration_form(data)
    assert form.pieces == 6 and form.bytes == sum(r.byte_total for r in records)
    assert checks(form)["virus"][1] in {"未检测", "合格"}  # depends on whether a scanner is configured
    assert record_reports(records[0])[0]["subject"] == records[0].file_number
    assert render_registration_pdf(data).startswith(b"%PDF")
