"""AIP as a BagIt 1.0 bag: build, materialize, validate with bagit-python and with our own verifier."""

from __future__ import annotations

import hashlib
import io
import shutil
from datetime import date
from pathlib import Path

import bagit
import pytest
from asn1crypto import algos, x509
from gmssl import sm2 as gm_sm2

from dangan.core import sm
from dangan.core.errors import IntegrityError, PackageError
from dangan.core.package import aip

PAYLOAD = {
    "申报材料/营业执照申请书.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 40,
    "申报材料/身份证明 复印件.jpg": b"\xff\xd8\xff\xe0" + b"jpeg" * 100,
    "基本信息元数据.xml": '<?xml version="1.0" encoding="UTF-8"?><办件/>'.encode(),
    "审批结果/批复.ofd": b"PK\x03\x04" + b"ofd" * 50,
    "empty.txt": b"",
}
TAG_FILES = {
    "dangan/metadata.xml": '<?xml version="1.0" encoding="UTF-8"?><档案 档号="X1-2024-0001"/>'.encode(),
    "dangan/check-report.json": b'{"outcome": "pass"}\n',
}
BAG_INFO = {"Source-Organization": "某市政务服务中心", "External-Identifier": "X1-2024-0001"}


def _payload(files: dict[str, bytes]) -> list[aip.PayloadFile]:
    return [
        aip.PayloadFile(path, len(data), sm.sm3_hex(data), hashlib.sha256(data).hexdigest())
        for path, data in files.items()
    ]


def _blob_opener(files: dict[str, bytes]):
    blobs = {sm.sm3_hex(data): data for data in files.values()}
    return lambda f: io.BytesIO(blobs[f.sm3])


@pytest.fixture(scope="module")
def signer(tmp_path_factory) -> sm.InstanceKey:
    return sm.InstanceKey.ensure(
        tmp_path_factory.mktemp("keys") / "k", common_name="dangan", organization="测试馆"
    )


@pytest.fixture(scope="module")
def other_signer(tmp_path_factory) -> sm.InstanceKey:
    return sm.InstanceKey.ensure(tmp_path_factory.mktemp("keys2") / "k", common_name="evil", organization="x")


def _build(signer, payload=PAYLOAD, tag_files=TAG_FILES, bag_info=BAG_INFO):
    return aip.build_bag(
        _payload(payload),
        bag_info=bag_info,
        tag_files=tag_files,
        signer=signer,
        bagging_date=date(2024, 5, 6),
    )


def _bag(tmp_path: Path, signer, payload=PAYLOAD) -> Path:
    return aip.materialize(_build(signer, payload), _blob_opener(payload), tmp_path / "aip")


def _codes(problems) -> set[str]:
    return {p.code for p in problems}


# --- building -------------------------------------------------------------------------------------------------


def test_build_bag_files_and_tag_contents(signer):
    files = _build(signer)
    by_path = {f.path: f for f in files}
    assert set(by_path) == {f"data/{p}" for p in PAYLOAD} | {
        "bagit.txt",
        "bag-info.txt",
        "manifest-sm3.txt",
        "manifest-sha256.txt",
        "dangan/metadata.xml",
        "dangan/check-report.json",
        "dangan/signer.pem",
        "tagmanifest-sm3.txt",
        "tagmanifest-sha256.txt",
        "tagmanifest-sm3.txt.sig",
    }
    assert all(f.content is None for f in files if f.path.startswith("data/"))
    assert all(f.content is not None for f in files if not f.path.startswith("data/"))
    for f in files:
        if f.content is not None:
            assert (f.size, f.sm3, f.sha256) == (
                len(f.content),
                sm.sm3_hex(f.content),
                hashlib.sha256(f.content).hexdigest(),
            )
    assert by_path["bagit.txt"].content == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    info = by_path["bag-info.txt"].content.decode()
    total = sum(len(d) for d in PAYLOAD.values())
    assert f"Payload-Oxum: {total}.{len(PAYLOAD)}\n" in info
    assert "Bagging-Date: 2024-05-06\n" in info
    assert "Bag-Software-Agent: dangan " in info
    assert "Source-Organization: 某市政务服务中心\n" in info
    manifest = by_path["manifest-sm3.txt"].content.decode()
    lines = manifest.splitlines()
    assert lines == sorted(lines, key=lambda line: line.split("  ", 1)[1])
    assert f"{sm.sm3_hex(PAYLOAD['empty.txt'])}  data/empty.txt" in lines
    tagmanifest = aip.parse_manifest(by_path["tagmanifest-sm3.txt"].content)
    assert set(tagmanifest) == {
        "bagit.txt",
        "bag-info.txt",
        "manifest-sm3.txt",
        "manifest-sha256.txt",
        "dangan/metadata.xml",
        "dangan/check-report.json",
        "dangan/signer.pem",
    }
    assert by_path["dangan/signer.pem"].content == signer.certificate_pem
    assert signer.verify(by_path["tagmanifest-sm3.txt"].content, by_path["tagmanifest-sm3.txt.sig"].content)


