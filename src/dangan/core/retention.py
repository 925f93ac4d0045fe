"""Retention schedule (保管期限表) rules: which retention applies to a record, from a versioned schedule.

Pure logic, no Django. The catalogue keeps the rules as insert-only rows; this module decides.

* A *rule* says: for service item X (and, optionally, material code M), retention R applies to records
  archived on or after ``effective_from``, on the strength of ``basis`` (e.g. "《…保管期限表》第3条").
* Rules are *versions*: a change adds a rule with a later (or the same, not yet used) effective date;
  nothing is ever edited. The rule in force for a key (item, material) on a day is the one with the
  latest ``effective_from`` not after that day; on the same day the later-created one (higher ``seq``).
* A record takes the LONGEST retention among the item's rule and the rules of the materials it holds
  (DA/T 22-2015 practice: a piece is kept as long as its longest-kept part).

Retention codes: the built-in Y (永久), D30 (定期30年), D10 (定期10年) from :mod:`dangan.core.codes`, plus
codes an installation configures (e.g. D5), each with its length in years (``None`` = permanent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from dangan.core.codes import RETENTION_CODES, RETENTION_LABELS_EN
from dangan.core.errors import DanganError

# A retention code as it appears in the 档号 and in the metadata: letters and digits, at most 8.
CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
# "D" + years (D5, D15 …): the code names its own length, which must then agree with ``years``.
_YEARS_CODE = re.compile(r"^D([1-9][0-9]{0,2})$")
BUILTIN_YEARS: dict[str, int | None] = {"Y": None, "D30": 30, "D10": 10}


class RetentionError(DanganError):
    code = "RETENTION_INVALID"


@dataclass(frozen=True)
class RetentionPeriod:
    """One retention code: ``years`` is None for permanent (永久)."""

    code: str
    label: str
    label_en: str
    years: int | None

    def validate(self) -> None:
        if not CODE_RE.match(self.code):
            raise RetentionError(
                f"retention code {self.code!r} must be an upper-case letter followed by at most 7 "
                "letters or digits (e.g. D5)",
                target=self.code,
            )
        if self.years is not None and not 1 <= self.years <= 999:
            raise RetentionError(
                f"{self.code}: years must be 1..999 (or none for permanent)", target=self.code
            )
        named = _YEARS_CODE.match(self.code)
        if named and int(named.group(1)) != self.years:
            raise RetentionError(
                f"{self.code} names {named.group(1)} years but is configured with {self.years}",
                target=self.code,
            )
        if not self.label.strip():
            raise RetentionError(f"{self.code}: a label (名称) is required", target=self.code)


BUILTIN_PERIODS: tuple[RetentionPeriod, ...] = tuple(
    RetentionPeriod(code, label, RETENTION_LABELS_EN.get(code, label), BUILTIN_YEARS.get(code))
    for code, label in RETENTION_CODES.items()
)


@dataclass(frozen=True)
class RetentionScale:
    """The retention codes known to an installation, comparable by length."""

    periods: tuple[RetentionPeriod, ...] = BUILTIN_PERIODS

    def with_extra(self, extra: Iterable[RetentionPeriod]) -> RetentionScale:
        known = {p.code for p in self.periods}
        added = tuple(p for p in extra if p.code not in known)
        return RetentionScale(self.periods + added)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.periods)

    def __contains__(self, code: object) -> bool:
        return any(p.code == code for p in self.periods)

    def period(self, code: str) -> RetentionPeriod:
        for p in self.periods:
            if p.code == code:
                return p
        raise RetentionError(f"unknown retention code {code!r}; known: {', '.join(self.codes)}", target=code)

    def rank(self, code: str) -> float:
        """Length in years; permanent is infinite."""
        years = self.period(code).years
        return float("inf") if years is None else float(years)

    def label(self, code: str, *, zh: bool = True) -> str:
        p = self.period(code)
        return p.label if zh else p.label_en


@dataclass(frozen=True)
class Rule:
    """One version of a schedule entry. ``material_code`` "" is the rule for the whole service item."""

    retention: str
    effective_from: date
    basis: str = ""
    material_code: str = ""
    rule_id: int | None = None
    seq: int = 0  # creation order (the row's id): on the same effective date the later one wins

    @property
    def order(self) -> tuple[date, int]:
        return (self.effective_from, self.seq)


@dataclass(frozen=True)
class RetentionDecision:
    """The retention of a record and the rule it comes from (kept in the AIP's description)."""

    code: str
    basis: str
    rule_id: int | None
    effective_from: date | None
    material_code: str = ""  # the material whose rule decided; "" = the item's rule
    applied: tuple[Rule, ...] = field(default_factory=tuple)  # every rule in force that was compared

    def describe(self) -> str:
        """One line for people and the archival description, e.g.
        ``D30 依据《…保管期限表》第3条（规则#12，2025-01-01起施行）``."""
        parts = [f"{self.code} 依据{self.basis}" if self.basis else self.code]
        where = []
        if self.material_code:
            where.append(f"材料{self.material_code}")
        if self.rule_id is not None:
            where.append(f"规则#{self.rule_id}")
        if self.effective_from is not None:
            where.append(f"{self.effective_from.isoformat()}起施行")
        if where:
            parts.append("（" + "，".join(where) + "）")
        return "".join(parts)


def in_force(rules: Iterable[Rule], *, on: date, material_code: str = "") -> Rule | None:
    """The rule of one key (the item, or one material) in force on ``on``; None when none has started."""
    best: Rule | None = None
    for r in rules:
        if r.material_code != material_code or r.effective_from > on:
            continue
        if best is None or r.order > best.order:
            best = r
    return best


def latest(rules: Iterable[Rule], *, material_code: str = "") -> Rule | None:
    """The newest version of a key, whether or not it has started."""
    best: Rule | None = None
    for r in rules:
        if r.material_code == material_code and (best is None or r.order > best.order):
            best = r
    return best


def resolve(
    rules: Iterable[Rule],
    *,
    on: date,
    material_codes: Iterable[str] = (),
    scale: RetentionScale | None = None,
    fallback: str | None = None,
) -> RetentionDecision:
    """The retention of a record of one service item archived on ``on``.

    ``rules`` are all versions of the item's schedule (item rules and material rules); ``material_codes``
    are the material codes the record holds. The item's rule in force (or ``fallback``, the item's
    configured retention, when no item rule has started) and the rules in force of the record's materials
    are compared; the longest wins, the item's rule on a tie. Raises RetentionError when there is nothing
    to go by or a rule names a code the scale does not know.
    """
    scale = scale or RetentionScale()
    rules = tuple(rules)
    candidates: list[RetentionDecision] = []
    applied: list[Rule] = []
    item_rule = in_force(rules, on=on)
    if item_rule is not None:
        applied.append(item_rule)
        candidates.append(
            RetentionDecision(
                item_rule.retention, item_rule.basis, item_rule.rule_id, item_rule.effective_from
            )
        )
    elif fallback:
        candidates.append(RetentionDecision(fallback, "事项配置的保管期限", None, None))
    for code in sorted({c for c in material_codes if c}):
        rule = in_force(rules, on=on, material_code=code)
        if rule is not None:
            applied.append(rule)
            candidates.append(
                RetentionDecision(rule.retention, rule.basis, rule.rule_id, rule.effective_from, code)
            )
    if not candidates:
        raise RetentionError(
            f"no retention rule is in force on {on.isoformat()} and no retention is configured",
            code="NO_RETENTION_RULE",
        )
    best = candidates[0]
    for c in candidates[1:]:
        if scale.rank(c.code) > scale.rank(best.code):
            best = c
    scale.period(best.code)  # the winner must be a known code (rank() checked the others)
    return RetentionDecision(
        best.code, best.basis, best.rule_id, best.effective_from, best.material_code, tuple(applied)
    )


def check_new_version(
    rules: Iterable[Rule],
    new: Rule,
    *,
    scale: RetentionScale,
    last_archived_on: date | None,
) -> None:
    """Refuse a new version that would rewrite history; raise RetentionError naming the reason.

    ``last_archived_on`` is the latest day a record of the item was archived (None: none yet). A new
    version must name a known code and a basis, must not start before the key's newest version, and
    must not start on or before a day records were already archived under the schedule (their
    retention is decided and sealed in their AIPs).
    """
    scale.period(new.retention)
    if not new.basis.strip():
        raise RetentionError("the basis (依据) of a retention rule is required", target="basis")
    newest = latest(rules, material_code=new.material_code)
    if newest is not None and new.effective_from < newest.effective_from:
        raise RetentionError(
            f"the effective date {new.effective_from.isoformat()} is before the current version's "
            f"({newest.effective_from.isoformat()}); history is never rewritten: choose a later date",
            code="RETENTION_HISTORY",
            target="effective_from",
        )
    if last_archived_on is not None and new.effective_from <= last_archived_on:
        raise RetentionError(
            f"records of this service item were archived on {last_archived_on.isoformat()}; a change "
            f"effective {new.effective_from.isoformat()} would alter their retention: choose a date after it",
            code="RETENTION_HISTORY",
            target="effective_from",
        )


def same_version(a: Rule, b: Rule) -> bool:
    """Whether two rules say the same (used by import: an unchanged row adds no version)."""
    return (
        a.material_code == b.material_code
        and a.retention == b.retention
        and a.effective_from == b.effective_from
        and a.basis.strip() == b.basis.strip()
    )
