"""Every catalogue item: a crafted input makes it fail (or warn, or say why it cannot run), the good case passes.

The table below is checked against the catalogue, so an item added without a test fails here.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dangan.core import sm
from dangan.core.checks import content
from dangan.core.checks.catalogue import BY_NUMBER, ITEMS, default_profile
from dangan.core.checks.context import Carrier, Environment, PackageContext, VirusScanOutcome, build_context
from dangan.core.checks.model import CheckResult, Outcome, Stage
from dangan.core.checks.runner import ITEM_FUNCTIONS, build_bag_context, run_profile
from dangan.core.checks.scheme import MetadataScheme
from dangan.core.package import aip, writer
from dangan.core.package.intake import receive_folder
from dangan.core.package.model import BatchPackageEntry, CasePackage, FileEntry
from tests.factories import make_case, minimal_pdf

Files = dict[str, bytes]


@dataclass
class Case:
    """A mutation of the good case and how the check must react."""

    number: str
    mutate: Callable[[CasePackage, Files], None] | None = None
    env: dict[str, Any] = field(default_factory=dict)
    ctx: dict[str, Any] = field(default_factory=dict)  # PackageContext attributes to set
    expect: Outcome = Outcome.FAIL
    in_message: str = ""
    stage: Stage = Stage.ARCHIVE
    bag: Callable[[Path], None] | None = None  # tamper with an AIP bag folder (transfer/preserve stage)
    recomplete: bool = False  # recompute sizes/digests/totals after mutating the files
    patch: Callable[[pytest.MonkeyPatch], None] | None = None


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buf, "PNG")
    return buf.getvalue()


def _encrypted_pdf() -> bytes:
    import pikepdf

    src = pikepdf.open(io.BytesIO(minimal_pdf("secret")))
    buf = io.BytesIO()
    src.save(buf, encryption=pikepdf.Encryption(owner="o", user="u"))
    return buf.getvalue()


def _add_file(pkg: CasePackage, files: Files, path: str, data: bytes, fmt: str, code: str = "A09") -> None:
    files[path] = data
    pkg.files.append(FileEntry(material_code=code, category=path.split("/")[0], standard_name="其他材料",
                               actual_name=path.rsplit("/", 1)[-1], path=path, format=fmt))  # fmt: skip


def _set(obj_path: str, value: Any) -> Callable[[CasePackage, Files], None]:
    def mutate(pkg: CasePackage, files: Files) -> None:
        target: Any = pkg
        *parents, attr = obj_path.split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else getattr(target, p)
        setattr(target, attr, value)

    return mutate


def _scanner(found: list[tuple[str, str]]) -> Callable[..., VirusScanOutcome]:
    return lambda received: VirusScanOutcome("fake engine", found=found, scanned=len(received.files))


def _set_description(bag_dir: Path, tag: str, value: str) -> None:
    path = bag_dir / "dangan/archival-description.xml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"<{tag}>") + len(tag) + 2
    path.write_text(text[:start] + value + text[text.index(f"</{tag}>") :], encoding="utf-8")


CASES: list[Case] = [
    Case("1-1", _set("files.0.digest", "0" * 64), in_message="does not match"),
    Case("1-1", stage=Stage.PRESERVE, bag=lambda d: (d / "data/结果材料/决定书.pdf").write_bytes(minimal_pdf("forged"))),
    Case("1-2", _set("case.title", "长" * 501), in_message="at most 500"),
    Case("1-3", _set("case.accepted_at", "2025-02-30T09:00:00"), in_message="not a real date"),
    Case("1-4", _set("case.case_type", "特急件"), in_message="allowed"),
    Case("1-5", _set("case.completed_at", "2025-03-01T09:00:00"), in_message="must be >="),
    Case("1-5", _set("case.applicant.id_number", "110101199003071230"), in_message="GB 11643"),
    Case("1-6", _set("case.title", "关于\u202e张三的办件"), in_message="bidirectional"),
    Case("1-7", ctx={"archival_code": "T001-WS-2025-0001"}, in_message="does not follow"),
    Case("1-7", stage=Stage.PRESERVE, bag=lambda d: _set_description(d, "档号", "T001-WS·2025-D10-ZW-0001"),
         in_message="retention"),
    Case("1-8", env={"find_duplicates": lambda key, value, own: ["T001-WS·2025-D30-ZW-0007"]},
         expect=Outcome.WARNING, in_message="already used"),
    Case("1-10", _set("files.0.size", "12"), in_message="metadata says 12"),
    Case("1-10", lambda p, f: f.__setitem__("结果材料/决定书.pdf", _png()), recomplete=True, in_message="PNG"),
    Case("1-11", stage=Stage.PRESERVE, bag=lambda d: _set_description(d, "内容摘要", "0" * 64),
         in_message="content digest"),
    Case("1-12", ctx={"_xml_replace": ("</办件基本信息>", "<未知元素>x</未知元素></办件基本信息>")},
         in_message="XML Schema"),
    Case("1-12", stage=Stage.PRESERVE, bag=lambda d: (d / "dangan/signer.pem").unlink(), in_message="signer.pem"),
    Case("1-13", lambda p, f: (f.__setitem__("其他/附件.pdf", minimal_pdf("x")),
                               _add_file(p, f, "其他/附件.pdf", minimal_pdf("x"), "PDF")), recomplete=True,
         in_message="not under one of the material folders"),
    Case("1-14", ctx={"batch_entry": BatchPackageEntry(name="p", digest="0" * 64)}, in_message="differs"),
    Case("2-1", _set("declared_file_count", "9"), in_message="declares 9"),
    Case("2-2", _set("declared_byte_total", "1"), in_message="declares 1"),
    Case("2-3", _set("case.title", None), in_message="is missing"),
    Case("2-4", _set("case.title", "  "), in_message="is empty"),
    Case("2-5", _set("steps.1.handler", ""), in_message="lacks 办理人"),
    Case("2-5", ctx={"scheme": MetadataScheme.default().with_overrides({"required_steps": ["审核"]})},
         in_message="requires a 审核 step"),
    Case("2-6", _set("files.2.sequence", "5"), in_message="expected each of 1…3"),
    Case("2-7", lambda p, f: f.__setitem__("结果材料/决定书.pdf", b""), recomplete=True, in_message="empty"),
    Case("2-9", lambda p, f: (p.files.pop(2), f.pop("结果材料/决定书.pdf")), recomplete=True,
         in_message="C01"),
    Case("2-10", _set("declared_byte_total", ""), in_message="总字节数"),
    Case("2-11", lambda p, f: f.__setitem__("申报材料/未声明.pdf", minimal_pdf("u")), in_message="not declared"),
    Case("3-1", ctx={"_break_xml": True}, in_message=""),
    Case("3-2", env={"probe_database": lambda: "connection refused"}, in_message="connection refused"),
    Case("3-3", lambda p, f: _add_file(p, f, "申报材料/压缩包.zip", _zip(), "ZIP"), recomplete=True,
         in_message="not an accepted archival format"),
    Case("3-4", lambda p, f: f.__setitem__("结果材料/决定书.pdf", minimal_pdf("d")[:150]), recomplete=True,
         in_message="does not open"),
    Case("3-5", expect=Outcome.WARNING, in_message="PDF/A"),
    Case("3-6", patch=lambda mp: mp.setattr(content.formats, "validate", _no_validator), in_message="no validator"),
    Case("3-7", env={"probe_storage": lambda needed: "only 10 bytes free"}, in_message="only 10 bytes free"),
    Case("3-8", lambda p, f: f.__setitem__("结果材料/决定书.pdf", _encrypted_pdf()), recomplete=True,
         in_message="encrypted"),
    Case("3-9", stage=Stage.PRESERVE, env={"probe_backup": lambda: "no backup since 2026-01-01"},
         in_message="no backup"),
    Case("4-1", env={"virus_scanner_problem": "clamd not reachable"}, in_message="not reachable"),
    Case("4-2", env={"virus_scanner": _scanner([("申报材料/申请书.pdf", "Test.Sig")])}, in_message="Test.Sig"),
    Case("4-3", ctx={"carrier": Carrier("DVD-R", extra_files=("autorun.inf",))}, in_message="autorun.inf"),
    Case("4-4", ctx={"carrier": Carrier("DVD-R", read_errors=("sector 17: I/O error",))}, in_message="I/O"),
    Case("4-5", ctx={"carrier": Carrier("DVD-R")}, expect=Outcome.NOT_RUN, in_message="a person inspects"),
    Case("4-6", ctx={"carrier": Carrier("USB")}, in_message="not an archival carrier"),
    Case("4-7", _set("case.security_class", "机密"), env={"channel": "api"}, in_message="classified"),
    Case("4-8", stage=Stage.PRESERVE, env={"probe_copies": lambda: ["replica copy of aip 7 missing"]},
         in_message="replica"),
]  # fmt: skip


def _no_validator(path: Path, fmt: Any) -> Any:
    from dangan.core.formats import Validation

    return Validation(
        status="not_run", tool="", reason=f"no validator for {fmt.name}: pikepdf is not installed"
    )


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "x")
    return buf.getvalue()


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        zf.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>',
        )
    return buf.getvalue()  # fmt: skip


GOOD_ENV = {
    "find_duplicates": lambda key, value, own: [],
    "probe_database": lambda: None,
    "probe_storage": lambda needed: None,
    "probe_backup": lambda: None,
    "probe_copies": lambda: [],
    "channel": "API, source system TEST (token)",
    "virus_scanner": _scanner([]),
    "code_pattern_for": lambda fonds: "{fonds}-{category}·{year}-{retention}-{class}-{piece:4}",
}


def _bag(folder: Path, dest: Path, key_dir: Path) -> Path:
    """An AIP bag around a case package folder, as the archive seals it."""
    key = sm.InstanceKey.ensure(key_dir, common_name="test", organization="test")
    received = receive_folder(folder, dest.parent / "staged")
    payload = [aip.PayloadFile(p, f.size, f.sm3, f.sha256) for p, f in sorted(received.files.items())]
    description = (
        "<?xml version='1.0' encoding='UTF-8'?>\n<档案描述><档号>T001-WS·2025-D30-ZW-0001</档号>"
        "<电子文件号>330899-A101-TEST-2025-D30-000001</电子文件号><全宗号>T001</全宗号><年度>2025</年度>"
        f"<保管期限>D30</保管期限><题名>t</题名><归档时间>2026-01-05T10:00:00+08:00</归档时间>"
        f"<内容摘要>{received.content_digest()}</内容摘要></档案描述>"
    ).encode()
    files = aip.build_bag(
        payload,
        bag_info={"Source-Organization": "示范市", "External-Identifier": "T001-WS·2025-D30-ZW-0001"},
        tag_files={"dangan/archival-description.xml": description},
        signer=key,
        bagging_date=date(2026, 1, 5),
    )
    return aip.materialize(files, lambda f: open(received.root / f.path[len("data/") :], "rb"), dest)


def _context(tmp_path: Path, case: Case | None, *, env: dict[str, Any]) -> PackageContext:
    pkg, files = make_case()
    if case and case.mutate:
        case.mutate(pkg, files)
        if case.recomplete:
            for entry in pkg.files:
                entry.size = entry.digest = None
            writer.complete(pkg, {p: d for p, d in files.items() if p in {e.path for e in pkg.files}})
    folder = writer.write_folder(pkg, files, tmp_path / "src")
    for path, data in files.items():  # files not declared in the metadata are written too
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    metadata = folder / "基本信息元数据.xml"
    if case and case.ctx.get("_break_xml"):
        metadata.write_bytes("<?xml version='1.0'?><归档信息包><unclosed>".encode())
    if case and "_xml_replace" in case.ctx:
        old, new = case.ctx["_xml_replace"]
        metadata.write_text(metadata.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    environment = Environment(**env)
    if case and case.bag is not None:
        bag_dir = _bag(folder, tmp_path / "aip", tmp_path / "keys")
        case.bag(bag_dir)
        received = receive_folder(bag_dir, tmp_path / "q")
        return build_bag_context(received, env=environment)
    received = receive_folder(folder, tmp_path / "q")
    ctx = build_context(received, env=environment)
    for key, value in (case.ctx if case else {}).items():
        if not key.startswith("_"):
            setattr(ctx, key, value)
    return ctx


def _run(ctx: PackageContext, number: str, stage: Stage) -> list[CheckResult]:
    return ITEM_FUNCTIONS[number](ctx, BY_NUMBER[number].code(stage), stage)


def test_every_item_has_a_failing_case_and_a_function():
    numbers = {item.number for item in ITEMS}
    assert numbers == {c.number for c in CASES}, numbers ^ {c.number for c in CASES}
    assert numbers <= set(ITEM_FUNCTIONS)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.number}-{i}" for i, c in enumerate(CASES)])
def test_item_catches_crafted_input(tmp_path, monkeypatch, case: Case):
    if case.patch is not None:
        case.patch(monkeypatch)
    env = {**GOOD_ENV, **case.env}
    ctx = _context(tmp_path, case, env=env)
    results = _run(ctx, case.number, case.stage)
    outcomes = [r.outcome for r in results]
    assert case.expect in outcomes, [(r.outcome.value, r.message) for r in results]
    assert any(case.in_message in r.message for r in results if r.outcome == case.expect), [
        r.message for r in results
    ]


@pytest.mark.parametrize("stage", list(Stage))
def test_good_case_passes_every_item_of_the_stage(tmp_path, stage):
    """The good case (and its AIP for the later stages) passes; items that do not apply say so."""
    if stage == Stage.ARCHIVE:
        ctx = _context(tmp_path, None, env=GOOD_ENV)
    else:
        ctx = _context(tmp_path, Case("1-1", stage=stage, bag=lambda d: None), env=GOOD_ENV)
    ctx.carrier = Carrier("DVD-R", bytes_read=1, seconds=1.0)
    report = run_profile(ctx, stage)
    bad = [(r.code, r.outcome.value, r.message) for r in report.results
           if r.outcome not in (Outcome.PASS, Outcome.NOT_APPLICABLE)]  # fmt: skip
    # The only expected exceptions: a person inspects the carrier (4-5); a minimal PDF is no PDF/A (3-5).
    allowed = {("4-5", Outcome.NOT_RUN.value), ("3-5", Outcome.WARNING.value)}
    assert {(code.split("-", 1)[1], outcome) for code, outcome, _ in bad} <= allowed, bad
    assert report.passed
    assert {r.code.split("-", 1)[1] for r in report.results} == set(default_profile(stage).numbers)


# --- regressions from the review of the checks ------------------------------------------------------


def test_times_with_offsets_compare_as_instants(tmp_path):
    from dangan.core.checks.items_metadata import check_plausible

    def plausible(accepted: str, completed: str) -> set[Outcome]:
        ctx = _context(
            tmp_path / f"{len(list(tmp_path.iterdir()))}",
            Case(
                "1-5",
                lambda p, f: (
                    setattr(p.case, "accepted_at", accepted),
                    setattr(p.case, "completed_at", completed),
                ),
            ),
            env=GOOD_ENV,
        )
        return {r.outcome for r in check_plausible(ctx, "GD-1-5", Stage.ARCHIVE)}

    # 16:00+08:00 is 08:00Z: a completion at 09:00Z is one hour later, not seven hours earlier
    assert plausible("2025-03-03T16:00:00+08:00", "2025-03-03T09:00:00Z") == {Outcome.PASS}
    assert plausible("2025-03-03T16:00:00+08:00", "2025-03-03T07:00:00Z") == {Outcome.FAIL}
    assert plausible("2025-03-03T16:00:00", "2025-03-03T08:30:00Z") == {Outcome.PASS}  # naive = China time


def test_an_empty_package_does_not_pass(tmp_path):
    def no_files(pkg: CasePackage, files: Files) -> None:
        pkg.files.clear()
        files.clear()
        pkg.config.scope = []

    ctx = _context(tmp_path, Case("2-7", no_files, recomplete=True), env=GOOD_ENV)
    report = run_profile(ctx, Stage.ARCHIVE)
    by_item = {r.code.split("-", 1)[1]: r.outcome for r in report.results}
    assert not report.passed and by_item["2-7"] == Outcome.FAIL
    for number in ("1-1", "1-10", "1-13", "2-11", "3-3", "3-4", "3-6", "3-8"):
        assert by_item[number] == Outcome.NOT_APPLICABLE, (number, by_item[number])


def test_unscanned_file_blocks_when_a_scanner_is_configured(tmp_path):
    def scanner(received):  # type: ignore[no-untyped-def]
        return VirusScanOutcome("fake", errors=[("申报材料/申请书.pdf", "INSTREAM size limit exceeded")])

    ctx = _context(tmp_path, None, env={**GOOD_ENV, "virus_scanner": scanner})
    [r] = _run(ctx, "4-2", Stage.ARCHIVE)
    assert r.outcome == Outcome.FAIL and "size limit" in r.message and r.target == "申报材料/申请书.pdf"


def test_archival_code_year_and_unknown_fonds(tmp_path):
    ctx = _context(tmp_path / "a", None, env=GOOD_ENV)
    ctx.archival_code = "T001-WS·1999-D30-ZW-0001"  # the case was completed in 2025
    [r] = _run(ctx, "1-7", Stage.ARCHIVE)
    assert r.outcome == Outcome.FAIL and "year" in r.message
    ctx = _context(tmp_path / "b", None, env={**GOOD_ENV, "code_pattern_for": lambda fonds: None})
    ctx.archival_code = "T001-WS·2025-D30-ZW-0001"
    [r] = _run(ctx, "1-7", Stage.ARCHIVE)
    assert r.outcome == Outcome.WARNING and "default pattern" in r.message


def test_full_width_digits_are_not_numbers(tmp_path):
    ctx = _context(tmp_path, Case("2-1", _set("declared_file_count", "３")), env=GOOD_ENV)
    [r] = _run(ctx, "2-1", Stage.ARCHIVE)
    assert r.outcome == Outcome.FAIL and "not an integer" in r.message


OFD_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "ofd"


@pytest.mark.parametrize(
    ("fixture", "trust", "expect"),
    [
        (
            "v4signed.ofd",
            None,
            Outcome.WARNING,
        ),  # intact; the seal maker is not checked without a trust store
        ("v4signed.ofd", "unrelated", Outcome.FAIL),  # intact, but not from a trusted maker
        ("keyword.ofd", None, Outcome.FAIL),  # changed after signing
    ],
)
def test_ofd_seals_feed_item_1_1(tmp_path, fixture, trust, expect):
    if not OFD_FIXTURES.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have the OFD fixtures at {OFD_FIXTURES}")
        pytest.skip(f"OFD fixtures not found at {OFD_FIXTURES}")
    from dangan.core.ofd import TrustStore

    data = (OFD_FIXTURES / fixture).read_bytes()
    case = Case("1-1", lambda p, f: _add_file(p, f, "结果材料/发票.ofd", data, "OFD", "C09"), recomplete=True)
    ctx = _context(tmp_path, case, env=GOOD_ENV)
    if trust == "unrelated":
        key = sm.generate_private_key()
        der = sm.make_self_signed_certificate(key, common_name="某电子印章平台", organization="test")
        ctx.env.ofd_trust = TrustStore(makers=(der,), signers=(der,))
    results = _run(ctx, "1-1", Stage.ARCHIVE)
    ofd_results = [r for r in results if r.target == "结果材料/发票.ofd"]
    assert ofd_results and {r.outcome for r in ofd_results} == {expect}, [
        (r.outcome, r.message) for r in results
    ]
    if expect == Outcome.WARNING:  # the digests still passed
        assert any(r.outcome == Outcome.PASS for r in results)


def test_signed_pdf_is_reported_not_verified(tmp_path):
    """1-1 must not imply that PDF signatures were verified: it says "not run" for them."""
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(minimal_pdf("signed")))
    sig = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Sig, Filter=pikepdf.Name("/Adobe.PPKLite"),
                                               Contents=pikepdf.String(b"\\0" * 16)))  # fmt: skip
    field = pdf.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Sig, T=pikepdf.String("Signature1"), V=sig))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]), SigFlags=3)
    buf = io.BytesIO()
    pdf.save(buf)
    case = Case("1-1", lambda p, f: f.__setitem__("结果材料/决定书.pdf", buf.getvalue()), recomplete=True)
    ctx = _context(tmp_path, case, env=GOOD_ENV)
    results = _run(ctx, "1-1", Stage.ARCHIVE)
    [note] = [r for r in results if r.target == "结果材料/决定书.pdf"]
    assert note.outcome == Outcome.NOT_RUN and "not implemented" in note.message


def test_an_item_with_thousands_of_results_is_capped_without_hiding_a_failure():
    from dangan.core.checks.model import CheckResult, Outcome, Stage
    from dangan.core.checks.runner import MAX_RESULTS_PER_ITEM, capped

    many = [CheckResult("GD-1-2", Stage.ARCHIVE, Outcome.PASS, f"f{i}", "ok") for i in range(5000)]
    many.append(CheckResult("GD-1-2", Stage.ARCHIVE, Outcome.FAIL, "bad", "wrong"))
    out = capped(many, "GD-1-2", Stage.ARCHIVE, True)
    assert len(out) == MAX_RESULTS_PER_ITEM
    assert out[0].outcome == Outcome.FAIL  # the failure is kept, first
    assert out[-1].evidence["not_listed"] == {"pass": 5001 - MAX_RESULTS_PER_ITEM + 1}
    fails = [CheckResult("GD-1-2", Stage.ARCHIVE, Outcome.FAIL, f"f{i}", "bad") for i in range(3000)]
    out = capped(fails, "GD-1-2", Stage.ARCHIVE, True)
    assert out[-1].outcome == Outcome.FAIL and out[-1].is_blocking_failure
    assert capped(fails[:10], "GD-1-2", Stage.ARCHIVE, True) == fails[:10]
