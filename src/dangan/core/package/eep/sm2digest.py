"""SM2 signatures over a message that is streamed: e = SM3(Z_A ‖ M) computed here, chunk by chunk.

``dangan.core.sm.sign`` takes the whole message as bytes (tongsuopy hashes Z_A ‖ M inside Tongsuo). An
EEP's signed bytes are gigabytes, so this module splits the steps of GB/T 32918.2 §6.1 / GM/T 0009 §5:

* :func:`z_a` — Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) with the default user ID
  ``1234567812345678`` (ENTL_A = its length in bits, two bytes big-endian);
* :func:`message_hasher` — an SM3 object already fed Z_A: update it with M as it is produced, and its
  digest is e;
* :func:`sign_digest` — the SM2 signature of a precomputed e, made by Tongsuo (``EVP_PKEY_sign`` on the
  SM2 key: Tongsuo draws k and computes r, s; no secret arithmetic happens in Python);
* :func:`verify_digest` — the verification of GB/T 32918.2 §7.1 on public values only, in pure Python
  (t = r + s, (x1, y1) = [s]G + [t]P_A, R = e + x1 = r), an implementation independent of Tongsuo.

The result is an ordinary SM2/SM3 signature over M: ``sm.verify(public_key, M, signature)``, gmssl and
``openssl dgst -sm3 -sigopt distid:1234567812345678`` accept it (tests/core/test_eep.py checks all three).
"""

from __future__ import annotations

import hashlib
from typing import Any

from asn1crypto import algos as _algos
from asn1crypto import x509 as _x509
from tongsuopy.crypto.asymciphers import ec as _ec

from dangan.core import sm
from dangan.core.errors import SignatureError

# GB/T 32918.5-2016 recommended curve parameters (sm2p256v1).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

assert sm.SM2_N == N

Point = tuple[int, int]
_Jacobian = tuple[int, int, int]


def public_point(public_key: Any) -> Point:
    """(x, y) of a tongsuopy SM2 public key."""
    numbers = public_key.public_numbers()
    return int(numbers.x), int(numbers.y)


def point_from_certificate(cert_der: bytes) -> Point:
    """(x, y) of the SM2 key in a DER certificate (raises SignatureError if it is not one)."""
    sm.public_key_from_certificate(cert_der)  # SM2 curve, loadable, not at infinity
    cert = _x509.Certificate.load(cert_der)
    raw = bytes(cert["tbs_certificate"]["subject_public_key_info"]["public_key"].native)
    if len(raw) != 65 or raw[0] != 4:
        raise SignatureError("certificate key is not an uncompressed SM2 point")
    point = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big")
    if not on_curve(point):
        raise SignatureError("certificate key is not a point of the SM2 curve")
    return point


def on_curve(point: Point) -> bool:
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def z_a(point: Point, user_id: bytes = sm.DEFAULT_USER_ID) -> bytes:
    """Z_A of GB/T 32918.2 §5.5 for the public key ``point`` and ``user_id``."""
    bits = len(user_id) * 8
    if bits >= 1 << 16:
        raise ValueError("user id too long")
    h = hashlib.new("sm3")
    h.update(bits.to_bytes(2, "big") + user_id)
    for value in (A, B, GX, GY, point[0], point[1]):
        h.update(value.to_bytes(32, "big"))
    return h.digest()


def message_hasher(point: Point, user_id: bytes = sm.DEFAULT_USER_ID) -> Any:
    """An SM3 object fed Z_A: feed it M, and ``.digest()`` is e."""
    return hashlib.new("sm3", z_a(point, user_id))


