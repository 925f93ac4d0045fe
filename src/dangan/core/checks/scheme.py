"""The metadata scheme: what each metadata item must look like, configurable per service item.

The default scheme comes from the format's mapping table (``package/schema.py``: required flag, type,
maximum length) plus the enumerations and plausibility rules below. A service item may override any
field rule (make an optional item required, narrow an enumeration, add a pattern), add comparison
rules, name the process steps that must appear and the number sequential items start from. Check
items 1-2…1-8, 2-3…2-6 and 2-9…2-11 read their rules from here, so an archive changes a rule in one
place (the service item's configuration) and every check follows.

Overrides are plain JSON (stored on the service item)::

    {"fields": {"办件基本信息/统一社会信用代码": {"required": true},
                "办件基本信息/办件类型": {"enum": ["承诺件"]}},
     "compare": [{"left": "办件基本信息/办结时间", "op": "<=", "right": "办件基本信息/归档时间"}],
     "required_steps": ["受理", "办结"],
     "sequence_start": 1,
     "duplicate_keys": ["办件基本信息/办件编号"]}

Field keys are ``<group>/<element>`` with the group the element sits in directly (``申请人/证件号码``,
``环节/办理人``, ``文件/格式``). A bad override is refused when it is saved (:func:`parse_overrides`),
with the key that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dangan.core.codes import RETENTION_CODES
from dangan.core.errors import DanganError
from dangan.core.package import schema as s


class SchemeError(DanganError):
    code = "BAD_METADATA_SCHEME"


# Named content checks a field may carry (1-5). Each is a pure function of the value.
VALIDATORS = ("id_number", "credit_code", "region_code")

COMPARE_OPS = ("<", "<=", "==", ">=", ">")

# Keys 1-8 can compare against the catalogue (the archive indexes these values of every record).
DUPLICATE_KEYS = ("办件基本信息/办件编号", "办件基本信息/办件名称")


@dataclass(frozen=True)
class FieldRule:
    group: s.Group
    attr: str
    name: str
    name_en: str
    required: bool
    kind: s.Kind
    max_length: int | None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    validator: str | None = None  # one of VALIDATORS

    @property
    def key(self) -> str:
        return f"{self.group.value}/{self.name}"


@dataclass(frozen=True)
class CompareRule:
    """``left op right`` between two date/time items of the case (e.g. 办结时间 >= 受理时间)."""

    left: str
    op: str
    right: str


# Enumerations that hold in every government-service case (overridable per service item).
_DEFAULT_ENUMS: dict[tuple[s.Group, str], tuple[str, ...]] = {
    (s.Group.ARCHIVE_CONFIG, "item_type"): (
        "行政许可",
        "行政处罚",
        "行政强制",
        "行政征收",
        "行政给付",
        "行政检查",
        "行政确认",
        "行政奖励",
        "行政裁决",
        "其他行政权力",
        "公共服务",
    ),
    (s.Group.ARCHIVE_CONFIG, "retention"): tuple(RETENTION_CODES),
    (s.Group.CASE, "case_type"): ("即办件", "承诺件", "联办件", "上报件"),
    (s.Group.CASE, "security_class"): ("公开", "内部", "受控", "秘密", "机密", "绝密"),
    (s.Group.CASE, "retention"): tuple(RETENTION_CODES),
    (s.Group.APPLICANT, "kind"): ("自然人", "法人", "其他组织"),
    (s.Group.APPLICANT, "id_type"): (
        "居民身份证",
        "统一社会信用代码",
        "组织机构代码",
        "营业执照注册号",
        "护照",
        "港澳居民来往内地通行证",
        "台湾居民来往大陆通行证",
        "港澳台居民居住证",
        "外国人永久居留身份证",
        "其他",
    ),
    (s.Group.FILE, "category"): s.CATEGORY_FOLDERS,
    (s.Group.FILE, "sharing"): ("无条件共享", "有条件共享", "不予共享"),
}

_DEFAULT_VALIDATORS: dict[tuple[s.Group, str], str] = {
    (s.Group.CASE, "credit_code"): "credit_code",
    (s.Group.CASE, "region_code"): "region_code",
}

_DEFAULT_COMPARE: tuple[CompareRule, ...] = (
    CompareRule("办件基本信息/办结时间", ">=", "办件基本信息/受理时间"),
    CompareRule("办件基本信息/归档时间", ">=", "办件基本信息/办结时间"),
)

# Groups whose elements have a fixed parent path in the XML (repeated groups get an index in targets).
GROUP_PATHS: dict[s.Group, str] = {
    s.Group.ARCHIVE_CONFIG: s.Group.ARCHIVE_CONFIG.value,
    s.Group.CASE: s.Group.CASE.value,
    s.Group.APPLICANT: f"{s.Group.CASE.value}/{s.Group.APPLICANT.value}",
    s.Group.STEP: f"{s.Group.PROCESS.value}/{s.Group.STEP.value}",
    s.Group.LICENSE: f"{s.Group.LICENSES.value}/{s.Group.LICENSE.value}",
    s.Group.FILE: f"{s.Group.FILES.value}/{s.Group.FILE.value}",
}


@dataclass(frozen=True)
class MetadataScheme:
    fields: tuple[FieldRule, ...]
    compare: tuple[CompareRule, ...] = _DEFAULT_COMPARE
    required_steps: tuple[str, ...] = ()
    sequence_start: int = 1
    duplicate_keys: tuple[str, ...] = ("办件基本信息/办件编号",)
    overrides: Mapping[str, Any] = field(default_factory=dict)  # as configured, for the report

    @classmethod
    def default(cls) -> MetadataScheme:
        rules = tuple(
            FieldRule(
                group=e.group,
                attr=e.attr,
                name=e.name,
                name_en=e.name_en,
                required=e.required,
                kind=e.kind,
                max_length=e.max_length,
                enum=_DEFAULT_ENUMS.get((e.group, e.attr)),
                validator=_DEFAULT_VALIDATORS.get((e.group, e.attr)),
            )
            for e in s.ELEMENTS
        )
        return cls(fields=rules)

    def rules_of(self, group: s.Group) -> tuple[FieldRule, ...]:
        return tuple(r for r in self.fields if r.group == group)

    def rule(self, key: str) -> FieldRule:
        for r in self.fields:
            if r.key == key:
                return r
        raise KeyError(key)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> MetadataScheme:
        """This scheme with a service item's overrides applied (validated by :func:`parse_overrides`)."""
        if not overrides:
            return self
        parsed = parse_overrides(overrides)
        by_key = {r.key: r for r in self.fields}
        for key, changes in parsed["fields"].items():
            by_key[key] = replace(by_key[key], **changes)
        return replace(
            self,
            fields=tuple(by_key[r.key] for r in self.fields),
            compare=self.compare + tuple(parsed["compare"]),
            required_steps=tuple(parsed.get("required_steps", self.required_steps)),
            sequence_start=int(parsed.get("sequence_start", self.sequence_start)),
            duplicate_keys=tuple(parsed.get("duplicate_keys", self.duplicate_keys)),
            overrides=dict(overrides),
        )


