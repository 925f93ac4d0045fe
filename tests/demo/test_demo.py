"""Demo data: generated packages are consistent, their files are real, output is reproducible, and
every broken variant is broken in exactly the intended way."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import stat
import wave
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner
from lxml import etree
from PIL import Image

from dangan.core.errors import MetadataError
from dangan.core.package import schema
from dangan.core.package.metadata import parse_batch_manifest, parse_metadata
from dangan.core.package.model import CasePackage
from dangan.demo import catalog, people
from dangan.demo.broken import VARIANTS, ZIP_PASSWORD, read_variants, write_broken_variants
from dangan.demo.command import demo_data
from dangan.demo.files import FileOptions, PdfContent, ScanKind, pdf_document, scan_jpeg
from dangan.demo.generator import build_case, generate

OFD_NS = "{http://www.ofdspec.org/2016}"
REAL_OFD = Path("/work/shared/fixtures/ofd/helloworld.ofd")


def sm3(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


# --- reading packages (folder or ZIP) -----------------------------------------------------------


def package_contents(path: Path) -> dict[str, bytes]:
    """All files of a package by '/'-separated relative path (metadata included)."""
    if path.is_dir():
        return {
            p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
        }
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


def load(path: Path) -> tuple[CasePackage, dict[str, bytes]]:
    contents = package_contents(path)
    pkg = parse_metadata(contents.pop(schema.METADATA_FILENAME))
    return pkg, contents


def files_of(paths: list[Path], suffix: str) -> Iterator[tuple[str, bytes]]:
    for p in paths:
        for rel, data in package_contents(p).items():
            if rel.lower().endswith(suffix):
                yield f"{p.name}/{rel}", data


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("folders")
    return out, generate(out, cases=14, seed=7)


@pytest.fixture(scope="module")
def zip_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("zips")
    return out, generate(out, cases=8, seed=11, as_zip=True)


@pytest.fixture(scope="module")
def full_cases() -> list[tuple[CasePackage, dict[str, bytes]]]:
    """One case of every item with every optional material (so every file kind occurs)."""
    built = [
        build_case(random.Random(i), item, i, include_optional=True)
        for i, item in enumerate(catalog.SERVICE_ITEMS)
    ]
    return [(b.pkg, b.files) for b in built]


@pytest.fixture(scope="module")
def full_files(full_cases: list[tuple[CasePackage, dict[str, bytes]]]) -> dict[str, bytes]:
    return {f"{pkg.file_number}/{rel}": data for pkg, files in full_cases for rel, data in files.items()}


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, str]]:
    out = tmp_path_factory.mktemp("broken")
    variants = write_broken_variants(out, seed=3)
    assert [v.name for v in read_variants(out)] == [v.name for v in variants]
    return {v.name: (v.path, v.expected_code, v.target) for v in variants}


# --- catalogue and people ----------------------------------------------------------------------


def test_catalogue_is_plausible() -> None:
    items = catalog.SERVICE_ITEMS
    names = {i.name for i in items}
    assert {"企业设立登记", "社会保险关系转移", "住房公积金提取", "建筑工程施工许可证核发"} <= names
    assert len(items) >= 5
    assert sum(i.auto_confirm for i in items) >= 1
    assert sum(not i.auto_confirm for i in items) >= 2
    assert len({i.code for i in items}) == len(items)
    f = catalog.DEMO_FONDS
    assert re.fullmatch(r"\d{6}", f.region_code) and f.code and f.unit
    for item in items:
        assert item.retention in ("Y", "D30", "D10")
        assert item.category_code == "WS" and item.class_code.isupper()
        assert [s.code for s in item.scope] == [m.code for m in item.materials]
        assert [s.name for s in item.scope] == [m.name for m in item.materials]
        assert any(s.required for s in item.scope)
        assert item.steps[0] == "收件" and item.steps[-1] == "办结" and "受理" in item.steps
        for m in item.materials:
            assert re.fullmatch(r"[ABCL]\d{2}", m.code)
            assert m.step in item.steps
        assert bool(item.license_type) == any(m.code.startswith("L") for m in item.materials)
    assert catalog.service_item("0100110007").retention == "Y"
    assert catalog.service_item("2000210005").retention == "D10"


def test_check_characters_against_known_numbers() -> None:
    # GB 11643's own example and two published credit codes
    assert people.is_valid_id_number("11010519491231002X")
    assert not people.is_valid_id_number("110105194912310021")
    assert people.is_valid_credit_code("91330100716105852F")
    assert people.is_valid_credit_code("91440300708461136T")
    assert not people.is_valid_credit_code("91440300708461136A")


def test_generated_numbers_validate() -> None:
    rng = random.Random(99)
    for _ in range(300):
        p = people.person(rng)
        assert people.is_valid_id_number(p.id_number), p.id_number
        assert int(p.id_number[16]) % 2 == (0 if p.female else 1)
        c = people.company(rng, region="350100")
        assert people.is_valid_credit_code(c.credit_code), c.credit_code
        assert c.credit_code[2:8] == "350100"
        assert re.fullmatch(r"1[3-9]\d{9}", people.phone(rng))
    shop = people.credit_code(rng, region="350102", kind="2")
    assert shop.startswith("92350102") and people.is_valid_credit_code(shop)


# --- packages ----------------------------------------------------------------------------------

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def assert_consistent(pkg: CasePackage, contents: dict[str, bytes]) -> None:
    case = pkg.case
    assert case.file_number and case.applicant is not None
    m = re.fullmatch(r"(\d{6})-([A-Z0-9]+)-(\d+)-(\d{4})-(Y|D30|D10)-(\d{6})", case.file_number)
    assert m, case.file_number
    assert m[1] == case.region_code and m[2] == case.fonds_code and m[3] == pkg.config.item_code
    assert m[5] == case.retention == pkg.config.retention
    assert (
        case.title
        == f"关于{pkg.licenses[0].holder if pkg.licenses else case.applicant.name}{pkg.config.item_name}的办件"
    )
    for e in schema.ELEMENTS:
        if e.required and e.group == schema.Group.CASE:
            assert getattr(case, e.attr), e.name
    # times: accepted ≤ every step ≤ completed, steps in order
    assert case.accepted_at and case.completed_at and case.archived_at
    accepted = datetime.fromisoformat(case.accepted_at)
    completed = datetime.fromisoformat(case.completed_at)
    assert accepted < completed < datetime.fromisoformat(case.archived_at)
    assert m[4] == str(completed.year) and completed.year in (
        *catalog.DEMO_YEARS,
        max(catalog.DEMO_YEARS) + 1,
    )
    previous = accepted
    for step in pkg.steps:
        assert step.name and step.handler and step.opinion and step.started_at and step.ended_at
        assert ISO.fullmatch(step.started_at) and ISO.fullmatch(step.ended_at)
        start, end = datetime.fromisoformat(step.started_at), datetime.fromisoformat(step.ended_at)
        assert previous <= start <= end <= completed
        previous = end
    assert pkg.steps[-1].name == "办结" and pkg.steps[-1].ended_at == case.completed_at
    if case.applicant.kind == "自然人":
        assert people.is_valid_id_number(case.applicant.id_number or "")
    else:
        assert people.is_valid_credit_code(case.applicant.id_number or "")
    if case.credit_code:
        assert people.is_valid_credit_code(case.credit_code)
    # files: declared == present, sizes and digests right, folders = categories, scope complete
    assert sorted(e.path or "" for e in pkg.files) == sorted(contents)
    for e in pkg.files:
        data = contents[e.path or ""]
        assert e.size == str(len(data)) and e.digest == sm3(data) and e.digest_algorithm == "SM3"
        folder, name = (e.path or "").split("/")
        assert folder == e.category and folder in schema.CATEGORY_FOLDERS
        assert name == e.actual_name and e.format == PurePosixPath(name).suffix[1:].upper()
        assert (e.material_code or "")[0] == {
            "申报材料": "A",
            "过程材料": "B",
            "结果材料": "C",
            "电子证照": "L",
        }[folder]
        assert e.created_at and accepted <= datetime.fromisoformat(e.created_at) <= completed
    scope = {s.code: s for s in pkg.config.scope}
    codes = {e.material_code for e in pkg.files}
    assert codes <= set(scope)
    assert {c for c, s in scope.items() if s.required} <= codes
    for e in pkg.files:
        assert e.standard_name == scope[e.material_code or ""].name
    assert pkg.declared_file_count == str(len(pkg.files)) == case.total_pieces
    assert pkg.declared_byte_total == str(sum(len(d) for d in contents.values()))
    for lic in pkg.licenses:
        assert lic.path in contents and lic.license_number == case.result_license_number
        assert lic.valid_from and lic.issuer and lic.holder


def test_folder_packages_are_consistent(folder_batch: tuple[Path, list[Path]]) -> None:
    out, paths = folder_batch
    assert len(paths) == 14 and all(p.is_dir() and p.parent == out for p in paths)
    items_seen = set()
    for path in paths:
        pkg, contents = load(path)
        assert path.name == pkg.file_number
        assert_consistent(pkg, contents)
        items_seen.add(pkg.config.item_name)
    assert items_seen == {i.name for i in catalog.SERVICE_ITEMS}
    assert len({p.name for p in paths}) == len(paths)


def test_zip_packages_are_consistent(zip_batch: tuple[Path, list[Path]]) -> None:
    _, paths = zip_batch
    for path in paths:
        assert path.suffix == ".zip"
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            assert zf.namelist()[0] == schema.METADATA_FILENAME
        pkg, contents = load(path)
        assert path.name == f"{pkg.file_number}.zip"
        assert_consistent(pkg, contents)


def test_full_cases_are_consistent(full_cases: list[tuple[CasePackage, dict[str, bytes]]]) -> None:
    for pkg, files in full_cases:
        assert_consistent(pkg, files)
        assert len(pkg.files) == len(pkg.config.scope)  # every optional material included


@pytest.mark.parametrize("fixture", ["folder_batch", "zip_batch"])
def test_batch_manifest(fixture: str, request: pytest.FixtureRequest) -> None:
    out, paths = request.getfixturevalue(fixture)
    manifest = parse_batch_manifest((out / schema.BATCH_MANIFEST_FILENAME).read_bytes())
    assert manifest.package_count == str(len(paths)) == str(len(manifest.packages))
    assert (
        manifest.system_code == catalog.DEMO_FONDS.system_code and manifest.batch_number and manifest.standard
    )
    total_bytes = total_files = 0
    for path, entry in zip(paths, manifest.packages, strict=True):
        contents = package_contents(path)
        if path.is_dir():
            size = sum(len(d) for d in contents.values())
            digest = sm3(contents[schema.METADATA_FILENAME])
        else:
            size, digest = path.stat().st_size, sm3(path.read_bytes())
        pkg = parse_metadata(contents[schema.METADATA_FILENAME])
        assert entry.name == path.name and entry.size == str(size)
        assert entry.digest == digest and entry.digest_algorithm == "SM3"
        assert entry.fonds_code == pkg.case.fonds_code and entry.item_code == pkg.config.item_code
        assert entry.title == pkg.case.title
        total_bytes += size
        total_files += len(pkg.files)
    assert manifest.byte_total == str(total_bytes) and manifest.file_total == str(total_files)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def digests(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): sm3(p.read_bytes()) for p in root.rglob("*") if p.is_file()}

    for as_zip in (False, True):
        a, b = tmp_path / f"a{as_zip}", tmp_path / f"b{as_zip}"
        generate(a, cases=7, seed=5, as_zip=as_zip)
        generate(b, cases=7, seed=5, as_zip=as_zip)
        da, db = digests(a), digests(b)
        assert da == db and len(da) > 7
    c = tmp_path / "c"
    generate(c, cases=7, seed=6)
    assert digests(c) != digests(tmp_path / "aFalse")


def test_existing_output_is_not_overwritten(tmp_path: Path) -> None:
    generate(tmp_path, cases=1, seed=1)
    with pytest.raises(FileExistsError):
        generate(tmp_path, cases=1, seed=1)


# --- real file content -------------------------------------------------------------------------


def test_pdfs_open(full_files: dict[str, bytes], folder_batch: tuple[Path, list[Path]]) -> None:
    pdfs = {k: v for k, v in full_files.items() if k.endswith(".pdf")}
    pdfs.update(dict(files_of(folder_batch[1][:4], ".pdf")))
    assert len(pdfs) > 30
    for name, data in pdfs.items():
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), name
        assert b"/STSong-Light" in data, name
    import pikepdf  # a test dependency: the PDFs must open in an independent reader

    for name, data in pdfs.items():
        with pikepdf.open(io.BytesIO(data)) as pdf:
            assert 1 <= len(pdf.pages) <= 3, name
            assert str(pdf.docinfo["/Title"]), name


def test_jpegs_decode(full_files: dict[str, bytes]) -> None:
    jpegs = {k: v for k, v in full_files.items() if k.endswith(".jpg")}
    assert len(jpegs) >= 8
    for name, data in jpegs.items():
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            assert img.format == "JPEG" and img.mode == "RGB", name
            w, h = img.size
            assert 700 < w < 1300 and 1.3 < h / w < 1.5, (name, img.size)  # A4 at 100–150 dpi
            assert 95 <= round(img.info["dpi"][0]) <= 150
        assert len(data) < 300_000


def test_wav_opens(full_files: dict[str, bytes]) -> None:
    wavs = [v for k, v in full_files.items() if k.endswith(".wav")]
    assert len(wavs) >= 2
    for data in wavs:
        with wave.open(io.BytesIO(data)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
            assert 2.5 <= w.getnframes() / w.getframerate() <= 6
            frames = w.readframes(w.getnframes())
            assert len(set(frames)) > 50  # not silence


def test_mp4_opens(full_files: dict[str, bytes]) -> None:
    import av

    videos = [v for k, v in full_files.items() if k.endswith(".mp4")]
    assert videos
    for data in videos:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (320, 240)
            frames = sum(1 for _ in container.decode(stream))
            assert 15 <= frames <= 40


def check_ofd(data: bytes) -> etree._Element:
    """Validate OFD package structure; return the page Content root."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        ofd = etree.fromstring(zf.read("OFD.xml"))
        assert ofd.tag == f"{OFD_NS}OFD"
        body = ofd.find(f"{OFD_NS}DocBody")
        assert body is not None
        info = body.find(f"{OFD_NS}DocInfo")
        assert info is not None and info.findtext(f"{OFD_NS}DocID")
        doc_root = (body.findtext(f"{OFD_NS}DocRoot") or "").lstrip("/")
        assert doc_root in names
        base = PurePosixPath(doc_root).parent
        document = etree.fromstring(zf.read(doc_root))
        common = document.find(f"{OFD_NS}CommonData")
        assert common is not None
        max_id = int(common.findtext(f"{OFD_NS}MaxUnitID") or "0")
        assert common.findtext(f"{OFD_NS}PageArea/{OFD_NS}PhysicalBox")
        ids: list[int] = []
        roots = [document]
        for res in common.findall(f"{OFD_NS}PublicRes"):
            res_path = (base / (res.text or "")).as_posix()
            assert res_path in names, res_path
            roots.append(etree.fromstring(zf.read(res_path)))
        pages = document.findall(f"{OFD_NS}Pages/{OFD_NS}Page")
        assert pages
        content = None
        for page in pages:
            loc = (base / page.get("BaseLoc", "")).as_posix()
            assert loc in names, loc
            content = etree.fromstring(zf.read(loc))
            roots.append(content)
        for root in roots:
            ids += [int(el.get("ID")) for el in root.iter() if el.get("ID") is not None]
        assert len(ids) == len(set(ids)) and max(ids) <= max_id
        assert content is not None
        return content


