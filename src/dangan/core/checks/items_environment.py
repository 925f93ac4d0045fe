"""Items about the environment: database (3-2), storage (3-7, 4-8), backups (3-9), virus scanning (4-1,
4-2), offline carriers (4-3…4-6) and the archiving channel (4-7).

Each asks a hook of :class:`~dangan.core.checks.context.Environment`; without the hook the item is
"not run" (or "not applicable" where the situation does not arise, e.g. no carrier for online transfer).
"""

from __future__ import annotations

from dangan.core.antivirus import VirusScanner, check_available
from dangan.core.checks.context import Environment, PackageContext, VirusScanOutcome
from dangan.core.checks.model import CheckResult, Outcome, Stage
from dangan.core.checks.results import result
from dangan.core.package.intake import ReceivedPackage


def with_virus_scanner(env: Environment, scanner: VirusScanner | None) -> Environment:
    """Plug a configured scanner into the environment: 4-1 learns whether it answers, 4-2 uses it."""
    if scanner is None:
        return env
    problem = check_available(scanner)
    if problem:
        env.virus_scanner_problem = problem
        return env
    engine = scanner.describe().version

    def scan(received: ReceivedPackage) -> VirusScanOutcome:
        paths = [received.root / p for p in sorted(received.files)]
        report = scanner.scan(paths, root=received.root)
        return VirusScanOutcome(
            engine=engine,
            found=[(f.path, f.signature) for f in report.findings],
            errors=[(e.path, e.reason) for e in report.errors],
            scanned=report.scanned,
        )

    env.virus_scanner = scan
    return env


def _probe_result(code: str, stage: Stage, problem: str | None, *, failed: str, ok: str) -> list[CheckResult]:
    if problem:
        return [result(code, stage, Outcome.FAIL, "", f"{failed}: {problem}")]
    return [result(code, stage, Outcome.PASS, "", ok)]