_FIELD_OPTIONS = {"required", "max_length", "enum", "pattern", "validator"}
_TOP_OPTIONS = {"fields", "compare", "required_steps", "sequence_start", "duplicate_keys"}
_MAX_PATTERN = 500
# A group containing + * or {n,} followed by a quantifier: the classic catastrophic-backtracking shape.
_NESTED_QUANTIFIER = re.compile(
    r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)(?:[+*?]|\{\d*,?\d*\})"
)


def _known_keys() -> set[str]:
    return {r.key for r in MetadataScheme.default().fields}


def _field_changes(key: str, options: Any) -> dict[str, Any]:
    if not isinstance(options, Mapping):
        raise SchemeError(f"fields.{key}: expected an object of options", target=key)
    unknown = set(options) - _FIELD_OPTIONS
    if unknown:
        raise SchemeError(
            f"fields.{key}: unknown option(s) {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(sorted(_FIELD_OPTIONS))}",
            target=key,
        )
    changes: dict[str, Any] = {}
    if "required" in options:
        if not isinstance(options["required"], bool):
            raise SchemeError(f"fields.{key}.required must be true or false", target=key)
        changes["required"] = options["required"]
    if "max_length" in options:
        value = options["max_length"]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise SchemeError(f"fields.{key}.max_length must be a positive integer", target=key)
        changes["max_length"] = value
    if "enum" in options:
        value = options["enum"]
        if value is not None and (
            not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value)
        ):
            raise SchemeError(f"fields.{key}.enum must be a non-empty list of strings", target=key)
        changes["enum"] = tuple(value) if value is not None else None
    if "pattern" in options:
        value = options["pattern"]
        if value is not None:
            if not isinstance(value, str) or len(value) > _MAX_PATTERN:
                raise SchemeError(
                    f"fields.{key}.pattern must be a string of at most {_MAX_PATTERN}", target=key
                )
            if _NESTED_QUANTIFIER.search(value):
                raise SchemeError(
                    f"fields.{key}.pattern has a quantified group that itself contains a quantifier "
                    "(like (a+)* ): such patterns can take exponential time; rewrite it without nesting",
                    target=key,
                )
            try:
                re.compile(value)
            except re.error as exc:
                raise SchemeError(
                    f"fields.{key}.pattern is not a valid regular expression: {exc}", target=key
                ) from None
        changes["pattern"] = value
    if "validator" in options:
        value = options["validator"]
        if value is not None and value not in VALIDATORS:
            raise SchemeError(f"fields.{key}.validator must be one of {', '.join(VALIDATORS)}", target=key)
        changes["validator"] = value
    return changes


