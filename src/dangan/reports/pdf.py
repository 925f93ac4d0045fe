"""Check reports as PDF (reportlab): the content of the HTML report, on A4, with page numbers,
tables that wrap long text, and a CJK TrueType font embedded as a subset (see ``fonts``)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dangan.reports import labels as L
from dangan.reports.fonts import FontChoice, pdf_font
from dangan.reports.html import document_context
from dangan.reports.summary import GroupSummary, ReportView, evidence_text

if TYPE_CHECKING:
    from dangan.reports.registration import RegistrationForm

PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
WIDTH = PAGE_W - 2 * MARGIN - 12  # SimpleDocTemplate's frame has 6 pt padding on each side
# Cells longer than this are cut, so that a table row always fits on one page (rows are not split
# across pages); messages come from packages. The HTML report shows them in full.
MAX_MESSAGE = 600
MAX_TARGET = 300
MAX_EVIDENCE = 300

INK = colors.HexColor("#1d2430")
MUTED = colors.HexColor("#5b6472")
LINE = colors.HexColor("#c9d0d9")
HEAD = colors.HexColor("#eef1f5")
GROUP = colors.HexColor("#f6f7f9")


def styles(font: FontChoice) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font.name, fontSize=9, leading=12, textColor=INK, splitLongWords=1)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=23, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base, fontSize=10.5, leading=15, spaceBefore=8, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=MUTED),
        "head": ParagraphStyle("head", parent=base, fontSize=8.5, leading=11),
        "num": ParagraphStyle("num", parent=base, fontSize=8.5, leading=11, alignment=TA_RIGHT),
        "note": ParagraphStyle(
            "note",
            parent=base,
            textColor=colors.HexColor("#b42318"),
            backColor=colors.HexColor("#fdecea"),
            borderPadding=4,
            spaceBefore=4,
            spaceAfter=8,
        ),
    }


def esc(value: Any, limit: int | None = None) -> str:
    """Text for a Paragraph: cut to ``limit``, markup escaped, line breaks kept."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + " …"
    return escape(text).replace("\n", "<br/>")


def P(text: Any, style: ParagraphStyle, limit: int | None = None) -> Paragraph:
    return Paragraph(esc(text, limit), style)


def both(main: str, other: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    """A cell with the label in the report's language and, smaller, in the other one."""
    second = f'<br/><font size="7" color="#5b6472">{esc(other)}</font>' if other else ""
    return Paragraph(esc(main or "—") + second, st["cell"])


def badge(outcome: str, label: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    ink = L.OUTCOME_COLOURS.get(outcome, ("#1d2430", "#ffffff"))[0]
    mark = L.OUTCOME_MARKS_PDF.get(outcome, "")
    return Paragraph(f'<font color="{ink}">{esc(mark)} {esc(label)}</font>', st["cell"])


def badge_background(outcome: str) -> colors.Color:
    return colors.HexColor(L.OUTCOME_COLOURS.get(outcome, ("#000000", "#ffffff"))[1])


VERDICT_COLOURS = {"pass": "pass", "fail": "fail", "empty": "not_applicable"}


def grid(
    data: list[list[Any]], widths: list[float], font: str, extra: list[tuple[Any, ...]] | None = None
) -> Table:
    scale = WIDTH / sum(widths)  # widths are proportions of the text width
    table = Table(data, colWidths=[w * scale for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),  # plain-string cells too (else Helvetica)
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, LINE),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                *(extra or []),
            ]
        )
    )
    return table


