"""Content items: what the files themselves are. 1-1 (OFD signatures), 1-10 (format vs metadata and
extension), 2-7 (content complete), 3-3 (accepted formats), 3-4 (opens), 3-5 (PDF/A, OFD-A), 3-6
(validators available), 3-8 (no encryption or compressed containers).

Each content file is analysed once (:func:`analyse`, cached on the context): identified by its bytes,
validated by the tool for its format, and for OFD its structure and signatures checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dangan.core import formats, ofd
from dangan.core.checks.context import PackageContext
from dangan.core.checks.model import CheckResult, Outcome, Stage
from dangan.core.checks.results import no_metadata, result
from dangan.core.package import schema as s


@dataclass
class FileAnalysis:
    format: formats.FormatId
    validation: formats.Validation
    ofd_structure: ofd.OfdValidation | None = None
    signatures: ofd.OfdSignatureReport | None = None


def analyse(path: Path, *, trust: ofd.TrustStore | None = None) -> FileAnalysis:
    fmt = formats.identify(path)
    if fmt.name != "OFD":
        return FileAnalysis(fmt, formats.validate(path, fmt))
    structure = ofd.validate_ofd(path)  # never raises: an unreadable OFD has readable=False and a problem
    structure_errors = [
        p.message for p in structure.problems if p.severity == "error" and not _is_ofda(p.rule)
    ]
    validation = formats.Validation(
        status="valid" if structure.readable and not structure_errors else "invalid",
        tool="dangan OFD reader",
        encrypted=structure.encrypted,
        problems=structure_errors,
        details=dict(structure.details),
    )
    signatures = ofd.verify_document(
        path,
        trusted_makers=trust.makers if trust else None,
        trusted_signers=trust.signers if trust else None,
    )
    return FileAnalysis(fmt, validation, ofd_structure=structure, signatures=signatures)


def _is_ofda(rule: str) -> bool:
    return rule.upper().startswith("OFDA")


def _content(ctx: PackageContext) -> dict[str, FileAnalysis]:
    return ctx.analyses()


def ofd_signature_results(ctx: PackageContext, code: str, stage: Stage) -> tuple[list[CheckResult], int]:
    """1-1's part for e-seals and signatures in OFD files: failures, and how many signatures verified."""
    out: list[CheckResult] = []
    verified = 0
    for path, a in _content(ctx).items():
        if a.format.name == "PDF" and a.validation.details.get("signatures"):
            n = a.validation.details["signatures"]
            out.append(
                result(
                    code,
                    stage,
                    Outcome.NOT_RUN,
                    path,
                    f"not run for {path}: it carries {n} PDF signature(s); verifying PDF signatures "
                    "is not implemented, so they are not counted as verified",
                )
            )
        report = a.signatures
        if report is None:
            continue
        if report.signatures and ctx.env.ofd_trust_problem:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"signatures of {path} cannot be judged: {ctx.env.ofd_trust_problem}",
                )
            )
            continue
        if report.error:
            out.append(
                result(
                    code, stage, Outcome.FAIL, path, f"signatures of {path} cannot be read: {report.error}"
                )
            )
            continue
        for sig in report.signatures:
            steps = [{"name": st.name, "outcome": st.outcome, "reason": st.reason} for st in sig.steps]
            evidence: dict[str, Any] = {
                "signature": sig.id,
                "type": sig.type,
                "signer": sig.signer,
                "seal": sig.seal_name,
                "time": sig.time,
                "steps": steps,
            }
            if sig.status == "valid":  # intact and made by a trusted seal maker / signer
                verified += 1
                continue
            if sig.status in ("intact", "unverifiable"):
                why = "; ".join(f"{st.name}: {st.reason}" for st in sig.steps if st.outcome != "pass")
                summary = (
                    "integrity verified; signer identity not verified"
                    if sig.status == "intact"
                    else "cannot be verified here"
                )
                out.append(
                    result(
                        code,
                        stage,
                        Outcome.WARNING,
                        path,
                        f"{sig.type} signature {sig.id} in {path}: {summary} — {why}",
                        **evidence,
                    )
                )
                continue
            failed = "; ".join(f"{st.name}: {st.reason}" for st in sig.steps if st.outcome == "fail")
            verdict = (
                "is not from a trusted seal maker or signer" if sig.status == "untrusted" else "is invalid"
            )
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"{sig.type} signature {sig.id} in {path} {verdict} — {failed}",
                    **evidence,
                )
            )
    return out, verified