def test_real_ofd_passes_the_structure_check() -> None:
    if not REAL_OFD.exists():  # ../shared sits beside the checkout in CI; elsewhere it may not
        if os.environ.get("CI"):
            pytest.fail(f"{REAL_OFD} not available")
        pytest.skip(f"{REAL_OFD} not available")
    content = check_ofd(REAL_OFD.read_bytes())
    assert content.findall(f".//{OFD_NS}TextObject")


def test_ofd_licences(full_cases: list[tuple[CasePackage, dict[str, bytes]]]) -> None:
    seen = 0
    for pkg, files in full_cases:
        for lic in pkg.licenses:
            data = files[lic.path or ""]
            content = check_ofd(data)
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                document = etree.fromstring(zf.read("Doc_0/Document.xml"))
                ofd = etree.fromstring(zf.read("OFD.xml"))
                res = etree.fromstring(zf.read("Doc_0/PublicRes.xml"))
            max_id = int(document.findtext(f"{OFD_NS}CommonData/{OFD_NS}MaxUnitID") or "0")
            all_ids = [int(el.get("ID")) for r in (document, res, content) for el in r.iter() if el.get("ID")]
            assert max_id == max(all_ids)
            assert ofd.findtext(f"{OFD_NS}DocBody/{OFD_NS}DocInfo/{OFD_NS}Title") == lic.license_type
            assert ofd.findtext(f"{OFD_NS}DocBody/{OFD_NS}DocInfo/{OFD_NS}CreationDate") == lic.valid_from
            font = res.find(f"{OFD_NS}Fonts/{OFD_NS}Font")
            assert font is not None and font.get("FontName") == font.get("FamilyName") == "宋体"
            texts = content.findall(f".//{OFD_NS}TextObject")
            assert len(texts) >= 5
            for t in texts:
                assert t.get("Font") == font.get("ID") and t.get("Boundary") and t.get("Size")
                assert t.find(f"{OFD_NS}FillColor") is not None
                code = t.find(f"{OFD_NS}TextCode")
                assert code is not None and code.get("X") and code.get("Y")
            shown = "".join(t.findtext(f"{OFD_NS}TextCode") or "" for t in texts)
            for value in (lic.license_type, lic.license_number, lic.holder, lic.issuer):
                assert value and value[:30] in shown
            seen += 1
    assert seen >= 4


