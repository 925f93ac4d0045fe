"""Small presentation helpers for the web UI: an inline-SVG bar chart (no JavaScript) and lookups."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import Any

from django import template

register = template.Library()

_ids = itertools.count(1)

CHART_WIDTH = 640
LABEL_WIDTH = 210
VALUE_GAP = 8
VALUE_WIDTH = 56
ROW_HEIGHT = 30
BAR_HEIGHT = 18
PAD = 6
LABEL_CHARS = 14


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


@register.inclusion_tag("web/_bar_chart.html")
def bar_chart(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """A horizontal bar chart of ``rows`` ({"label", "value", "url"}) as accessible inline SVG."""
    top = max((int(r["value"]) for r in rows), default=0) or 1
    area = CHART_WIDTH - LABEL_WIDTH - VALUE_GAP - VALUE_WIDTH
    bars = []
    for i, r in enumerate(rows):
        value = int(r["value"])
        y = PAD + i * ROW_HEIGHT
        width = max(2.0, round(area * value / top, 1)) if value else 0.0
        bars.append(
            {
                "label": str(r["label"]),
                "short": _short(str(r["label"])),
                "value": value,
                "url": r.get("url", ""),
                "y": y,
                "bar_y": y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                "text_y": y + ROW_HEIGHT / 2,
                "width": width,
                "value_x": LABEL_WIDTH + width + VALUE_GAP,
            }
        )
    return {
        "chart_id": f"chart-{next(_ids)}",
        "title": title,
        "bars": bars,
        "width": CHART_WIDTH,
        "height": PAD * 2 + ROW_HEIGHT * len(rows),
        "label_x": LABEL_WIDTH - VALUE_GAP,
        "bar_x": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
    }


@register.filter
def lookup(mapping: dict[Any, Any], key: Any) -> Any:
    """``{{ labels|lookup:record.status }}``."""
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return key


@register.filter
def dash(value: Any) -> Any:
    """Show an absent metadata value (None) as an em dash, an empty one as an empty string."""
    return "—" if value is None else value


# A date and a time of day (ISO 8601, "T" or space between), optional seconds, fraction and zone.
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?", re.ASCII
)


@register.filter
def iso_datetime(value: Any) -> Any:
    """Show an ISO date-time string of the metadata as "2024-09-20 11:30:23" (a zone, when given,
    follows: "+08:00", "UTC"). The value is shown as it was sent, not converted to local time.
    Anything else, a date alone included, is returned unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not _ISO_DATETIME.fullmatch(text):
        return value
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return value
    shown = parsed.strftime("%Y-%m-%d %H:%M:%S")
    offset = parsed.utcoffset()
    if offset is not None:
        if text.endswith("Z"):
            shown += " UTC"
        else:
            minutes = int(offset.total_seconds()) // 60
            sign = "+" if minutes >= 0 else "-"
            shown += f" {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return shown


@register.simple_tag
def nav_perms(user: Any) -> dict[str, bool]:
    """Which navigation entries to show to ``user`` (pages check permissions again)."""
    from dangan.accounts.roles import Actor, Perm

    if not getattr(user, "is_authenticated", False):
        return {}
    actor = Actor.from_user(user)
    return {
        "records": actor.can(Perm.VIEW_RECORDS),
        "submissions": actor.can(Perm.VIEW_SUBMISSIONS),
        "audit": actor.can(Perm.READ_AUDIT),
        "accounts": any(actor.can(p) for p in (Perm.MANAGE_ACCOUNTS, Perm.ASSIGN_ROLES, Perm.MANAGE_TOKENS)),
    }
