"""Hostile packages through the ingest service, end to end: upload → quarantine → checks → verdict.

Both channels are driven: the API (``receive_upload`` then the ``process_upload`` job, as the job pool
runs it) and the CLI/batch path (``ingest_path`` on a ZIP outside the data directory). For every
hostile package the submission ends rejected with the specific error expected (never INTERNAL_ERROR
or IO_ERROR, which would mean the reader crashed), no Record or RecordFile row and no blob exists,
quarantine is emptied, no file appears anywhere else in the test's data directory, in DANGAN_HOME or
beside the upload, and the planted secret appears in no error, report or audit event. Controls (the
same package unharmed, and its metadata re-encoded as declared GB18030) are accepted, so the
rejections are due to the hostility and not to the set-up. Folder packages (offline carriers) with
GB18030 names, links, FIFOs and undecodable names go through the CLI path.

Known weak spot (outside the reader, reported, not fixed here): the archiving checks report per
declared file, so a metadata file with N bad <文件> entries yields about 9·N errors, all stored in
the submission (64,000 entries: 576,000 errors, 30 s). The flood below is kept at 3,000 entries.

Budget: 19 hostile ZIPs × 2 channels, 2 controls × 2, 4 folders, and one hypothesis property over 30
mutated uploads: about 10 s on 2 cores. The hypothesis settings come from the "dangan-fuzz" profile
registered in tests/test_fuzz_hostile_input.py (derandomized with CI=true, no example database).
"""

from __future__ import annotations

import json
import os
import stat
import struct
import tempfile
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as dj
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dangan.archive.models import Record, RecordFile
from dangan.audit.models import AuditEvent
from dangan.core.package import schema
from dangan.core.package.intake import receive_zip
from dangan.core.package.metadata import metadata_xml
from dangan.ingest import services as ingest
from dangan.ingest.models import Submission
from tests.factories import make_case, write_case
from tests.test_fuzz_hostile_input import (
    FUZZ,
    SECRET,
    Entry,
    build_zip,
    header_patched,
    mutated,
    nested_bomb,
    outcome,
    patch16,
    patch32,
    records,
    tree,
    zeros_member,
)

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:Duplicate name")]

CRASHED = {"INTERNAL_ERROR", "IO_ERROR"}


def package_entries(metadata: bytes | None = None, *, method: int = zipfile.ZIP_DEFLATED) -> list[Entry]:
    """The factory's valid case as ZIP entries (metadata optionally replaced)."""
    pkg, files = make_case()
    body = metadata if metadata is not None else metadata_xml(pkg)
    return [
        Entry(schema.METADATA_FILENAME, body, method=method),
        *(Entry(path, data) for path, data in files.items()),
    ]


def with_metadata(text: str, encoding: str = "utf-8", *, stored: bool = False) -> Callable[[Path], bytes]:
    """Metadata replaced by ``text`` ({SECRET_PATH} filled in); stored, where deflate would look like a bomb."""
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    return lambda secret: build_zip(
        package_entries(text.replace("{SECRET_PATH}", str(secret)).encode(encoding), method=method)
    )


def plus(*extra: Entry) -> Callable[[Path], bytes]:
    return lambda _: build_zip([*package_entries(), *extra])


def patched(fn: Callable[[bytearray], None]) -> Callable[[Path], bytes]:
    def build(_: Path) -> bytes:
        buf = bytearray(build_zip(package_entries()))
        fn(buf)
        return bytes(buf)

    return build


def _version(buf: bytearray) -> None:
    patch16(buf, records(buf)[0].central + 6, 0xFF)


def _negative_offset(buf: bytearray) -> None:
    eocd = buf.rfind(b"PK\x05\x06")
    patch32(buf, eocd + 16, struct.unpack_from("<L", buf, eocd + 16)[0] + 4096)


def _lying_bomb(_: Path) -> bytes:
    buf = bytearray(
        build_zip([*package_entries(), Entry("申报材料/zeros.pdf", zeros_member(32 * 1024 * 1024))])
    )
    last = records(buf)[-1]
    patch32(buf, last.central + 24, 1024)
    patch32(buf, last.local + 22, 1024)
    return bytes(buf)