def meta_table(rows: list[tuple[str, Any]], st: dict[str, ParagraphStyle]) -> Table:
    data = [[P(k, st["small"]), v if isinstance(v, Flowable) else P(v, st["cell"])] for k, v in rows]
    table = Table(data, colWidths=[28 * mm, WIDTH - 28 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st["base"].fontName),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return table


def verdict_cell(verdict: str, label: str, note: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    ink, bg = L.OUTCOME_COLOURS[VERDICT_COLOURS.get(verdict, "not_applicable")]
    mark = L.OUTCOME_MARKS_PDF[
        "pass" if verdict == "pass" else "fail" if verdict == "fail" else "not_applicable"
    ]
    extra = f'  <font color="#6b3fa0">{esc(note)}</font>' if note else ""
    return Paragraph(
        f'<font color="{ink}" backColor="{bg}"> {esc(mark)} {esc(label)} </font>{extra}',
        ParagraphStyle("verdict", parent=st["cell"], fontSize=10, leading=14),
    )


def group_chart(groups: list[GroupSummary], lang: str, font: FontChoice) -> Drawing:
    """The HTML report's chart as reportlab graphics: one stacked bar per property group."""
    row_h, bar_h, label_w, bar_w = 15.0, 9.0, 70.0, 250.0
    top = max((g.total for g in groups), default=0) or 1
    height = row_h * len(groups) + 18
    d = Drawing(WIDTH, height, initialFontName=font.name)  # else it sets (and lists) Helvetica
    for i, g in enumerate(groups):
        y = height - (i + 1) * row_h
        d.add(String(label_w - 6, y + 2, g.label, fontName=font.name, fontSize=8.5, textAnchor="end"))
        x = label_w
        for o in L.OUTCOMES:
            n = g.counts.get(o, 0)
            if n:
                w = bar_w * n / top
                d.add(Rect(x, y, w, bar_h, fillColor=colors.HexColor(L.BAR_COLOURS[o]), strokeColor=None))
                x += w
        present = [(o, n) for o, n in g.counts.items() if n]
        text = ("，" if L.is_zh(lang) else ", ").join(
            f"{L.pick(L.OUTCOME_LABELS[o], lang)} {n}" for o, n in present
        )
        d.add(String(x + 5, y + 2, text or "0", fontName=font.name, fontSize=7.5, fillColor=MUTED))
    x = label_w
    for o in L.OUTCOMES:
        name = L.pick(L.OUTCOME_LABELS[o], lang)
        d.add(Rect(x, 2, 7, 7, fillColor=colors.HexColor(L.BAR_COLOURS[o]), strokeColor=None))
        d.add(String(x + 10, 2.5, name, fontName=font.name, fontSize=7, fillColor=MUTED))
        x += 10 + stringWidth(name, font.name, 7) + 12
    return d


def summary_table(v: ReportView, ctx: dict[str, Any], st: dict[str, ParagraphStyle]) -> Table:
    t = ctx["t"]
    head = [P(t["property"], st["head"])]
    head += [P(f"{L.OUTCOME_MARKS_PDF[o['key']]} {o['label']}", st["head"]) for o in ctx["outcomes"]]
    head += [P(t["total"], st["head"]), P(t["verdict"], st["head"])]
    data: list[list[Any]] = [head]
    extra: list[tuple[Any, ...]] = [("ALIGN", (1, 1), (-2, -1), "RIGHT")]
    for i, g in enumerate(v.groups, 1):
        row: list[Any] = [both(g.label, g.label_other, st)]
        row += [str(n) for n in g.count_list] + [str(g.total)]
        row.append(badge(g.verdict, g.verdict_label, st) if g.verdict else "—")
        if g.verdict:
            extra.append(("BACKGROUND", (-1, i), (-1, i), badge_background(g.verdict)))
        data.append(row)
    data.append([P(t["total"], st["head"]), *[str(n) for n in v.count_list], str(v.total), ""])
    widths = [34 * mm] + [20 * mm] * 5 + [16 * mm, 28 * mm]
    return grid(data, widths, st["base"].fontName, extra)


def items_table(v: ReportView, ctx: dict[str, Any], st: dict[str, ParagraphStyle]) -> Table:
    t = ctx["t"]
    data: list[list[Any]] = [[P(t[k], st["head"]) for k in ("code", "item", "outcome", "target", "message")]]
    extra: list[tuple[Any, ...]] = []
    for g in v.groups:
        if not g.rows:
            continue
        data.append([both(g.label, g.label_other, st), "", "", "", ""])
        n = len(data) - 1
        extra += [("SPAN", (0, n), (-1, n)), ("BACKGROUND", (0, n), (-1, n), GROUP)]
        for r in g.rows:
            outcome: list[Any] = [badge(r.outcome, r.outcome_label, st)]
            if not r.blocking:
                outcome.append(P(t["non_blocking"], st["small"]))
            message: list[Any] = [P(r.message, st["cell"], MAX_MESSAGE)]
            if r.evidence:
                compact = evidence_text(r.evidence, MAX_EVIDENCE, compact=True)
                message.append(P(f"{t['evidence']}: {compact}", st["small"], MAX_EVIDENCE))
            data.append(
                [
                    P(r.code, st["cell"]),
                    both(r.name, r.name_other, st),
                    outcome,
                    P(r.target, st["cell"], MAX_TARGET),
                    message,
                ]
            )
            row = len(data) - 1
            extra.append(("BACKGROUND", (2, row), (2, row), badge_background(r.outcome)))
    widths = [19 * mm, 44 * mm, 20 * mm, 36 * mm, 59 * mm]
    return grid(data, widths, st["base"].fontName, extra)


def packages_table(ctx: dict[str, Any], st: dict[str, ParagraphStyle]) -> tuple[Table, str]:
    """The batch's packages with their verdicts and counts, and the legend of the count columns."""
    t = ctx["t"]
    head = [P(t[k], st["head"]) for k in ("no", "subject", "stage", "verdict")]
    head += [P(L.OUTCOME_MARKS_PDF[o["key"]], st["head"]) for o in ctx["outcomes"]]
    data: list[list[Any]] = [head]
    extra: list[tuple[Any, ...]] = [("ALIGN", (4, 1), (-1, -1), "RIGHT")]
    for v in ctx["views"]:
        colour = VERDICT_COLOURS.get(v.verdict, "not_applicable")
        data.append(
            [
                str(v.index),
                P(v.subject or "—", st["cell"], MAX_TARGET),
                P(v.stage_label, st["cell"]),
                badge(colour, v.verdict_label, st),
                *[str(n) for n in v.count_list],
            ]
        )
        extra.append(("BACKGROUND", (3, len(data) - 1), (3, len(data) - 1), badge_background(colour)))
    widths = [10 * mm, 68 * mm, 28 * mm, 22 * mm] + [10 * mm] * 5
    legend = "  ".join(f"{L.OUTCOME_MARKS_PDF[o['key']]} {o['label']}" for o in ctx["outcomes"])
    return grid(data, widths, st["base"].fontName, extra), legend


def canvas_maker(
    title: str,
    lang: str,
    font: FontChoice,
    *,
    pagesize: tuple[float, float] = A4,
    margin: float = MARGIN,
    title_chars: int = 80,
) -> Callable[..., canvas.Canvas]:
    """A canvas that writes "page n of N" and the document title on every page (two passes)."""
    page_w, page_h = pagesize

    class NumberedCanvas(canvas.Canvas):  # type: ignore[misc]  # reportlab has no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            self.saveState()
            self.setFont(font.name, 7.5)
            self.setFillColor(MUTED)
            self.setStrokeColor(LINE)
            self.line(margin, page_h - margin + 10, page_w - margin, page_h - margin + 10)
            self.drawString(margin, page_h - margin + 13, title[:title_chars])
            self.drawRightString(page_w - margin, page_h - margin + 13, "dangan")
            self.drawCentredString(
                page_w / 2, margin - 18, L.text("page", lang, page=self._pageNumber, total=total)
            )
            self.restoreState()

    return NumberedCanvas


def build(story: list[Flowable], *, title: str, lang: str, font: FontChoice, subject: str = "") -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 4,
        bottomMargin=MARGIN + 4,
        title=title,
        author="dangan",
        creator="dangan",
        subject=subject,
        lang="zh-CN" if L.is_zh(lang) else "en",
        initialFontName=font.name,  # else every page lists an unused, unembedded Helvetica
    )
    doc.build(story, canvasmaker=canvas_maker(title, lang, font))
    return buf.getvalue()


def font_note(
    font: FontChoice, lang: str, st: dict[str, ParagraphStyle], warnings: list[str] | None
) -> list[Flowable]:
    if font.embedded:
        return []
    if warnings is not None:
        warnings.append(font.warning)
    return [P(L.text("font_missing", lang), st["note"])]


def render_pdf(
    reports: list[dict[str, Any]],
    *,
    lang: str = "zh-hans",
    title: str | None = None,
    warnings: list[str] | None = None,
) -> bytes:
    """The PDF of ``reports`` (``CheckReport.to_dict()`` dicts). When no CJK TrueType font can be
    embedded, a note is printed on page 1 and appended to ``warnings`` (and logged)."""
    font = pdf_font()
    st = styles(font)
    ctx = document_context(list(reports), lang, title)
    t = ctx["t"]
    story: list[Flowable] = [P(ctx["title"], st["title"]), *font_note(font, lang, st, warnings)]
    subjects = ", ".join(ctx["subjects"]) + (f" … (+{ctx['more_subjects']})" if ctx["more_subjects"] else "")
    story.append(
        meta_table(
            [
                (t["subject"], subjects or "—"),
                (t["stage"], ", ".join(ctx["stages"]) or "—"),
                (t["checker"], ", ".join(ctx["checkers"]) or "—"),
                (t["finished"], ctx["time_range"] or "—"),
                (t["verdict"], verdict_cell(ctx["verdict"], ctx["verdict_label"], ctx["not_run_note"], st)),
            ],
            st,
        )
    )
    if ctx["batch"]:
        table, legend = packages_table(ctx, st)
        story += [P(t["packages"], st["h2"]), table, P(legend, st["small"])]
    for v in ctx["views"]:
        if ctx["batch"]:
            story.append(P(f"{v.index}. {v.subject or '—'}", st["h2"]))
            story.append(
                meta_table(
                    [
                        (t["stage"], v.stage_label or "—"),
                        (t["checker"], v.checker or "—"),
                        (t["started"], v.started or "—"),
                        (t["finished"], v.finished or "—"),
                        (t["verdict"], verdict_cell(v.verdict, v.verdict_label, v.not_run_note, st)),
                    ],
                    st,
                )
            )
        story += [P(t["summary"], st["h3"]), summary_table(v, ctx, st), Spacer(1, 4)]
        story.append(group_chart(v.groups, lang, font))
        story.append(P(t["items"], st["h3"]))
        story.append(items_table(v, ctx, st) if v.total else P(t["no_results"], st["cell"]))
    story += [Spacer(1, 10), P(ctx["generated"], st["small"])]
    return build(story, title=ctx["title"], lang=lang, font=font, subject=subjects)


# ---------------------------------------------------------------------------------------------
# GB/T 18894 表A.1 电子文件归档登记表


def registration_pdf(form: RegistrationForm, *, warnings: list[str] | None = None) -> bytes:
    from dangan.reports.registration import STATUS_OUTCOME, form_context

    font = pdf_font()
    st = styles(font)
    ctx = form_context(form)
    t, t_other = ctx["t"], ctx["t_other"]
    lang = form.lang

    def label(key: str) -> Paragraph:
        other = t_other[key]
        second = f'<br/><font size="7" color="#5b6472">{esc(other)}</font>' if other else ""
        return Paragraph(
            esc(t[key]) + second,
            ParagraphStyle("lbl", parent=st["cell"], alignment=1, fontSize=10, leading=13),
        )

    value = ParagraphStyle("val", parent=st["cell"], fontSize=10, leading=13)
    centre = ParagraphStyle("ctr", parent=value, alignment=1)
    method = "　　".join(f"[{'√' if m['checked'] else '　'}] {m['label']}" for m in ctx["methods"])
    checks = []
    for c in form.checks:
        ink = L.OUTCOME_COLOURS[c.outcome][0]
        detail = f'<br/><font size="7" color="#5b6472">{esc(c.detail)}</font>' if c.detail else ""
        checks.append(Paragraph(f'<font color="{ink}">{esc(c.text)}</font>{detail}', centre))
    check_labels = [
        Paragraph(
            esc(c.label) + (f'<br/><font size="7">{esc(c.label_other)}</font>' if t_other["checks"] else ""),
            centre,
        )
        for c in form.checks
    ]
    sign = ParagraphStyle("sign", parent=value)
    date_line = ParagraphStyle("date", parent=value, alignment=TA_RIGHT)

    def signature(key: str) -> list[Flowable]:
        return [Paragraph(esc(t[key]), sign), Spacer(1, 16 * mm), Paragraph(esc(t["date_line"]), date_line)]

    data: list[list[Any]] = [
        [label("unit"), Paragraph(esc(form.data.unit_name), value), "", "", "", "", ""],
        [label("period"), Paragraph(esc(form.period), value), "", "", label("category"), Paragraph(esc(form.data.category), value), ""],
        [label("quantity"), label("pieces"), label("sheets"), label("minutes"), label("bytes"), "", ""],
        ["", Paragraph(str(form.pieces), centre), Paragraph(str(form.sheets), centre), Paragraph(esc(form.minutes), centre), Paragraph(str(form.bytes), centre), "", ""],
        [label("method"), Paragraph(esc(method), value), "", "", "", "", ""],
        [label("checks"), *check_labels],
        ["", *checks],
        [label("notes"), [Paragraph(esc(n), value) for n in form.notes], "", "", "", "", ""],
        [signature("filled_by"), "", signature("reviewed_by"), "", "", signature("unit_seal"), ""],
    ]  # fmt: skip
    widths = [16.0] + [14.0] * 6
    style: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.8, INK),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("SPAN", (1, 0), (-1, 0)),
        ("SPAN", (1, 1), (3, 1)),
        ("SPAN", (5, 1), (-1, 1)),
        ("SPAN", (0, 2), (0, 3)),
        ("SPAN", (4, 2), (-1, 2)),
        ("SPAN", (4, 3), (-1, 3)),
        ("SPAN", (1, 4), (-1, 4)),
        ("SPAN", (0, 5), (0, 6)),
        ("SPAN", (1, 7), (-1, 7)),
        ("SPAN", (0, 8), (1, 8)),
        ("SPAN", (2, 8), (4, 8)),
        ("SPAN", (5, 8), (-1, 8)),
        ("VALIGN", (0, 7), (-1, 8), "TOP"),
        ("VALIGN", (0, 7), (0, 7), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]
    for i, c in enumerate(form.checks, 1):
        style.append(("BACKGROUND", (i, 6), (i, 6), badge_background(c.outcome)))
    scale = WIDTH / sum(widths)
    heights = [
        11 * mm,
        11 * mm,
        0,
        10 * mm,
        10 * mm,
        0,
        18 * mm,
        36 * mm,
        34 * mm,
    ]  # at least; grow with text
    table = Table(data, colWidths=[w * scale for w in widths], minRowHeights=heights)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font.name), *style]))

    title = ParagraphStyle("ftitle", parent=st["title"], alignment=1, fontSize=18, leading=24)
    story: list[Flowable] = [
        Paragraph(esc(t["title"]), title),
        Paragraph(esc(t["standard"]), ParagraphStyle("std", parent=st["small"], alignment=1, spaceAfter=8)),
        *font_note(font, lang, st, warnings),
        table,
        Spacer(1, 6),
        P(ctx["generated"], st["small"]),
        PageBreak(),
        P(t["list"], st["h2"]),
    ]
    head = [P(t[k], st["head"]) for k in ("no", "ref", "record_title", "files", "bytes", "verdict")]
    head.append(P(form.checks[1].label, st["head"]))
    rows: list[list[Any]] = [head]
    extra: list[tuple[Any, ...]] = [("ALIGN", (3, 1), (4, -1), "RIGHT")]
    for r in ctx["rows"]:
        rows.append(
            [
                str(r["no"]),
                P(r["ref"], st["cell"], MAX_TARGET),
                P(r["title"], st["cell"], MAX_TARGET),
                str(r["files"]),
                str(r["bytes"]),
                badge(VERDICT_COLOURS.get(r["verdict"], "not_applicable"), r["verdict_label"], st),
                badge(STATUS_OUTCOME[r["virus"]], r["virus_label"], st),
            ]
        )
    story.append(grid(rows, [9, 48, 52, 12, 20, 19, 18], font.name, extra))
    return build(story, title=t["title"], lang=lang, font=font, subject=form.data.unit_name)
