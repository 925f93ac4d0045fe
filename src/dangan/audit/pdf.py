"""The audit trail as PDF (reportlab): landscape A4, the CJK font of the reports embedded, a header
with the filter, the count, the chain head and the verification result, then one table row per event.

Built from the reports' pieces (``dangan.reports.pdf``: styles, escaping, the font note, the meta
table); only the page template is our own, because the reports' one is portrait.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from dangan.audit import labels as AL
from dangan.core.auditchain import canonical_json
from dangan.reports import labels as L
from dangan.reports.fonts import FontChoice, pdf_font
from dangan.reports.pdf import HEAD, INK, LINE, MUTED, P, canvas_maker, esc, font_note, meta_table, styles

if TYPE_CHECKING:
    from dangan.audit.models import AuditEvent
    from dangan.audit.services import AuditFilters
    from dangan.core.auditchain import Report

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 12 * mm
WIDTH = PAGE_W - 2 * MARGIN - 12  # the frame's 6 pt padding on each side

TEXT: dict[str, tuple[str, str]] = {
    "title": ("审计日志", "Audit log"),
    "filter": ("筛选条件", "Filter"),
    "no_filter": ("无（全部事件）", "none (every event)"),
    "count": ("事件数", "Events"),
    "count_value": ("共 {n} 条", "{n}"),
    "capped": (
        "本 PDF 仅列出按序号排列的前 {shown} 条（共 {n} 条）。请缩小筛选范围，或导出 CSV 以获得全部记录。",
        "This PDF lists only the first {shown} of {n} events (in chain order). Narrow the filter, or export "
        "CSV for all of them.",
    ),
    "head": ("导出时链头", "Chain head at export"),
    "head_value": ("序号 {seq}，哈希 {hash}", "seq {seq}, hash {hash}"),
    "empty_chain": ("审计日志为空", "the audit trail is empty"),
    "verify": ("链校验结果", "Chain verification"),
    "intact": ("完好：哈希链与已签名检查点均验证通过（{events} 条事件，{cps} 个检查点）",
               "Intact: the hash chain and the signed checkpoints verify ({events} events, {cps} checkpoints)"),
    "tampered": ("被篡改：首个异常位置 序号 {seq}（{kind}）：{message}",
                 "Tampered: first bad position seq {seq} ({kind}): {message}"),
    "exported_by": ("导出人", "Exported by"),
    "generated": ("生成时间", "Generated"),
    "order": ("按序号（时间）升序排列；时间为本机时区。", "In chain order (oldest first); times in the instance's time zone."),
    "seq": ("序号", "Seq"),
    "time": ("时间", "Time"),
    "actor": ("操作人", "Actor"),
    "role": ("角色", "Role"),
    "kind": ("事件", "Event"),
    "object": ("对象", "Object"),
    "outcome": ("结果", "Outcome"),
    "ip": ("来源 IP", "Source IP"),
    "detail": ("详情", "Detail"),
    "hash": ("哈希（前 16 位）", "Hash (first 16)"),
    "none": ("没有符合条件的事件。", "No events match."),
}  # fmt: skip

FILTER_LABELS: dict[str, tuple[str, str]] = {
    "date_from": ("起始日期", "from"),
    "date_to": ("截止日期", "to"),
    "actor": ("操作人", "actor"),
    "role": ("角色", "role"),
    "kind": ("事件类型", "kind"),
    "object_type": ("对象类型", "object type"),
    "object_id": ("对象标识", "object id"),
    "outcome": ("结果", "outcome"),
    "source_ip": ("来源 IP", "source IP"),
    "q": ("全文", "text"),
    "seq_from": ("起始序号", "seq from"),
    "seq_to": ("截止序号", "seq to"),
}


def t(key: str, lang: str, **values: Any) -> str:
    out = L.pick(TEXT[key], lang)
    return out.format(**values) if values else out


def filter_text(filters: AuditFilters, lang: str) -> str:
    params = filters.as_params()
    if not params:
        return t("no_filter", lang)
    sep = "；" if L.is_zh(lang) else "; "
    colon = "：" if L.is_zh(lang) else ": "
    return sep.join(f"{L.pick(FILTER_LABELS.get(k, (k, k)), lang)}{colon}{v}" for k, v in params.items())


def _verdict(report: Report, lang: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    first = report.first
    if first is None:
        ink, bg = L.OUTCOME_COLOURS["pass"]
        text = f"{L.OUTCOME_MARKS_PDF['pass']} " + t(
            "intact", lang, events=report.events, cps=report.checkpoints
        )
    else:
        ink, bg = L.OUTCOME_COLOURS["fail"]
        text = f"{L.OUTCOME_MARKS_PDF['fail']} " + t(
            "tampered", lang, seq=first.position, kind=first.kind, message=first.message
        )
    return Paragraph(
        f'<font color="{ink}" backColor="{bg}"> {esc(text)} </font>',
        ParagraphStyle("verdict", parent=st["cell"], fontSize=10, leading=14),
    )


FONT_SIZE = 7.0
LEADING = 8.6
PADDING = 2.5
MAX_LINES = 8  # lines of a cell (the detail JSON); a cell with more ends with "…", the CSV has it all
# Column widths in points (the detail takes the rest of the landscape text width).
COLUMNS: tuple[tuple[str, float], ...] = (
    ("seq", 30), ("time", 74), ("actor", 58), ("role", 58), ("kind", 80), ("object", 66),
    ("outcome", 26), ("ip", 60), ("detail", 0), ("hash", 66),
)  # fmt: skip


class _Wrapper:
    """Cuts text into lines that fit a width, character by character (JSON has no spaces to break
    at; Chinese has none either), with the glyph widths cached. Plain multi-line strings are laid
    out by reportlab's tables many times faster than paragraphs: 5,000 rows in seconds, not a minute.
    """

    def __init__(self, font_name: str, size: float) -> None:
        self.font_name, self.size = font_name, size
        self.widths: dict[str, float] = {}

    def __call__(self, text: str, width: float, max_lines: int = MAX_LINES) -> str:
        widths = self.widths
        limit = width - 2 * PADDING
        lines: list[str] = []
        line: list[str] = []
        used = 0.0
        for ch in text.replace("\r", ""):
            if ch == "\n":
                lines.append("".join(line))
                line, used = [], 0.0
            else:
                w = widths.get(ch)
                if w is None:
                    w = widths[ch] = stringWidth(ch, self.font_name, self.size)
                if used + w > limit and line:
                    lines.append("".join(line))
                    line, used = [], 0.0
                line.append(ch)
                used += w
            if len(lines) > max_lines:
                break
        lines.append("".join(line))
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = lines[-1][:-1] + "…"
        return "\n".join(lines)


def _table(
    rows: Sequence[AuditEvent], lang: str, font: FontChoice, st: dict[str, ParagraphStyle]
) -> LongTable:
    from dangan.audit.services import local_iso

    fixed = sum(w for _, w in COLUMNS)
    widths = [w or WIDTH - fixed for _, w in COLUMNS]
    col = {key: widths[i] for i, (key, _) in enumerate(COLUMNS)}
    wrap = _Wrapper(font.name, FONT_SIZE)
    data: list[list[Any]] = [[P(t(key, lang), st["head"]) for key, _ in COLUMNS]]
    extra: list[tuple[Any, ...]] = []
    fail_ink = colors.HexColor(L.OUTCOME_COLOURS["fail"][0])
    for e in rows:
        label = AL.kind_label(e.kind, lang)
        obj = f"{e.object_type}:{e.object_id}" if e.object_id else e.object_type
        data.append(
            [
                str(e.seq),
                local_iso(e.at)[:19].replace("T", " "),
                wrap(e.actor, col["actor"], 3),
                wrap(AL.role_label(e.role, lang), col["role"], 3),
                wrap(f"{label}\n{e.kind}" if label else e.kind, col["kind"], 3),
                wrap(obj, col["object"], 3),
                AL.outcome_label(e.outcome, lang),
                wrap(e.source_ip, col["ip"], 2),
                wrap(canonical_json(e.detail) if e.detail else "", col["detail"]),
                e.hash[:16],
            ]
        )
        if e.outcome != "success":
            n = len(data) - 1
            extra.append(("TEXTCOLOR", (6, n), (6, n), fail_ink))
    table = LongTable(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font.name),
                ("FONTSIZE", (0, 0), (-1, -1), FONT_SIZE),
                ("LEADING", (0, 0), (-1, -1), LEADING),
                ("GRID", (0, 0), (-1, -1), 0.4, LINE),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (0, 1), (0, -1), "RIGHT"),
                ("TEXTCOLOR", (4, 1), (5, -1), INK),
                ("TEXTCOLOR", (7, 1), (7, -1), MUTED),
                ("LEFTPADDING", (0, 0), (-1, -1), PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), PADDING),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                *extra,
            ]
        )
    )
    return table


def render_events_pdf(
    rows: Sequence[AuditEvent],
    *,
    total: int,
    filters: AuditFilters,
    head_seq: int,
    head_hash: str,
    report: Report,
    lang: str = "zh-hans",
    generated_at: datetime | None = None,
    exported_by: str = "",
) -> bytes:
    """``rows`` (already capped) of the ``total`` selected events as a landscape A4 PDF."""
    font = pdf_font()
    st = styles(font)
    title = t("title", lang)
    head = t("head_value", lang, seq=head_seq, hash=head_hash) if head_seq else t("empty_chain", lang)
    meta: list[tuple[str, Any]] = [
        (t("filter", lang), filter_text(filters, lang)),
        (t("count", lang), t("count_value", lang, n=f"{total:,}")),
        (t("head", lang), head),
        (t("verify", lang), _verdict(report, lang, st)),
    ]
    if exported_by:
        meta.append((t("exported_by", lang), exported_by))
    when = timezone.localtime(generated_at or timezone.now())
    meta.append((t("generated", lang), f"{when:%Y-%m-%d %H:%M:%S %z}"))
    story: list[Flowable] = [P(title, st["title"]), *font_note(font, lang, st, None), meta_table(meta, st)]
    if total > len(rows):
        story.append(P(t("capped", lang, shown=f"{len(rows):,}", n=f"{total:,}"), st["note"]))
    story += [Spacer(1, 4), P(t("order", lang), st["small"]), Spacer(1, 4)]
    story.append(_table(rows, lang, font, st) if rows else P(t("none", lang), st["cell"]))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=(PAGE_W, PAGE_H),
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 4,
        bottomMargin=MARGIN + 4,
        title=title,
        author="dangan",
        creator="dangan",
        subject=filter_text(filters, lang),
        lang="zh-CN" if L.is_zh(lang) else "en",
        initialFontName=font.name,
    )
    doc.build(
        story,
        canvasmaker=canvas_maker(
            title, lang, font, pagesize=(PAGE_W, PAGE_H), margin=MARGIN - 2, title_chars=120
        ),
    )
    return buf.getvalue()