def parse_overrides(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a service item's scheme overrides; raise SchemeError naming the first wrong key."""
    if not isinstance(data, Mapping):
        raise SchemeError("the metadata scheme must be a JSON object")
    unknown = set(data) - _TOP_OPTIONS
    if unknown:
        raise SchemeError(
            f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_TOP_OPTIONS))}"
        )
    known = _known_keys()
    out: dict[str, Any] = {"fields": {}, "compare": []}
    fields = data.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise SchemeError("fields must be an object keyed by <group>/<element>")
    for key, options in fields.items():
        if key not in known:
            raise SchemeError(f"fields: {key!r} is not a metadata item (use <group>/<element>)", target=key)
        out["fields"][key] = _field_changes(key, options)
    # Comparisons are between single items of the case (repeated groups such as 环节 have their own rules).
    single = (s.Group.ARCHIVE_CONFIG, s.Group.CASE, s.Group.APPLICANT)
    dates = {
        r.key
        for r in MetadataScheme.default().fields
        if r.kind in (s.Kind.DATE, s.Kind.DATETIME) and r.group in single
    }
    for i, rule in enumerate(data.get("compare") or []):
        if not isinstance(rule, Mapping) or set(rule) != {"left", "op", "right"}:
            raise SchemeError(f"compare[{i}] must have exactly left, op and right")
        if rule["op"] not in COMPARE_OPS:
            raise SchemeError(f"compare[{i}].op must be one of {' '.join(COMPARE_OPS)}")
        for side in ("left", "right"):
            if rule[side] not in dates:
                raise SchemeError(
                    f"compare[{i}].{side}: {rule[side]!r} is not a date or time item of the case"
                )
        out["compare"].append(CompareRule(rule["left"], rule["op"], rule["right"]))
    if "required_steps" in data:
        steps = data["required_steps"]
        if not isinstance(steps, list) or not all(isinstance(x, str) and x for x in steps):
            raise SchemeError("required_steps must be a list of step names")
        out["required_steps"] = steps
    if "sequence_start" in data:
        start = data["sequence_start"]
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise SchemeError("sequence_start must be 0 or a positive integer")
        out["sequence_start"] = start
    if "duplicate_keys" in data:
        keys = data["duplicate_keys"]
        if not isinstance(keys, list) or not all(k in DUPLICATE_KEYS for k in keys):
            raise SchemeError(f"duplicate_keys: the archive can compare {' and '.join(DUPLICATE_KEYS)}")
        out["duplicate_keys"] = keys
    return out
