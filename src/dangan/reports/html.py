"""Check reports as one self-contained HTML document (inline CSS and SVG, no scripts, no external
resources; prints on A4). Everything from the report is escaped by Django's template engine."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.template import Context, Engine
from django.utils import timezone

from dangan.reports import labels as L
from dangan.reports.summary import ReportView, build_view, format_time

TEMPLATES = Path(__file__).parent / "templates"
MAX_SUBJECTS = 12  # subjects listed in a batch report's header


@cache
def engine() -> Engine:
    """The reports' own template engine: it does not depend on INSTALLED_APPS or the site's templates."""
    return Engine(dirs=[str(TEMPLATES)], autoescape=True, string_if_invalid="")


def outcome_columns(lang: str) -> list[dict[str, str]]:
    return [
        {
            "key": o,
            "label": L.pick(L.OUTCOME_LABELS[o], lang),
            "mark": L.OUTCOME_MARKS[o],
            "ink": L.OUTCOME_COLOURS[o][0],
            "bg": L.OUTCOME_COLOURS[o][1],
        }
        for o in L.OUTCOMES
    ]


def _unique(values: list[str]) -> list[str]:
    return [v for v in dict.fromkeys(values) if v]


def document_context(reports: list[dict[str, Any]], lang: str, title: str | None) -> dict[str, Any]:
    """What both the HTML and the PDF report show: header fields, the views of each report."""
    views: list[ReportView] = [build_view(r, lang, i) for i, r in enumerate(reports, 1)]
    batch = len(views) > 1
    verdicts = {v.verdict for v in views}
    verdict = "fail" if "fail" in verdicts else "pass" if "pass" in verdicts else "empty"
    finished = sorted(t for v in views for t in [v.finished or v.started] if t)
    if not finished:
        time_range = ""
    elif finished[0] == finished[-1]:
        time_range = finished[0]
    else:
        time_range = f"{finished[0]} – {finished[-1]}"
    not_run = sum(v.not_run for v in views)
    subjects = [v.subject for v in views]
    return {
        "lang": lang,
        "html_lang": "zh-Hans" if L.is_zh(lang) else "en",
        "title": title or L.text("batch_title" if batch else "title", lang),
        "t": {k: L.pick(pair, lang) for k, pair in L.TEXT.items()},
        "outcomes": outcome_columns(lang),
        "views": views,
        "batch": batch,
        "subjects": subjects[:MAX_SUBJECTS],
        "more_subjects": max(0, len(subjects) - MAX_SUBJECTS),
        "stages": _unique([v.stage_label for v in views]),
        "checkers": _unique([v.checker for v in views]),
        "time_range": time_range,
        "verdict": verdict,
        "verdict_label": L.pick(L.VERDICT_LABELS[verdict], lang),
        "verdict_other": L.other(L.VERDICT_LABELS[verdict], lang),
        "not_run_note": L.text("not_run_note", lang, n=not_run) if not_run else "",
        "generated": L.text(
            "generated", lang, time=format_time(timezone.now().isoformat(timespec="seconds"))
        ),
    }


def render_html(reports: list[dict[str, Any]], *, lang: str = "zh-hans", title: str | None = None) -> str:
    """One HTML document for ``reports`` (``CheckReport.to_dict()`` dicts). Several reports (a batch)
    get a summary table of the packages first, then each report."""
    ctx = document_context(list(reports), lang, title)
    return engine().get_template("reports/report.html").render(Context(ctx))
