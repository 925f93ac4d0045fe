"""A check report (``CheckReport.to_dict()``) arranged for people: results grouped by property
(真实性/完整性/可用性/安全性) with counts, item names from the catalogue in both languages, and a
small inline-SVG chart. The HTML report, the PDF report and the record page all use this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from dangan.core.checks.catalogue import item_for_code
from dangan.reports import labels as L

EVIDENCE_LIMIT = 20_000  # characters of evidence JSON shown per result


@dataclass
class ItemRow:
    code: str
    name: str  # in the report's language ("" when the code is not in the catalogue)
    name_other: str  # in the other language
    prop: str  # authenticity | integrity | usability | security | other
    outcome: str
    outcome_label: str
    outcome_other: str
    mark: str
    target: str
    message: str
    blocking: bool
    evidence: dict[str, Any]
    evidence_text: str  # pretty JSON ("" when there is no evidence)


@dataclass
class GroupSummary:
    key: str
    label: str
    label_other: str
    counts: dict[str, int]  # every outcome, in display order
    total: int
    verdict: str  # the worst outcome of the group ("" when it has no results)
    verdict_label: str
    rows: list[ItemRow] = field(default_factory=list)
    lang: str = "zh-hans"

    @property
    def count_list(self) -> list[int]:
        return [self.counts.get(o, 0) for o in L.OUTCOMES]

    @property
    def mark(self) -> str:
        return L.OUTCOME_MARKS.get(self.verdict, "")

    @property
    def count_items(self) -> list[dict[str, Any]]:
        """The outcomes that occur, with their labels (for compact summaries)."""
        return [
            {"outcome": o, "label": _outcome_label(o, self.lang), "count": n}
            for o, n in self.counts.items()
            if n
        ]


@dataclass
class ReportView:
    index: int
    anchor: str
    subject: str
    stage: str
    stage_label: str
    checker: str
    started: str
    finished: str
    verdict: str  # pass | fail | empty
    verdict_label: str
    counts: dict[str, int]
    total: int
    groups: list[GroupSummary]
    lang: str

    @property
    def count_list(self) -> list[int]:
        return [self.counts.get(o, 0) for o in L.OUTCOMES]

    @property
    def not_run(self) -> int:
        return self.counts.get("not_run", 0)

    @property
    def not_run_note(self) -> str:
        return L.text("not_run_note", self.lang, n=self.not_run) if self.not_run else ""

    @property
    def rows(self) -> list[ItemRow]:
        return [row for g in self.groups for row in g.rows]

    @property
    def chart_svg(self) -> str:
        return group_chart_svg(self.groups, self.lang)


def _outcome_label(outcome: str, lang: str) -> str:
    pair = L.OUTCOME_LABELS.get(outcome)
    return L.pick(pair, lang) if pair else outcome


def worst(outcomes: list[str]) -> str:
    """The worst of ``outcomes`` (fail > warning > not_run > pass > not_applicable); "" if none.
    An outcome this module does not know counts as the worst (it is shown, never hidden)."""
    unknown = [o for o in outcomes if o not in L.SEVERITY]
    if unknown:
        return unknown[0]
    for o in L.SEVERITY:
        if o in outcomes:
            return o
    return ""


def format_time(value: str | None) -> str:
    """An ISO time of a report in the instance's time zone, "2025-03-05 16:40:00 +08:00"."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        from django.conf import settings
        from django.utils import timezone

        if settings.configured:
            parsed = timezone.localtime(parsed)
        offset = parsed.strftime("%z")
        return parsed.strftime("%Y-%m-%d %H:%M:%S") + (f" {offset[:3]}:{offset[3:]}" if offset else "")
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def evidence_text(evidence: Any, limit: int = EVIDENCE_LIMIT, *, compact: bool = False) -> str:
    """Evidence as JSON (indented, or on one line when ``compact``), cut at ``limit`` characters."""
    if not evidence:
        return ""
    try:
        if compact:
            out = json.dumps(
                evidence, ensure_ascii=False, sort_keys=True, default=str, separators=(", ", ": ")
            )
        else:
            out = json.dumps(evidence, ensure_ascii=False, sort_keys=True, default=str, indent=2)
    except (TypeError, ValueError):
        out = repr(evidence)
    return out if len(out) <= limit else out[:limit] + " …"


def item_row(result: dict[str, Any], lang: str) -> ItemRow:
    code = str(result.get("code", ""))
    item = item_for_code(code)
    outcome = str(result.get("outcome", ""))
    pair = (item.name_zh, item.name_en) if item is not None else ("", "")
    pair_outcome = L.OUTCOME_LABELS.get(outcome, (outcome, outcome))
    evidence = result.get("evidence") or {}
    return ItemRow(
        code=code,
        name=L.pick(pair, lang),
        name_other=L.other(pair, lang),
        prop=item.prop.value if item is not None else "other",
        outcome=outcome,
        outcome_label=L.pick(pair_outcome, lang),
        outcome_other=L.other(pair_outcome, lang),
        mark=L.OUTCOME_MARKS.get(outcome, "?"),
        target=str(result.get("target", "") or ""),
        message=str(result.get("message", "") or ""),
        blocking=bool(result.get("blocking", True)),
        evidence=evidence if isinstance(evidence, dict) else {"value": evidence},
        evidence_text=evidence_text(evidence),
    )


