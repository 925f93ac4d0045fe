"""SES seal and signature parsing (GM/T 0031-2014 and GB/T 38540-2020), checked against the real
fixtures, an independent SM2 implementation (gmssl) and seals made here with fresh keys."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import algos
from gmssl import sm2 as gm_sm2

from dangan.core import sm
from dangan.core.ofd import ses
from dangan.core.ofd.container import OfdContainer

from .builders import Party, build_seal, build_ses_signature


def gmssl_verify(cert_der: bytes, data: bytes, signature: bytes) -> bool:
    """Independent SM2-with-SM3 verification (pure-Python gmssl, default user ID)."""
    cert = ses.x509.Certificate.load(cert_der)
    point = cert["tbs_certificate"]["subject_public_key_info"]["public_key"].native
    parsed = algos.DSASignature.load(ses.signature_der(signature))
    crypt = gm_sm2.CryptSM2(private_key=None, public_key="00" * 64)
    crypt.public_key = point[1:].hex()
    return bool(crypt.verify_with_sm3(f"{parsed['r'].native:064x}{parsed['s'].native:064x}", data))


def test_user_v1_seal_layout(fixture):
    seal = ses.parse_seal(fixture("UserV1.esl").read_bytes())
    assert seal.layout == "v1" and seal.version == 1 and seal.format == "GM/T 0031-2014 v1"
    assert seal.header_id == "ES" and seal.vid == "OFDR&WTest"
    assert seal.es_id == "40C8CDD24DEF43388B86E62CCE1D6832"
    assert seal.name == "OFDRW测试用印章" and seal.seal_type == 1
    assert seal.cert_list_type == 1 and len(seal.cert_list) == 1
    assert seal.valid_start == dt.datetime(2020, 4, 22, 2, 18, 7, tzinfo=dt.UTC)
    assert seal.valid_end == dt.datetime(2022, 4, 22, 2, 18, 7, tzinfo=dt.UTC)
    assert (seal.picture_type, seal.picture_width, seal.picture_height) == ("PNG", 40, 40)
    # GM/T 0031-2014: the maker signed SEQUENCE{esealInfo, cert, signatureAlgorithm}, not SES_SealInfo alone
    (label, tbs), (_, info) = seal.signed_candidates
    assert label == "SEQUENCE{esealInfo, cert, signatureAlgorithm}"
    assert ses.verify_sm2(seal.maker_cert, tbs, seal.signature) == (True, "")
    assert not ses.verify_sm2(seal.maker_cert, info, seal.signature)[0]
    assert gmssl_verify(seal.maker_cert, tbs, seal.signature)


def test_user_v4_seal_layout(fixture):
    seal = ses.parse_seal(fixture("UserV4.esl").read_bytes())
    assert seal.layout == "v4" and seal.version == 4 and seal.format == "GB/T 38540-2020 v4"
    assert seal.es_id == "51f044b76510434e9bc67a1185c2fba5" and seal.name == "OFD R&W 测试用印章"
    assert seal.seal_type == 3 and seal.cert_list_type == 1
    # GB/T 38540: the maker signed DER(SES_SealInfo)
    label, info = seal.signed_candidates[0]
    assert label == "SES_SealInfo"
    assert ses.verify_sm2(seal.maker_cert, info, seal.signature)[0]
    assert gmssl_verify(seal.maker_cert, info, seal.signature)


def test_signed_value_v4_fixture(fixture):
    """SignedValueV4.dat is a valid v4 SES_Signature whose dataHash is all zeros: it does not match
    the Signature.xml that comes with it (a sample, not a real signature of that file)."""
    parsed = ses.parse_ses_signature(fixture("SignedValueV4.dat").read_bytes())
    assert parsed.layout == "v4" and parsed.format == "GB/T 38540-2020 v4"
    assert parsed.signing_time == dt.datetime(2020, 10, 12, 11, 14, 3, tzinfo=dt.UTC)
    assert parsed.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert parsed.seal.es_id == "51f044b76510434e9bc67a1185c2fba5"
    assert ses.verify_sm2(parsed.signer_cert, parsed.tbs_der, parsed.signature)[0]
    assert gmssl_verify(parsed.signer_cert, parsed.tbs_der, parsed.signature)
    assert ses.cert_in_list(parsed.seal, parsed.signer_cert)[0]
    assert parsed.data_hash == bytes(32)
    assert parsed.data_hash != sm.sm3(fixture("Signature.xml").read_bytes()).digest()
    # the signer certificate is the one UserV4.esl lists
    assert parsed.signer_cert == ses.parse_seal(fixture("UserV4.esl").read_bytes()).cert_list[0]


def test_v4signed_cross_checked_with_gmssl(fixture):
    with OfdContainer(fixture("v4signed.ofd")) as c:
        value = c.read("Doc_0/Signs/Sign_0/SignedValue.dat")
        sx = c.read("Doc_0/Signs/Sign_0/Signature.xml")
    parsed = ses.parse_ses_signature(value)
    assert gmssl_verify(parsed.signer_cert, parsed.tbs_der, parsed.signature)
    assert gmssl_verify(parsed.seal.maker_cert, parsed.seal.signed_candidates[0][1], parsed.seal.signature)
    assert parsed.data_hash == sm.sm3(sx).digest()
    # and gmssl agrees that a changed TBS does not verify
    assert not gmssl_verify(parsed.signer_cert, parsed.tbs_der + b"\x00", parsed.signature)


def test_keyword_raw_signature_and_signed_data(fixture):
    with OfdContainer(fixture("keyword.ofd")) as c:
        seal_sig = ses.parse_ses_signature(c.read("Doc_0/Signs/Sign_1/SignedValue.dat"))
        signed = ses.parse_signed_data(c.read("Doc_0/Signs/Sign_3/SignedValue.dat"))
        sx3 = c.read("Doc_0/Signs/Sign_3/Signature.xml")
    # the signer's signature BIT STRING holds 64 raw bytes r‖s, not DER
    assert len(seal_sig.signature) == 64
    assert ses.verify_sm2(seal_sig.signer_cert, seal_sig.tbs_der, seal_sig.signature)[0]
    assert gmssl_verify(seal_sig.signer_cert, seal_sig.tbs_der, seal_sig.signature)
    # GB/T 35275 SignedData over SM3(Signature.xml), no signed attributes, raw r‖s signature
    assert signed.outer_type == ses.GM_SIGNED_DATA_OID and signed.signed_attrs_der is None
    assert signed.content == sm.sm3(sx3).digest()
    assert signed.signer_cert is not None
    assert ses.verify_sm2(signed.signer_cert, signed.content, signed.signature)[0]
    facts = ses.cert_facts(signed.signer_cert)  # a name asn1crypto cannot fully parse (x500UniqueIdentifier)
    assert facts.subject_cn == "37030000001721"


def test_digital_sign_is_a_bare_signature_over_signature_xml(fixture):
    with OfdContainer(fixture("DigitalSign.ofd")) as c:
        value = c.read("Doc_0/Signs/Sign_0/SignedValue.dat")
        sx = c.read("Doc_0/Signs/Sign_0/Signature.xml")
    assert ses.is_raw_signature(value) and not ses.is_signed_data(value)
    cert = ses.parse_seal(fixture("UserV4.esl").read_bytes()).cert_list[0]
    assert ses.verify_sm2(cert, sx, value)[0]
    assert gmssl_verify(cert, sx, value)
    # the sign_cert.pem of the samples is another key
    other = sm.certificate_der_from_pem(fixture("sign_cert.pem").read_bytes())
    assert not ses.verify_sm2(other, sx, value)[0]


def test_signature_der_conversion():
    party = Party("t")
    der = party.sign(b"m")
    parsed = algos.DSASignature.load(der)
    raw = parsed["r"].native.to_bytes(32, "big") + parsed["s"].native.to_bytes(32, "big")
    assert ses.signature_der(raw) == der
    assert ses.signature_der(der) == der
    assert ses.verify_sm2(party.cert, b"m", raw)[0]


@pytest.mark.parametrize("layout", ["v1", "v4"])
def test_made_here_round_trip(layout):
    maker, signer = Party("maker"), Party("signer")
    seal = build_seal(maker, [signer.cert], layout=layout)
    parsed_seal = ses.parse_seal(seal)
    assert parsed_seal.layout == layout
    assert ses.verify_sm2(maker.cert, parsed_seal.signed_candidates[0][1], parsed_seal.signature)[0]
    value = build_ses_signature(signer, seal, b"<Signature/>", layout=layout)
    parsed = ses.parse_ses_signature(value)
    assert parsed.layout == layout
    assert parsed.format == ("GM/T 0031-2014 v1" if layout == "v1" else "GB/T 38540-2020 v4")
    assert ses.verify_sm2(signer.cert, parsed.tbs_der, parsed.signature)[0]
    assert gmssl_verify(signer.cert, parsed.tbs_der, parsed.signature)
    assert parsed.signing_time is not None
    assert parsed.data_hash == sm.sm3(b"<Signature/>").digest()


def test_cert_digest_list():
    maker, signer, other = Party("maker"), Party("signer"), Party("other")
    seal = ses.parse_seal(build_seal(maker, [signer.cert], cert_list_type=2))
    assert seal.cert_list_type == 2
    assert ses.cert_in_list(seal, signer.cert)[0]
    assert not ses.cert_in_list(seal, other.cert)[0]


def test_garbage_is_a_ses_error():
    for data in (b"", b"\x30\x03\x02\x01\x04", b"not der", b"\x30\x00"):
        with pytest.raises(ses.SesError):
            ses.parse_ses_signature(data)
        with pytest.raises(ses.SesError):
            ses.parse_seal(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20201010151120", dt.datetime(2020, 10, 10, 7, 11, 20, tzinfo=dt.UTC)),
        ("2020-04-22 16:22:44", dt.datetime(2020, 4, 22, 8, 22, 44, tzinfo=dt.UTC)),
        ("20201004072855.302Z", dt.datetime(2020, 10, 4, 7, 28, 55, 302000, tzinfo=dt.UTC)),
        ("20200620091849Z", dt.datetime(2020, 6, 20, 9, 18, 49, tzinfo=dt.UTC)),
        ("2024-01-01T00:00:00", dt.datetime(2023, 12, 31, 16, 0, tzinfo=dt.UTC)),
        ("2024-01-01T00:00:00+00:00", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("200620091849Z", dt.datetime(2020, 6, 20, 9, 18, 49, tzinfo=dt.UTC)),
        ("yesterday", None),
    ],
)
def test_time_texts(text, expected):
    assert ses.parse_time_text(text) == expected


# --- hostile nesting ------------------------------------------------------------------------------------


def _nested(levels: int, inner: bytes = b"\x05\x00") -> bytes:
    for _ in range(levels):
        inner = ses._seq(inner)
    return inner


def _deep_ses_signature(levels: int = 50_000) -> bytes:
    """The reviewer's SignedValue.dat: a v4 SES_Signature whose eseal slot is deeply nested SEQUENCEs."""
    tbs = ses._seq(
        b"\x02\x01\x04" + _nested(levels) + b"\x18\x0f20240101000000Z" + b"\x03\x02\x00\x00" + b"\x16\x00"
    )
    return ses._seq(tbs + b"\x04\x00" + b"\x06\x01\x00" + b"\x03\x01\x00")