def sign_digest(private_key: Any, e: bytes) -> bytes:
    """SM2 signature (DER ``SEQUENCE{r, s}``) of the 32-byte e = SM3(Z_A ‖ M), made by Tongsuo."""
    if len(e) != 32:
        raise ValueError("e must be a 32-byte SM3 digest")
    if not isinstance(getattr(private_key, "curve", None), _ec.SM2):
        raise SignatureError("not an SM2 key")
    # tongsuopy exposes no prehashed SM2 signing; its own cffi binding of Tongsuo does. EVP_PKEY_sign on
    # an EVP_PKEY_SM2 key signs the digest as given (Tongsuo's sm2_sign), which is exactly step A3…A7.
    from tongsuopy.backends.tongsuo.backend import backend

    lib, ffi = backend._lib, backend._ffi
    pkey = private_key._evp_pkey
    if lib.EVP_PKEY_id(pkey) != lib.EVP_PKEY_SM2:
        raise SignatureError("the key is not an EVP_PKEY_SM2 key; refusing to sign with another scheme")
    ctx = lib.EVP_PKEY_CTX_new(pkey, ffi.NULL)
    if ctx == ffi.NULL:
        raise SignatureError("Tongsuo could not create a signing context")
    ctx = ffi.gc(ctx, lib.EVP_PKEY_CTX_free)
    if lib.EVP_PKEY_sign_init(ctx) != 1:
        backend._consume_errors()
        raise SignatureError("Tongsuo could not initialise SM2 signing")
    length = ffi.new("size_t *")
    if lib.EVP_PKEY_sign(ctx, ffi.NULL, length, e, len(e)) != 1:
        backend._consume_errors()
        raise SignatureError("Tongsuo could not size the SM2 signature")
    buf = ffi.new("unsigned char[]", length[0])
    if lib.EVP_PKEY_sign(ctx, buf, length, e, len(e)) != 1:
        backend._consume_errors()
        raise SignatureError("Tongsuo could not make the SM2 signature")
    return bytes(ffi.buffer(buf)[: length[0]])


def parse_signature(signature: bytes) -> tuple[int, int] | None:
    """(r, s) of a strict DER ``SEQUENCE{r, s}`` with 1 <= r, s < n, else None."""
    try:
        parsed = _algos.DSASignature.load(signature, strict=True)
        r = int(parsed["r"].native)
        s = int(parsed["s"].native)
        again = bytes(_algos.DSASignature({"r": r, "s": s}).dump(force=True))
    except (ValueError, TypeError, KeyError):
        return None
    if again != signature or not (0 < r < N and 0 < s < N):
        return None
    return r, s


# --- public-value point arithmetic (Jacobian coordinates; verification only, nothing secret) -----------


def _double(p: _Jacobian) -> _Jacobian:
    x, y, z = p
    if y == 0 or z == 0:
        return (0, 1, 0)
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = (3 * x * x + A * zz * zz) % P
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    z3 = 2 * y * z % P
    return (x3, y3, z3)


def _add(p: _Jacobian, q: _Jacobian) -> _Jacobian:
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    if u1 == u2:
        return _double(p) if s1 == s2 else (0, 1, 0)
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    z3 = h * z1 * z2 % P
    return (x3, y3, z3)


def _mul(k: int, point: Point) -> _Jacobian:
    result: _Jacobian = (0, 1, 0)
    addend: _Jacobian = (point[0], point[1], 1)
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _double(addend)
        k >>= 1
    return result


def _affine_x(p: _Jacobian) -> int | None:
    if p[2] == 0:
        return None
    zinv = pow(p[2], -1, P)
    return p[0] * zinv * zinv % P


def verify_digest(point: Point, e: bytes, signature: bytes) -> bool:
    """True if ``signature`` (DER) is a valid SM2 signature of e for the public key ``point``."""
    rs = parse_signature(signature)
    if rs is None or len(e) != 32 or not on_curve(point):
        return False
    r, s = rs
    t = (r + s) % N
    if t == 0:
        return False
    x1 = _affine_x(_add(_mul(s, (GX, GY)), _mul(t, point)))
    if x1 is None:
        return False
    return (int.from_bytes(e, "big") + x1) % N == r


class Sm2DigestSigner:
    """Signs precomputed digests with an SM2 private key; carries the signer's certificate (DER).

    The writer asks for :attr:`point` (to compute Z_A) and :meth:`sign_digest`; every signature is
    checked with :func:`verify_digest` before it is returned, so a binding that signed with another
    scheme could never produce a package that does not verify.
    """

    def __init__(self, private_key: Any, certificate_der: bytes) -> None:
        self._private_key = private_key
        self.certificate_der = certificate_der
        self.point = point_from_certificate(certificate_der)
        if public_point(private_key.public_key()) != self.point:
            raise SignatureError("the certificate does not belong to the private key")

    @property
    def signer_name(self) -> str:
        subject = _x509.Certificate.load(self.certificate_der).subject.native
        return str(subject.get("common_name") or subject.get("organization_name") or "")

    def sign_digest(self, e: bytes) -> bytes:
        signature = sign_digest(self._private_key, e)
        if not verify_digest(self.point, e, signature):
            raise SignatureError("the new SM2 signature does not verify; nothing was signed")
        return signature
