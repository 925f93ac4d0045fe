"""Archiving-stage (GD) check items over a package held in quarantine.

Each function returns the results for one catalogue item. Targets are package-relative file paths
or metadata paths like ``办件基本信息/办件名称`` so a sender sees exactly what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath

from dangan.core.checks.model import CheckResult, Outcome, Stage
from dangan.core.errors import MetadataError
from dangan.core.package import schema as s
from dangan.core.package.intake import ReceivedPackage
from dangan.core.package.model import BatchPackageEntry, CasePackage, ScopeItem


@dataclass
class PackageContext:
    """Everything a check may look at. Built once per package by the runner."""

    received: ReceivedPackage
    package: CasePackage | None = None
    metadata_error: MetadataError | None = None
    schema_errors: list[str] = field(default_factory=list)
    scope: list[ScopeItem] | None = None  # configured scope; None = the package's own 归档范围
    batch_entry: BatchPackageEntry | None = None
    configured_retention: str | None = None  # the archive's retention for this service item
    virus_scanner: Callable[[ReceivedPackage], list[tuple[str, str]]] | None = None


ItemFn = Callable[[PackageContext, str, Stage], list[CheckResult]]


def _r(
    code: str, stage: Stage, outcome: Outcome, target: str, message: str, **evidence: object
) -> CheckResult:
    return CheckResult(
        code=code, stage=stage, outcome=outcome, target=target, message=message, evidence=evidence
    )


def _no_metadata(code: str, stage: Stage) -> list[CheckResult]:
    return [
        _r(code, stage, Outcome.NOT_RUN, s.METADATA_FILENAME, "not run: the metadata XML could not be read")
    ]


def check_metadata_readable(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if s.METADATA_FILENAME not in ctx.received.files:
        return [_r(code, stage, Outcome.NOT_APPLICABLE, s.METADATA_FILENAME, "no metadata file (see 1-12)")]
    if ctx.metadata_error is not None:
        return [
            _r(
                code,
                stage,
                Outcome.FAIL,
                ctx.metadata_error.target or s.METADATA_FILENAME,
                ctx.metadata_error.message,
            )
        ]
    return [_r(code, stage, Outcome.PASS, s.METADATA_FILENAME, "metadata XML parsed safely")]


def check_description_file(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if s.METADATA_FILENAME in ctx.received.files:
        return [_r(code, stage, Outcome.PASS, s.METADATA_FILENAME, "metadata file present")]
    return [
        _r(
            code,
            stage,
            Outcome.FAIL,
            s.METADATA_FILENAME,
            f"the package has no {s.METADATA_FILENAME} at its top level",
        )
    ]


def check_structure(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    out: list[CheckResult] = []
    for path in sorted(ctx.received.content_files):
        top = PurePosixPath(path).parts[0]
        if top not in s.CATEGORY_FOLDERS or len(PurePosixPath(path).parts) < 2:
            out.append(
                _r(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"{path} is not under one of the material folders {', '.join(s.CATEGORY_FOLDERS)}",
                )
            )
    if ctx.package is not None:
        for entry in ctx.package.files:
            if not entry.path:
                continue
            top = PurePosixPath(entry.path).parts[0]
            if entry.category and top in s.CATEGORY_FOLDERS and entry.category != top:
                out.append(
                    _r(
                        code,
                        stage,
                        Outcome.FAIL,
                        entry.path,
                        f"{entry.path} is declared as {entry.category} but sits under {top}/",
                    )
                )
    return out or [_r(code, stage, Outcome.PASS, "", "folder structure follows the rules")]


def check_declared_vs_present(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    declared = {e.path for e in ctx.package.files if e.path}
    present = set(ctx.received.content_files)
    out = [
        _r(code, stage, Outcome.FAIL, p, f"declared file missing from the package: {p}")
        for p in sorted(declared - present)
    ]
    out += [
        _r(code, stage, Outcome.FAIL, p, f"file present but not declared in {s.Group.FILES.value}: {p}")
        for p in sorted(present - declared)
    ]
    return out or [_r(code, stage, Outcome.PASS, "", f"{len(present)} files declared and present")]


def check_fixity(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    out: list[CheckResult] = []
    checked = 0
    for entry in ctx.package.files:
        facts = ctx.received.files.get(entry.path or "")
        if facts is None:
            continue  # reported by 2-11
        algorithm = (entry.digest_algorithm or "").upper()
        if algorithm != "SM3":
            out.append(
                _r(
                    code,
                    stage,
                    Outcome.FAIL,
                    facts.path,
                    f"digest algorithm of {facts.path} is {entry.digest_algorithm!r}; SM3 is required",
                )
            )
            continue
        declared = (entry.digest or "").strip().lower()
        checked += 1
        if declared != facts.sm3:
            out.append(
                _r(
                    code,
                    stage,
                    Outcome.FAIL,
                    facts.path,
                    f"SM3 digest of {facts.path} does not match: declared {declared or '(empty)'}, "
                    f"actual {facts.sm3}",
                    declared=declared,
                    actual=facts.sm3,
                )
            )
    return out or [_r(code, stage, Outcome.PASS, "", f"SM3 digests of {checked} files match")]


def check_properties(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    out: list[CheckResult] = []
    for entry in ctx.package.files:
        facts = ctx.received.files.get(entry.path or "")
        if facts is None:
            continue
        if (entry.size or "").strip() != str(facts.size):
            out.append(
                _r(
                    code,
                    stage,
                    Outcome.FAIL,
                    facts.path,
                    f"size of {facts.path} is {facts.size} bytes, metadata says {entry.size}",
                    declared=entry.size,
                    actual=facts.size,
                )
            )
        suffix = PurePosixPath(facts.path).suffix.lstrip(".").upper()
        if entry.format and suffix and entry.format.strip().upper() != suffix:
            out.append(
                _r(
                    code,
                    stage,
                    Outcome.FAIL,
                    facts.path,
                    f"format of {facts.path} is declared {entry.format} but the file is .{suffix.lower()}",
                )
            )
    return out or [_r(code, stage, Outcome.PASS, "", "sizes and formats match the metadata")]


_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


def _parse_moment(value: str, kind: s.Kind) -> datetime | None:
    """A real calendar date/time, or None (2025-02-30 has the right shape but is no date)."""
    try:
        if kind == s.Kind.DATE:
            return datetime.combine(date.fromisoformat(value), datetime.min.time())
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def check_schema(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return _no_metadata(code, stage)
    out = [_r(code, stage, Outcome.FAIL, s.METADATA_FILENAME, msg) for msg in ctx.schema_errors]
    for prefix, obj in _required_groups(pkg):
        for e in s.elements_of(_group_for(prefix)):
            value = getattr(obj, e.attr)
            shape = {s.Kind.DATE: _DATE_SHAPE, s.Kind.DATETIME: _DATETIME_SHAPE}.get(e.kind)
            # Wrong shapes are already reported by the schema; here: right shape, impossible date.
            if shape and value and shape.fullmatch(value) and _parse_moment(value, e.kind) is None:
                out.append(
                    _r(code, stage, Outcome.FAIL, f"{prefix}/{e.name}", f"{value!r} is not a real date")
                )
    return out or [_r(code, stage, Outcome.PASS, s.METADATA_FILENAME, "metadata follows the XML Schema")]


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = _parse_moment(value, s.Kind.DATETIME)
    return parsed.replace(tzinfo=None) if parsed else None


def check_plausible(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return _no_metadata(code, stage)
    out: list[CheckResult] = []
    case = s.Group.CASE.value
    accepted, completed = _moment(pkg.case.accepted_at), _moment(pkg.case.completed_at)
    if accepted and completed and completed < accepted:
        out.append(
            _r(
                code,
                stage,
                Outcome.FAIL,
                f"{case}/办结时间",
                f"completed {pkg.case.completed_at} before accepted {pkg.case.accepted_at}",
            )
        )
    for i, step in enumerate(pkg.steps, 1):
        start, end = _moment(step.started_at), _moment(step.ended_at)
        if start and end and end < start:
            out.append(
                _r(
                    code,
                    stage,
                    Outcome.FAIL,
                    f"{s.Group.PROCESS.value}/{s.Group.STEP.value}[{i}]",
                    f"step {step.name or i} ends ({step.ended_at}) before it starts ({step.started_at})",
                )
            )
    declared = pkg.case.retention or pkg.config.retention
    if ctx.configured_retention and declared and declared != ctx.configured_retention:
        out.append(
            _r(
                code,
                stage,
                Outcome.WARNING,
                f"{case}/保管期限",
                f"the package says retention {declared}; the archive's schedule for this service item says "
                f"{ctx.configured_retention}, which applies",
                declared=declared,
                configured=ctx.configured_retention,
            )
        )
    return out or [_r(code, stage, Outcome.PASS, "", "dates and retention are plausible")]


def _required_groups(pkg: CasePackage) -> list[tuple[str, object]]:
    """(path prefix, object) pairs whose required elements must be present."""
    groups: list[tuple[str, object]] = [
        (s.Group.ARCHIVE_CONFIG.value, pkg.config),
        (s.Group.CASE.value, pkg.case),
    ]
    if pkg.case.applicant is not None:
        groups.append((f"{s.Group.CASE.value}/{s.Group.APPLICANT.value}", pkg.case.applicant))
    for i, step in enumerate(pkg.steps, 1):
        groups.append((f"{s.Group.PROCESS.value}/{s.Group.STEP.value}[{i}]", step))
    for i, lic in enumerate(pkg.licenses, 1):
        groups.append((f"{s.Group.LICENSES.value}/{s.Group.LICENSE.value}[{i}]", lic))
    for i, entry in enumerate(pkg.files, 1):
        groups.append((f"{s.Group.FILES.value}/{s.Group.FILE.value}[{i}]", entry))
    return groups


_GROUP_OF_PREFIX = {
    s.Group.ARCHIVE_CONFIG.value: s.Group.ARCHIVE_CONFIG,
    s.Group.CASE.value: s.Group.CASE,
    s.Group.APPLICANT.value: s.Group.APPLICANT,
    s.Group.STEP.value: s.Group.STEP,
    s.Group.LICENSE.value: s.Group.LICENSE,
    s.Group.FILE.value: s.Group.FILE,
}


def _group_for(prefix: str) -> s.Group:
    last = prefix.rsplit("/", 1)[-1].split("[", 1)[0]
    return _GROUP_OF_PREFIX[last]


def check_required_present(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return _no_metadata(code, stage)
    out: list[CheckResult] = []
    for group in (s.Group.ARCHIVE_CONFIG, s.Group.CASE, s.Group.PROCESS, s.Group.FILES):
        if group.value not in pkg.groups_present:
            out.append(
                _r(code, stage, Outcome.FAIL, group.value, f"metadata group <{group.value}> is missing")
            )
    if pkg.case.applicant is None and s.Group.CASE.value in pkg.groups_present:
        out.append(
            _r(
                code,
                stage,
                Outcome.FAIL,
                f"{s.Group.CASE.value}/{s.Group.APPLICANT.value}",
                f"<{s.Group.APPLICANT.value}> is missing",
            )
        )
    if s.Group.PROCESS.value in pkg.groups_present and not pkg.steps:
        out.append(_r(code, stage, Outcome.FAIL, s.Group.PROCESS.value, "no process step (环节) recorded"))
    for prefix, obj in _required_groups(pkg):
        if prefix.split("/", 1)[0] not in pkg.groups_present:
            continue
        for e in s.elements_of(_group_for(prefix)):
            if e.required and getattr(obj, e.attr) is None:
                out.append(
                    _r(
                        code,
                        stage,
                        Outcome.FAIL,
                        f"{prefix}/{e.name}",
                        f"required element <{e.name}> ({e.name_en}) is missing in {prefix}",
                    )
                )
    return out or [_r(code, stage, Outcome.PASS, "", "all required metadata items are present")]


def check_required_not_empty(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return _no_metadata(code, stage)
    out: list[CheckResult] = []
    for prefix, obj in _required_groups(pkg):
        for e in s.elements_of(_group_for(prefix)):
            if e.required and getattr(obj, e.attr) == "":
                out.append(
                    _r(
                        code,
                        stage,
                        Outcome.FAIL,
                        f"{prefix}/{e.name}",
                        f"required element <{e.name}> ({e.name_en}) is empty in {prefix}",
                    )
                )
    return out or [_r(code, stage, Outcome.PASS, "", "no required metadata item is empty")]


def _declared_int(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


def _check_declared_total(
    ctx: PackageContext, code: str, stage: Stage, *, attr: str, declared: str | None, actual: int, unit: str
) -> list[CheckResult]:
    """Compare a total the package declares on 文件信息 (registration) with what was received."""
    target = f"{s.Group.FILES.value}/@{attr}"
    value = _declared_int(declared)
    if value is None:
        return [_r(code, stage, Outcome.FAIL, target, f"@{attr} is missing or not an integer")]
    if value != actual:
        return [
            _r(code, stage, Outcome.FAIL, target, f"{actual} {unit} in the package, {attr} declares {value}",
               declared=value, actual=actual)
        ]  # fmt: skip
    return [_r(code, stage, Outcome.PASS, target, f"{actual} {unit}, as declared")]


def check_file_count(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    return _check_declared_total(
        ctx, code, stage, attr=s.FILES_COUNT_ATTR, declared=ctx.package.declared_file_count,
        actual=len(ctx.received.content_files), unit="files",
    )  # fmt: skip


def check_byte_total(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    return _check_declared_total(
        ctx, code, stage, attr=s.FILES_BYTES_ATTR, declared=ctx.package.declared_byte_total,
        actual=sum(f.size for f in ctx.received.content_files.values()), unit="bytes",
    )  # fmt: skip


def check_scope(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return _no_metadata(code, stage)
    scope = ctx.scope if ctx.scope is not None else pkg.config.scope
    required = [item for item in scope if item.required]
    if not required:
        return [
            _r(code, stage, Outcome.NOT_APPLICABLE, s.Group.SCOPE.value, "no required material in the scope")
        ]
    present_codes = {e.material_code for e in pkg.files if e.path in ctx.received.files}
    out = [
        _r(
            code,
            stage,
            Outcome.FAIL,
            f"{s.Group.SCOPE.value}/{item.code}",
            f"required material {item.code} {item.name} is missing",
        )
        for item in required
        if item.code not in present_codes
    ]
    return out or [
        _r(code, stage, Outcome.PASS, s.Group.SCOPE.value, f"all {len(required)} required materials present")
    ]


def check_sender_digest(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    entry = ctx.batch_entry
    if entry is None or not entry.digest:
        return [_r(code, stage, Outcome.NOT_APPLICABLE, "", "no sender digest declared for this package")]
    if (entry.digest_algorithm or "SM3").upper() != "SM3":
        return [
            _r(code, stage, Outcome.FAIL, entry.name or "", f"unsupported algorithm {entry.digest_algorithm}")
        ]
    received = ctx.received
    actual = received.container_sm3 or received.files.get(s.METADATA_FILENAME, None)
    actual_hex = actual if isinstance(actual, str) else (actual.sm3 if actual is not None else "")
    if entry.digest.strip().lower() != actual_hex:
        return [
            _r(
                code,
                stage,
                Outcome.FAIL,
                entry.name or received.source_name,
                f"package digest {actual_hex} differs from the one in the batch manifest {entry.digest}",
                declared=entry.digest,
                actual=actual_hex,
            )
        ]
    return [_r(code, stage, Outcome.PASS, entry.name or "", "package digest equals the sender's")]


def check_antivirus_present(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.virus_scanner is None:
        return [_r(code, stage, Outcome.NOT_RUN, "", "not run: no virus scanner configured")]
    return [_r(code, stage, Outcome.PASS, "", "virus scanner configured")]


def check_virus(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.virus_scanner is None:
        return [_r(code, stage, Outcome.NOT_RUN, "", "not run: no virus scanner configured")]
    found = ctx.virus_scanner(ctx.received)
    out = [_r(code, stage, Outcome.FAIL, path, f"virus found in {path}: {name}") for path, name in found]
    return out or [_r(code, stage, Outcome.PASS, "", "no virus found")]


ARCHIVE_ITEMS: dict[str, ItemFn] = {
    "1-1": check_fixity,
    "1-3": check_schema,
    "1-5": check_plausible,
    "1-10": check_properties,
    "1-12": check_description_file,
    "1-13": check_structure,
    "1-14": check_sender_digest,
    "2-1": check_file_count,
    "2-2": check_byte_total,
    "2-3": check_required_present,
    "2-4": check_required_not_empty,
    "2-9": check_scope,
    "2-11": check_declared_vs_present,
    "3-1": check_metadata_readable,
    "4-1": check_antivirus_present,
    "4-2": check_virus,
}
