"""The CJK font of PDF reports: a TrueType font found on this machine, embedded as a subset.

Where the font comes from, first usable wins:

1. ``DANGAN_REPORT_FONT``: a path to a ``.ttf`` or ``.ttc`` file, optionally ``#index`` for the
   face inside a collection (``/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc#0``).
2. Common system paths (``SYSTEM_FONTS``): Debian/Ubuntu ``fonts-wqy-microhei`` (recommended),
   ``fonts-wqy-zenhei``, ``fonts-arphic-uming``/``ukai``, ``fonts-droid-fallback``; the usual macOS
   and Windows fonts.
3. Whatever ``fc-list :lang=zh`` names, when fontconfig is installed.

A candidate is usable when reportlab can embed it (TrueType outlines: CFF/OpenType fonts such as
Noto Sans CJK ``.otf``/``.ttc`` are skipped) and it has glyphs for Chinese text.

When nothing is usable the PDF falls back to Adobe's CID font ``STSong-Light``, which reportlab
references without embedding: Adobe Reader shows it, other viewers may show empty boxes. The PDF
then carries a visible note and a warning is logged, both saying which package to install.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger("dangan.reports")

ENV = "DANGAN_REPORT_FONT"
INSTALL_HINT = "apt-get install fonts-wqy-microhei (or set DANGAN_REPORT_FONT to a TrueType CJK font)"
FALLBACK_CID = "STSong-Light"
PROBE = "档案检测报告"  # a font must have glyphs for these to be used

SYSTEM_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora, Arch
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/TTF/wqy-microhei.ttc",
    "/System/Library/Fonts/Supplemental/Songti.ttc",  # macOS
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/simsun.ttc",  # Windows
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/msyh.ttc",
)


@dataclass(frozen=True)
class FontChoice:
    """The font the PDF reports use. ``name`` is the name registered with reportlab."""

    name: str
    embedded: bool
    path: str = ""
    index: int = 0
    face_name: str = ""  # the font's PostScript name (the PDF's BaseFont, after the subset prefix)
    warning: str = ""
    tried: tuple[str, ...] = ()  # candidates rejected, with the reason (for diagnostics)


def _parse(spec: str) -> tuple[str, int]:
    path, _, index = spec.partition("#")
    try:
        return path, int(index) if index else 0
    except ValueError:
        return path, 0


def _fontconfig_candidates() -> list[str]:
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "file", "index"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    specs = []
    for line in sorted(out.splitlines()):
        # "/path/font.ttc: :index=1" or "/path/font.ttf: "
        path, _, rest = line.partition(":")
        index = rest.split("index=")[-1].strip() if "index=" in rest else "0"
        if path.lower().endswith((".ttf", ".ttc")):
            specs.append(f"{path.strip()}#{index}")
    return specs[:40]


def _try(spec: str) -> tuple[TTFont | None, str]:
    path, index = _parse(spec)
    if not path or not Path(path).is_file():
        return None, "not found"
    try:
        font = TTFont(f"DanganCJK-{Path(path).stem}-{index}", path, subfontIndex=index)
    except (TTFError, OSError, ValueError, KeyError, IndexError) as exc:
        return None, f"not embeddable ({exc})"
    glyphs = getattr(font.face, "charToGlyph", {})
    if not all(ord(ch) in glyphs for ch in PROBE):
        return None, "no Chinese glyphs"
    return font, ""


@cache
def _resolve(env_spec: str) -> FontChoice:
    tried: list[str] = []
    specs = ([env_spec] if env_spec else []) + list(SYSTEM_FONTS) + _fontconfig_candidates()
    for spec in dict.fromkeys(specs):
        font, why = _try(spec)
        if font is None:
            if spec == env_spec or why != "not found":
                tried.append(f"{spec}: {why}")
            if spec == env_spec:
                log.warning("%s=%s is not usable for PDF reports: %s", ENV, env_spec, why)
            continue
        pdfmetrics.registerFont(font)
        path, index = _parse(spec)
        return FontChoice(
            name=font.fontName,
            embedded=True,
            path=path,
            index=index,
            face_name=font.face.name.decode("latin-1")
            if isinstance(font.face.name, bytes)
            else str(font.face.name),
            tried=tuple(tried),
        )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID))
    warning = f"no embeddable CJK TrueType font found; PDF reports use {FALLBACK_CID} (not embedded): {INSTALL_HINT}"
    log.warning(warning)
    return FontChoice(
        name=FALLBACK_CID, embedded=False, face_name=FALLBACK_CID, warning=warning, tried=tuple(tried)
    )


def pdf_font() -> FontChoice:
    """The font for PDF reports (found once per process and ``DANGAN_REPORT_FONT`` value)."""
    return _resolve(os.environ.get(ENV, "").strip())
