"""National cryptography: SM3 digests; SM2 signatures, keys and self-signed certificates.

SM3 comes from OpenSSL through ``hashlib.new("sm3")``; SM2 from tongsuopy (Tongsuo).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import hashlib
import os
import secrets
import stat
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from asn1crypto import algos as _algos
from asn1crypto import keys as _keys
from asn1crypto import pem as _pem
from asn1crypto import x509 as _x509
from tongsuopy.crypto import hashes as _hashes
from tongsuopy.crypto import serialization as _serialization
from tongsuopy.crypto.asymciphers import ec as _ec
from tongsuopy.crypto.exceptions import InternalError as _InternalError
from tongsuopy.crypto.exceptions import InvalidSignature as _InvalidSignature

from dangan.core.errors import SignatureError
from dangan.core.fsutil import fsync_dir

SM3_OID = "1.2.156.10197.1.401"
CHUNK = 1024 * 1024


def sm3(data: bytes = b"") -> hashlib._Hash:
    return hashlib.new("sm3", data)


def sm3_hex(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


@dataclass(frozen=True)
class StreamDigest:
    size: int
    sm3: str
    sha256: str


class DualHasher:
    """SM3 and SHA-256 over the same bytes in one pass (the AIP carries both manifests)."""

    def __init__(self) -> None:
        self._sm3 = hashlib.new("sm3")
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._sm3.update(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    def result(self) -> StreamDigest:
        return StreamDigest(self.size, self._sm3.hexdigest(), self._sha256.hexdigest())

    def close(self) -> None:
        """Nothing to release (the same interface as :class:`PipelinedDualHasher`)."""


class PipelinedDualHasher:
    """SM3 and SHA-256 over the same bytes, with SM3 on a helper thread.

    hashlib releases the GIL while it hashes a buffer of 2 KiB or more, so the SM3 of earlier chunks
    runs on another core while the caller computes the SHA-256 of the current one, writes it and reads
    the next. SM3 is several times slower than SHA-256 (SHA-NI), so a copy that hashes both can run at
    about the speed of SM3 alone instead of the sum of all its steps.

    Up to ``depth`` chunks may wait for their SM3 (so that a late wake-up of either thread on a busy
    machine does not stall the other). :meth:`update` returns once the chunk's SHA-256 is done and at
    most ``depth`` chunks are still waiting; the caller must not change a buffer it passed until
    ``depth`` more :meth:`update` calls (or :meth:`result`) have returned: rotate ``depth + 1``
    buffers. The helper hashes the chunks in the order given, so the digests are those of the bytes as
    passed. Always call :meth:`result` or :meth:`close` (a ``with`` block does): it stops the thread.
    """

    def __init__(self, depth: int = 1) -> None:
        self._sm3 = hashlib.new("sm3")
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.depth = max(1, depth)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sm3")
        self._pending: collections.deque[Future[None]] = collections.deque()

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._sha256.update(chunk)
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._sm3.update, chunk))
        self.size += len(chunk)

    def result(self) -> StreamDigest:
        self.close()
        return StreamDigest(self.size, self._sm3.hexdigest(), self._sha256.hexdigest())

    def close(self) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PipelinedDualHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def digest_stream(stream: BinaryIO, *, chunk: int = CHUNK) -> StreamDigest:
    hasher = DualHasher()
    for block in iter(lambda: stream.read(chunk), b""):
        hasher.update(block)
    return hasher.result()


def sm3_file(path: str, *, chunk: int = CHUNK) -> str:
    h = hashlib.new("sm3")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sm3_lines(lines: Iterable[str]) -> str:
    h = hashlib.new("sm3")
    for line in lines:
        h.update(line.encode("utf-8"))
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# SM2 signatures (GB/T 32918), keys and self-signed certificates
# ---------------------------------------------------------------------------------------------------------
#
# tongsuopy signs SM3(Z_A || M) with the default user ID below and returns DER SEQUENCE{r, s}
# (GM/T 0009); asn1crypto builds and parses the X.509 structures (GM/T 0015 profile: id-ecPublicKey
# with the SM2 named curve, signature algorithm SM2-with-SM3).

SM2_CURVE_OID = "1.2.156.10197.1.301"
SM2_SIGN_WITH_SM3_OID = "1.2.156.10197.1.501"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
DEFAULT_USER_ID = b"1234567812345678"
#: Order n of the SM2 base point (GB/T 32918.5); r and s of a valid signature lie in [1, n-1].
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

# asn1crypto does not know the SM2 curve by name; teach it once (idempotent, keeps an existing name).
if SM2_CURVE_OID not in _keys.NamedCurve._map:
    _keys.NamedCurve.register("sm2p256v1", SM2_CURVE_OID, 32)

#: tongsuopy ships no type information; these aliases only document intent.
PrivateKey = Any
PublicKey = Any


def generate_private_key() -> PrivateKey:
    """A new SM2 private key (from Tongsuo's CSPRNG)."""
    return _ec.generate_private_key(_ec.SM2())


def _require_sm2(key: Any) -> None:
    if not isinstance(getattr(key, "curve", None), _ec.SM2):
        raise SignatureError("not an SM2 key")


def sign(private_key: PrivateKey, data: bytes) -> bytes:
    """SM2 signature over ``data`` (SM3 with Z_A, default user ID); DER ``SEQUENCE{r, s}``."""
    _require_sm2(private_key)
    return bytes(private_key.sign(data, _ec.ECDSA(_hashes.SM3())))


def _well_formed_signature(signature: bytes) -> bool:
    """Strict DER ``SEQUENCE{r, s}`` with 1 <= r, s < n (so malformed input never reaches the library)."""
    try:
        parsed = _algos.DSASignature.load(signature, strict=True)
        r = int(parsed["r"].native)
        s = int(parsed["s"].native)
        reencoded = bytes(_algos.DSASignature({"r": r, "s": s}).dump(force=True))
    except (ValueError, TypeError, KeyError):
        return False
    return reencoded == signature and 0 < r < SM2_N and 0 < s < SM2_N


def verify(public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid SM2/SM3 signature of ``data``; False otherwise (never raises for
    a bad or malformed signature)."""
    _require_sm2(public_key)
    if not _well_formed_signature(signature):
        return False
    try:
        public_key.verify(signature, data, _ec.ECDSA(_hashes.SM3()))
    except (_InvalidSignature, _InternalError, ValueError):
        return False
    return True


def public_key_der(public_key: PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo (id-ecPublicKey, namedCurve SM2)."""
    return bytes(
        public_key.public_bytes(_serialization.Encoding.DER, _serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _check_sm2_spki(spki: Any) -> None:
    algorithm = spki["algorithm"]
    if algorithm["algorithm"].dotted != EC_PUBLIC_KEY_OID:
        raise SignatureError("certificate key is not an elliptic-curve key")
    params = algorithm["parameters"]
    if params.name != "named" or params.chosen.dotted != SM2_CURVE_OID:
        raise SignatureError(f"certificate key is not on the SM2 curve ({SM2_CURVE_OID})")


def _load_certificate(cert_der: bytes) -> Any:
    try:
        cert = _x509.Certificate.load(cert_der, strict=True)
        cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]["parameters"].native  # noqa: B018
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureError(f"certificate cannot be parsed: {exc}") from exc
    return cert


def public_key_from_certificate(cert_der: bytes) -> PublicKey:
    """The SM2 public key of a DER certificate. Raises SignatureError if it is not an SM2 certificate."""
    cert = _load_certificate(cert_der)
    spki = cert["tbs_certificate"]["subject_public_key_info"]
    _check_sm2_spki(spki)
    try:
        return _serialization.load_der_public_key(bytes(spki.dump()))
    except (ValueError, TypeError, _InternalError) as exc:
        raise SignatureError(f"certificate public key cannot be loaded: {exc}") from exc


def _time(moment: _dt.datetime) -> Any:
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    if moment.year < 2050:
        return _x509.Time(name="utc_time", value=moment)
    return _x509.Time(name="general_time", value=moment)


def _key_identifier(spki: Any) -> bytes:
    # RFC 7093 §2 method 1 with SM3 instead of SHA-256: leftmost 160 bits of the hash of the key bits.
    return hashlib.new("sm3", bytes(spki["public_key"].contents[1:])).digest()[:20]


def make_self_signed_certificate(
    private_key: PrivateKey, *, common_name: str, organization: str, days: int = 3650
) -> bytes:
    """DER of a self-signed X.509 v3 certificate for an SM2 key, signed SM2-with-SM3.

    Subject = issuer = CN/O (UTF8String); random positive 127-bit serial; basicConstraints CA false;
    keyUsage digitalSignature + nonRepudiation (critical); subjectKeyIdentifier.
    """
    _require_sm2(private_key)
    if days <= 0:
        raise ValueError("days must be positive")
    if not common_name or not organization:
        raise ValueError("common_name and organization are required")
    spki = _keys.PublicKeyInfo.load(public_key_der(private_key.public_key()))
    name = _x509.Name.build({"common_name": common_name, "organization_name": organization})
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    sig_alg = _algos.SignedDigestAlgorithm({"algorithm": SM2_SIGN_WITH_SM3_OID})
    tbs = _x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": secrets.randbits(127) | (1 << 126),
            "signature": sig_alg,
            "issuer": name,
            "validity": {
                "not_before": _time(now - _dt.timedelta(minutes=5)),
                "not_after": _time(now + _dt.timedelta(days=days)),
            },
            "subject": name,
            "subject_public_key_info": spki,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": {"digital_signature", "non_repudiation"},
                },
                {"extn_id": "key_identifier", "critical": False, "extn_value": _key_identifier(spki)},
            ],
        }
    )
    tbs_der = bytes(tbs.dump())
    cert = _x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": _algos.SignedDigestAlgorithm({"algorithm": SM2_SIGN_WITH_SM3_OID}),
            "signature_value": sign(private_key, tbs_der),
        }
    )
    return bytes(cert.dump())


