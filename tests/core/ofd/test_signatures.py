"""Signature and seal verification on the real samples, on tampered copies and on documents sealed here."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from dangan.core import sm
from dangan.core.ofd import OfdError, ses, verify_document, verify_signatures
from dangan.core.ofd.signatures import STEP_ORDER

from .builders import Party, build_seal, member, octets, rezip, seq, signed_ofd

#: Every step passes; no trust store is given, so the trust step is not run.
ALL_PASS = {**dict.fromkeys(STEP_ORDER, "pass"), "trust": "not_run"}
PLAIN_PASS = {**ALL_PASS, "cert_in_seal": "not_run", "seal_signature": "not_run"}
UNSIGNED = ["helloworld.ofd", "chineseDir.ofd", "AddAttachment.ofd", "containsJPEG.ofd", "test-ofda.ofd"]
V4_SV = "Doc_0/Signs/Sign_0/SignedValue.dat"
V4_SX = "Doc_0/Signs/Sign_0/Signature.xml"


def outcomes(verdict):
    return {s.name: s.outcome for s in verdict.steps}


def reason(verdict, step):
    return verdict.step(step).reason


def user_cert(fixture) -> bytes:
    """The "Test Certificate" that signed DigitalSign.ofd: listed in UserV4.esl (and in SignedValueV4.dat)."""
    return ses.parse_seal(fixture("UserV4.esl").read_bytes()).cert_list[0]


# --- the samples as they are ------------------------------------------------------------------------


def test_v4signed_is_valid(fixture):
    report = verify_document(fixture("v4signed.ofd"))
    assert report.signed and report.valid and report.error is None
    (v,) = report.signatures
    assert outcomes(v) == ALL_PASS
    # Type absent → "Seal"; intact, but no trust store: the maker is not checked
    assert (v.id, v.type, v.status, v.valid, v.trusted) == ("1", "Seal", "intact", True, None)
    assert reason(v, "trust") == "no trusted seal-maker certificates configured (DANGAN_OFD_TRUST)"
    assert v.uncovered == [] and "cover all 13 files" in reason(v, "coverage")
    assert len(v.references) == 13 and all(r.ok for r in v.references)
    assert reason(v, "references") == "all 13 references match (SM3)"
    assert v.format == "GB/T 38540-2020 v4"
    assert v.algorithm == "SM2-SM3 (1.2.156.10197.1.501)"
    assert v.signer == "全国统一发票监制章国家税务总局重庆市税务局"
    assert v.seal_name == "测试全国统一发票监制章国家税务总局重庆市税务局"
    assert v.seal_id == "50011200000399"
    assert v.time == "2020-10-10T07:11:20+00:00"
    assert v.provider == "gomain_eseal 2.0 BW"
    # the seal's validity ended in 2023, after signing: valid, with an informational note
    assert v.expired_now
    assert any("after signing" in n for n in v.notes)


def test_signed_file_is_valid(fixture):
    report = verify_document(fixture("signedFile.ofd"))
    (v,) = report.signatures
    assert report.valid and outcomes(v) == ALL_PASS
    assert len(v.references) == 13 and all(r.ok for r in v.references)
    assert (v.id, v.type, v.format) == ("2", "Seal", "GB/T 38540-2020 v4")
    assert v.signer == "国家税务总局江苏省税务局" and v.seal_id == "32010600000001"
    assert v.time == "2020-10-04T07:28:55+00:00"
    # producer quirk, reported not failed: the seal was created before its maker's certificate began
    assert any("createDate" in n for n in v.notes)


def test_digital_sign_is_valid_with_the_signers_certificate(fixture):
    """DigitalSign.ofd holds a bare SM2 signature over Signature.xml: it carries no certificate, so
    it verifies only with the signer's certificate supplied (the samples' "Test Certificate")."""
    report = verify_document(fixture("DigitalSign.ofd"), certificates=[user_cert(fixture)])
    (v,) = report.signatures
    assert report.valid and outcomes(v) == PLAIN_PASS
    assert (v.id, v.type, v.signer) == ("s001", "Sign", "Test Certificate")
    assert v.status == "intact" and v.trusted is None
    assert reason(v, "trust") == "no trusted signer certificates configured (DANGAN_OFD_TRUST)"
    assert len(v.references) == 4 and all(r.ok for r in v.references)
    assert v.time == "2020-04-22T08:22:44+00:00"  # "2020-04-22 16:22:44" China time
    assert v.format == "bare SM2 signature (DER SEQUENCE{r, s})"
    # the certificate expired in 2022, after signing
    assert v.expired_now


def test_digital_sign_without_certificate_is_unverifiable_not_valid(fixture):
    report = verify_document(fixture("DigitalSign.ofd"))
    (v,) = report.signatures
    assert report.signed and not report.valid and not report.any_invalid
    assert v.status == "unverifiable" and not v.valid
    assert outcomes(v)["signer_signature"] == "not_run" and outcomes(v)["references"] == "pass"
    assert "carries no certificate" in reason(v, "signer_signature")


def test_digital_sign_with_the_wrong_certificate(fixture):
    other = fixture("sign_cert.pem").read_bytes()  # PEM accepted; a different key
    (v,) = verify_signatures(fixture("DigitalSign.ofd"), certificates=[other])
    assert v.status == "invalid" and outcomes(v)["signer_signature"] == "fail"


def test_keyword_both_signatures_invalid_content_modified(fixture):
    report = verify_document(fixture("keyword.ofd"))
    assert report.signed and not report.valid and report.any_invalid
    seal, sign = report.signatures
    assert (seal.id, seal.type, sign.id, sign.type) == ("2", "Seal", "4", "Sign")
    # changed after signing; the files added by the change (a font and two resource files) are not
    # covered either, nor, for the later signature, a file of the earlier one
    assert outcomes(seal) == {**ALL_PASS, "references": "fail", "coverage": "fail"}
    assert outcomes(sign) == {**PLAIN_PASS, "references": "fail", "coverage": "fail"}
    added = ["/Doc_0/DocumentRes.xml", "/Doc_0/PublicRes.xml", "/Doc_0/Res/Font7.ttf"]
    assert seal.uncovered == added
    assert sign.uncovered == [*added, "/Doc_0/Signs/Sign_1/signFilePaths.dat"]
    changed = ["/OFD.xml", "/Doc_0/Document.xml", "/Doc_0/Pages/Page_0/Content.xml"]
    for v in (seal, sign):
        assert not v.valid and v.status == "invalid"
        assert [r.file_ref for r in v.references if not r.ok] == changed
        text = reason(v, "references")
        assert "content modified" in text and all(name in text for name in changed)
    assert seal.format == "GB/T 38540-2020 v4" and sign.format == "GB/T 35275 SignedData"
    assert seal.seal_name == "淄博市周村区自然资源局(不动产登记专用章)" and seal.signer == "37030000001721"
    assert len(seal.references) == 7 and len(sign.references) == 9


@pytest.mark.parametrize("name", UNSIGNED)
def test_unsigned_fixtures_are_unsigned_not_valid(fixture, name):
    report = verify_document(fixture(name))
    assert report.error is None
    assert not report.signed and report.signatures == []
    assert not report.valid


def test_report_as_dict(fixture):
    import json

    out = json.loads(json.dumps(verify_document(fixture("keyword.ofd")).as_dict(), ensure_ascii=False))
    assert out["signed"] is True and out["valid"] is False
    assert [s["name"] for s in out["signatures"][0]["steps"]] == list(STEP_ORDER)


# --- tampering ---------------------------------------------------------------------------------------


def test_one_byte_changed_in_page_content(copy_fixture, tmp_path):
    src = copy_fixture("v4signed.ofd")
    content = bytearray(member(src, "Doc_0/Pages/Page_0/Content.xml"))
    content[200] ^= 0x01
    path = rezip(src, tmp_path / "t.ofd", replace={"Doc_0/Pages/Page_0/Content.xml": bytes(content)})
    (v,) = verify_signatures(path)
    assert outcomes(v) == {**ALL_PASS, "references": "fail"}
    assert [r.file_ref for r in v.references if not r.ok] == ["/Doc_0/Pages/Page_0/Content.xml"]
    assert "/Doc_0/Pages/Page_0/Content.xml" in reason(v, "references")


def test_referenced_file_removed(copy_fixture, tmp_path):
    path = rezip(copy_fixture("v4signed.ofd"), tmp_path / "t.ofd", replace={"Doc_0/Res/qr.png": None})
    (v,) = verify_signatures(path)
    assert not v.valid and outcomes(v) == {**ALL_PASS, "references": "fail"}
    assert "referenced file missing: /Doc_0/Res/qr.png" in reason(v, "references")


def _swap_seal(value: bytes, new_seal: bytes) -> bytes:
    """Re-encode a v4 SES_Signature with another eseal, keeping cert, algorithm and signature."""
    top = ses.core.Sequence.load(value)
    tbs = top[0]
    parts = [bytes(tbs[i].dump()) for i in range(len(tbs))]
    parts[1] = new_seal
    return seq(seq(*parts), *(bytes(top[i].dump()) for i in range(1, len(top))))


@pytest.mark.parametrize("esl", ["UserV4.esl", "UserV1.esl"])
def test_swapped_seal(copy_fixture, fixture, tmp_path, esl):
    src = copy_fixture("v4signed.ofd")
    value = _swap_seal(member(src, V4_SV), fixture(esl).read_bytes())
    (v,) = verify_signatures(rezip(src, tmp_path / "t.ofd", replace={V4_SV: value}))
    assert not v.valid
    steps = outcomes(v)
    assert steps["signer_signature"] == "fail"  # TBS_Sign changed
    assert steps["cert_in_seal"] == "fail"  # the invoice signer is not in the OFD R&W seal
    assert steps["seal_signature"] == "pass"  # the swapped-in seal itself is genuine
    assert steps["data_hash"] == "pass" and steps["references"] == "pass"
    assert v.seal_name in ("OFD R&W 测试用印章", "OFDRW测试用印章")


def test_signature_xml_changed(copy_fixture, tmp_path):
    src = copy_fixture("v4signed.ofd")
    sx = member(src, V4_SX).replace(b'Company="BW"', b'Company="XX"')
    (v,) = verify_signatures(rezip(src, tmp_path / "t.ofd", replace={V4_SX: sx}))
    assert outcomes(v) == {**ALL_PASS, "data_hash": "fail"}
    assert "Signature.xml was changed" in reason(v, "data_hash")


def test_signature_xml_check_value_forged(copy_fixture, tmp_path):
    """Changing a page and its CheckValue together still fails: Signature.xml is under the dataHash."""
    import base64

    src = copy_fixture("v4signed.ofd")
    page = member(src, "Doc_0/Pages/Page_0/Content.xml") + b" "
    old = base64.b64encode(sm.sm3(member(src, "Doc_0/Pages/Page_0/Content.xml")).digest())
    new = base64.b64encode(sm.sm3(page).digest())
    sx = member(src, V4_SX).replace(old, new)
    assert sx != member(src, V4_SX)
    path = rezip(src, tmp_path / "t.ofd", replace={V4_SX: sx, "Doc_0/Pages/Page_0/Content.xml": page})
    (v,) = verify_signatures(path)
    assert outcomes(v) == {**ALL_PASS, "data_hash": "fail"}


def test_flipped_byte_in_signer_signature(copy_fixture, tmp_path):
    src = copy_fixture("v4signed.ofd")
    value = bytearray(member(src, V4_SV))
    value[-5] ^= 0x01  # inside the signature BIT STRING (the last element)
    (v,) = verify_signatures(rezip(src, tmp_path / "t.ofd", replace={V4_SV: bytes(value)}))
    assert outcomes(v) == {**ALL_PASS, "signer_signature": "fail"}
    assert "does not verify" in reason(v, "signer_signature")


def test_flipped_byte_in_seal_makers_signature(fixture, tmp_path):
    seal = bytearray(fixture("UserV4.esl").read_bytes())
    seal[-3] ^= 0x01
    parsed = ses.parse_seal(bytes(seal))
    assert not ses.verify_sm2(parsed.maker_cert, parsed.signed_candidates[0][1], parsed.signature)[0]


def test_keyword_signed_data_flipped(copy_fixture, tmp_path):
    src = copy_fixture("keyword.ofd")
    name = "Doc_0/Signs/Sign_3/SignedValue.dat"
    value = bytearray(member(src, name))
    value[-3] ^= 0x01
    _, sign = verify_signatures(rezip(src, tmp_path / "t.ofd", replace={name: bytes(value)}))
    assert outcomes(sign)["signer_signature"] == "fail"


def test_digital_sign_signature_xml_changed(copy_fixture, fixture, tmp_path):
    src = copy_fixture("DigitalSign.ofd")
    name = "Doc_0/Signs/Sign_0/Signature.xml"
    sx = member(src, name).replace(b"ofdrw-sign", b"ofdrw-fake")
    (v,) = verify_signatures(
        rezip(src, tmp_path / "t.ofd", replace={name: sx}), certificates=[user_cert(fixture)]
    )
    assert v.status == "invalid" and outcomes(v)["signer_signature"] == "fail"


def test_signed_value_missing(copy_fixture, tmp_path):
    path = rezip(copy_fixture("v4signed.ofd"), tmp_path / "t.ofd", replace={V4_SV: None})
    (v,) = verify_signatures(path)
    assert not v.valid and "missing" in reason(v, "signer_signature")
    assert outcomes(v)["references"] == "pass"


def test_signature_xml_missing(copy_fixture, tmp_path):
    path = rezip(copy_fixture("v4signed.ofd"), tmp_path / "t.ofd", replace={V4_SX: None})
    report = verify_document(path)
    assert report.signed and not report.valid
    (v,) = report.signatures
    assert v.status == "invalid" and "missing" in reason(v, "signer_signature")


def test_signatures_list_removed_is_still_signed_and_invalid(copy_fixture, tmp_path):
    path = rezip(
        copy_fixture("v4signed.ofd"), tmp_path / "t.ofd", replace={"Doc_0/Signs/Signatures.xml": None}
    )
    report = verify_document(path)
    assert report.signed and report.any_invalid
    assert "Signatures.xml" in reason(report.signatures[0], "signer_signature")


def test_signed_value_garbage(copy_fixture, tmp_path):
    path = rezip(
        copy_fixture("v4signed.ofd"), tmp_path / "t.ofd", replace={V4_SV: b"\x30\x82\xff\xff garbage"}
    )
    (v,) = verify_signatures(path)
    assert v.status == "invalid" and outcomes(v)["signer_signature"] == "fail"


def test_random_byte_flips_never_crash_and_never_pass(copy_fixture, tmp_path):
    src = copy_fixture("v4signed.ofd")
    original = member(src, V4_SV)
    rng = random.Random(20240101)
    for i in range(60):
        value = bytearray(original)
        pos = rng.randrange(len(value))
        value[pos] ^= 1 << rng.randrange(8)
        path = rezip(src, tmp_path / f"f{i}.ofd", replace={V4_SV: bytes(value)})
        report = verify_document(path)
        assert report.error is None
        (v,) = report.signatures
        assert not v.valid, f"flip at {pos} still valid"


def test_unreadable_file_raises_from_verify_signatures(tmp_path):
    bad = tmp_path / "bad.ofd"
    bad.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(OfdError):
        verify_signatures(bad)


# --- documents sealed here, both layouts ------------------------------------------------------------


@pytest.mark.parametrize(("layout", "fmt"), [("v1", "GM/T 0031-2014 v1"), ("v4", "GB/T 38540-2020 v4")])
def test_sealed_here_is_valid(tmp_path, layout, fmt):
    signer, maker = Party("签章人"), Party("制章人")
    (v,) = verify_signatures(signed_ofd(tmp_path / "s.ofd", signer=signer, maker=maker, layout=layout))
    assert outcomes(v) == ALL_PASS, v.steps
    assert v.valid and v.format == fmt and v.signer == "签章人" and v.seal_name == "测试印章"
    assert not v.expired_now


def test_sealed_here_with_cert_digest_list(tmp_path):
    signer, maker = Party("s"), Party("m")
    path = signed_ofd(tmp_path / "s.ofd", signer=signer, maker=maker, cert_list_type=2)
    (v,) = verify_signatures(path)
    assert v.valid and "digest" in reason(v, "cert_in_seal")


def test_signer_not_listed_in_seal(tmp_path):
    signer, maker, other = Party("s"), Party("m"), Party("o")
    (v,) = verify_signatures(signed_ofd(tmp_path / "s.ofd", signer=signer, maker=maker, listed=[other.cert]))
    assert outcomes(v) == {**ALL_PASS, "cert_in_seal": "fail"}


def test_signed_outside_certificate_validity(tmp_path):
    signer, maker = Party("s"), Party("m")
    when = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    (v,) = verify_signatures(signed_ofd(tmp_path / "s.ofd", signer=signer, maker=maker, when=when))
    assert outcomes(v) == {**ALL_PASS, "validity": "fail"}
    assert "not yet valid at signing time" in reason(v, "validity")


def test_seal_claiming_another_maker(tmp_path):
    """A seal whose maker certificate was replaced: the maker's signature no longer verifies."""
    signer, maker, impostor = Party("s"), Party("m"), Party("i")
    top = ses.core.Sequence.load(build_seal(maker, [signer.cert]))
    forged = seq(bytes(top[0].dump()), octets(impostor.cert), bytes(top[2].dump()), bytes(top[3].dump()))
    (v,) = verify_signatures(signed_ofd(tmp_path / "s.ofd", signer=signer, maker=maker, seal=forged))
    assert outcomes(v) == {**ALL_PASS, "seal_signature": "fail"}
    assert "CN=i" in reason(v, "seal_signature")


def test_deeply_nested_signed_value_is_an_invalid_verdict(tmp_path):
    """The reviewer's ses_deep.py document: a verdict, not a RecursionError."""
    from .builders import NS, ofd_files, signature_xml, write_zip
    from .test_ses import _deep_ses_signature

    files = ofd_files(body_extra="<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>")
    files["Doc_0/Signs/Signatures.xml"] = (
        f'<ofd:Signatures xmlns:ofd="{NS}"><ofd:Signature ID="1" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>'
    ).encode()
    files["Doc_0/Signs/Sign_0/Signature.xml"] = signature_xml(files, ["OFD.xml"])
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = _deep_ses_signature()
    report = verify_document(write_zip(tmp_path / "deep.ofd", files))
    assert report.error is None
    (v,) = report.signatures
    assert v.status == "invalid" and "nested more than 48 levels" in reason(v, "signer_signature")