def format_mismatch_results(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    """1-10's part: the format identified from the bytes vs the declared format and the file name."""
    if ctx.package is None:
        return []
    out: list[CheckResult] = []
    analyses = _content(ctx)
    for entry in ctx.package.files:
        a = analyses.get(entry.path or "")
        if a is None:
            continue
        name = a.format.name
        if name == "UNKNOWN":
            continue  # 3-3 reports it
        path = entry.path or ""
        if entry.format and not formats.extension_matches(a.format, f"x.{entry.format.strip().lower()}"):
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"{path} is declared {entry.format} but its content is {name} ({a.format.basis})",
                    declared=entry.format,
                    identified=name,
                )
            )
        if PurePosixPath(path).suffix and not formats.extension_matches(a.format, path):
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"the name of {path} says {PurePosixPath(path).suffix} but its content is {name}",
                    identified=name,
                )
            )
    return out


def check_properties_and_format(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    from dangan.core.checks.items_package import check_properties

    base = check_properties(ctx, code, stage)
    extra = format_mismatch_results(ctx, code, stage)
    if not extra:
        if base and base[0].outcome == Outcome.PASS:
            base[
                0
            ].message = "sizes match the metadata; formats identified from content match names and metadata"
        return base
    return [r for r in base if r.outcome != Outcome.PASS] + extra


def check_fixity_and_signatures(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    from dangan.core.checks.items_package import check_fixity

    base = check_fixity(ctx, code, stage)
    if ctx.package is None:
        return base
    extra, verified = ofd_signature_results(ctx, code, stage)
    if any(r.outcome == Outcome.FAIL for r in extra):
        return [r for r in base if r.outcome != Outcome.PASS] + extra
    if extra:  # warnings only: the digests did pass
        return base + extra
    if verified and base and base[0].outcome == Outcome.PASS:
        base[0].message += f"; {verified} OFD signature(s)/e-seal(s) verify"
        base[0].evidence["ofd_signatures_verified"] = verified
    return base


def check_content_complete(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return no_metadata(code, stage)
    if not ctx.received.content_files:
        return [
            result(code, stage, Outcome.FAIL, s.Group.FILES.value, "the package has no content files at all")
        ]
    out: list[CheckResult] = []
    for path, facts in sorted(ctx.received.content_files.items()):
        if facts.size == 0:
            out.append(result(code, stage, Outcome.FAIL, path, f"{path} is empty (0 bytes)"))
    for i, lic in enumerate(ctx.package.licenses, 1):
        if lic.path and lic.path not in ctx.received.files:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    f"{s.Group.LICENSES.value}/{s.Group.LICENSE.value}[{i}]",
                    f"licence {lic.license_number or i} points to {lic.path}, which is not in the package",
                )
            )
    for path, a in _content(ctx).items():
        if a.ofd_structure is None:
            continue
        for p in a.ofd_structure.problems:
            if "ATTACH" in p.rule.upper():
                out.append(result(code, stage, Outcome.FAIL, path, f"{path}: {p.message}"))
    return out or [
        result(code, stage, Outcome.PASS, "", "no empty file; referenced licences and attachments present")
    ]


def check_accepted_formats(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    accepted = ctx.accepted_formats or formats.ARCHIVAL_FORMATS
    out: list[CheckResult] = []
    for path, a in _content(ctx).items():
        if a.format.name == "UNKNOWN":
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"the format of {path} cannot be identified from its content",
                )
            )
        elif a.format.name not in accepted:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"{path} is {a.format.name}, not an accepted archival format "
                    f"({', '.join(sorted(accepted))}); convert it before archiving",
                    identified=a.format.name,
                )
            )
    if not out and not ctx.received.content_files:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", "the package has no content files")]
    counts: dict[str, int] = {}
    for a in _content(ctx).values():
        counts[a.format.name] = counts.get(a.format.name, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return out or [
        result(code, stage, Outcome.PASS, "", f"all files in accepted formats: {summary}", formats=counts)
    ]


def check_opens(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    out: list[CheckResult] = []
    tools: set[str] = set()
    for path, a in _content(ctx).items():
        v = a.validation
        if v.status == "valid":
            tools.add(v.tool)
        elif v.status == "invalid":
            problems = "; ".join(v.problems[:3]) or "does not open"
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"{path} ({a.format.name}) does not open cleanly with {v.tool}: {problems}",
                    tool=v.tool,
                    problems=v.problems[:20],
                )
            )
        else:
            out.append(
                result(
                    code, stage, Outcome.NOT_RUN, path, f"not run for {path} ({a.format.name}): {v.reason}"
                )
            )
    if not ctx.received.content_files:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", "the package has no content files")]
    return out or [
        result(
            code,
            stage,
            Outcome.PASS,
            "",
            f"every file opens and decodes ({', '.join(sorted(tools))})",
            tools=sorted(tools),
        )
    ]


