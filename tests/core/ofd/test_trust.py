"""The trust step: a seal's maker (or a plain signature's signer) must be a trusted certificate or be
issued by one; and the trust store the archive configures with DANGAN_OFD_TRUST."""

from __future__ import annotations

import pytest

from dangan.core import sm
from dangan.core.ofd import (
    TrustStore,
    TrustStoreError,
    load_trust_store,
    ses,
    verify_document,
    verify_signatures,
)
from dangan.core.ofd.signatures import NO_TRUSTED_MAKERS, STEP_ORDER
from dangan.core.ofd.trust import issued_by, match_trusted

from .builders import Authority, Party, build_seal, issue_certificate, member, signed_ofd

TRUSTED = dict.fromkeys(STEP_ORDER, "pass")
V4_SV = "Doc_0/Signs/Sign_0/SignedValue.dat"


def outcomes(verdict):
    return {s.name: s.outcome for s in verdict.steps}


def maker_of(path) -> bytes:
    """The seal maker certificate inside an OFD's first seal signature."""
    return ses.parse_ses_signature(member(path, V4_SV)).seal.maker_cert


@pytest.fixture(scope="module")
def platform():
    """A provincial e-seal platform: a CA and the maker certificate it issued."""
    ca = Authority("省电子印章平台 CA", ca=True)
    maker = Authority("省电子印章平台制章", issuer=ca)
    return ca, maker


# --- the reviewer's case: a seal made entirely by an attacker ------------------------------------------


def test_self_made_seal_is_intact_but_not_trusted(tmp_path, platform):
    ca, _maker = platform
    signer, fake_maker = Party("张三 (attacker)"), Party("Fake 制章机构")
    path = signed_ofd(tmp_path / "self.ofd", signer=signer, maker=fake_maker)

    (unchecked,) = verify_signatures(path)
    assert unchecked.valid and unchecked.trusted is None and unchecked.status == "intact"
    assert unchecked.step("trust").outcome == "not_run"
    assert unchecked.step("trust").reason == NO_TRUSTED_MAKERS

    report = verify_document(path, trusted_makers=[ca.cert])
    (v,) = report.signatures
    assert v.valid and v.trusted is False and v.status == "untrusted"
    assert outcomes(v) == {**TRUSTED, "trust": "fail"}
    assert "CN=Fake 制章机构" in v.step("trust").reason
    assert "neither one of the 1 trusted certificates nor issued by one" in v.step("trust").reason
    assert report.valid and report.trusted is False and report.any_untrusted and not report.any_invalid
    assert report.as_dict()["trusted"] is False


def test_maker_equal_to_a_trusted_certificate(tmp_path):
    signer, maker = Party("s"), Party("m")
    path = signed_ofd(tmp_path / "s.ofd", signer=signer, maker=maker)
    report = verify_document(path, trusted_makers=[sm.certificate_pem(maker.cert)])  # PEM accepted
    (v,) = report.signatures
    assert outcomes(v) == TRUSTED
    assert (v.valid, v.trusted, v.status) == (True, True, "valid")
    assert "DER equal" in v.step("trust").reason
    assert report.trusted is True


def test_maker_issued_by_a_trusted_ca(tmp_path, platform):
    ca, maker = platform
    path = signed_ofd(tmp_path / "s.ofd", signer=Party("s"), maker=maker)
    (v,) = verify_signatures(path, trusted_makers=[ca.cert])
    assert v.status == "valid" and v.trusted is True
    assert "issued by the trusted certificate CN=省电子印章平台 CA" in v.step("trust").reason


def test_maker_issued_through_an_intermediate(platform):
    ca, _ = platform
    sub = Authority("市级 CA", issuer=ca, ca=True)
    maker = Authority("市级制章", issuer=sub)
    assert match_trusted(maker.cert, [ca.cert])[0] is False  # the link is missing
    ok, how = match_trusted(maker.cert, [ca.cert], [sub.cert])
    assert ok and "through CN=市级 CA" in how


def test_an_issuer_name_alone_is_not_enough(tmp_path, platform):
    """A maker certificate that names the trusted CA as its issuer but is signed by another key."""
    ca, _ = platform
    impostor = Party("impostor")
    forged = Party.__new__(Party)
    forged.key = sm.generate_private_key()
    forged.cert = issue_certificate(
        forged.key, "forged maker", issuer=impostor, issuer_name="省电子印章平台 CA"
    )
    ok, why = issued_by(forged.cert, ca.cert)
    assert not ok and "does not verify" in why
    path = signed_ofd(tmp_path / "s.ofd", signer=Party("s"), maker=forged)
    (v,) = verify_signatures(path, trusted_makers=[ca.cert])
    assert v.valid and v.status == "untrusted"
    assert "does not verify" in v.step("trust").reason


def test_same_name_different_key_does_not_chain(platform):
    ca, _ = platform
    rogue_ca = Authority("省电子印章平台 CA", ca=True)  # same DN as the trusted CA, another key
    maker = Authority("rogue maker", issuer=rogue_ca)
    ok, why = match_trusted(maker.cert, [ca.cert])
    assert not ok and "does not verify" in why


def test_a_trusted_end_entity_certificate_cannot_issue(platform):
    """Trusting a maker certificate trusts that certificate, not certificates it might have signed."""
    _, maker = platform
    child = Authority("sub-maker", issuer=maker)
    ok, why = match_trusted(child.cert, [maker.cert])
    assert not ok and "not a CA certificate" in why
    ca_without_cert_sign = Authority("odd CA", ca=True, key_usage={"digital_signature"})
    ok, why = match_trusted(Authority("x", issuer=ca_without_cert_sign).cert, [ca_without_cert_sign.cert])
    assert not ok and "keyUsage" in why


