"""SM3 vectors, SM2 signatures and certificates cross-checked against pure-Python gmssl, InstanceKey."""

from __future__ import annotations

import io
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from asn1crypto import algos, x509
from gmssl import sm2 as gm_sm2

from dangan.core import sm
from dangan.core.errors import SignatureError

# --- helpers: bridge our key objects and DER signatures to gmssl's hex conventions ------------------------


def _xy_hex(public_key: object) -> str:
    numbers = public_key.public_numbers()  # type: ignore[attr-defined]
    return f"{numbers.x:064x}{numbers.y:064x}"


def _gmssl(public_key: object, private_key: object | None = None) -> gm_sm2.CryptSM2:
    d = None if private_key is None else f"{private_key.private_numbers().private_value:064x}"  # type: ignore[attr-defined]
    crypt = gm_sm2.CryptSM2(private_key=d, public_key="00" * 64)
    # gmssl strips a leading "04" with str.lstrip, which also eats leading '0'/'4' digits of x: set it directly.
    crypt.public_key = _xy_hex(public_key)
    return crypt


def _der_to_rs(signature: bytes) -> str:
    parsed = algos.DSASignature.load(signature)
    return f"{parsed['r'].native:064x}{parsed['s'].native:064x}"


def _rs_to_der(rs: str) -> bytes:
    return algos.DSASignature({"r": int(rs[:64], 16), "s": int(rs[64:], 16)}).dump()


@pytest.fixture(scope="module")
def key():
    return sm.generate_private_key()


# --- SM3 ---------------------------------------------------------------------------------------------------


def test_sm3_standard_vectors():
    assert sm.sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm.sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm3_streaming_equals_one_shot(tmp_path):
    data = os.urandom(3 * 1024 + 17)
    one_shot = sm.sm3_hex(data)
    result = sm.digest_stream(io.BytesIO(data), chunk=1000)
    assert result.sm3 == one_shot
    assert result.size == len(data)
    import hashlib

    assert result.sha256 == hashlib.sha256(data).hexdigest()
    h = sm.sm3()
    for i in range(0, len(data), 333):
        h.update(data[i : i + 333])
    assert h.hexdigest() == one_shot
    f = tmp_path / "blob"
    f.write_bytes(data)
    assert sm.sm3_file(str(f), chunk=64) == one_shot


# --- SM2 signatures ------------------------------------------------------------------------------------------


def test_our_signature_verifies_with_gmssl(key):
    message = "归档信息包 tag manifest".encode()
    signature = sm.sign(key, message)
    assert sm.verify(key.public_key(), message, signature)
    assert _gmssl(key.public_key()).verify_with_sm3(_der_to_rs(signature), message)
    assert not _gmssl(key.public_key()).verify_with_sm3(_der_to_rs(signature), message + b"!")


def test_gmssl_signature_verifies_with_ours(key):
    message = b"signed by an independent implementation"
    rs = _gmssl(key.public_key(), key).sign_with_sm3(message)
    assert sm.verify(key.public_key(), message, _rs_to_der(rs))


def test_changed_message_or_signature_fails(key):
    message = b"original"
    signature = sm.sign(key, message)
    assert not sm.verify(key.public_key(), b"originaL", signature)
    flipped = bytearray(signature)
    flipped[-1] ^= 0x01
    assert not sm.verify(key.public_key(), message, bytes(flipped))
    other = sm.generate_private_key()
    assert not sm.verify(other.public_key(), message, signature)


@pytest.mark.parametrize("bad", [b"", b"\x30\x00", b"garbage" * 10, b"\x30\x06\x02\x01\x00\x02\x01\x01"])
def test_malformed_signature_is_false_not_an_exception(key, bad):
    assert sm.verify(key.public_key(), b"x", bad) is False


# --- certificates ------------------------------------------------------------------------------------------


def test_self_signed_certificate(key):
    der = sm.make_self_signed_certificate(key, common_name="测试实例", organization="某市档案馆", days=30)
    assert sm.verify_certificate_signature(der)

    cert = x509.Certificate.load(der)
    assert cert["tbs_certificate"]["version"].native == "v3"
    assert cert["signature_algorithm"]["algorithm"].dotted == sm.SM2_SIGN_WITH_SM3_OID
    assert cert["tbs_certificate"]["signature"]["algorithm"].dotted == sm.SM2_SIGN_WITH_SM3_OID
    spki = cert.public_key
    assert spki["algorithm"]["algorithm"].dotted == "1.2.840.10045.2.1"
    assert spki["algorithm"]["parameters"].chosen.dotted == sm.SM2_CURVE_OID
    assert cert.serial_number > 0
    assert cert.subject.native["common_name"] == "测试实例"
    assert cert.subject.native["organization_name"] == "某市档案馆"
    assert cert.issuer == cert.subject
    assert cert.basic_constraints_value.native["ca"] is False
    assert cert.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert len(cert.key_identifier) == 20
    delta = cert["tbs_certificate"]["validity"]["not_after"].native - cert.not_valid_before
    assert 30 <= delta.days <= 31

    # the public key in the certificate is ours
    assert sm.public_key_der(sm.public_key_from_certificate(der)) == sm.public_key_der(key.public_key())

    # independent check: gmssl verifies signatureValue over DER(tbsCertificate)
    tbs_der = cert["tbs_certificate"].dump()
    sig = cert["signature_value"].native
    assert _gmssl(key.public_key()).verify_with_sm3(_der_to_rs(sig), tbs_der)