def test_build_bag_is_deterministic_except_signature(signer):
    first = _build(signer)
    second = _build(
        signer, payload=dict(reversed(PAYLOAD.items())), tag_files=dict(reversed(TAG_FILES.items()))
    )
    strip = [(f.path, f.content) for f in first if f.path != aip.SIGNATURE]
    assert strip == [(f.path, f.content) for f in second if f.path != aip.SIGNATURE]


def test_manifest_path_encoding_round_trip():
    entries = {"data/100%.txt": "aa", "data/line\nbreak\r.txt": "bb", "data/%0A literal.txt": "cc"}
    text = aip.manifest_bytes(entries)
    assert b"data/100%25.txt" in text
    assert b"data/line%0Abreak%0D.txt" in text
    assert b"data/%250A literal.txt" in text
    assert aip.parse_manifest(text) == entries


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "../x", "a/../b", "a\\b", "a//b", "a/", "./a", "a/.", "a\x00b", ".."]
)
def test_unsafe_payload_paths_refused(signer, path):
    bad = aip.PayloadFile(path, 1, "0" * 64, "0" * 64)
    with pytest.raises(PackageError) as info:
        aip.build_bag([bad], bag_info={}, tag_files={}, signer=signer, bagging_date=date(2024, 1, 1))
    assert info.value.code == "AIP_PATH_INVALID"


@pytest.mark.parametrize(
    "path",
    ["data/x.xml", "bagit.txt", "manifest-md5.txt", "tagmanifest-sm3.txt.sig", "dangan/signer.pem", "../t"],
)
def test_unsafe_or_reserved_tag_paths_refused(signer, path):
    with pytest.raises(PackageError) as info:
        aip.build_bag([], bag_info={}, tag_files={path: b"x"}, signer=signer, bagging_date=date(2024, 1, 1))
    assert info.value.code == "AIP_PATH_INVALID"


def test_colliding_payload_paths_refused(signer):
    for names in (["a.pdf", "A.PDF"], ["a", "a/b"]):
        with pytest.raises(PackageError) as info:
            _build(signer, payload=dict.fromkeys(names, b"x"))
        assert info.value.code == "AIP_PATH_INVALID"


def test_bad_bag_info_refused(signer):
    for info in ({"Note": "two\nlines"}, {"Payload-Oxum": "1.1"}, {"Bad:Label": "x"}):
        with pytest.raises(PackageError) as exc:
            _build(signer, bag_info=info)
        assert exc.value.code == "AIP_BAG_INFO_INVALID"


def test_bad_digest_refused(signer):
    with pytest.raises(PackageError) as info:
        aip.build_bag(
            [aip.PayloadFile("a", 1, "ABC", "0" * 64)],
            bag_info={},
            tag_files={},
            signer=signer,
            bagging_date=date(2024, 1, 1),
        )
    assert info.value.code == "AIP_PAYLOAD_INVALID"