def test_fixture_seal_with_its_maker_trusted(fixture, copy_fixture):
    path = fixture("v4signed.ofd")
    maker = maker_of(path)
    (v,) = verify_signatures(path, trusted_makers=[maker])
    assert v.status == "valid" and outcomes(v) == TRUSTED
    # the signer certificates do not make a seal trusted: only makers count for seals
    (v,) = verify_signatures(path, trusted_makers=[Party("other").cert], trusted_signers=[maker])
    assert v.status == "untrusted"


def test_plain_signature_signer_trust(fixture):
    user = ses.parse_seal(fixture("UserV4.esl").read_bytes()).cert_list[0]
    path = fixture("DigitalSign.ofd")
    (v,) = verify_signatures(path, certificates=[user])
    assert v.status == "intact" and "no trusted signer certificates" in v.step("trust").reason
    (v,) = verify_signatures(path, certificates=[user], trusted_signers=[user])
    assert v.status == "valid" and v.trusted is True
    (v,) = verify_signatures(path, certificates=[user], trusted_signers=[Party("o").cert])
    assert v.status == "untrusted" and v.valid
    # a supplied certificate is not trusted for being supplied; makers do not vouch for signers
    (v,) = verify_signatures(path, certificates=[user], trusted_makers=[user])
    assert v.status == "intact"


def test_keyword_signed_data_signer_untrusted_is_still_invalid(fixture):
    report = verify_document(fixture("keyword.ofd"), trusted_makers=[Party("o").cert], trusted_signers=[])
    seal, sign = report.signatures
    assert seal.status == "invalid" and seal.trusted is False  # integrity failure wins
    assert sign.step("trust").outcome == "not_run"


def test_invalid_signature_stays_invalid_when_trusted(tmp_path, copy_fixture, fixture):
    from .builders import rezip

    src = copy_fixture("v4signed.ofd")
    page = "Doc_0/Pages/Page_0/Content.xml"
    path = rezip(src, tmp_path / "t.ofd", replace={page: member(src, page) + b" "})
    (v,) = verify_signatures(path, trusted_makers=[maker_of(src)])
    assert v.status == "invalid" and not v.valid and v.trusted is True


# --- the trust store ----------------------------------------------------------------------------------


def test_load_folder_of_pem_and_der(tmp_path, platform):
    ca, maker = platform
    (tmp_path / "ca.pem").write_bytes(sm.certificate_pem(ca.cert))
    (tmp_path / "maker.cer").write_bytes(maker.cert)
    (tmp_path / "README.txt").write_text("not a certificate: skipped by name")
    (tmp_path / ".hidden.pem").write_text("skipped")
    store = load_trust_store(tmp_path)
    assert isinstance(store, TrustStore)
    assert set(store.makers) == {ca.cert, maker.cert} and store.signers == store.makers
    assert store.source == str(tmp_path)


def test_load_makers_and_signers_subfolders(tmp_path, platform):
    ca, _ = platform
    signer_ca = Authority("签名 CA", ca=True)
    (tmp_path / "makers").mkdir()
    (tmp_path / "signers").mkdir()
    (tmp_path / "makers" / "platform.pem").write_bytes(sm.certificate_pem(ca.cert))
    (tmp_path / "signers" / "ca.der").write_bytes(signer_ca.cert)
    store = load_trust_store(str(tmp_path))
    assert store.makers == (ca.cert,) and store.signers == (signer_ca.cert,)


def test_load_pem_bundle(tmp_path, platform):
    ca, maker = platform
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(sm.certificate_pem(ca.cert) + b"\n" + sm.certificate_pem(maker.cert))
    store = load_trust_store(bundle)
    assert store.makers == (ca.cert, maker.cert) == store.signers


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: p, "holds no certificate"),
        (
            lambda p: (
                (p / "junk.pem").write_bytes(
                    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                )
                and p
            ),
            "not a usable SM2 certificate",
        ),
        (
            lambda p: (p / "junk.der").write_bytes(b"\x30\x03\x02\x01\x00") and p,
            "not a usable SM2 certificate",
        ),
        (
            lambda p: (
                (p / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                and p
            ),
            "PRIVATE KEY",
        ),
    ],
)
def test_bad_trust_store_is_an_error(tmp_path, setup, message):
    target = setup(tmp_path)
    with pytest.raises(TrustStoreError) as info:
        load_trust_store(target)
    assert info.value.code == "OFD_TRUST_STORE" and message in info.value.message


def test_store_plugs_into_verify_document(tmp_path, platform):
    ca, maker = platform
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "ca.pem").write_bytes(sm.certificate_pem(ca.cert))
    store = load_trust_store(tmp_path / "store")
    path = signed_ofd(tmp_path / "s.ofd", signer=Party("s"), maker=maker)
    report = verify_document(path, trusted_makers=store.makers, trusted_signers=store.signers)
    assert report.trusted is True and report.signatures[0].status == "valid"


def test_seal_built_from_a_trusted_maker_key_only(tmp_path, platform):
    """The maker's signature over the seal must verify too: a trusted maker certificate pasted into a
    seal signed by another key fails seal_signature (invalid), trust alone does not make it valid."""
    _, maker = platform
    thief = Party("thief")
    seal = build_seal(thief, [thief.cert])
    top = ses.core.Sequence.load(seal)
    from .builders import octets, seq

    forged = seq(bytes(top[0].dump()), octets(maker.cert), bytes(top[2].dump()), bytes(top[3].dump()))
    (v,) = verify_signatures(
        signed_ofd(tmp_path / "s.ofd", signer=thief, maker=thief, seal=forged), trusted_makers=[maker.cert]
    )
    assert v.status == "invalid" and v.step("seal_signature").outcome == "fail" and v.trusted is True
