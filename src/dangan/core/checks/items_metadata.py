"""Metadata items driven by the metadata scheme: 1-2…1-8 (authenticity) and 2-3…2-6 (integrity).

Targets are metadata paths like ``办件基本信息/办件名称`` or ``办理流程信息/环节[2]/办理人`` so a sender
sees exactly what to fix. Empty values are left to 2-4 (mandatory items), absent ones to 2-3.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

from dangan.core.checks.context import PackageContext
from dangan.core.checks.model import CheckResult, Outcome, Stage
from dangan.core.checks.results import no_metadata, result
from dangan.core.checks.scheme import DUPLICATE_KEYS, FieldRule
from dangan.core.codes import DEFAULT_PATTERN, CodePattern
from dangan.core.errors import ArchivalCodeError
from dangan.core.identifiers import REGION_CODE, is_valid_credit_code, is_valid_id_number
from dangan.core.package import schema as s
from dangan.core.package.model import Applicant, CasePackage, License, ProcessStep

# One (target prefix, group, object) per group instance in the package, in document order.
Instance = tuple[str, s.Group, object]


def instances(pkg: CasePackage) -> Iterator[Instance]:
    present = pkg.groups_present
    if s.Group.ARCHIVE_CONFIG.value in present:
        yield s.Group.ARCHIVE_CONFIG.value, s.Group.ARCHIVE_CONFIG, pkg.config
    if s.Group.CASE.value in present:
        yield s.Group.CASE.value, s.Group.CASE, pkg.case
        if pkg.case.applicant is not None:
            yield f"{s.Group.CASE.value}/{s.Group.APPLICANT.value}", s.Group.APPLICANT, pkg.case.applicant
    for i, step in enumerate(pkg.steps, 1):
        yield f"{s.Group.PROCESS.value}/{s.Group.STEP.value}[{i}]", s.Group.STEP, step
    for i, lic in enumerate(pkg.licenses, 1):
        yield f"{s.Group.LICENSES.value}/{s.Group.LICENSE.value}[{i}]", s.Group.LICENSE, lic
    for i, entry in enumerate(pkg.files, 1):
        yield f"{s.Group.FILES.value}/{s.Group.FILE.value}[{i}]", s.Group.FILE, entry


def _values(ctx: PackageContext) -> Iterator[tuple[str, FieldRule, str]]:
    """(target, rule, value) for every non-empty value the scheme has a rule for."""
    assert ctx.package is not None
    for prefix, group, obj in instances(ctx.package):
        for rule in ctx.scheme.rules_of(group):
            value = getattr(obj, rule.attr)
            if value:
                yield f"{prefix}/{rule.name}", rule, value


def check_lengths(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return no_metadata(code, stage)
    out = [
        result(
            code,
            stage,
            Outcome.FAIL,
            target,
            f"{rule.name} ({rule.name_en}) is {len(value)} characters long; at most {rule.max_length} allowed",
            length=len(value),
            max_length=rule.max_length,
        )
        for target, rule, value in _values(ctx)
        if rule.max_length is not None and len(value) > rule.max_length
    ]
    return out or [result(code, stage, Outcome.PASS, "", "every metadata value is within its length")]


CHINA = timezone(timedelta(hours=8))
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_INT = re.compile(r"[0-9]+")
_DIGEST = re.compile(r"[0-9a-f]+")
_CODE = re.compile(r"[^\s\x00-\x1f\x7f]+")


def parse_moment(value: str | None, kind: s.Kind = s.Kind.DATETIME) -> datetime | None:
    """A real calendar date/time as naive China time (UTC+8), or None; 2025-02-30 has the shape but is no date."""
    if not value:
        return None
    try:
        if kind == s.Kind.DATE or _DATE.fullmatch(value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time())
        if not _DATETIME.fullmatch(value):
            return None
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # Times without an offset are China time; others are converted to it so all compare alike.
    return moment.astimezone(CHINA).replace(tzinfo=None) if moment.tzinfo else moment


def _format_problem(rule: FieldRule, value: str) -> str | None:
    kind = rule.kind
    if kind == s.Kind.DATE:
        if not _DATE.fullmatch(value):
            return f"{value!r} is not a date (YYYY-MM-DD)"
        if parse_moment(value, kind) is None:
            return f"{value!r} is not a real date"
    elif kind == s.Kind.DATETIME:
        if not _DATETIME.fullmatch(value):
            return f"{value!r} is not a date-time (YYYY-MM-DDThh:mm:ss)"
        if parse_moment(value, kind) is None:
            return f"{value!r} is not a real date and time"
    elif kind == s.Kind.INT and not _INT.fullmatch(value):
        return f"{value!r} is not a non-negative integer"
    elif kind == s.Kind.DIGEST and not _DIGEST.fullmatch(value):
        return f"{value!r} is not a lower-case hexadecimal digest"
    elif kind == s.Kind.CODE and not _CODE.fullmatch(value):
        return f"{value!r} is not a code (no spaces or control characters)"
    # Patterns run only on values within the length limit (1-2 reports longer ones): bounded work.
    if rule.pattern and len(value) <= (rule.max_length or 1000) and not re.fullmatch(rule.pattern, value):
        return f"{value!r} does not match the pattern {rule.pattern}"
    return None


def check_formats(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return no_metadata(code, stage)
    out: list[CheckResult] = []
    for target, rule, value in _values(ctx):
        problem = _format_problem(rule, value)
        if problem:
            out.append(result(code, stage, Outcome.FAIL, target, f"{rule.name} ({rule.name_en}): {problem}"))
    return out or [result(code, stage, Outcome.PASS, "", "every metadata value has its type and format")]


def check_enumerations(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return no_metadata(code, stage)
    out: list[CheckResult] = []
    checked = 0
    for target, rule, value in _values(ctx):
        if rule.enum is None:
            continue
        checked += 1
        if value not in rule.enum:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    target,
                    f"{rule.name} ({rule.name_en}) is {value!r}; allowed: {' / '.join(rule.enum)}",
                    value=value,
                    allowed=list(rule.enum),
                )
            )
    return out or [result(code, stage, Outcome.PASS, "", f"{checked} enumerated values are in their lists")]


_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def _case_value(ctx: PackageContext, key: str) -> str | None:
    assert ctx.package is not None
    group_name, _, name = key.partition("/")
    for prefix, group, obj in instances(ctx.package):
        if group.value == group_name and "[" not in prefix:
            for rule in ctx.scheme.rules_of(group):
                if rule.name == name:
                    value: str | None = getattr(obj, rule.attr)
                    return value
    return None


def _identifier_problem(validator: str, value: str) -> str | None:
    if validator == "id_number" and not is_valid_id_number(value):
        return f"{value!r} is not a valid resident ID number (GB 11643 check character or birth date wrong)"
    if validator == "credit_code" and not is_valid_credit_code(value):
        return f"{value!r} is not a valid unified social credit code (GB 32100 check character wrong)"
    if validator == "region_code" and not REGION_CODE.fullmatch(value):
        return f"{value!r} is not an administrative division code (GB/T 2260: 6, 9 or 12 digits)"
    return None


def check_plausible(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return no_metadata(code, stage)
    out: list[CheckResult] = []
    for rule in ctx.scheme.compare:
        left, right = parse_moment(_case_value(ctx, rule.left)), parse_moment(_case_value(ctx, rule.right))
        if left and right and not _OPS[rule.op](left, right):
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    rule.left,
                    f"{rule.left} ({left:%Y-%m-%d %H:%M}) must be {rule.op} {rule.right} "
                    f"({right:%Y-%m-%d %H:%M})",
                )
            )
    now = datetime.now(CHINA)
    for key in ("办件基本信息/受理时间", "办件基本信息/办结时间"):
        moment = parse_moment(_case_value(ctx, key))
        if moment and moment.date() > now.date():
            out.append(result(code, stage, Outcome.FAIL, key, f"{key} {moment:%Y-%m-%d} is in the future"))
    for prefix, _group, obj in instances(pkg):
        if isinstance(obj, ProcessStep):
            start, end = parse_moment(obj.started_at), parse_moment(obj.ended_at)
            if start and end and end < start:
                out.append(
                    result(
                        code,
                        stage,
                        Outcome.FAIL,
                        prefix,
                        f"step {obj.name or prefix} ends ({end:%Y-%m-%d %H:%M}) before it "
                        f"starts ({start:%Y-%m-%d %H:%M})",
                    )
                )
        if isinstance(obj, License):
            start = parse_moment(obj.valid_from, s.Kind.DATE)
            end = parse_moment(obj.valid_to, s.Kind.DATE)
            if start and end and end < start:
                out.append(
                    result(
                        code,
                        stage,
                        Outcome.FAIL,
                        prefix,
                        f"licence valid to {end:%Y-%m-%d} before valid from {start:%Y-%m-%d}",
                    )
                )
        if isinstance(obj, Applicant):
            id_type, number = obj.id_type, obj.id_number
            validator = {"居民身份证": "id_number", "统一社会信用代码": "credit_code"}.get(id_type or "")
            if validator and number:
                problem = _identifier_problem(validator, number)
                if problem:
                    out.append(result(code, stage, Outcome.FAIL, f"{prefix}/证件号码", problem))
    for target, field_rule, value in _values(ctx):
        if field_rule.validator:
            problem = _identifier_problem(field_rule.validator, value)
            if problem:
                out.append(result(code, stage, Outcome.FAIL, target, f"{field_rule.name}: {problem}"))
    declared = pkg.case.retention or pkg.config.retention
    if ctx.configured_retention and declared and declared != ctx.configured_retention:
        out.append(
            result(
                code,
                stage,
                Outcome.WARNING,
                f"{s.Group.CASE.value}/保管期限",
                f"the package says retention {declared}; the archive's schedule for this service item "
                f"says {ctx.configured_retention}, which applies",
                declared=declared,
                configured=ctx.configured_retention,
            )
        )
    return out or [result(code, stage, Outcome.PASS, "", "dates, identifiers and retention are plausible")]


def _bad_character(ch: str, *, multiline: bool) -> str | None:
    if ch in "\t\n\r":
        return None if multiline else "line break or tab"
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return f"control character U+{ord(ch):04X}"
    if ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f":
        return f"bidirectional control U+{ord(ch):04X} (can disguise text)"
    if ch in "\u200b\u200c\u200d\u2060\ufeff":
        return f"invisible character U+{ord(ch):04X}"
    if ch == "\ufffd":
        return "replacement character U+FFFD (text was damaged by a wrong encoding)"
    if cat == "Co":
        return f"private-use character U+{ord(ch):04X} (no standard meaning; may not display)"
    if cat == "Cn":
        return f"unassigned code point U+{ord(ch):04X}"
    return None


_LONG_TEXT = {"办理意见", "备注", "地址"}
_FILENAME_BAD = set('\\:*?"<>|')


def check_characters(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return no_metadata(code, stage)
    out: list[CheckResult] = []
    for target, rule, value in _values(ctx):
        for ch in value:
            problem = _bad_character(ch, multiline=rule.name in _LONG_TEXT)
            if problem:
                out.append(result(code, stage, Outcome.FAIL, target, f"{rule.name} contains a {problem}"))
                break
    for path in sorted(ctx.received.content_files):
        for part in path.split("/"):
            bad = sorted({c for c in part if c in _FILENAME_BAD or unicodedata.category(c) == "Cc"})
            if bad or part != part.strip() or part.endswith("."):
                shown = " ".join(repr(c) for c in bad) or "leading/trailing space or dot"
                out.append(
                    result(
                        code,
                        stage,
                        Outcome.FAIL,
                        path,
                        f"file or folder name {part!r} has characters other systems cannot store: {shown}",
                    )
                )
                break
    return out or [result(code, stage, Outcome.PASS, "", "no illegal characters in metadata or file names")]


def check_archival_code(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    archival_code = ctx.archival_code
    if not archival_code:
        why = "the package has no archival code yet: it is assigned when the record is confirmed"
        return [result(code, stage, Outcome.NOT_APPLICABLE, "档号", why)]
    fonds = ctx.package.case.fonds_code if ctx.package else None
    template = None
    if ctx.env.code_pattern_for is not None and fonds:
        template = ctx.env.code_pattern_for(fonds)
    basis = f"the pattern of fonds {fonds}" if template else "the default pattern (fonds not registered here)"
    try:
        pattern = CodePattern.parse(template or DEFAULT_PATTERN)
    except ArchivalCodeError as exc:
        return [result(code, stage, Outcome.FAIL, "档号", f"the fonds' pattern is unusable: {exc.message}")]
    fields = pattern.match(archival_code)
    if fields is None:
        return [
            result(
                code,
                stage,
                Outcome.FAIL,
                "档号",
                f"{archival_code!r} does not follow {basis}: {pattern.template}",
            )
        ]
    out: list[CheckResult] = []
    pkg = ctx.package
    completed = parse_moment(pkg.case.completed_at) if pkg else None
    expect = {
        "fonds": fonds,
        "retention": ctx.configured_retention
        or ((pkg.case.retention or pkg.config.retention) if pkg else None),
        # 年度 of a government-service record is the year it was completed (办结)
        "year": ctx.record_year or (str(completed.year) if completed else None),
    }
    if ctx.bag is not None and ctx.bag.description.get("保管期限"):
        expect["retention"] = ctx.bag.description["保管期限"]  # the archive's retention, which applies
    for name, value in expect.items():
        if value and name in fields and fields[name] != value:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    "档号",
                    f"{archival_code}: {name} is {fields[name]!r} but the record's is {value!r}",
                )
            )
    if out:
        return out
    if template is None:  # checked, but only against the default: the fonds' own rule is unknown here
        return [result(code, stage, Outcome.WARNING, "档号", f"{archival_code} follows {basis}")]
    return [result(code, stage, Outcome.PASS, "档号", f"{archival_code} follows {basis}")]


def check_duplicates(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return no_metadata(code, stage)
    if ctx.env.find_duplicates is None:
        return [result(code, stage, Outcome.NOT_RUN, "", "not run: no archive catalogue to compare against")]
    own = ctx.package.file_number
    out: list[CheckResult] = []
    unsupported = [k for k in ctx.scheme.duplicate_keys if k not in DUPLICATE_KEYS]
    if unsupported:
        why = (
            f"not run for {', '.join(unsupported)}: the archive can compare only {', '.join(DUPLICATE_KEYS)}"
        )
        out.append(result(code, stage, Outcome.NOT_RUN, "", why))
    for key in ctx.scheme.duplicate_keys:
        if key in unsupported:
            continue
        value = _case_value(ctx, key)
        if not value:
            continue
        others = ctx.env.find_duplicates(key, value, own)
        if others:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.WARNING,
                    key,
                    f"{key} {value!r} is already used by {', '.join(others[:5])}",
                    others=others[:20],
                )
            )
    keys = ", ".join(k for k in ctx.scheme.duplicate_keys if k not in unsupported)
    return out or [result(code, stage, Outcome.PASS, "", f"no other record shares {keys}")]


def check_required_present(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return no_metadata(code, stage)
    out: list[CheckResult] = []
    for group in (s.Group.ARCHIVE_CONFIG, s.Group.CASE, s.Group.PROCESS, s.Group.FILES):
        if group.value not in pkg.groups_present:
            out.append(
                result(code, stage, Outcome.FAIL, group.value, f"metadata group <{group.value}> is missing")
            )
    if pkg.case.applicant is None and s.Group.CASE.value in pkg.groups_present:
        target = f"{s.Group.CASE.value}/{s.Group.APPLICANT.value}"
        out.append(result(code, stage, Outcome.FAIL, target, f"<{s.Group.APPLICANT.value}> is missing"))
    for prefix, group, obj in instances(pkg):
        for rule in ctx.scheme.rules_of(group):
            if rule.required and getattr(obj, rule.attr) is None:
                out.append(
                    result(
                        code,
                        stage,
                        Outcome.FAIL,
                        f"{prefix}/{rule.name}",
                        f"required element <{rule.name}> ({rule.name_en}) is missing in {prefix}",
                    )
                )
    return out or [
        result(code, stage, Outcome.PASS, "", "all metadata items the scheme requires are present")
    ]


def check_required_not_empty(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return no_metadata(code, stage)
    out: list[CheckResult] = []
    for prefix, group, obj in instances(pkg):
        for rule in ctx.scheme.rules_of(group):
            value = getattr(obj, rule.attr)
            if rule.required and value is not None and not value.strip():
                out.append(
                    result(
                        code,
                        stage,
                        Outcome.FAIL,
                        f"{prefix}/{rule.name}",
                        f"required element <{rule.name}> ({rule.name_en}) is empty in {prefix}",
                    )
                )
    return out or [result(code, stage, Outcome.PASS, "", "no required metadata item is empty")]


def check_process(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return no_metadata(code, stage)
    target = s.Group.PROCESS.value
    if not pkg.steps:
        return [result(code, stage, Outcome.FAIL, target, "no process step (环节) is recorded")]
    out: list[CheckResult] = []
    for i, step in enumerate(pkg.steps, 1):
        missing = [
            n
            for n, v in (("环节名称", step.name), ("办理人", step.handler), ("开始时间", step.started_at))
            if not (v or "").strip()
        ]
        if missing:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    f"{target}/{s.Group.STEP.value}[{i}]",
                    f"step {i} lacks {', '.join(missing)}",
                )
            )
    names = {(step.name or "").strip() for step in pkg.steps}
    for required in ctx.scheme.required_steps:
        if not any(required in name for name in names):
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    target,
                    f"the service item requires a {required} step; none is recorded",
                )
            )
    return out or [result(code, stage, Outcome.PASS, target, f"{len(pkg.steps)} process steps, complete")]


def _sequence_results(
    code: str, stage: Stage, label: str, target: str, values: list[str | None], start: int
) -> list[CheckResult]:
    numbers: list[int] = []
    for i, v in enumerate(values, 1):
        if v is None or not _INT.fullmatch(v.strip()):
            return [
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    f"{target}[{i}]/@{s.SEQUENCE_ATTR}",
                    f"{label} {i} has no integer 序号 ({v!r})",
                )
            ]
        numbers.append(int(v))
    expected = list(range(start, start + len(numbers)))
    if sorted(numbers) != expected:
        return [
            result(
                code,
                stage,
                Outcome.FAIL,
                target,
                f"{label} 序号 are {numbers}; expected each of {start}…{start + len(numbers) - 1} once",
                found=numbers,
            )
        ]
    return []


def check_sequences(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return no_metadata(code, stage)
    start = ctx.scheme.sequence_start
    out = _sequence_results(
        code,
        stage,
        "step",
        f"{s.Group.PROCESS.value}/{s.Group.STEP.value}",
        [st.sequence for st in pkg.steps],
        start,
    )
    out += _sequence_results(
        code,
        stage,
        "file",
        f"{s.Group.FILES.value}/{s.Group.FILE.value}",
        [f.sequence for f in pkg.files],
        start,
    )
    return out or [
        result(code, stage, Outcome.PASS, "", f"step and file numbers run consecutively from {start}")
    ]


METADATA_ITEMS = {
    "1-2": check_lengths,
    "1-3": check_formats,
    "1-4": check_enumerations,
    "1-5": check_plausible,
    "1-6": check_characters,
    "1-7": check_archival_code,
    "1-8": check_duplicates,
    "2-3": check_required_present,
    "2-4": check_required_not_empty,
    "2-5": check_process,
    "2-6": check_sequences,
}