def check_database(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    probe = ctx.env.probe_database
    if probe is None:
        return [result(code, stage, Outcome.NOT_RUN, "", "not run: checked outside an archive database")]
    return _probe_result(code, stage, probe(), failed="the metadata database does not answer",
                         ok="the metadata database answers queries")  # fmt: skip


def check_storage(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    probe = ctx.env.probe_storage
    if probe is None:
        return [result(code, stage, Outcome.NOT_RUN, "", "not run: no archive storage to write to")]
    needed = sum(f.size for f in ctx.received.files.values())
    problem = probe(needed)
    if problem:
        return [
            result(
                code, stage, Outcome.FAIL, "", f"the archive storage cannot take {needed} bytes: {problem}"
            )
        ]
    return [
        result(code, stage, Outcome.PASS, "", f"the archive storage is writable with room for {needed} bytes")
    ]


def check_backup(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    probe = ctx.env.probe_backup
    if probe is None:
        return [result(code, stage, Outcome.NOT_RUN, "", "not run: no backup is configured for this archive")]
    return _probe_result(
        code, stage, probe(), failed="backup", ok="the latest verified backup holds this record"
    )


def check_copies(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    probe = ctx.env.probe_copies
    if probe is None:
        return [result(code, stage, Outcome.NOT_RUN, "", "not run: checked outside the archive's storage")]
    problems = probe()
    out = [result(code, stage, Outcome.FAIL, "", p) for p in problems]
    return out or [result(code, stage, Outcome.PASS, "", "every stored copy is present and readable")]


def check_antivirus_present(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.env.virus_scanner_problem:
        why = ctx.env.virus_scanner_problem
        return [result(code, stage, Outcome.FAIL, "", f"a virus scanner is configured but unusable: {why}")]
    if ctx.env.virus_scanner is None:
        return [result(code, stage, Outcome.NOT_RUN, "", "not run: no virus scanner configured")]
    return [result(code, stage, Outcome.PASS, "", "a virus scanner is configured and answers")]


def check_virus(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    scanner = ctx.env.virus_scanner
    if scanner is None or ctx.env.virus_scanner_problem:
        why = ctx.env.virus_scanner_problem or "no virus scanner configured"
        return [result(code, stage, Outcome.NOT_RUN, "", f"not run: {why}")]
    outcome = scanner(ctx.received)
    out = [
        result(code, stage, Outcome.FAIL, path, f"virus found in {path}: {name}", engine=outcome.engine)
        for path, name in outcome.found
    ]
    # A configured scanner must vouch for every file: one it could not scan blocks like a finding
    # (otherwise padding a file past the scanner's size limit would smuggle it in).
    out += [
        result(
            code,
            stage,
            Outcome.FAIL,
            path or "",
            f"not scanned, so not known to be clean: {why}",
            engine=outcome.engine,
        )
        for path, why in outcome.errors
    ]
    return out or [
        result(
            code,
            stage,
            Outcome.PASS,
            "",
            f"{outcome.scanned} files scanned by {outcome.engine}: no virus found",
            engine=outcome.engine,
            scanned=outcome.scanned,
        )
    ]


_ONLINE = "online transfer: no offline carrier"
# DA/T 38 names archival-grade optical discs and hard disks as carriers; flash memory is not one.
_ARCHIVAL_MEDIA = {"CD-R", "DVD-R", "BD-R", "HDD", "硬磁盘", "光盘"}


def check_carrier_extra_files(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    carrier = ctx.carrier
    if carrier is None:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", _ONLINE)]
    out = [
        result(code, stage, Outcome.FAIL, p, f"file on the carrier belongs to no package: {p}")
        for p in carrier.extra_files
    ]
    return out or [
        result(code, stage, Outcome.PASS, "", "the carrier holds only packages and their descriptions")
    ]


def check_carrier_readable(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    carrier = ctx.carrier
    if carrier is None:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", _ONLINE)]
    if carrier.read_errors:
        return [result(code, stage, Outcome.FAIL, "", f"read error: {e}") for e in carrier.read_errors]
    speed = carrier.bytes_read / carrier.seconds / 1e6 if carrier.seconds > 0 else 0.0
    return [
        result(
            code,
            stage,
            Outcome.PASS,
            "",
            f"{carrier.bytes_read} bytes read without error ({speed:.1f} MB/s)",
            bytes_read=carrier.bytes_read,
            mb_per_s=round(speed, 1),
        )
    ]


def check_carrier_appearance(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.carrier is None:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", _ONLINE)]
    why = "not run: a person inspects the carrier and records the result in the registration form (载体外观)"
    return [result(code, stage, Outcome.NOT_RUN, "", why)]


def check_carrier_type(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    carrier = ctx.carrier
    if carrier is None:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", _ONLINE)]
    if not carrier.medium:
        return [
            result(code, stage, Outcome.NOT_RUN, "", "not run: the carrier type was not stated (--medium)")
        ]
    if carrier.medium.upper() not in {m.upper() for m in _ARCHIVAL_MEDIA}:
        return [
            result(
                code,
                stage,
                Outcome.FAIL,
                "",
                f"{carrier.medium} is not an archival carrier under DA/T 38 "
                f"(use {', '.join(sorted(_ARCHIVAL_MEDIA))})",
            )
        ]
    return [result(code, stage, Outcome.PASS, "", f"{carrier.medium} is an archival carrier")]


_STATE_SECRETS = ("秘密", "机密", "绝密")


def check_process_security(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    out: list[CheckResult] = []
    pkg = ctx.package
    if pkg is not None and (pkg.case.security_class or "").strip() in _STATE_SECRETS:
        out.append(
            result(
                code,
                stage,
                Outcome.FAIL,
                "办件基本信息/密级",
                f"the case is classified {pkg.case.security_class}: classified records must not be "
                "archived through this system",
            )
        )
    if ctx.env.channel is None:
        out.append(
            result(
                code,
                stage,
                Outcome.NOT_RUN,
                "",
                "not run: checked outside the archive, the delivery channel is not known",
            )
        )
        return out
    return out or [
        result(
            code,
            stage,
            Outcome.PASS,
            "",
            f"received through an authenticated channel: {ctx.env.channel}",
            channel=ctx.env.channel,
        )
    ]


ENVIRONMENT_ITEMS = {
    "3-2": check_database,
    "3-7": check_storage,
    "3-9": check_backup,
    "4-1": check_antivirus_present,
    "4-2": check_virus,
    "4-3": check_carrier_extra_files,
    "4-4": check_carrier_readable,
    "4-5": check_carrier_appearance,
    "4-6": check_carrier_type,
    "4-7": check_process_security,
    "4-8": check_copies,
}