def test_larger_files_on_request() -> None:
    content = PdfContent(title="测试文件", paragraphs=["正文。" * 50], date_text="2024年1月1日")
    small = pdf_document(random.Random(1), content)
    big = pdf_document(random.Random(1), content, options=FileOptions(min_file_bytes=400_000))
    assert len(small) < 20_000 <= 400_000 <= len(big)
    import pikepdf

    with pikepdf.open(io.BytesIO(big)) as pdf:
        assert len(pdf.pages) > 1
    jpeg = scan_jpeg(random.Random(1), ScanKind.SIGNED_FORM, options=FileOptions(min_file_bytes=300_000))
    assert len(jpeg) >= 300_000
    with Image.open(io.BytesIO(jpeg)) as img:
        img.load()
        assert img.size[0] > 827


# --- broken variants ---------------------------------------------------------------------------


def test_variant_list(broken: dict[str, tuple[Path, str, str]]) -> None:
    assert list(broken) == [v[0] for v in VARIANTS]
    expected = {
        "base": "", "conflict": "CONFLICT", "missing-file": "GD-2-11", "extra-file": "GD-2-11",
        "wrong-digest": "GD-1-1", "wrong-size": "GD-1-10", "malformed-xml": "GD-3-1", "xxe": "GD-3-1",
        "billion-laughs": "GD-3-1", "missing-required-metadata": "GD-2-3", "empty-required-metadata": "GD-2-4",
        "wrong-file-count": "GD-2-1", "wrong-byte-total": "GD-2-2", "missing-scope-material": "GD-2-9",
        "outside-category-folder": "GD-1-13", "no-metadata": "GD-1-12", "zip-slip": "ZIP_PATH_TRAVERSAL",
        "zip-absolute": "ZIP_ABSOLUTE_PATH", "zip-symlink": "ZIP_LINK", "zip-encrypted": "ZIP_ENCRYPTED",
        "zip-bomb": "ZIP_BOMB", "zip-corrupt": "ZIP_CORRUPT",
    }  # fmt: skip
    assert {k: v[1] for k, v in broken.items()} == expected
    for name, (path, _, target) in broken.items():
        assert path.exists(), name
        assert target or name == "base"
        if name.startswith("zip-") or name in (
            "wrong-size",
            "malformed-xml",
            "wrong-byte-total",
            "no-metadata",
        ):
            assert path.is_file() and path.suffix == ".zip", name
        else:
            assert path.is_dir(), name


