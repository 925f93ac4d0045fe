"""The pure retention rules (dangan.core.retention): which version is in force, longest wins, history."""

from __future__ import annotations

from datetime import date

import pytest

from dangan.core.retention import (
    RetentionError,
    RetentionPeriod,
    RetentionScale,
    Rule,
    check_new_version,
    in_force,
    latest,
    resolve,
    same_version,
)

SCALE = RetentionScale().with_extra([RetentionPeriod("D5", "定期5年", "5 years", 5)])
D = date


def test_the_latest_started_version_is_in_force():
    rules = [
        Rule("D30", D(2020, 1, 1), "a", seq=1),
        Rule("Y", D(2025, 1, 1), "b", seq=2),
        Rule("D10", D(2025, 1, 1), "c", seq=3),  # same day, created later: wins
        Rule("D5", D(2030, 1, 1), "d", seq=4),  # not started
    ]
    assert in_force(rules, on=D(2019, 12, 31)) is None
    assert in_force(rules, on=D(2024, 12, 31)).basis == "a"
    assert in_force(rules, on=D(2025, 1, 1)).basis == "c"
    assert in_force(rules, on=D(2029, 1, 1)).basis == "c"
    assert latest(rules).basis == "d"


def test_resolve_takes_the_longest_and_prefers_the_item_rule_on_a_tie():
    rules = [
        Rule("D10", D(2020, 1, 1), "item", rule_id=1, seq=1),
        Rule("D30", D(2020, 1, 1), "A01", material_code="A01", rule_id=2, seq=2),
        Rule("Y", D(2026, 1, 1), "C01", material_code="C01", rule_id=3, seq=3),
        Rule("D10", D(2020, 1, 1), "B01", material_code="B01", rule_id=4, seq=4),
    ]
    on = D(2025, 6, 1)
    assert resolve(rules, on=on, scale=SCALE).code == "D10"
    d = resolve(rules, on=on, material_codes=["A01", "B01", "C01"], scale=SCALE)
    assert (d.code, d.rule_id, d.material_code) == ("D30", 2, "A01")  # C01's rule has not started
    d = resolve(rules, on=D(2026, 1, 1), material_codes=["C01", ""], scale=SCALE)
    assert (d.code, d.material_code) == ("Y", "C01")
    assert {r.rule_id for r in d.applied} == {1, 3}
    d = resolve(rules, on=on, material_codes=["B01"], scale=SCALE)
    assert (d.code, d.material_code) == ("D10", "")  # tie: the item's rule is cited


def test_resolve_falls_back_and_refuses_unknown_or_missing():
    assert resolve([], on=D(2025, 1, 1), fallback="D30").code == "D30"
    with pytest.raises(RetentionError) as exc:
        resolve([], on=D(2025, 1, 1))
    assert exc.value.code == "NO_RETENTION_RULE"
    with pytest.raises(RetentionError, match="unknown retention code"):
        resolve([Rule("D7", D(2020, 1, 1))], on=D(2025, 1, 1))


def test_permanent_outranks_every_term():
    assert SCALE.rank("Y") > SCALE.rank("D30") > SCALE.rank("D10") > SCALE.rank("D5")
    assert SCALE.codes == ("Y", "D30", "D10", "D5")
    assert "D5" in SCALE and "D7" not in SCALE


def test_new_versions_never_rewrite_history():
    rules = [Rule("D30", D(1900, 1, 1), "base", seq=1), Rule("Y", D(2026, 3, 1), "x", seq=2)]
    ok = Rule("D10", D(2026, 3, 1), "fix")
    check_new_version(rules, ok, scale=SCALE, last_archived_on=D(2026, 2, 1))  # same day, not used yet
    for bad, archived in (
        (Rule("D10", D(2026, 2, 28), "b"), None),  # before the newest version
        (Rule("D10", D(2026, 4, 1), "b"), D(2026, 4, 1)),  # records archived that day
        (Rule("D10", D(2026, 4, 1), "  "), None),  # no basis
        (Rule("D99", D(2026, 4, 1), "b"), None),  # unknown code
    ):
        with pytest.raises(RetentionError):
            check_new_version(rules, bad, scale=SCALE, last_archived_on=archived)
    assert same_version(Rule("Y", D(2026, 3, 1), "x "), rules[1])


def test_configured_codes_are_validated():
    RetentionPeriod("D5", "定期5年", "5 years", 5).validate()
    RetentionPeriod("C", "长期", "long", None).validate()
    for bad in (
        RetentionPeriod("d5", "x", "x", 5),
        RetentionPeriod("D5", "x", "x", 6),
        RetentionPeriod("D5-1", "x", "x", 5),
        RetentionPeriod("D5", " ", "x", 5),
        RetentionPeriod("X", "x", "x", 0),
    ):
        with pytest.raises(RetentionError):
            bad.validate()


def test_a_decision_describes_its_rule():
    d = resolve([Rule("D30", D(2024, 1, 1), "《保管期限表》第3条", rule_id=12, seq=12)], on=D(2025, 1, 1))
    assert d.describe() == "D30 依据《保管期限表》第3条（规则#12，2024-01-01起施行）"
