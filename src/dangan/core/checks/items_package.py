"""Package items: readability, structure, declared vs present, fixity, totals, scope, sender digest.

Each function returns the results for one catalogue item. They work on a case package as a sender
made it and, for the transfer, receipt and preservation stages, on the case package inside an AIP
(then ``ctx.bag`` carries the BagIt verification, which feeds 1-1, 1-12, 1-13, 2-1/2-2 and 2-11).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from dangan.core.checks.context import PackageContext
from dangan.core.checks.model import CheckResult, Outcome, Stage
from dangan.core.checks.results import no_metadata
from dangan.core.checks.results import result as _r
from dangan.core.package import aip as bagit
from dangan.core.package import schema as s


def _no_metadata(code: str, stage: Stage) -> list[CheckResult]:
    return no_metadata(code, stage)


def _bag_problems(ctx: PackageContext, *codes: str, payload: bool | None = None) -> list[bagit.BagProblem]:
    """BagIt problems with one of ``codes``; ``payload`` True/False narrows to data/ or tag files."""
    if ctx.bag is None:
        return []
    out = []
    for p in ctx.bag.problems:
        if p.code not in codes:
            continue
        in_payload = p.path.startswith(bagit.PAYLOAD_DIR + "/")
        if payload is None or payload == in_payload:
            out.append(p)
    return out


def _bag_results(
    ctx: PackageContext, code: str, stage: Stage, *codes: str, payload: bool | None = None
) -> list[CheckResult]:
    return [
        _r(code, stage, Outcome.FAIL, p.path, f"AIP: {p.message}", bag_problem=p.code)
        for p in _bag_problems(ctx, *codes, payload=payload)
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
    out: list[CheckResult] = []
    if s.METADATA_FILENAME not in ctx.received.files:
        out.append(
            _r(
                code,
                stage,
                Outcome.FAIL,
                s.METADATA_FILENAME,
                f"the package has no {s.METADATA_FILENAME} at its top level",
            )
        )
    out += [_r(code, stage, Outcome.FAIL, s.METADATA_FILENAME, f"XML Schema: {m}") for m in ctx.schema_errors]
    if ctx.bag is not None:
        for tag in (
            bagit.BAGIT_TXT,
            bagit.BAG_INFO_TXT,
            "dangan/archival-description.xml",
            bagit.SIGNER_PEM,
            bagit.SIGNATURE,
        ):
            if tag not in ctx.bag.files:
                out.append(_r(code, stage, Outcome.FAIL, tag, f"AIP: tag file {tag} is missing"))
        if ctx.bag.description_error:
            out.append(
                _r(code, stage, Outcome.FAIL, "dangan/archival-description.xml", ctx.bag.description_error)
            )
        out += _bag_results(
            ctx, code, stage, "BAG_MALFORMED", "BAG_FILE_MISSING", "BAG_UNEXPECTED_FILE", payload=False
        )
    what = "metadata file present and follows the XML Schema" + (
        "; AIP tag files complete" if ctx.bag else ""
    )
    return out or [_r(code, stage, Outcome.PASS, s.METADATA_FILENAME, what)]


def _no_content(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult] | None:
    """Items about content files have nothing to check in a package without any (2-7 fails it)."""
    if ctx.received.content_files:
        return None
    return [_r(code, stage, Outcome.NOT_APPLICABLE, "", "the package has no content files (see 2-7)")]


def check_structure(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if (empty := _no_content(ctx, code, stage)) is not None:
        return empty
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
    if ctx.bag is not None:
        outside = sorted(
            p
            for p in ctx.bag.files
            if not p.startswith(bagit.PAYLOAD_DIR + "/") and "/" in p and not p.startswith("dangan/")
        )
        out += [
            _r(code, stage, Outcome.FAIL, p, f"AIP: {p} is neither payload (data/) nor a dangan/ tag file")
            for p in outside
        ]
    return out or [_r(code, stage, Outcome.PASS, "", "folder structure follows the rules")]


def check_declared_vs_present(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    declared = {e.path for e in ctx.package.files if e.path}
    present = set(ctx.received.content_files)
    if not declared and not present:
        return [_r(code, stage, Outcome.NOT_APPLICABLE, "", "no file declared and none present (see 2-7)")]
    out = [
        _r(code, stage, Outcome.FAIL, p, f"declared file missing from the package: {p}")
        for p in sorted(declared - present)
    ]
    out += [
        _r(code, stage, Outcome.FAIL, p, f"file present but not declared in {s.Group.FILES.value}: {p}")
        for p in sorted(present - declared)
    ]
    out += _bag_results(ctx, code, stage, "BAG_FILE_MISSING", "BAG_UNEXPECTED_FILE", payload=True)
    return out or [_r(code, stage, Outcome.PASS, "", f"{len(present)} files declared and present")]


def check_fixity(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    if ctx.bag is None and (empty := _no_content(ctx, code, stage)) is not None:
        return empty
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
    what = f"SM3 digests of {checked} files match the metadata"
    if ctx.bag is not None:
        out += _bag_results(
            ctx,
            code,
            stage,
            "BAG_DIGEST_MISMATCH",
            "BAG_FILE_UNREADABLE",
            "BAG_SIGNATURE_INVALID",
            "BAG_SIGNER_UNTRUSTED",
        )
        trust = "the instance certificate" if ctx.env.trusted_signer_der else "its own signer certificate"
        what += f"; AIP manifests (SM3, SHA-256) match and its SM2 seal verifies with {trust}"
    return out or [_r(code, stage, Outcome.PASS, "", what)]


def check_properties(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    if (empty := _no_content(ctx, code, stage)) is not None:
        return empty
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
    return out or [_r(code, stage, Outcome.PASS, "", "sizes match the metadata")]


def _declared_int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


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
            _r(
                code,
                stage,
                Outcome.FAIL,
                target,
                f"{actual} {unit} in the package, {attr} declares {value}",
                declared=value,
                actual=actual,
            )
        ]
    return [_r(code, stage, Outcome.PASS, target, f"{actual} {unit}, as declared")]


def _oxum(ctx: PackageContext, code: str, stage: Stage, part: int, unit: str) -> list[CheckResult]:
    """Compare the AIP's Payload-Oxum (bytes.count over data/, metadata XML included) with what is there."""
    if ctx.bag is None:
        return []
    oxum = ctx.bag.info.get("Payload-Oxum", "")
    octets, _, count = oxum.partition(".")
    if not (octets.isdigit() and count.isdigit()):
        return [
            _r(
                code,
                stage,
                Outcome.FAIL,
                bagit.BAG_INFO_TXT,
                f"AIP: Payload-Oxum {oxum!r} is missing or malformed",
            )
        ]
    files = ctx.received.files.values()
    actual = sum(f.size for f in files) if part == 0 else len(ctx.received.files)
    declared = int(octets if part == 0 else count)
    if declared != actual:
        return [
            _r(
                code,
                stage,
                Outcome.FAIL,
                bagit.BAG_INFO_TXT,
                f"AIP: Payload-Oxum declares {declared} {unit}, the payload has {actual}",
                declared=declared,
                actual=actual,
            )
        ]
    return []