def check_preservation_profile(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    out: list[CheckResult] = []
    checked = 0
    for path, a in _content(ctx).items():
        if a.format.name == "PDF" and a.validation.status == "valid":
            checked += 1
            claim = a.validation.details.get("pdfa")
            if a.validation.details.get("pdfa_status") == "unknown":
                out.append(
                    result(
                        code,
                        stage,
                        Outcome.WARNING,
                        path,
                        f"{path}: whether it claims PDF/A could not be determined (metadata unreadable)",
                    )
                )
            elif not claim:
                out.append(
                    result(
                        code, stage, Outcome.WARNING, path, f"{path} does not claim PDF/A (long-term profile)"
                    )
                )
        elif a.ofd_structure is not None and a.validation.status == "valid":
            checked += 1
            for p in a.ofd_structure.problems:
                if _is_ofda(p.rule):
                    out.append(
                        result(
                            code,
                            stage,
                            Outcome.WARNING,
                            path,
                            f"{path} breaks OFD-A rule {p.rule}: {p.message}",
                            rule=p.rule,
                            part=p.part,
                        )
                    )
    if checked == 0:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", "no PDF or OFD documents")]
    return out or [
        result(code, stage, Outcome.PASS, "", f"{checked} PDF/OFD documents follow PDF/A or OFD-A")
    ]


def check_software(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    out: list[CheckResult] = []
    tools: dict[str, str] = {}
    for path, a in _content(ctx).items():
        v = a.validation
        if v.status == "not_run":
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"no validator for {a.format.name} in this installation: {v.reason}",
                )
            )
        else:
            tools[a.format.name] = v.tool
    if not ctx.received.content_files:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", "the package has no content files")]
    listing = ", ".join(f"{k}: {t}" for k, t in sorted(tools.items()))
    return out or [
        result(
            code, stage, Outcome.PASS, "", f"a reader for every format is installed ({listing})", tools=tools
        )
    ]


def check_no_encryption(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if not ctx.received.content_files:
        return [result(code, stage, Outcome.NOT_APPLICABLE, "", "the package has no content files (see 2-7)")]
    out: list[CheckResult] = []
    for path, a in _content(ctx).items():
        if a.validation.encrypted or (a.ofd_structure is not None and a.ofd_structure.encrypted):
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"{path} is encrypted: the rules require decrypting files before archiving",
                )
            )
        elif a.validation.encryption_unknown:
            out.append(
                result(
                    code,
                    stage,
                    Outcome.WARNING,
                    path,
                    f"{path}: whether it is encrypted could not be determined ({a.format.name})",
                )
            )
        elif formats.is_container_or_compressed(a.format):
            out.append(
                result(
                    code,
                    stage,
                    Outcome.FAIL,
                    path,
                    f"{path} is a compressed container ({a.format.name}): unpack it and archive the files",
                )
            )
    return out or [result(code, stage, Outcome.PASS, "", "no encrypted file and no compressed container")]


CONTENT_ITEMS = {
    "1-1": check_fixity_and_signatures,
    "1-10": check_properties_and_format,
    "2-7": check_content_complete,
    "3-3": check_accepted_formats,
    "3-4": check_opens,
    "3-5": check_preservation_profile,
    "3-6": check_software,
    "3-8": check_no_encryption,
}