ROOT = schema.ROOT
XXE = f'<?xml version="1.0"?><!DOCTYPE {ROOT} [<!ENTITY x SYSTEM "file://{{SECRET_PATH}}">]><{ROOT}><办件基本信息><办件名称>&x;</办件名称></办件基本信息></{ROOT}>'
XXE_HIDDEN = f"<!--{'p' * 70_000}-->" + XXE.split("?>", 1)[1]
LAUGHS = (
    f'<!DOCTYPE {ROOT} [<!ENTITY a "lol">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + f"]><{ROOT}>&j;</{ROOT}>"
)
DEEP = f"<{ROOT}>" + "<d>" * 100_000 + "</d>" * 100_000 + f"</{ROOT}>"
# 3,000 bad <文件> entries: the XML Schema list is capped (xsd._MAX_LISTED); the other checks report
# per entry (~9 each), so a larger flood makes a very long error list (see the module docstring).
WIDE_INVALID = f"<{ROOT}><文件信息>" + "<文件><路径>x</路径></文件>" * 3_000 + f"</文件信息></{ROOT}>"

# name → (ZIP builder given the secret file's path, error codes of which at least one must be reported)
HOSTILE: dict[str, tuple[Callable[[Path], bytes], set[str]]] = {
    "zip-slip": (plus(Entry("../../evil.txt", b"pwned")), {"ZIP_PATH_TRAVERSAL"}),
    "zip-slip-backslash": (plus(Entry("..\\..\\evil.txt", b"pwned")), {"ZIP_PATH_TRAVERSAL"}),
    "absolute": (plus(Entry("/tmp/dg-fuzz-evil.txt", b"pwned")), {"ZIP_ABSOLUTE_PATH"}),
    "drive-letter": (plus(Entry("C:\\evil.txt", b"pwned")), {"ZIP_ABSOLUTE_PATH"}),
    "nul-name": (plus(Entry("x", raw_name=b"\xe7\x94\xb3.pdf\x00/../../evil.txt")), {"ZIP_PATH_INVALID"}),
    "symlink": (
        plus(Entry("申报材料/l", b"../../../outside", mode=stat.S_IFLNK | 0o777), Entry("申报材料/l/evil.txt")),
        {"ZIP_LINK"},
    ),
    "zip-bomb": (plus(Entry("申报材料/zeros.pdf", zeros_member(32 * 1024 * 1024))), {"ZIP_BOMB"}),
    "lying-sizes": (_lying_bomb, {"ZIP_CORRUPT"}),
    "truncated": (lambda p: build_zip(package_entries())[:-30], {"ZIP_CORRUPT"}),
    "zip-version": (patched(_version), {"ZIP_CORRUPT"}),
    "negative-offset": (patched(_negative_offset), {"ZIP_CORRUPT"}),
    "xxe": (with_metadata(XXE), {"GD-3-1"}),
    "xxe-behind-padding-utf16": (with_metadata(XXE_HIDDEN, "utf-16"), {"GD-3-1"}),
    "billion-laughs": (with_metadata(LAUGHS), {"GD-3-1"}),
    "deep-nesting": (with_metadata(DEEP), {"GD-3-1"}),
    "invalid-utf8": (lambda p: build_zip(package_entries(metadata_xml(make_case()[0]).replace("张三".encode(), b"\xff\xfe\xc0"))), {"GD-3-1"}),
    "gb18030-as-utf8": (lambda p: build_zip(package_entries(metadata_xml(make_case()[0]).decode().encode("gb18030"))), {"GD-3-1"}),
    "schema-error-flood": (with_metadata(WIDE_INVALID, stored=True), {"GD-1-12"}),
    "nested-zip": (plus(Entry("申报材料/附件.zip", nested_bomb())), {"GD-3-3", "GD-3-8"}),
}  # fmt: skip


def gb18030_declared(_: Path) -> bytes:
    xml = metadata_xml(make_case()[0]).decode().replace("encoding='UTF-8'", "encoding='GB18030'")
    assert "GB18030" in xml
    return build_zip(package_entries(xml.encode("gb18030")))