def test_base_and_conflict(broken: dict[str, tuple[Path, str, str]]) -> None:
    base_pkg, base_files = load(broken["base"][0])
    assert_consistent(base_pkg, base_files)
    pkg, files = load(broken["conflict"][0])
    assert_consistent(pkg, files)
    assert pkg.file_number == base_pkg.file_number == broken["conflict"][2]
    assert broken["conflict"][0].name == broken["base"][0].name
    changed = [p for p in files if files[p] != base_files[p]]
    assert changed == ["申报材料/法定代表人身份证复印件.jpg"]
    assert set(files) == set(base_files)


def test_file_level_variants(broken: dict[str, tuple[Path, str, str]]) -> None:
    pkg, files = load(broken["missing-file"][0])
    target = broken["missing-file"][2]
    assert target in {e.path for e in pkg.files} and target not in files
    assert set(files) == {e.path for e in pkg.files} - {target}

    pkg, files = load(broken["extra-file"][0])
    target = broken["extra-file"][2]
    assert target in files and target not in {e.path for e in pkg.files}

    pkg, files = load(broken["wrong-digest"][0])
    target = broken["wrong-digest"][2]
    e = next(e for e in pkg.files if e.path == target)
    assert e.digest != sm3(files[target]) and e.size == str(len(files[target]))
    assert all(x.digest == sm3(files[x.path or ""]) for x in pkg.files if x.path != target)

    pkg, files = load(broken["wrong-size"][0])
    target = broken["wrong-size"][2]
    e = next(e for e in pkg.files if e.path == target)
    assert e.size != str(len(files[target])) and e.digest == sm3(files[target])

    pkg, files = load(broken["outside-category-folder"][0])
    target = broken["outside-category-folder"][2]
    e = next(e for e in pkg.files if e.path == target)
    assert target.startswith("其他/") and target in files and e.category == "其他"
    assert e.digest == sm3(files[target]) and pkg.declared_file_count == str(len(files))