# --- materialize ------------------------------------------------------------------------------------------------


def test_materialize_writes_bag(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    for path, data in PAYLOAD.items():
        assert (bag / "data" / path).read_bytes() == data
    assert (bag / "dangan" / "metadata.xml").read_bytes() == TAG_FILES["dangan/metadata.xml"]
    assert not (tmp_path / ".aip.partial").exists()
    with pytest.raises(PackageError) as info:
        aip.materialize(_build(signer), _blob_opener(PAYLOAD), bag)
    assert info.value.code == "AIP_DEST_EXISTS"


def test_materialize_wrong_payload_bytes_leaves_nothing(tmp_path, signer):
    files = _build(signer)
    with pytest.raises(IntegrityError):
        aip.materialize(files, lambda f: io.BytesIO(b"not the bytes"), tmp_path / "aip")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_materialize_replaces_stale_partial(tmp_path, signer):
    stale = tmp_path / ".aip.partial"
    stale.mkdir()
    (stale / "junk").write_bytes(b"left by a crash")
    bag = _bag(tmp_path, signer)
    assert not (bag / "junk").exists()
    assert aip.verify_bag_dir(bag) == []


# --- independent validation: bagit-python and gmssl --------------------------------------------------------------


def test_bagit_python_validates_bag_including_sm3(tmp_path, signer, monkeypatch):
    monkeypatch.setattr(bagit, "CHECKSUM_ALGOS", set(bagit.CHECKSUM_ALGOS) | {"sm3"})
    path = _bag(tmp_path, signer)
    bag = bagit.Bag(str(path))
    assert "sm3" in bag.algorithms
    assert bag.validate()
    assert bag.info["Payload-Oxum"] == f"{sum(len(d) for d in PAYLOAD.values())}.{len(PAYLOAD)}"

    target = path / "data" / "申报材料" / "营业执照申请书.pdf"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(bagit.BagValidationError) as info:
        bagit.Bag(str(path)).validate()
    mismatches = [d for d in info.value.details if isinstance(d, bagit.ChecksumMismatch)]
    assert {d.algorithm for d in mismatches} == {"sm3", "sha256"}
    assert all("营业执照申请书.pdf" in str(d) for d in mismatches)


def test_bagit_python_sees_sm3_manifest_alone(tmp_path, signer, monkeypatch):
    """With only the SM3 manifest left, bagit-python still validates, so SM3 entries are really checked."""
    monkeypatch.setattr(bagit, "CHECKSUM_ALGOS", set(bagit.CHECKSUM_ALGOS) | {"sm3"})
    path = _bag(tmp_path, signer)
    (path / "manifest-sha256.txt").unlink()
    (path / "tagmanifest-sha256.txt").unlink()
    tm = path / "tagmanifest-sm3.txt"
    tm.write_text("".join(line for line in tm.read_text().splitlines(True) if "manifest-sha256" not in line))
    assert bagit.Bag(str(path)).validate()
    target = path / "data" / "基本信息元数据.xml"
    target.write_bytes(target.read_bytes().replace(b"UTF-8", b"utf-8"))  # same size, other bytes
    with pytest.raises(bagit.BagValidationError) as info:
        bagit.Bag(str(path)).validate()
    assert [(d.algorithm, "基本信息元数据.xml" in str(d)) for d in info.value.details] == [("sm3", True)]


def test_signature_verifies_with_gmssl(tmp_path, signer):
    path = _bag(tmp_path, signer)
    cert = x509.Certificate.load(sm.certificate_der_from_pem((path / "dangan" / "signer.pem").read_bytes()))
    point = cert.public_key["public_key"].native  # uncompressed point 04 || x || y
    assert point[0] == 4
    sig = algos.DSASignature.load((path / "tagmanifest-sm3.txt.sig").read_bytes())
    rs = f"{sig['r'].native:064x}{sig['s'].native:064x}"
    crypt = gm_sm2.CryptSM2(private_key=None, public_key="00" * 64)
    crypt.public_key = point[1:].hex()  # set directly: gmssl's lstrip("04") can eat leading digits of x
    message = (path / "tagmanifest-sm3.txt").read_bytes()
    assert crypt.verify_with_sm3(rs, message)
    assert not crypt.verify_with_sm3(rs, message + b"\n")


# --- verify_bag_dir --------------------------------------------------------------------------------------------


def test_verify_good_bag(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    assert aip.verify_bag_dir(bag) == []
    assert aip.verify_bag_dir(bag, trusted_cert_der=signer.certificate_der) == []


def test_verify_flipped_payload_byte(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    target = bag / "data" / "审批结果" / "批复.ofd"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x80
    target.write_bytes(bytes(data))
    problems = aip.verify_bag_dir(bag)
    assert _codes(problems) == {"BAG_DIGEST_MISMATCH"}
    assert {(p.path, p.message.split()[0]) for p in problems} == {
        ("data/审批结果/批复.ofd", "sm3"),
        ("data/审批结果/批复.ofd", "sha256"),
    }


def test_verify_deleted_payload_file(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    (bag / "data" / "申报材料" / "身份证明 复印件.jpg").unlink()
    problems = aip.verify_bag_dir(bag)
    assert _codes(problems) == {"BAG_FILE_MISSING", "BAG_OXUM_MISMATCH"}
    assert [p.path for p in problems if p.code == "BAG_FILE_MISSING"] == ["data/申报材料/身份证明 复印件.jpg"]


def test_verify_extra_payload_file(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    (bag / "data" / "extra.txt").write_bytes(b"smuggled")
    problems = aip.verify_bag_dir(bag)
    assert _codes(problems) == {"BAG_UNEXPECTED_FILE", "BAG_OXUM_MISMATCH"}
    assert [p.path for p in problems if p.code == "BAG_UNEXPECTED_FILE"] == ["data/extra.txt"]


def test_verify_extra_tag_file(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    (bag / "dangan" / "note.txt").write_bytes(b"added after sealing")
    assert [(p.code, p.path) for p in aip.verify_bag_dir(bag)] == [("BAG_UNEXPECTED_FILE", "dangan/note.txt")]


def test_verify_edited_tag_file(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    (bag / "dangan" / "check-report.json").write_bytes(b'{"outcome": "fail"}\n')
    problems = aip.verify_bag_dir(bag)
    assert _codes(problems) == {"BAG_DIGEST_MISMATCH"}
    assert {p.path for p in problems} == {"dangan/check-report.json"}


def test_verify_edited_tag_file_with_rewritten_tagmanifest(tmp_path, signer):
    """Editing a tag file and fixing up the tag manifests is caught by the signature."""
    bag = _bag(tmp_path, signer)
    report = bag / "dangan" / "check-report.json"
    report.write_bytes(b'{"outcome": "fail"}\n')
    for alg in ("sm3", "sha256"):
        tm = bag / f"tagmanifest-{alg}.txt"
        entries = aip.parse_manifest(tm.read_bytes())
        entries["dangan/check-report.json"] = hashlib.new(alg, report.read_bytes()).hexdigest()
        tm.write_bytes(aip.manifest_bytes(entries))
    problems = aip.verify_bag_dir(bag)
    assert [(p.code, p.path) for p in problems] == [("BAG_SIGNATURE_INVALID", "tagmanifest-sm3.txt.sig")]


def test_verify_edited_tagmanifest(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    tm = bag / "tagmanifest-sm3.txt"
    tm.write_bytes(tm.read_bytes() + b"\n")  # same entries, different bytes
    assert _codes(aip.verify_bag_dir(bag)) == {"BAG_SIGNATURE_INVALID"}


def test_verify_missing_signature(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    (bag / "tagmanifest-sm3.txt.sig").unlink()
    assert [p.code for p in aip.verify_bag_dir(bag)] == ["BAG_SIGNATURE_INVALID"]


def test_verify_swapped_signer_certificate(tmp_path, signer, other_signer):
    bag = _bag(tmp_path, signer)
    (bag / "dangan" / "signer.pem").write_bytes(other_signer.certificate_pem)
    codes = _codes(aip.verify_bag_dir(bag, trusted_cert_der=signer.certificate_der))
    assert "BAG_SIGNER_UNTRUSTED" in codes
    assert "BAG_SIGNATURE_INVALID" in codes


def test_verify_bag_resealed_by_another_key(tmp_path, signer, other_signer):
    """A bag rebuilt and signed by someone else is consistent, but not from the trusted signer."""
    bag = _bag(tmp_path, other_signer)
    assert aip.verify_bag_dir(bag) == []
    problems = aip.verify_bag_dir(bag, trusted_cert_der=signer.certificate_der)
    assert [(p.code, p.path) for p in problems] == [("BAG_SIGNER_UNTRUSTED", "dangan/signer.pem")]


def test_verify_odd_names_round_trip(tmp_path, signer):
    payload = {"100% 完成.txt": b"a", "line\nbreak.txt": b"b", "%0A.txt": b"c"}
    bag = _bag(tmp_path, signer, payload=payload)
    assert (bag / "data" / "line\nbreak.txt").read_bytes() == b"b"
    assert aip.verify_bag_dir(bag) == []


def test_verify_manifest_path_traversal_is_malformed(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside the bag")
    with (bag / "manifest-sm3.txt").open("ab") as f:
        f.write(f"{sm.sm3_hex(b'outside the bag')}  data/../../secret.txt\n".encode())
    problems = aip.verify_bag_dir(bag)
    assert ("BAG_MALFORMED", "manifest-sm3.txt") in {(p.code, p.path) for p in problems}


def test_verify_symlink_in_payload_reported(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    (bag / "data" / "link").symlink_to("/etc/hostname")
    assert ("BAG_MALFORMED", "data/link") in {(p.code, p.path) for p in aip.verify_bag_dir(bag)}


def test_verify_not_a_bag(tmp_path):
    (tmp_path / "x").mkdir()
    codes = _codes(aip.verify_bag_dir(tmp_path / "x"))
    assert {"BAG_FILE_MISSING", "BAG_MALFORMED", "BAG_SIGNATURE_INVALID"} <= codes
    assert _codes(aip.verify_bag_dir(tmp_path / "missing")) == {"BAG_MALFORMED"}


def test_verify_payload_oxum_edited(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    info = bag / "bag-info.txt"
    text = info.read_text()
    total = sum(len(d) for d in PAYLOAD.values())
    info.write_text(text.replace(f"Payload-Oxum: {total}.", f"Payload-Oxum: {total + 1}."))
    codes = _codes(aip.verify_bag_dir(bag))
    assert codes == {"BAG_OXUM_MISMATCH", "BAG_DIGEST_MISMATCH"}


@pytest.mark.parametrize(
    "text",
    [
        b"nodigest\n",
        b"abc\n",
        b"zz  data/x\n",
        b"aa  data/x\naa  data/x\n",
        b"aa  /etc/passwd\n",
        b"\xff\xfe\n",
    ],
)
def test_parse_manifest_malformed(text):
    with pytest.raises(PackageError) as info:
        aip.parse_manifest(text)
    assert info.value.code == "BAG_MALFORMED"


def test_parse_manifest_tolerates_line_ends_and_tabs():
    assert aip.parse_manifest(b"AA\tdata/a b.txt\r\nbb  data/c\r\n\n") == {
        "data/a b.txt": "aa",
        "data/c": "bb",
    }


def test_copy_of_bag_still_verifies(tmp_path, signer):
    bag = _bag(tmp_path, signer)
    copy = Path(shutil.copytree(bag, tmp_path / "copy"))
    assert aip.verify_bag_dir(copy, trusted_cert_der=signer.certificate_der) == []