CONTROLS: dict[str, Callable[[Path], bytes]] = {
    "valid": lambda _: build_zip(package_entries()),
    "gb18030-declared": gb18030_declared,
}


def files_under(root: Path) -> dict[str, tuple[str, str]]:
    """Files and links (not folders: quarantine creates and removes its own) under ``root``."""
    return {p: v for p, v in tree(root).items() if v[0] != "dir"} if root.exists() else {}


def run(channel: str, operator, zpath: Path) -> Submission:
    if channel == "cli":
        return ingest.ingest_path(operator, zpath)
    with zpath.open("rb") as f:
        sub = ingest.receive_upload(operator, f, filename=zpath.name, source=None)
    ingest.process_upload(str(sub.id))  # the job the pool runs after commit
    sub.refresh_from_db()
    return sub


def home_files() -> dict[str, tuple[str, str]]:
    """Files of the instance's data directory (DANGAN_HOME): new ones only (the test database and the
    instance key, made on first use, change legitimately)."""
    return {p: ("file", "") for p in files_under(Path(dj.DATA_DIR)) if "/keys/" not in p}


def check_left_nothing(sub: Submission, data_root: Path, before: dict[str, tuple[str, str]]) -> None:
    assert not ingest.quarantine_dir(sub).exists()
    assert files_under(data_root) == before, "files left in the test's data directory"
    blobs = Path(dj.BLOB_DIR)
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


def no_secret(sub: Submission) -> None:
    assert SECRET not in json.dumps([sub.errors, sub.report], ensure_ascii=False)
    for detail in AuditEvent.objects.filter(object_id=str(sub.id)).values_list("detail", flat=True):
        assert SECRET not in json.dumps(detail, ensure_ascii=False)


@pytest.fixture
def scene(tmp_path: Path):
    """The upload's folder with a secret and an 'outside' folder; the test's data directory."""
    work = tmp_path / "in" / "a" / "b"
    work.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data_root = Path(dj.QUARANTINE_DIR).parent
    return work, secret, data_root


