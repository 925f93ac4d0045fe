"""``dangan ofd-verify`` (the click command object; registration in dangan.cli is separate)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from dangan.commands.ofd_verify import ofd_verify
from dangan.core import sm
from dangan.core.ofd import ses

from .builders import Party


@pytest.fixture(autouse=True)
def _no_trust_store_from_the_shell(monkeypatch):
    monkeypatch.delenv("DANGAN_OFD_TRUST", raising=False)


def run(*args: str):
    return CliRunner().invoke(ofd_verify, list(args), catch_exceptions=False)


def test_intact_file_without_trust_store_exits_0(fixture):
    result = run(str(fixture("v4signed.ofd")))
    assert result.exit_code == 0, result.output
    assert "✓ intact, maker/signer not verified against a trusted list" in result.output
    assert "no trusted seal-maker certificates configured (DANGAN_OFD_TRUST)" in result.output
    assert "测试全国统一发票监制章国家税务总局重庆市税务局" in result.output
    assert "✗" not in result.output


def _maker_pem(tmp_path, fixture) -> Path:
    value = zipfile.ZipFile(fixture("v4signed.ofd")).read("Doc_0/Signs/Sign_0/SignedValue.dat")
    pem = tmp_path / "maker.pem"
    pem.write_bytes(sm.certificate_pem(ses.parse_ses_signature(value).seal.maker_cert))
    return pem


def test_trusted_maker_from_option_and_environment(tmp_path, fixture, monkeypatch):
    pem = _maker_pem(tmp_path, fixture)
    result = run("--trust", str(pem), str(fixture("v4signed.ofd")))
    assert result.exit_code == 0 and "✓ valid, trusted / 有效（可信）" in result.output
    monkeypatch.setenv("DANGAN_OFD_TRUST", str(pem))
    result = run("--json", str(fixture("v4signed.ofd")))
    (file,) = json.loads(result.output)["files"]
    assert file["trusted"] is True and file["signatures"][0]["status"] == "valid"


def test_untrusted_maker_exits_1(tmp_path, fixture):
    store = tmp_path / "store"
    store.mkdir()
    (store / "other.pem").write_bytes(sm.certificate_pem(Party("other CA").cert))
    result = run("--trust", str(store), str(fixture("v4signed.ofd")))
    assert result.exit_code == 1
    assert "✗ intact but maker/signer not trusted" in result.output
    doc = json.loads(run("--json", "--trust", str(store), str(fixture("v4signed.ofd"))).output)
    (sig,) = doc["files"][0]["signatures"]
    assert sig["valid"] is True and sig["trusted"] is False and sig["status"] == "untrusted"
    assert [f["step"] for f in sig["failed"]] == ["trust"]


def test_bad_trust_store_is_a_usage_error(tmp_path, fixture):
    result = CliRunner().invoke(ofd_verify, ["--trust", str(tmp_path / "none"), str(fixture("v4signed.ofd"))])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_deeply_nested_signed_value_exits_1_without_traceback(tmp_path):
    from .builders import NS, ofd_files, signature_xml, write_zip
    from .test_ses import _deep_ses_signature

    files = ofd_files(body_extra="<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>")
    files["Doc_0/Signs/Signatures.xml"] = (
        f'<ofd:Signatures xmlns:ofd="{NS}"><ofd:Signature ID="1" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>'
    ).encode()
    files["Doc_0/Signs/Sign_0/Signature.xml"] = signature_xml(files, ["OFD.xml"])
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = _deep_ses_signature()
    result = run(str(write_zip(tmp_path / "deep.ofd", files)))
    assert result.exit_code == 1 and "nested more than 48 levels" in result.output


def test_invalid_file_exits_1_and_names_the_files(fixture):
    result = run(str(fixture("keyword.ofd")))
    assert result.exit_code == 1
    assert result.output.count("✗ invalid / 无效") == 2
    assert "/Doc_0/Pages/Page_0/Content.xml" in result.output


def test_unsigned_file_exits_0(fixture):
    result = run(str(fixture("helloworld.ofd")))
    assert result.exit_code == 0
    assert "unsigned / 未签名" in result.output


def test_json(fixture):
    result = run(
        "--json", str(fixture("keyword.ofd")), str(fixture("helloworld.ofd")), str(fixture("v4signed.ofd"))
    )
    assert result.exit_code == 1
    doc = json.loads(result.output)
    keyword, hello, v4 = doc["files"]
    assert keyword["signed"] and [s["valid"] for s in keyword["signatures"]] == [False, False]
    failed = keyword["signatures"][0]["failed"]
    assert [f["step"] for f in failed] == ["references", "coverage"] and "/OFD.xml" in failed[0]["reason"]
    for key in ("id", "type", "valid", "signer", "seal_name", "time", "steps"):
        assert key in keyword["signatures"][0]
    assert hello == {
        "path": str(fixture("helloworld.ofd")),
        "signed": False,
        "valid": False,
        "trusted": None,
        "signatures": [],
        "error": None,
        "error_code": None,
    }
    assert v4["valid"] and v4["signatures"][0]["seal_id"] == "50011200000399"


def test_missing_and_unreadable_exit_2(tmp_path, fixture):
    junk = tmp_path / "junk.ofd"
    junk.write_bytes(b"junk")
    result = run("--json", str(tmp_path / "missing.ofd"), str(junk), str(fixture("keyword.ofd")))
    assert result.exit_code == 2
    missing, bad, keyword = json.loads(result.output)["files"]
    assert missing["error_code"] == "OFD_NOT_FOUND" and bad["error_code"] == "OFD_UNREADABLE"
    assert not missing["signed"] and keyword["signed"]
    human = run(str(junk))
    assert human.exit_code == 2 and "not a readable OFD" in human.output


def test_bare_signature_needs_cert(tmp_path, fixture):
    result = run(str(fixture("DigitalSign.ofd")))
    assert result.exit_code == 0
    assert "unverifiable / 无法验证" in result.output
    cert = ses.parse_seal(fixture("UserV4.esl").read_bytes()).cert_list[0]
    pem = tmp_path / "signer.pem"
    pem.write_bytes(sm.certificate_pem(cert))
    result = run("--json", "--cert", str(pem), str(fixture("DigitalSign.ofd")))
    assert result.exit_code == 0
    (sig,) = json.loads(result.output)["files"][0]["signatures"]
    assert sig["valid"] and sig["status"] == "intact" and sig["signer"] == "Test Certificate"
    result = run("--json", "--cert", str(pem), "--trust", str(pem), str(fixture("DigitalSign.ofd")))
    (sig,) = json.loads(result.output)["files"][0]["signatures"]
    assert sig["status"] == "valid" and sig["trusted"] is True


def test_bad_cert_option_is_a_usage_error(tmp_path, fixture):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = CliRunner().invoke(ofd_verify, ["--cert", str(junk), str(fixture("DigitalSign.ofd"))])
    assert result.exit_code == 2 and "--cert" in result.output