def test_tampered_certificate_fails(key):
    der = sm.make_self_signed_certificate(key, common_name="a", organization="ORGANISATION")
    tampered = bytearray(der)
    tampered[der.index(b"ORGANISATION")] ^= 0x01  # 'O' -> 'N' inside tbsCertificate
    assert not sm.verify_certificate_signature(bytes(tampered))
    assert not sm.verify_certificate_signature(b"not a certificate")
    with pytest.raises(SignatureError):
        sm.public_key_from_certificate(b"not a certificate")


def test_certificate_pem_round_trip(key):
    der = sm.make_self_signed_certificate(key, common_name="a", organization="b")
    pem = sm.certificate_pem(der)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert sm.certificate_der_from_pem(pem) == der


# --- InstanceKey ---------------------------------------------------------------------------------------------


def test_instance_key_created_with_safe_modes(tmp_path):
    directory = tmp_path / "keys"
    ik = sm.InstanceKey.ensure(directory, common_name="dangan 测试", organization="某档案馆")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(ik.key_path.stat().st_mode) == 0o600
    assert ik.key_path.name == "instance-sm2.key"
    assert ik.cert_path.name == "instance-sm2.crt"
    assert ik.key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert ik.cert_path.read_bytes() == ik.certificate_pem
    assert sm.verify_certificate_signature(ik.certificate_der)
    assert ik.fingerprint == sm.sm3_hex(ik.certificate_der)
    signature = ik.sign(b"data")
    assert ik.verify(b"data", signature)
    assert not ik.verify(b"dat4", signature)
    assert sorted(p.name for p in directory.iterdir()) == ["instance-sm2.crt", "instance-sm2.key"]


def test_instance_key_second_ensure_loads_same_key(tmp_path):
    first = sm.InstanceKey.ensure(tmp_path / "k", common_name="a", organization="b")
    second = sm.InstanceKey.ensure(tmp_path / "k", common_name="other", organization="other")
    assert second.fingerprint == first.fingerprint
    assert second.certificate_der == first.certificate_der
    assert first.verify(b"m", second.sign(b"m"))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_instance_key_refuses_readable_key_file(tmp_path, mode):
    ik = sm.InstanceKey.ensure(tmp_path / "k", common_name="a", organization="b")
    os.chmod(ik.key_path, mode)
    with pytest.raises(SignatureError, match="chmod 600"):
        sm.InstanceKey.ensure(tmp_path / "k", common_name="a", organization="b")


def test_instance_key_certifies_key_left_without_certificate(tmp_path, monkeypatch):
    ik = sm.InstanceKey.ensure(tmp_path / "k", common_name="a", organization="b")
    ik.cert_path.unlink()  # as if the creator died between publishing key and certificate
    monkeypatch.setattr(sm.InstanceKey, "CERT_WAIT_SECONDS", 0.1)
    again = sm.InstanceKey.ensure(tmp_path / "k", common_name="a", organization="b")
    assert sm.public_key_der(again.public_key) == sm.public_key_der(ik.public_key)
    assert again.verify(b"m", ik.sign(b"m"))


def test_instance_key_refuses_foreign_certificate(tmp_path, monkeypatch):
    monkeypatch.setattr(sm.InstanceKey, "CERT_WAIT_SECONDS", 0.1)
    ik = sm.InstanceKey.ensure(tmp_path / "k", common_name="a", organization="b")
    other = sm.make_self_signed_certificate(sm.generate_private_key(), common_name="x", organization="y")
    ik.cert_path.write_bytes(sm.certificate_pem(other))
    with pytest.raises(SignatureError, match="does not belong"):
        sm.InstanceKey.ensure(tmp_path / "k", common_name="a", organization="b")


def _race_worker(directory: str, barrier, results) -> None:  # pragma: no cover - runs in a child process
    barrier.wait()
    ik = sm.InstanceKey.ensure(Path(directory), common_name="race", organization="race")
    results.put(ik.fingerprint)


def test_instance_key_concurrent_first_calls_agree(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    n = 4
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    directory = tmp_path / "race"
    procs = [ctx.Process(target=_race_worker, args=(str(directory), barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    fingerprints = [results.get(timeout=120) for _ in range(n)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(set(fingerprints)) == 1
    assert sorted(p.name for p in directory.iterdir()) == ["instance-sm2.crt", "instance-sm2.key"]
    final = sm.InstanceKey.ensure(directory, common_name="race", organization="race")
    assert final.fingerprint == fingerprints[0]
