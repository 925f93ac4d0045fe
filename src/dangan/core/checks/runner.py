"""Run a stage profile over a package and produce a CheckReport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from dangan.core.checks.archive_items import ARCHIVE_ITEMS, PackageContext
from dangan.core.checks.catalogue import BY_NUMBER, PROFILES
from dangan.core.checks.model import CheckReport, CheckResult, Outcome, Stage
from dangan.core.errors import MetadataError
from dangan.core.package.intake import ReceivedPackage
from dangan.core.package.metadata import parse_metadata
from dangan.core.package.model import BatchPackageEntry, ScopeItem


def build_context(
    received: ReceivedPackage,
    *,
    scope: list[ScopeItem] | None = None,
    batch_entry: BatchPackageEntry | None = None,
    virus_scanner: Callable[[ReceivedPackage], list[tuple[str, str]]] | None = None,
) -> PackageContext:
    ctx = PackageContext(received=received, scope=scope, batch_entry=batch_entry, virus_scanner=virus_scanner)
    try:
        data = received.metadata_bytes()
        if data is None:
            return ctx
        ctx.package = parse_metadata(data)
    except MetadataError as exc:
        ctx.metadata_error = exc
        return ctx
    from dangan.core.package.xsd import validate_case_xml

    ctx.schema_errors = validate_case_xml(data)
    return ctx


def run_profile(
    ctx: PackageContext, stage: Stage = Stage.ARCHIVE, *, profile: tuple[str, ...] | None = None
) -> CheckReport:
    numbers = profile if profile is not None else PROFILES[stage]
    subject = (ctx.package.file_number if ctx.package else "") or ctx.received.source_name
    report = CheckReport(stage=stage, subject=subject)
    for number in numbers:
        item = BY_NUMBER[number]
        code = item.code(stage)
        fn = ARCHIVE_ITEMS.get(number)
        if fn is None:
            report.results.append(
                CheckResult(
                    code, stage, Outcome.NOT_RUN, "", "not run: not implemented for this stage", False
                )
            )
            continue
        try:
            results = fn(ctx, code, stage)
        except Exception as exc:
            results = [
                CheckResult(code, stage, Outcome.FAIL, "", f"checker error: {type(exc).__name__}: {exc}")
            ]
        for r in results:
            r.blocking = item.blocking
        report.results.extend(results)
    report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    return report
