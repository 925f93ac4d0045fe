"""The Chinese catalogue is complete and the shipped .mo is compiled from the current .po."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import dangan

LOCALE = Path(dangan.__file__).parent / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
WEB = Path(dangan.__file__).parent / "web"


def parse_po(path: Path) -> list[dict]:
    """A small .po reader: entries with msgctxt, msgid, msgid_plural, msgstr / msgstr[n] and flags."""
    entries: list[dict] = []
    entry: dict = {}
    key = ""

    def flush():
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {}

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#,"):
            if "msgid" in entry:
                flush()
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$', line)
        if m:
            key = m.group(1)
            if key in ("msgctxt", "msgid") and "msgid" in entry and key in entry:
                flush()
            if key == "msgctxt" and "msgid" in entry:
                flush()
            entry[key] = ast.literal_eval(m.group(2))
        else:
            assert line.startswith('"'), f"unexpected line in {path}: {raw!r}"
            entry[key] += ast.literal_eval(line)
    flush()
    return entries


def test_every_message_has_a_chinese_translation():
    entries = parse_po(PO)
    assert len(entries) > 50
    problems = []
    for e in entries:
        if e["msgid"] == "":
            continue
        if "fuzzy" in e.get("flags", set()):
            problems.append(f"fuzzy: {e['msgid']!r}")
        strs = [v for k, v in e.items() if k.startswith("msgstr")]
        if not strs or not all(s.strip() for s in strs):
            problems.append(f"untranslated: {e['msgid']!r}")
        for placeholder in re.findall(r"%\(\w+\)s|\{\w+\}", e["msgid"]):
            if not all(placeholder in s for s in strs):
                problems.append(f"placeholder {placeholder} lost in {e['msgid']!r}")
    assert not problems, "\n".join(problems)


def test_shipped_mo_matches_the_po():
    """Compare catalogue contents, so the test needs neither msgfmt nor a byte-identical compiler."""
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    expected: dict = {}
    for e in parse_po(PO):
        if "fuzzy" in e.get("flags", set()) and e["msgid"]:
            continue
        msgid = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if "msgid_plural" in e:
            for k, v in e.items():
                if k.startswith("msgstr["):
                    expected[(msgid, int(k[7:-1]))] = v
        else:
            expected[msgid] = e.get("msgstr", "")
    header = expected.pop("", None)
    compiled_header = compiled.pop("", None)
    assert header is not None and compiled_header is not None
    assert compiled == expected, "django.mo is stale: run compilemessages (see src/dangan/locale/README.md)"


def test_web_strings_are_in_the_catalogue():
    """Every literal {% translate %} / gettext string of the web app has an entry (no forgotten makemessages)."""
    msgids = {e["msgid"] for e in parse_po(PO)}
    used: set[str] = set()
    for path in (WEB / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        used.update(m.group(2) for m in re.finditer(r'{%\s*translate\s+(["\'])(.+?)\1', text))
    for path in WEB.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used.update(m.group(2) for m in re.finditer(r'\b(?:_|gettext_lazy|gettext)\((["\'])(.+?)\1\)', text))
    missing = sorted(used - msgids)
    assert not missing, f"run makemessages and translate: {missing}"
