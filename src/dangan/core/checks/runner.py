"""Run a stage profile over a package and produce a CheckReport; check files on disk without ingesting."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from dangan.core.checks.catalogue import BY_NUMBER, StageProfile, default_profile
from dangan.core.checks.content import CONTENT_ITEMS
from dangan.core.checks.context import (
    Carrier,
    Environment,
    PackageContext,
    build_bag_context,
    build_context,
    describe,
    is_bag,
)
from dangan.core.checks.items_environment import ENVIRONMENT_ITEMS
from dangan.core.checks.items_metadata import METADATA_ITEMS
from dangan.core.checks.items_package import PACKAGE_ITEMS
from dangan.core.checks.model import CheckReport, CheckResult, Outcome, Stage
from dangan.core.checks.scheme import MetadataScheme
from dangan.core.errors import DanganError
from dangan.core.package.intake import IntakeLimits, receive_folder, receive_zip
from dangan.core.package.model import BatchPackageEntry

ItemFn = Callable[[PackageContext, str, Stage], list[CheckResult]]

# Later tables win: content items extend the package items 1-1 and 1-10 with what the files are.
ITEM_FUNCTIONS: dict[str, ItemFn] = {**PACKAGE_ITEMS, **METADATA_ITEMS, **ENVIRONMENT_ITEMS, **CONTENT_ITEMS}

__all__ = ["ITEM_FUNCTIONS", "build_bag_context", "build_context", "check_path", "run_profile"]


# One item reports at most this many results (one per file is normal): a hostile package declaring
# tens of thousands of bad files must not produce a report of hundreds of thousands of lines.
MAX_RESULTS_PER_ITEM = 1000
_SEVERITY = [Outcome.FAIL, Outcome.WARNING, Outcome.NOT_RUN, Outcome.PASS, Outcome.NOT_APPLICABLE]


def capped(results: list[CheckResult], code: str, stage: Stage, blocking: bool) -> list[CheckResult]:
    """``results`` if few enough; else the most severe ones first, plus one result that counts the rest
    (with the worst outcome among them, so a failure is never hidden by the cap)."""
    if len(results) <= MAX_RESULTS_PER_ITEM:
        return results
    ordered = sorted(results, key=lambda r: _SEVERITY.index(r.outcome))
    kept, rest = ordered[: MAX_RESULTS_PER_ITEM - 1], ordered[MAX_RESULTS_PER_ITEM - 1 :]
    by_outcome: dict[str, int] = {}
    for r in rest:
        by_outcome[r.outcome.value] = by_outcome.get(r.outcome.value, 0) + 1
    worst = rest[0].outcome
    summary = ", ".join(f"{k} {v}" for k, v in by_outcome.items())
    kept.append(
        CheckResult(
            code,
            stage,
            worst,
            "",
            f"{len(rest)} more results of this item not listed ({summary})",
            blocking=blocking,
            evidence={"not_listed": by_outcome},
        )
    )
    return kept


def run_profile(
    ctx: PackageContext, stage: Stage = Stage.ARCHIVE, *, profile: StageProfile | None = None
) -> CheckReport:
    profile = profile or default_profile(stage)
    subject = (ctx.package.file_number if ctx.package else "") or ctx.received.source_name
    report = CheckReport(stage=stage, subject=subject)
    for entry in profile.entries:
        item = BY_NUMBER[entry.number]
        code = item.code(stage)
        fn = ITEM_FUNCTIONS.get(entry.number)
        if fn is None:  # a catalogue item without an implementation must say so, never pass
            results = [CheckResult(code, stage, Outcome.NOT_RUN, "", "not run: not implemented")]
        else:
            try:
                results = fn(ctx, code, stage)
            except Exception as exc:  # a checker that breaks must fail the package, not let it through
                results = [
                    CheckResult(code, stage, Outcome.FAIL, "", f"checker error: {type(exc).__name__}: {exc}")
                ]
        for r in results:
            r.blocking = entry.blocking
        report.results.extend(capped(results, code, stage, entry.blocking))
    report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    return report


def check_path(
    path: Path,
    stage: Stage,
    *,
    work_dir: Path | None = None,
    scheme: MetadataScheme | None = None,
    profile: StageProfile | None = None,
    env: Environment | None = None,
    batch_entry: BatchPackageEntry | None = None,
    carrier: Carrier | None = None,
    limits: IntakeLimits | None = None,
    prepare: Callable[[PackageContext], StageProfile | None] | None = None,
) -> tuple[CheckReport, dict[str, object]]:
    """Check a package (folder or ZIP; a case package or an AIP bag) without ingesting it.

    The package is read through the same safe intake as ingest, into a temporary folder that is
    removed afterwards. ``prepare`` may adjust the context once the metadata is read (the archive
    applies the service item's scheme and profile there) and return the profile to run. Returns the
    report and a few facts about the package. An unreadable package raises :class:`DanganError`.
    """
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = Path(tempfile.mkdtemp(prefix="dangan-check-", dir=work_dir))
    try:
        dest = temp / "package"
        dest.mkdir()
        started = time.perf_counter()
        if path.is_dir():
            received = receive_folder(path, dest, limits or IntakeLimits())
        elif path.is_file():
            received = receive_zip(path, dest, limits or IntakeLimits())
        else:
            raise DanganError(f"no such file or folder: {path}", code="NOT_FOUND", target=str(path))
        seconds = time.perf_counter() - started
        if is_bag(received):
            ctx = build_bag_context(received, scheme=scheme, env=env)
        else:
            ctx = build_context(received, scheme=scheme, env=env, batch_entry=batch_entry)
        if carrier is not None:  # the carrier's own facts plus what reading this package showed
            read = sum(f.size for f in received.files.values())
            ctx.carrier = replace(
                carrier, bytes_read=carrier.bytes_read + read, seconds=carrier.seconds + seconds
            )
        if prepare is not None:
            profile = prepare(ctx) or profile
        report = run_profile(ctx, stage, profile=profile)
        facts = describe(ctx)
        return report, facts
    finally:
        shutil.rmtree(temp, ignore_errors=True)