def test_metadata_variants(broken: dict[str, tuple[Path, str, str]]) -> None:
    def raw(name: str) -> bytes:
        return package_contents(broken[name][0])[schema.METADATA_FILENAME]

    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(raw("malformed-xml"))
    with pytest.raises(MetadataError):
        parse_metadata(raw("malformed-xml"))
    xxe = raw("xxe")
    assert b"<!DOCTYPE" in xxe and b'SYSTEM "file:///etc/passwd"' in xxe and b"&xxe;" in xxe
    lol = raw("billion-laughs")
    assert b"<!ENTITY lol9" in lol and b"&lol9;" in lol
    for name in ("xxe", "billion-laughs"):
        with pytest.raises(MetadataError):
            parse_metadata(raw(name))
        # apart from the DOCTYPE and the entity reference, the document is a normal package
        stripped = (
            re.sub(rb"<!DOCTYPE.*?\]>\n", b"", raw(name), flags=re.S)
            .replace(b"&xxe;", b"")
            .replace(b"&lol9;", b"")
        )
        assert parse_metadata(stripped).case.file_number

    pkg, files = load(broken["missing-required-metadata"][0])
    assert pkg.case.title is None and "办件名称" not in raw("missing-required-metadata").decode()
    assert broken["missing-required-metadata"][2] == "办件名称"
    pkg, _ = load(broken["empty-required-metadata"][0])
    assert pkg.case.accepting_unit == "" and broken["empty-required-metadata"][2] == "受理单位"

    pkg, files = load(broken["wrong-file-count"][0])
    assert pkg.declared_file_count == str(len(files) + 1) and len(pkg.files) == len(files)
    assert broken["wrong-file-count"][2] == "文件总数"
    pkg, files = load(broken["wrong-byte-total"][0])
    assert pkg.declared_byte_total == str(sum(len(d) for d in files.values()) + 1)
    assert broken["wrong-byte-total"][2] == "总字节数"

    pkg, files = load(broken["missing-scope-material"][0])
    code = broken["missing-scope-material"][2]
    assert any(s.code == code and s.required for s in pkg.config.scope)
    assert code not in {e.material_code for e in pkg.files}
    assert pkg.declared_file_count == str(len(pkg.files)) == str(len(files))
    assert pkg.declared_byte_total == str(sum(len(d) for d in files.values()))
    assert [e.sequence for e in pkg.files] == [str(i) for i in range(1, len(pkg.files) + 1)]

    path = broken["no-metadata"][0]
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert schema.METADATA_FILENAME not in names and len(names) > 3


