"""EEP export and verification end to end: a record made through the pipeline (ingest → confirm) is
exported with ``dangan export-eep`` and checked with ``dangan verify-eep`` (click command objects)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from dangan.accounts.roles import Actor, PermissionDenied, Role
from dangan.archive import eep as service
from dangan.archive.models import Record
from dangan.archive.services import instance_key
from dangan.audit.models import AuditEvent
from dangan.cli import main
from dangan.commands.eep import export_eep, verify_eep
from dangan.core import sm
from dangan.core.package.eep import names as n
from dangan.storage.blobstore import default_store
from tests.factories import write_case
from tests.independent import bagit_validate, gmssl_verify_bag_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived(tmp_path, test_catalogue) -> str:
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(write_case(tmp_path / "in"))]).exit_code == 0
    res = runner.invoke(main, ["archive", "confirm", "--all-pending", "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.splitlines()[0])["archival_code"]


@pytest.fixture
def exported(tmp_path, archived) -> Path:
    out = tmp_path / "record.eep.xml"
    res = CliRunner().invoke(export_eep, [archived, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    return out


def _verify(*args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(verify_eep, [*args, "--json"])
    return res.exit_code, (json.loads(res.stdout) if res.stdout.strip().startswith("{") else {})


def _codes(doc: dict) -> list[str]:
    return [p["code"] for p in doc["problems"]]


def _parse(path: Path) -> etree._Element:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()


# --- round trip --------------------------------------------------------------------------------------------


def test_export_then_verify(tmp_path, archived):
    out = tmp_path / "r.xml"
    res = CliRunner().invoke(export_eep, [archived, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    record = Record.objects.get(archival_code=archived)
    aip = record.aips.get()
    assert doc["written"] and doc["files"] == aip.files.count()
    assert doc["bytes"] == sum(f.size for f in aip.files.all())

    status, report = _verify(str(out))
    assert status == 0 and report["status"] == "valid", report["problems"]
    assert report["trust"] == "embedded"
    facts = report["facts"]
    assert facts["dg:档号"] == archived and facts["电子文件号"] == record.file_number
    assert facts["题名"] == record.title and facts["全宗号"] == "T001" and facts["保管期限"] == "定期30年"
    assert facts["机构或问题"] == "SP" and facts["室编件号"] == archived[-4:]
    assert facts["dg:标签清单摘要"] == aip.tagmanifest_sm3 and facts["creator"] == record.fonds.name

    status, report = _verify(str(out), "--instance")
    assert status == 0 and report["trust"] == "trusted"

    event = AuditEvent.objects.get(kind="eep.exported")
    assert event.object_id == str(record.pk) and event.detail["archival_code"] == archived
    assert event.detail["signed_digest"] == doc["signed_digest"] and event.detail["files"] == doc["files"]

    human = CliRunner().invoke(verify_eep, [str(out)])
    assert human.exit_code == 0 and "valid" in human.stdout and archived in human.stdout


def test_business_and_agent_entities(exported):
    root = _parse(exported)
    content = root.find(f"{n.q(n.E.SIGNED)}/{n.q(n.E.CONTENT)}")
    actions = [a.findtext(n.q("业务行为")) for a in content.iter(n.q(n.E.BUSINESS))]
    assert actions == ["受理", "办结", "归档"]
    agents = {
        a.findtext(n.q("机构人员名称")): a.findtext(n.q("机构人员类型")) for a in content.iter(n.q(n.E.AGENT))
    }
    assert agents["示范市行政审批服务局"] == "机构" and agents["李四"] == "个人"


def test_the_eep_carries_the_signed_aip(tmp_path, exported):
    """Every file of the AIP is embedded byte for byte: the bag rebuilt from the EEP validates with
    bagit-python and its SM2 signature verifies with gmssl."""
    bag = tmp_path / "bag"
    for encoding in _parse(exported).iter(n.q(n.E.ENCODING)):
        name = encoding.findtext(f"{n.q(n.E.PROPERTIES)}/{n.q(n.E.FILENAME)}")
        target = bag / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(encoding.findtext(n.q(n.E.ENCODED_DATA))))
    bagit_validate(bag)
    assert gmssl_verify_bag_signature(bag)


def test_signature_is_an_ordinary_sm2_signature_of_the_canonical_form(exported):
    """gmssl (pure Python) verifies the EEP's signature over libxml2's exclusive C14N of 被签名对象."""
    from gmssl import sm2 as gm_sm2

    root = _parse(exported)
    signed = etree.tostring(root.find(n.q(n.E.SIGNED)), method="c14n", exclusive=True, with_comments=False)
    sig_el = root.find(f"{n.q(n.E.SIGNATURE_BLOCK)}/{n.q(n.E.SIGNATURE)}")
    signature = base64.b64decode(sig_el.findtext(n.q(n.E.SIG_VALUE)))
    cert = base64.b64decode(sig_el.findtext(f"{n.q(n.E.CERT_BLOCK)}/{n.q(n.E.CERT)}"))
    assert cert == instance_key().certificate_der
    assert sm.verify(instance_key().public_key, signed, signature)
    from asn1crypto import algos, x509

    point = x509.Certificate.load(cert).public_key["public_key"].native
    crypt = gm_sm2.CryptSM2(private_key=None, public_key="00" * 64)
    crypt.public_key = point[1:].hex()
    parsed = algos.DSASignature.load(signature)
    assert crypt.verify_with_sm3(f"{parsed['r'].native:064x}{parsed['s'].native:064x}", signed)


# --- verification failures through the command ----------------------------------------------------------


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] = ord("A") if out[at] != ord("A") else ord("B")
    return bytes(out)


def _inside(data: bytes, name: str, offset: int) -> int:
    return data.index(f"<{name}>".encode()) + len(f"<{name}>".encode()) + offset


CASES = {
    "base64": (lambda d: _flip(d, _inside(d, n.E.ENCODED_DATA, 30)), 1, "FILE_DIGEST_MISMATCH"),
    "metadata": (
        lambda d: d.replace("<全宗号>T001".encode(), "<全宗号>T002".encode()),
        1,
        "SIGNATURE_INVALID",
    ),
    "signature": (lambda d: _flip(d, _inside(d, n.E.SIG_VALUE, 20)), 1, "SIGNATURE_INVALID"),
    "certificate": (lambda d: _flip(d, _inside(d, n.E.CERT, 300)), 1, "CERTIFICATE_INVALID"),
    "truncated": (lambda d: d[: len(d) // 2], 1, "EEP_TRUNCATED"),
    "not-eep": (lambda d: b'<?xml version="1.0"?><case><a/></case>', 2, "NOT_EEP"),
    "xxe": (
        lambda d: d.replace(b"?>\n", b'?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n', 1),
        2,
        "XML_UNSAFE",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verify_failures_exit_codes_and_reasons(tmp_path, exported, case):
    change, status, code = CASES[case]
    path = tmp_path / f"{case}.xml"
    path.write_bytes(change(exported.read_bytes()))
    got, report = _verify(str(path))
    assert got == status and _codes(report)[0] == code, report
    human = CliRunner().invoke(verify_eep, [str(path)])
    assert human.exit_code == status and code in human.stdout and "Traceback" not in human.output


def test_verify_with_another_trusted_certificate_fails(tmp_path, exported):
    other = sm.make_self_signed_certificate(sm.generate_private_key(), common_name="x", organization="y")
    cert = tmp_path / "other.pem"
    cert.write_bytes(sm.certificate_pem(other))
    status, report = _verify(str(exported), "--cert", str(cert))
    assert status == 1 and _codes(report) == ["SIGNER_UNTRUSTED"] and report["trust"] == "untrusted"
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    assert CliRunner().invoke(verify_eep, [str(exported), "--cert", str(junk)]).exit_code == 2


def test_verify_missing_file_exits_2(tmp_path):
    status, report = _verify(str(tmp_path / "missing.xml"))
    assert status == 2 and _codes(report) == ["UNREADABLE"]


# --- export refusals ---------------------------------------------------------------------------------------


def test_export_refusals(tmp_path, archived):
    runner = CliRunner()
    res = runner.invoke(export_eep, ["NOPE", "--out", str(tmp_path / "x.xml")])
    assert res.exit_code == 1 and "RECORD_NOT_FOUND" in res.output
    existing = tmp_path / "exists.xml"
    existing.write_bytes(b"keep")
    assert runner.invoke(export_eep, [archived, "--out", str(existing)]).exit_code == 2
    assert existing.read_bytes() == b"keep"
    assert runner.invoke(export_eep, [archived, "--out", str(tmp_path / "no" / "x.xml")]).exit_code == 2
    assert not AuditEvent.objects.filter(kind="eep.exported").exists()


def test_export_needs_the_download_permission(tmp_path, archived):
    clerk = Actor(name="clerk", roles=frozenset({Role.SERVICE_CLERK}))
    with pytest.raises(PermissionDenied):
        service.export_eep(clerk, archived, tmp_path / "x.xml")
    assert not (tmp_path / "x.xml").exists()
    from dangan.accounts.services import create_user

    create_user("clerk1", [Role.SERVICE_CLERK])
    res = CliRunner().invoke(export_eep, [archived, "--out", str(tmp_path / "y.xml"), "--as", "clerk1"])
    assert res.exit_code == 1 and "PERMISSION_DENIED" in res.output
    assert not AuditEvent.objects.filter(kind="eep.exported").exists()


def test_export_refuses_a_rotted_blob_and_leaves_nothing(tmp_path, archived):
    record = Record.objects.get(archival_code=archived)
    blob = default_store().path(record.files.exclude(path__endswith=".xml").first().sm3)
    blob.chmod(0o644)
    blob.write_bytes(b"rot")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = CliRunner().invoke(export_eep, [archived, "--out", str(out_dir / "x.xml"), "--json"])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["error"]["code"] == "EEP_SOURCE_MISMATCH"
    assert list(out_dir.iterdir()) == []  # no package, no partial file


def test_exported_file_starts_like_an_eep(exported):
    text = exported.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<电子文件封装包')
    assert re.search(r"<被签名对象 xmlns=\"[^\"]+\" eep版本=\"2009\">", text)
