"""``dangan ofd-verify`` (the click command object; registration in dangan.cli is separate)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dangan.commands.ofd_verify import ofd_verify
from dangan.core import sm
from dangan.core.ofd import ses


def run(*args: str):
    return CliRunner().invoke(ofd_verify, list(args), catch_exceptions=False)


def test_valid_file_exits_0(fixture):
    result = run(str(fixture("v4signed.ofd")))
    assert result.exit_code == 0, result.output
    assert "✓ valid / 有效" in result.output
    assert "测试全国统一发票监制章国家税务总局重庆市税务局" in result.output
    assert "✗" not in result.output


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
    assert [f["step"] for f in failed] == ["references"] and "/OFD.xml" in failed[0]["reason"]
    for key in ("id", "type", "valid", "signer", "seal_name", "time", "steps"):
        assert key in keyword["signatures"][0]
    assert hello == {
        "path": str(fixture("helloworld.ofd")),
        "signed": False,
        "valid": False,
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
    assert sig["valid"] and sig["status"] == "valid" and sig["signer"] == "Test Certificate"


def test_bad_cert_option_is_a_usage_error(tmp_path, fixture):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = CliRunner().invoke(ofd_verify, ["--cert", str(junk), str(fixture("DigitalSign.ofd"))])
    assert result.exit_code == 2 and "--cert" in result.output