def _totals(ctx: PackageContext, code: str, stage: Stage, *, attr: str, declared: str | None, actual: int,
            unit: str, oxum_part: int) -> list[CheckResult]:  # fmt: skip
    """A registration total (文件信息/@attr) and, for an AIP, the same total in its Payload-Oxum."""
    out = _check_declared_total(ctx, code, stage, attr=attr, declared=declared, actual=actual, unit=unit)
    extra = _oxum(ctx, code, stage, oxum_part, unit)
    return extra + [r for r in out if r.outcome != Outcome.PASS] if extra else out


def check_file_count(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    return _totals(ctx, code, stage, attr=s.FILES_COUNT_ATTR, declared=ctx.package.declared_file_count,
                   actual=len(ctx.received.content_files), unit="files", oxum_part=1)  # fmt: skip


def check_byte_total(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    if ctx.package is None:
        return _no_metadata(code, stage)
    total = sum(f.size for f in ctx.received.content_files.values())
    return _totals(ctx, code, stage, attr=s.FILES_BYTES_ATTR, declared=ctx.package.declared_byte_total,
                   actual=total, unit="bytes", oxum_part=0)  # fmt: skip


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


_BAG_INFO_REQUIRED = ("Source-Organization", "External-Identifier", "Bagging-Date", "Payload-Oxum")
_DESCRIPTION_REQUIRED = ("档号", "电子文件号", "全宗号", "年度", "保管期限", "题名", "归档时间", "内容摘要")


def check_package_metadata(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    pkg = ctx.package
    if pkg is None:
        return _no_metadata(code, stage)
    out: list[CheckResult] = []
    if not pkg.version:
        out.append(
            _r(code, stage, Outcome.FAIL, f"{s.ROOT}/@{s.ROOT_VERSION_ATTR}", "format version (版本) missing")
        )
    for attr, value in (
        (s.FILES_COUNT_ATTR, pkg.declared_file_count),
        (s.FILES_BYTES_ATTR, pkg.declared_byte_total),
    ):
        if not (value or "").strip():
            out.append(
                _r(
                    code,
                    stage,
                    Outcome.FAIL,
                    f"{s.Group.FILES.value}/@{attr}",
                    f"registration total @{attr} missing",
                )
            )
    entry = ctx.batch_entry
    if entry is not None:
        declared = {
            "fonds_code": pkg.case.fonds_code,
            "item_code": pkg.config.item_code,
            "title": pkg.case.title,
        }
        for attr, value in declared.items():
            listed = getattr(entry, attr)
            if listed and value and listed.strip() != value.strip():
                label = s.BATCH_PACKAGE_FIELDS[attr]
                out.append(
                    _r(
                        code,
                        stage,
                        Outcome.FAIL,
                        f"{s.BATCH_MANIFEST_FILENAME}/{s.BATCH_PACKAGE}/{label}",
                        f"the batch manifest lists {label} {listed!r}, the package's metadata says {value!r}",
                    )
                )
        for attr, label in s.BATCH_PACKAGE_FIELDS.items():
            if attr in ("name", "fonds_code", "item_code", "digest") and not getattr(entry, attr):
                out.append(
                    _r(
                        code,
                        stage,
                        Outcome.FAIL,
                        f"{s.BATCH_MANIFEST_FILENAME}/{s.BATCH_PACKAGE}/{label}",
                        f"the batch manifest entry lacks {label}",
                    )
                )
    if ctx.bag is not None:
        for label in _BAG_INFO_REQUIRED:
            if not ctx.bag.info.get(label):
                out.append(
                    _r(code, stage, Outcome.FAIL, bagit.BAG_INFO_TXT, f"AIP: bag-info.txt lacks {label}")
                )
        for tag in _DESCRIPTION_REQUIRED:
            if not ctx.bag.description.get(tag):
                out.append(
                    _r(
                        code,
                        stage,
                        Outcome.FAIL,
                        "dangan/archival-description.xml",
                        f"AIP: the archival description lacks {tag}",
                    )
                )
    return out or [_r(code, stage, Outcome.PASS, "", "package-level metadata complete")]


def check_metadata_linked(ctx: PackageContext, code: str, stage: Stage) -> list[CheckResult]:
    """1-11: what the archival description records (file number, content digest) is what the payload is."""
    if ctx.bag is None:
        return [_r(code, stage, Outcome.NOT_APPLICABLE, "", "not an AIP: no archival description to compare")]
    desc = ctx.bag.description
    out: list[CheckResult] = []
    recorded = desc.get("内容摘要", "")
    actual = ctx.received.content_digest()
    if recorded != actual:
        out.append(
            _r(
                code,
                stage,
                Outcome.FAIL,
                "dangan/archival-description.xml",
                f"AIP: the recorded content digest {recorded or '(none)'} is not the payload's {actual}",
                recorded=recorded,
                actual=actual,
            )
        )
    if ctx.package is not None and desc.get("电子文件号") and desc["电子文件号"] != ctx.package.file_number:
        out.append(
            _r(
                code,
                stage,
                Outcome.FAIL,
                "dangan/archival-description.xml",
                f"AIP: description names 电子文件号 {desc['电子文件号']}, the metadata {ctx.package.file_number}",
            )
        )
    return out or [
        _r(code, stage, Outcome.PASS, "", "the archival description points at exactly this content")
    ]


PACKAGE_ITEMS = {
    "1-1": check_fixity,
    "1-10": check_properties,
    "1-11": check_metadata_linked,
    "1-12": check_description_file,
    "1-13": check_structure,
    "1-14": check_sender_digest,
    "2-1": check_file_count,
    "2-2": check_byte_total,
    "2-9": check_scope,
    "2-10": check_package_metadata,
    "2-11": check_declared_vs_present,
    "3-1": check_metadata_readable,
}
