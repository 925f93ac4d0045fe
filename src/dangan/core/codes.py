"""Archival codes (档号), retention codes and their patterns (DOMAIN.md §4, DA/T 22-2015).

A pattern is a template such as ``{fonds}-{category}·{year}-{retention}-{class}-{piece:4}``.
Fields: fonds (全宗号), category (门类代码), year (年度), retention (保管期限代码), class (机构/问题代码),
item (事项编码), and exactly one ``{piece:N}`` (件号, zero-padded to N digits). Everything except the
piece forms the *group*: pieces are consecutive within a group and never reused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dangan.core.errors import ArchivalCodeError

DEFAULT_PATTERN = "{fonds}-{category}·{year}-{retention}-{class}-{piece:4}"

RETENTION_CODES: dict[str, str] = {"Y": "永久", "D30": "定期30年", "D10": "定期10年"}
RETENTION_LABELS_EN: dict[str, str] = {"Y": "Permanent", "D30": "30 years", "D10": "10 years"}

FIELDS = ("fonds", "category", "year", "retention", "class", "item")
_TOKEN = re.compile(r"\{(\w+)(?::(\d+))?\}")


@dataclass(frozen=True)
class CodePattern:
    template: str
    piece_width: int

    @classmethod
    def parse(cls, template: str) -> CodePattern:
        pieces = [m for m in _TOKEN.finditer(template) if m.group(1) == "piece"]
        if len(pieces) != 1:
            raise ArchivalCodeError(f"pattern must contain exactly one {{piece:N}}: {template!r}")
        width = int(pieces[0].group(2) or "4")
        if not 1 <= width <= 9:
            raise ArchivalCodeError(f"piece width must be 1..9: {template!r}")
        for m in _TOKEN.finditer(template):
            if m.group(1) not in (*FIELDS, "piece"):
                raise ArchivalCodeError(f"unknown field {{{m.group(1)}}} in pattern {template!r}")
        return cls(template=template, piece_width=width)

    def _fill(self, values: dict[str, str], piece: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name == "piece":
                return piece
            value = values.get(name, "")
            if not value or any(c in value for c in "{}/\\ "):
                raise ArchivalCodeError(f"field {name!r} has no usable value ({value!r})")
            return value

        return _TOKEN.sub(sub, self.template)

    def group_key(self, values: dict[str, str]) -> str:
        """The code with the piece replaced by '*': the counter key for consecutive numbering."""
        return self._fill(values, "*")

    def format(self, values: dict[str, str], piece: int) -> str:
        if piece < 1 or piece >= 10**self.piece_width:
            raise ArchivalCodeError(f"piece number {piece} does not fit {self.piece_width} digits")
        return self._fill(values, str(piece).zfill(self.piece_width))

    def regex(self) -> re.Pattern[str]:
        """A regex matching codes of this pattern (check item 1-7)."""
        out, pos = [], 0
        for m in _TOKEN.finditer(self.template):
            out.append(re.escape(self.template[pos : m.start()]))
            out.append(rf"\d{{{self.piece_width}}}" if m.group(1) == "piece" else r"[^-\s/\\{}]+?")
            pos = m.end()
        out.append(re.escape(self.template[pos:]))
        return re.compile("^" + "".join(out) + "$")

    def match(self, code: str) -> dict[str, str] | None:
        """The field values of ``code`` (with ``piece``), or None when it does not follow the pattern."""
        out, pos, seen = [], 0, set()
        for m in _TOKEN.finditer(self.template):
            out.append(re.escape(self.template[pos : m.start()]))
            name = m.group(1)
            if name in seen:
                out.append(f"(?P={name})")
            elif name == "piece":
                out.append(rf"(?P<piece>\d{{{self.piece_width}}})")
            else:
                out.append(rf"(?P<{name}>[^-\s/\\{{}}]+?)")
            seen.add(name)
            pos = m.end()
        out.append(re.escape(self.template[pos:]))
        found = re.fullmatch("".join(out), code)
        return found.groupdict() if found else None


def retention_label(code: str) -> str:
    return RETENTION_CODES.get(code, code)