def group_results(report: dict[str, Any] | None, lang: str = "zh-hans") -> list[GroupSummary]:
    """The four property groups (always, in order) and "other" when a code is not in the catalogue."""
    rows = [item_row(r, lang) for r in (report or {}).get("results") or [] if isinstance(r, dict)]
    keys = [*L.PROPERTIES, *(["other"] if any(r.prop == "other" for r in rows) else [])]
    groups = []
    for key in keys:
        mine = [r for r in rows if r.prop == key]
        counts = {o: 0 for o in L.OUTCOMES}
        for r in mine:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        verdict = worst([r.outcome for r in mine])
        groups.append(
            GroupSummary(
                key=key,
                label=L.pick(L.PROPERTY_LABELS[key], lang),
                label_other=L.other(L.PROPERTY_LABELS[key], lang),
                counts=counts,
                total=len(mine),
                verdict=verdict,
                verdict_label=_outcome_label(verdict, lang) if verdict else "—",
                rows=mine,
                lang=lang,
            )
        )
    return groups


def report_verdict(report: dict[str, Any] | None) -> str:
    """pass | fail | empty: the report's own ``passed`` when it has one, else no blocking failure."""
    report = report or {}
    results = [r for r in report.get("results") or [] if isinstance(r, dict)]
    passed = report.get("passed")
    if isinstance(passed, bool):
        return "pass" if passed else "fail"
    if not results:
        return "empty"
    blocking_fail = any(r.get("outcome") == "fail" and r.get("blocking", True) for r in results)
    return "fail" if blocking_fail else "pass"


def build_view(report: dict[str, Any] | None, lang: str = "zh-hans", index: int = 1) -> ReportView:
    report = report or {}
    groups = group_results(report, lang)
    counts = {o: sum(g.counts.get(o, 0) for g in groups) for o in L.OUTCOMES}
    stage = str(report.get("stage", "") or "")
    verdict = report_verdict(report)
    return ReportView(
        index=index,
        anchor=f"report-{index}",
        subject=str(report.get("subject", "") or ""),
        stage=stage,
        stage_label=L.pick(L.STAGE_LABELS[stage], lang) if stage in L.STAGE_LABELS else stage,
        checker=str(report.get("checker", "") or ""),
        started=format_time(report.get("started_at")),
        finished=format_time(report.get("finished_at")),
        verdict=verdict,
        verdict_label=L.pick(L.VERDICT_LABELS[verdict], lang),
        counts=counts,
        total=sum(counts.values()),
        groups=groups,
        lang=lang,
    )


# ---------------------------------------------------------------------------------------------
# The chart: one stacked bar per property group, scaled to the largest group, with the counts
# written next to it (so the chart does not rely on colour) and a legend.

_CHART_W = 640
_LABEL_W = 96
_BAR_W = 300
_ROW_H = 28
_BAR_H = 16


def group_chart_svg(groups: list[GroupSummary], lang: str) -> str:
    """Inline SVG (no external resources, no script). Every text is escaped here."""
    title = escape(L.text("chart_title", lang))
    top = max((g.total for g in groups), default=0) or 1
    rows = []
    desc = []
    for i, g in enumerate(groups):
        y = 6 + i * _ROW_H
        x = float(_LABEL_W)
        parts = []
        for o in L.OUTCOMES:
            n = g.counts.get(o, 0)
            if not n:
                continue
            w = round(_BAR_W * n / top, 2)
            label = escape(f"{_outcome_label(o, lang)} {n}")
            parts.append(
                f'<rect x="{x:.2f}" y="{y + (_ROW_H - _BAR_H) / 2:.1f}" width="{w:.2f}" height="{_BAR_H}" '
                f'fill="{L.BAR_COLOURS[o]}"><title>{escape(g.label)}: {label}</title></rect>'
            )
            x += w
        present = [(o, n) for o, n in g.counts.items() if n]
        summary = ("，" if L.is_zh(lang) else ", ").join(f"{_outcome_label(o, lang)} {n}" for o, n in present)
        if len(present) > 1:
            summary += f" ({L.text('total', lang)} {g.total})"
        summary = summary or "0"
        desc.append(f"{g.label} {summary}")
        rows.append(
            f'<text x="{_LABEL_W - 8}" y="{y + _ROW_H / 2:.1f}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="13" fill="#1d2430">{escape(g.label)}</text>'
            + "".join(parts)
            + f'<text x="{x + 8:.2f}" y="{y + _ROW_H / 2:.1f}" dominant-baseline="middle" font-size="12" '
            f'fill="#5b6472">{escape(summary)}</text>'
        )
    legend_y = 6 + len(groups) * _ROW_H + 8
    legend = []
    lx = float(_LABEL_W)
    for o in L.OUTCOMES:
        name = _outcome_label(o, lang)
        legend.append(
            f'<rect x="{lx:.1f}" y="{legend_y}" width="10" height="10" fill="{L.BAR_COLOURS[o]}"></rect>'
            f'<text x="{lx + 14:.1f}" y="{legend_y + 5}" dominant-baseline="middle" font-size="11" '
            f'fill="#5b6472">{escape(name)}</text>'
        )
        lx += 14 + 12 * len(name) + 16 if L.is_zh(lang) else 14 + 6.5 * len(name) + 16
    height = legend_y + 18
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" viewBox="0 0 {_CHART_W} {height}" '
        f'width="100%" role="img" '  # max-width: .report-chart in the CSS (no inline style: CSP)
        f"font-family=\"system-ui, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', sans-serif\">"
        f"<title>{title}</title><desc>{escape('; '.join(desc))}</desc>"
        + "".join(rows)
        + "".join(legend)
        + "</svg>"
    )