@pytest.mark.timeout(120)
@pytest.mark.parametrize("channel", ["api", "cli"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_package_is_rejected_and_leaves_nothing(
    name: str, channel: str, scene, tmp_path: Path, test_catalogue, operator
) -> None:
    build, expected = HOSTILE[name]
    work, secret, data_root = scene
    zpath = work / f"{name}.zip"
    zpath.write_bytes(build(secret))
    outside_before = tree(tmp_path)
    data_before = files_under(data_root)
    home_before = home_files()

    sub = run(channel, operator, zpath)

    assert sub.status == "rejected", (sub.status, sub.errors)
    codes = {e["code"] for e in sub.errors}
    assert codes & expected, codes
    assert not codes & CRASHED, sub.errors
    assert all(e.get("message") for e in sub.errors)
    assert Record.objects.count() == 0 and RecordFile.objects.count() == 0
    assert sum(e["code"] == "GD-1-12" for e in sub.errors) <= 101, "XML Schema errors are capped"
    check_left_nothing(sub, data_root, data_before)
    assert tree(tmp_path) == outside_before, "a file was written beside the upload"
    assert home_files() == home_before, "a file was written in DANGAN_HOME"
    assert not Path("/tmp/dg-fuzz-evil.txt").exists()
    no_secret(sub)


@pytest.mark.parametrize("channel", ["api", "cli"])
@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_controls_are_accepted(name: str, channel: str, scene, test_catalogue, operator) -> None:
    work, secret, _ = scene
    zpath = work / f"{name}.zip"
    zpath.write_bytes(CONTROLS[name](secret))
    sub = run(channel, operator, zpath)
    assert sub.status == "accepted", sub.errors
    assert sub.record is not None and sub.record.title == make_case()[0].case.title
    assert not ingest.quarantine_dir(sub).exists()


def _gb18030_names(folder: Path, secret: Path) -> None:
    """Rename every content file to its GB18030 bytes, as Chinese Windows writes them on a carrier."""
    for path in [p for p in folder.rglob("*.pdf")]:
        raw = os.fsencode(path.parent) + b"/" + path.name.encode("gb18030")
        os.rename(path, os.fsdecode(raw))


def _undecodable_name(folder: Path, secret: Path) -> None:
    Path(os.fsdecode(os.fsencode(folder / "申报材料") + b"/\x80\xff.pdf")).write_bytes(b"%PDF-1.4")


def _link_to_secret(folder: Path, secret: Path) -> None:
    target = folder / "申报材料" / "申请书.pdf"
    target.unlink()
    target.symlink_to(secret)


def _fifo(folder: Path, secret: Path) -> None:
    os.mkfifo(folder / "申报材料" / "管道.pdf")  # opening it would block for ever


# Folder packages (CLI/offline carrier): how the folder is spoilt → the one outcome expected.
FOLDERS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "gb18030-names": (_gb18030_names, "accepted"),
    "undecodable-name": (_undecodable_name, "PACKAGE_PATH_INVALID"),
    "link-to-secret": (_link_to_secret, "PACKAGE_LINK"),
    "fifo": (_fifo, "PACKAGE_SPECIAL_FILE"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_folder_packages(name: str, scene, tmp_path: Path, test_catalogue, operator) -> None:
    """GB18030 names are read as such (they crashed the ingest before); links, FIFOs and names that
    are neither UTF-8 nor GB18030 are refused with their own code, nothing copied, nothing left."""
    spoil, expected = FOLDERS[name]
    work, secret, data_root = scene
    folder = write_case(work)
    spoil(folder, secret)
    before = tree(tmp_path)
    data_before = files_under(data_root)
    sub = ingest.ingest_path(operator, folder)
    if expected == "accepted":
        assert sub.status == "accepted", sub.errors
        assert set(sub.record.files.values_list("path", flat=True)) >= set(make_case()[1])
    else:
        assert sub.status == "rejected" and [e["code"] for e in sub.errors] == [expected], sub.errors
        assert Record.objects.count() == 0
        check_left_nothing(sub, data_root, data_before)
    assert not ingest.quarantine_dir(sub).exists()
    assert tree(tmp_path) == before
    no_secret(sub)


def _content_digest(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p.zip").write_bytes(data)
        return receive_zip(Path(tmp) / "p.zip", Path(tmp) / "q").content_digest()


VALID = build_zip(package_entries())


@pytest.mark.timeout(180)
@settings(
    FUZZ,
    max_examples=30,
    deadline=timedelta(seconds=20),
    # Examples share the test's database transaction and data directory: each asserts deltas.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.too_slow,
    ],
)
@given(data=st.data())
def test_mutated_uploads_never_crash_the_service(data: st.DataObject, test_catalogue, operator) -> None:
    """Byte mutations or one patched header field of a valid upload: rejected with a reader/check code, or (a harmless mutation,
    e.g. a timestamp) filed with exactly the original content; never a crash, never a leftover."""
    blob = data.draw(mutated(VALID) | header_patched(VALID))
    data_root = Path(dj.QUARANTINE_DIR).parent
    records_before = set(Record.objects.values_list("pk", flat=True))
    with tempfile.TemporaryDirectory() as tmp:
        zpath = Path(tmp) / "upload.zip"
        zpath.write_bytes(blob)
        sub = run("api", operator, zpath)
    assert sub.status in {"rejected", "accepted", "duplicate"}, sub.status
    outcome(f"{sub.status}: {sorted({e['code'] for e in sub.errors})[:3]}")
    assert not {e["code"] for e in sub.errors} & CRASHED, sub.errors
    assert not ingest.quarantine_dir(sub).exists()
    quarantine = Path(dj.QUARANTINE_DIR)
    assert not [p for p in quarantine.rglob("*") if p.is_file()] if quarantine.exists() else True
    new = set(Record.objects.values_list("pk", flat=True)) - records_before
    if sub.status == "rejected":
        assert not new
    for record in Record.objects.filter(pk__in=new):
        assert record.content_digest == _content_digest(VALID)
    assert data_root.exists()