def verify_certificate_signature(cert_der: bytes) -> bool:
    """True if a self-signed SM2 certificate's signature verifies with its own public key.

    Checks the outer and inner signature algorithms are both SM2-with-SM3 and verifies
    ``signatureValue`` over the certificate's original DER ``tbsCertificate`` bytes.
    """
    try:
        cert = _load_certificate(cert_der)
        public_key = public_key_from_certificate(cert_der)
    except SignatureError:
        return False
    tbs = cert["tbs_certificate"]
    if cert["signature_algorithm"]["algorithm"].dotted != SM2_SIGN_WITH_SM3_OID:
        return False
    if tbs["signature"]["algorithm"].dotted != SM2_SIGN_WITH_SM3_OID:
        return False
    signature = bytes(cert["signature_value"].native)
    return verify(public_key, bytes(tbs.dump()), signature)


def certificate_pem(cert_der: bytes) -> bytes:
    return bytes(_pem.armor("CERTIFICATE", cert_der))


def certificate_der_from_pem(data: bytes) -> bytes:
    """DER of the single certificate in a PEM (or DER passed through unchanged)."""
    if not _pem.detect(data):
        return data
    try:
        type_name, _headers, der = _pem.unarmor(data)
    except ValueError as exc:
        raise SignatureError(f"certificate PEM cannot be read: {exc}") from exc
    if type_name != "CERTIFICATE":
        raise SignatureError(f"expected a CERTIFICATE PEM, found {type_name}")
    return bytes(der)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively with ``mode`` (never wider, whatever the umask) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, final: Path) -> bool:
    """Hard-link ``tmp`` to ``final`` unless ``final`` exists; remove ``tmp``. True if we published."""
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class InstanceKey:
    """This instance's SM2 signing key (实例签名密钥) and its self-signed certificate.

    Files in ``directory``: ``instance-sm2.key`` (PEM PKCS#8, unencrypted, mode 0600) and
    ``instance-sm2.crt`` (PEM). :meth:`ensure` creates them once; concurrent first calls from several
    processes agree on one key, because each candidate is written to a private temp file and
    published with ``os.link`` (which fails if the name exists): the loser discards its candidate and
    loads the winner's.
    """

    KEY_NAME = "instance-sm2.key"
    CERT_NAME = "instance-sm2.crt"
    #: How long a loser waits for the winner's certificate before making one for the winner's key.
    CERT_WAIT_SECONDS = 10.0

    def __init__(self, key_path: Path, cert_path: Path, private_key: PrivateKey, certificate_der: bytes):
        self.key_path = key_path
        self.cert_path = cert_path
        self._private_key = private_key
        self.certificate_der = certificate_der
        self.public_key: PublicKey = public_key_from_certificate(certificate_der)

    # --- creation and loading -------------------------------------------------------------------------
    @classmethod
    def ensure(cls, directory: Path, *, common_name: str, organization: str) -> InstanceKey:
        directory = Path(directory)
        try:
            directory.mkdir(mode=0o700, parents=True)
            os.chmod(directory, 0o700)
        except FileExistsError:
            if not directory.is_dir():
                raise SignatureError(f"key directory is not a directory: {directory}") from None
        key_path = directory / cls.KEY_NAME
        cert_path = directory / cls.CERT_NAME
        if not key_path.exists():
            cls._create(directory, key_path, cert_path, common_name=common_name, organization=organization)
        return cls._load(key_path, cert_path, common_name=common_name, organization=organization)

    @classmethod
    def _create(
        cls, directory: Path, key_path: Path, cert_path: Path, *, common_name: str, organization: str
    ) -> None:
        key = generate_private_key()
        cert_der = make_self_signed_certificate(key, common_name=common_name, organization=organization)
        key_pem = bytes(
            key.private_bytes(
                _serialization.Encoding.PEM,
                _serialization.PrivateFormat.PKCS8,
                _serialization.NoEncryption(),
            )
        )
        token = secrets.token_hex(8)
        tmp_key = directory / f".{cls.KEY_NAME}.{token}.tmp"
        tmp_cert = directory / f".{cls.CERT_NAME}.{token}.tmp"
        try:
            _write_new(tmp_key, key_pem, 0o600)
            _write_new(tmp_cert, certificate_pem(cert_der), 0o644)
            if _publish(tmp_key, key_path):
                # We own the key: our certificate is the one that belongs to it (replaces a stale one).
                os.replace(tmp_cert, cert_path)
            fsync_dir(directory)
        finally:
            for tmp in (tmp_key, tmp_cert):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    @classmethod
    def _read_private_key(cls, key_path: Path) -> PrivateKey:
        try:
            fd = os.open(key_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise SignatureError(f"instance key cannot be opened: {key_path}: {exc}") from exc
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SignatureError(f"instance key is not a regular file: {key_path}")
            if info.st_mode & 0o077:
                raise SignatureError(
                    f"instance key {key_path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {key_path}"
                )
            euid = os.geteuid() if hasattr(os, "geteuid") else None
            if euid is not None and info.st_uid != euid:
                raise SignatureError(
                    f"instance key {key_path} is owned by uid {info.st_uid}, not by uid {euid} that runs "
                    f"dangan: chown it to that account (mode 600)"
                )
            data = f.read()
        try:
            key = _serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, _InternalError) as exc:
            raise SignatureError(f"instance key cannot be read: {key_path}: {exc}") from exc
        _require_sm2(key)
        return key

    @classmethod
    def _load(cls, key_path: Path, cert_path: Path, *, common_name: str, organization: str) -> InstanceKey:
        key = cls._read_private_key(key_path)
        want = public_key_der(key.public_key())
        deadline = time.monotonic() + cls.CERT_WAIT_SECONDS
        while True:
            # Wait a little for a certificate that is missing or stale: the process that published the
            # key is about to publish (or replace) its certificate.
            if cert_path.exists():
                cert_der = certificate_der_from_pem(cert_path.read_bytes())
                if public_key_der(public_key_from_certificate(cert_der)) == want:
                    break
                if time.monotonic() >= deadline:
                    raise SignatureError(f"certificate {cert_path} does not belong to key {key_path}")
            elif time.monotonic() >= deadline:
                # The creator died between publishing key and certificate: certify the existing key.
                new_der = make_self_signed_certificate(
                    key, common_name=common_name, organization=organization
                )
                tmp = cert_path.with_name(f".{cls.CERT_NAME}.{secrets.token_hex(8)}.tmp")
                _write_new(tmp, certificate_pem(new_der), 0o644)
                _publish(tmp, cert_path)
                fsync_dir(cert_path.parent)
                continue
            time.sleep(0.05)
        return cls(key_path, cert_path, key, cert_der)

    # --- use ------------------------------------------------------------------------------------------
    @property
    def certificate_pem(self) -> bytes:
        return certificate_pem(self.certificate_der)

    @property
    def fingerprint(self) -> str:
        """SM3 of the certificate DER, lower-case hex."""
        return sm3_hex(self.certificate_der)

    def sign(self, data: bytes) -> bytes:
        return sign(self._private_key, data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return verify(self.public_key, data, signature)

    def __repr__(self) -> str:
        return f"InstanceKey({str(self.key_path)!r}, fingerprint={self.fingerprint[:16]}…)"