def test_deeply_nested_ses_signature_is_a_ses_error_not_a_recursion_error():
    with pytest.raises(ses.SesError) as err:
        ses.parse_ses_signature(_deep_ses_signature())
    assert "nested more than 48 levels" in err.value.message


@pytest.mark.parametrize("parse", [ses.parse_seal, ses.parse_signed_data, ses.cert_facts])
def test_every_parser_bounds_nesting(parse):
    with pytest.raises(ses.SesError):
        parse(_nested(10_000))


def test_verify_sm2_with_a_nested_certificate_is_false():
    ok, why = ses.verify_sm2(_nested(10_000), b"data", b"\x00" * 64)
    assert not ok and "nested" in why


def test_check_der_depth(fixture):
    for name in ("SignedValueV4.dat", "UserV4.esl", "UserV1.esl"):
        ses.check_der_depth(fixture(name).read_bytes(), name)
    ses.check_der_depth(_nested(48), "x")
    with pytest.raises(ses.SesError):
        ses.check_der_depth(_nested(49), "x")
    ses.check_der_depth(_nested(3) + b"trailing bytes are ignored", "x")
    # BER indefinite lengths are followed too
    ses.check_der_depth(b"\x30\x80\x30\x80\x05\x00\x00\x00\x00\x00", "x")
    with pytest.raises(ses.SesError):
        ses.check_der_depth(b"\x30\x80" * 60 + b"\x00\x00" * 60, "x")
    for bad in (b"", b"\x30", b"\x30\x05\x05\x00", b"\x30\x84\xff\xff\xff\xff", b"\x04\x80\x00\x00"):
        with pytest.raises(ses.SesError):
            ses.check_der_depth(bad, "x")


def test_recursion_error_is_a_parse_error():
    assert RecursionError in ses._PARSE_ERRORS