def test_zip_variants(broken: dict[str, tuple[Path, str, str]]) -> None:
    with zipfile.ZipFile(broken["zip-slip"][0]) as zf:
        assert "../../evil.txt" in zf.namelist()
    with zipfile.ZipFile(broken["zip-absolute"][0]) as zf:
        assert "/tmp/evil.txt" in zf.namelist()
    with zipfile.ZipFile(broken["zip-symlink"][0]) as zf:
        info = zf.getinfo(broken["zip-symlink"][2])
        assert stat.S_ISLNK(info.external_attr >> 16) and zf.read(info) == b"/etc/passwd"
    with zipfile.ZipFile(broken["zip-encrypted"][0]) as zf:
        info = zf.getinfo(broken["zip-encrypted"][2])
        assert info.flag_bits & 0x1
        with pytest.raises(RuntimeError, match="encrypted"):
            zf.read(info)
        plain = zf.read(info, pwd=ZIP_PASSWORD)  # genuine ZipCrypto, CRC checked by zipfile
        pkg = parse_metadata(zf.read(schema.METADATA_FILENAME))
        assert next(e for e in pkg.files if e.path == info.filename).digest == sm3(plain)
    with zipfile.ZipFile(broken["zip-bomb"][0]) as zf:
        info = zf.getinfo(broken["zip-bomb"][2])
        assert info.file_size >= 200 * 1024 * 1024 and info.file_size / info.compress_size > 100
        pkg = parse_metadata(zf.read(schema.METADATA_FILENAME))
        assert next(e for e in pkg.files if e.path == info.filename).size == str(info.file_size)
    assert broken["zip-bomb"][0].stat().st_size < 2 * 1024 * 1024
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(broken["zip-corrupt"][0])
    assert broken["zip-corrupt"][2] == broken["zip-corrupt"][0].name


