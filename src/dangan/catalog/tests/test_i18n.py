"""Every UI string of the archiving-configuration pages has a Chinese translation, and the pages are
Chinese first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dangan
from dangan.web.tests.test_i18n import PO, parse_po

CATALOG = Path(dangan.__file__).parent / "catalog"


def _used() -> set[str]:
    used: set[str] = set()
    for path in (CATALOG / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        used.update(m.group(2) for m in re.finditer(r'{%\s*translate\s+(["\'])(.+?)\1', text))
        for m in re.finditer(r"{%\s*blocktranslate\b[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S):
            used.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", m.group(1)))
    for path in CATALOG.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used.update(m.group(2) for m in re.finditer(r'\b(?:_|gettext_lazy|gettext)\((["\'])(.+?)\1', text))
    return used


def test_catalog_strings_are_translated():
    translated = {e["msgid"]: e.get("msgstr", "") for e in parse_po(PO)}
    used = _used()
    assert len(used) > 60
    missing = sorted(s for s in used if not translated.get(s, "").strip())
    assert not missing, f"add to django.po and compile: {missing}"


@pytest.mark.django_db
def test_pages_are_chinese_first_and_english_on_request(officer_client, fonds):
    zh = officer_client.get("/catalog/").content.decode()
    assert "分类方案" in zh and "现行保管期限" in zh and "归档配置信息" in zh
    officer_client.cookies["django_language"] = "en"
    en = officer_client.get("/catalog/").content.decode()
    assert "Classification scheme" in en and "Retention in force" in en
