"""The catalogue and stage profiles as data: complete, consistent, adjustable, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from dangan.core.checks.catalogue import (
    BY_NUMBER,
    ITEMS,
    ProfileError,
    default_profile,
    item_for_code,
    parse_profile_overrides,
)
from dangan.core.checks.doc import catalogue_table
from dangan.core.checks.model import Stage
from dangan.core.checks.scheme import MetadataScheme, SchemeError, parse_overrides

# DOMAIN.md §3's table: every item it names (ranges expanded) is in the catalogue.
DOMAIN_ITEMS = {
    "1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-8", "1-10", "1-11", "1-12", "1-13", "1-14",
    "2-1", "2-2", "2-3", "2-4", "2-5", "2-6", "2-7", "2-9", "2-10", "2-11",
    "3-1", "3-2", "3-3", "3-4", "3-5", "3-6", "3-7", "3-8",
    "4-1", "4-2", "4-3", "4-4", "4-5", "4-6", "4-7",
}  # fmt: skip


def test_catalogue_holds_every_item_of_the_domain_table():
    assert set(BY_NUMBER) >= DOMAIN_ITEMS
    assert all(BY_NUMBER[n].verified for n in DOMAIN_ITEMS)
    assert {n for n in BY_NUMBER if not BY_NUMBER[n].verified} == set(BY_NUMBER) - DOMAIN_ITEMS


def test_items_have_names_in_both_languages_and_stages():
    for item in ITEMS:
        assert item.name_zh and item.name_en and item.description and item.stages, item


def test_each_stage_profile_runs_exactly_the_items_defined_for_it():
    for stage in Stage:
        numbers = default_profile(stage).numbers
        assert set(numbers) == {i.number for i in ITEMS if stage in i.stages}
        assert len(numbers) == len(set(numbers))
    assert item_for_code("GD-1-1") is BY_NUMBER["1-1"] and item_for_code("CQ-4-8") is BY_NUMBER["4-8"]
    assert default_profile(Stage.ARCHIVE).entries[0].number == "3-1"  # readability first


def test_profile_overrides_disable_and_change_blocking():
    profile = default_profile(Stage.ARCHIVE).apply_overrides(
        {"3-5": {"blocking": True}, "1-8": {"enabled": False}}
    )
    entries = {e.number: e for e in profile.entries}
    assert "1-8" not in entries and entries["3-5"].blocking
    assert profile.numbers.index("3-4") < profile.numbers.index("3-5")  # report order kept


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"9-9": {"enabled": False}}, "not a check item"),
        ({"2-9": {"enabled": False}}, "not defined for the preserve stage"),
        ({"1-1": {"colour": "red"}}, "options are enabled and blocking"),
        ({"1-1": {"blocking": "yes"}}, "must be true or false"),
    ],
)
def test_bad_profile_overrides_are_refused(overrides, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile_overrides(Stage.PRESERVE, overrides)


def test_scheme_overrides_apply():
    scheme = MetadataScheme.default().with_overrides(
        {"fields": {"办件基本信息/统一社会信用代码": {"required": True}, "办件基本信息/办件类型": {"enum": ["承诺件"]}},
         "required_steps": ["受理"], "sequence_start": 0}
    )  # fmt: skip
    assert scheme.rule("办件基本信息/统一社会信用代码").required
    assert scheme.rule("办件基本信息/办件类型").enum == ("承诺件",)
    assert scheme.required_steps == ("受理",) and scheme.sequence_start == 0
    assert not MetadataScheme.default().rule("办件基本信息/统一社会信用代码").required  # default untouched


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"colour": 1}, "unknown key"),
        ({"fields": {"办件/名称": {"required": True}}}, "is not a metadata item"),
        ({"fields": {"办件基本信息/办件名称": {"max_length": 0}}}, "positive integer"),
        ({"fields": {"办件基本信息/办件名称": {"pattern": "("}}}, "not a valid regular expression"),
        ({"fields": {"办件基本信息/办件名称": {"enum": []}}}, "non-empty list"),
        ({"fields": {"办件基本信息/办件名称": {"validator": "magic"}}}, "must be one of"),
        (
            {"compare": [{"left": "办件基本信息/办件名称", "op": ">=", "right": "办件基本信息/受理时间"}]},
            "not a date",
        ),
        (
            {"compare": [{"left": "办件基本信息/办结时间", "op": "≥", "right": "办件基本信息/受理时间"}]},
            "op must be",
        ),
        ({"sequence_start": -1}, "sequence_start"),
    ],
)
def test_bad_scheme_overrides_are_refused_naming_the_key(overrides, message):
    with pytest.raises(SchemeError, match=message):
        parse_overrides(overrides)


def test_docs_show_the_current_catalogue():
    docs = (Path(__file__).parents[2] / "docs" / "checks.md").read_text(encoding="utf-8")
    assert catalogue_table() in docs, "regenerate with: python -m dangan.core.checks.doc"


def test_patterns_that_backtrack_exponentially_are_refused():
    with pytest.raises(SchemeError, match="exponential"):
        parse_overrides({"fields": {"办件基本信息/办件编号": {"pattern": "([A-Z0-9]+-?)*"}}})
    parse_overrides({"fields": {"办件基本信息/办件编号": {"pattern": "BJ-[0-9]{4}-[0-9]{4}"}}})


def test_duplicate_keys_must_be_ones_the_archive_can_compare():
    with pytest.raises(SchemeError, match="can compare"):
        parse_overrides({"duplicate_keys": ["环节/办理人"]})