def test_broken_variants_are_reproducible(tmp_path: Path) -> None:
    a = write_broken_variants(tmp_path / "a", seed=4, bomb_bytes=4 * 1024 * 1024)
    b = write_broken_variants(tmp_path / "b", seed=4, bomb_bytes=4 * 1024 * 1024)
    for va, vb in zip(a, b, strict=True):
        assert (va.name, va.expected_code, va.target) == (vb.name, vb.expected_code, vb.target)
        if va.path.is_dir():
            assert package_contents(va.path) == package_contents(vb.path), va.name
        else:
            assert va.path.read_bytes() == vb.path.read_bytes(), va.name


# --- command -----------------------------------------------------------------------------------


def test_command(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(demo_data, ["--cases", "3", "--seed", "2", "--out", str(out), "--zip"])
    assert result.exit_code == 0, result.output
    assert re.search(r"3 cases, \d+ files, [\d,]+ bytes in [\d.]+ s", result.output)
    assert len(list(out.glob("*.zip"))) == 3 and (out / schema.BATCH_MANIFEST_FILENAME).exists()
    again = CliRunner().invoke(demo_data, ["--cases", "3", "--out", str(out), "--zip"])
    assert again.exit_code != 0 and "already exists" in again.output
    other = tmp_path / "other"
    result = CliRunner().invoke(demo_data, ["--cases", "1", "--out", str(other), "--no-batch"])
    assert result.exit_code == 0, result.output
    assert not (other / schema.BATCH_MANIFEST_FILENAME).exists() and len(list(other.iterdir())) == 1
    assert demo_data.name == "demo-data"


def test_command_broken(tmp_path: Path) -> None:
    result = CliRunner().invoke(demo_data, ["--cases", "1", "--out", str(tmp_path), "--broken"])
    assert result.exit_code == 0, result.output
    assert "22 broken variants" in result.output
    assert len(read_variants(tmp_path / "broken")) == len(VARIANTS)


def test_same_day_in_year_handles_29_february():
    from datetime import date

    assert people.same_day_in_year(date(1992, 2, 29), 2022) == date(2022, 2, 28)
    assert people.same_day_in_year(date(1992, 2, 29), 2024) == date(2024, 2, 29)
    assert people.same_day_in_year(date(1992, 3, 1), 2023) == date(2023, 3, 1)
