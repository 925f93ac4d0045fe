"""Four-property check reports for people, and the GB/T 18894 表A.1 电子文件归档登记表.

Public API (labels in Chinese with ``lang="zh-hans"``, English with ``lang="en"``; an item's name is
shown in both languages either way):

* ``render_html(reports, *, lang, title=None) -> str``: one self-contained HTML document (inline CSS
  and SVG, no scripts, no external resources, printable). ``reports`` are
  ``CheckReport.to_dict()`` dicts; several (a batch) get a summary table of the packages first.
  Everything taken from a report is escaped: messages and targets come from outside packages.
* ``render_pdf(reports, *, lang, title=None, warnings=None) -> bytes``: the same content as PDF on
  A4, with page numbers and a CJK TrueType font embedded as a subset. Font discovery and the
  fallback without an embeddable font are described in ``dangan.reports.fonts``; when it falls
  back, the PDF says so on page 1 and the reason is appended to ``warnings`` and logged.
* ``registration_form(RegistrationInput, *, lang) -> RegistrationForm`` and
  ``render_registration_html`` / ``render_registration_pdf``: the 归档登记表 of a batch
  (``dangan.reports.registration`` says what is computed and how).
* ``summary.build_view(report, lang)``: the grouping the three outputs share (used by the web UI).
* ``dangan.reports.records``: the same for ``Record`` rows (``record_reports``,
  ``registration_input``, ``archived_records``); import it once Django's apps are loaded.
"""

from __future__ import annotations

from dangan.reports.fonts import FontChoice, pdf_font
from dangan.reports.html import render_html
from dangan.reports.pdf import render_pdf
from dangan.reports.registration import (
    RecordSummary,
    RegistrationForm,
    RegistrationInput,
    registration_form,
    render_registration_html,
    render_registration_pdf,
)
from dangan.reports.summary import ReportView, build_view

__all__ = [
    "FontChoice",
    "RecordSummary",
    "RegistrationForm",
    "RegistrationInput",
    "ReportView",
    "build_view",
    "pdf_font",
    "registration_form",
    "render_html",
    "render_pdf",
    "render_registration_html",
    "render_registration_pdf",
]
