"""A stacked horizontal bar chart as inline SVG (no JavaScript) for the deadline pages: one bar per
agency or service item, one segment per band (overdue, due within 30 days, due in 31–90 days), each
segment a link to the records it counts."""

from __future__ import annotations

import itertools
from typing import Any

from django import template

register = template.Library()

_ids = itertools.count(1)

CHART_WIDTH = 640
LABEL_WIDTH = 210
GAP = 8
VALUE_WIDTH = 48
ROW_HEIGHT = 30
BAR_HEIGHT = 18
PAD = 6
LEGEND_HEIGHT = 26
LABEL_CHARS = 14


def _text_width(text: str) -> float:
    """About how wide ``text`` is at the chart's 13 px: CJK characters are square, others narrower."""
    return sum(13.0 if ord(ch) >= 0x2E80 else 7.5 for ch in text)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


@register.inclusion_tag("web/_stacked_bar_chart.html")
def stacked_bar_chart(rows: list[dict[str, Any]], series: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """``rows``: ``{"label", "values": [n per series], "urls": [url per series]}``; ``series``:
    ``{"key", "label"}``. Rows whose values are all 0 are drawn as an empty bar with total 0."""
    totals = [sum(int(v) for v in r["values"]) for r in rows]
    top = max(totals, default=0) or 1
    area = CHART_WIDTH - LABEL_WIDTH - GAP - VALUE_WIDTH
    bars = []
    for i, (r, total) in enumerate(zip(rows, totals, strict=True)):
        y = PAD + i * ROW_HEIGHT
        x = float(LABEL_WIDTH)
        segments = []
        urls = r.get("urls") or [""] * len(series)
        for s, value, url in zip(series, r["values"], urls, strict=True):
            value = int(value)
            if not value:
                continue
            width = max(2.0, round(area * value / top, 1))
            segments.append(
                {
                    "key": s["key"],
                    "label": str(s["label"]),
                    "value": value,
                    "url": url,
                    "x": round(x, 1),
                    "width": width,
                    "colour": s.get("colour", "#5b6472"),
                }
            )
            x += width
        bars.append(
            {
                "label": str(r["label"]),
                "short": _short(str(r["label"])),
                "total": total,
                "segments": segments,
                "y": y,
                "bar_y": y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                "text_y": y + ROW_HEIGHT / 2,
                "value_x": round(x + GAP, 1),
            }
        )
    legend_y = PAD * 2 + ROW_HEIGHT * len(rows)
    legend = []
    lx = float(LABEL_WIDTH)
    for s in series:
        label = str(s["label"])
        legend.append({"label": label, "x": lx, "colour": s.get("colour", "#5b6472"), "text_x": lx + 14})
        lx += 14 + _text_width(label) + 16
    return {
        "chart_id": f"stacked-{next(_ids)}",
        "title": title,
        "bars": bars,
        "legend": legend,
        "legend_y": legend_y,
        "legend_text_y": legend_y + 9,
        "width": CHART_WIDTH,
        "height": legend_y + LEGEND_HEIGHT,
        "label_x": LABEL_WIDTH - GAP,
        "bar_height": BAR_HEIGHT,
    }
