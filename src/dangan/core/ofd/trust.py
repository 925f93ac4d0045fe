"""Trusted certificates for OFD seals and signatures: who may have made a seal or signed a document.

A seal's maker certificate (制章者, e.g. the provincial e-seal platform) and a plain signature's signer
certificate are taken from inside the file, so anyone can make a seal that is cryptographically intact.
The trust step of :mod:`.signatures` compares them with certificates the archive trusts:

* a certificate is trusted when it **equals** (DER) a trusted certificate, or when it is **issued by**
  one: its issuer name equals the trusted certificate's subject, the trusted certificate is a CA
  (basicConstraints cA=TRUE, and keyCertSign if it has a keyUsage), and its SM2-with-SM3 signature over
  the certificate's DER ``tbsCertificate`` verifies with the trusted certificate's key. Intermediate CA
  certificates carried by the file (a SignedData's ``certificates``) may link the two, up to
  ``MAX_CHAIN`` links, each checked the same way;
* not checked: validity periods of the CA certificates, name constraints, policies, revocation
  (CRL/OCSP). SM2 certificates only.

Configuration: :func:`load_trust_store` reads the folder or file named by ``DANGAN_OFD_TRUST`` (the
caller reads the environment; this module only takes a path).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from asn1crypto import pem, x509

from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.core.ofd import ses

#: The environment variable the archive reads to find its trust store (see load_trust_store).
TRUST_ENV = "DANGAN_OFD_TRUST"
#: File names read from a trust-store folder.
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
MAX_TRUST_FILE_BYTES = 4 * 1024 * 1024
MAX_TRUSTED_CERTS = 2_000
#: Links from a certificate up to a trusted one (1 = issued directly by a trusted certificate).
MAX_CHAIN = 4
#: Signature verifications one trust decision may spend (hostile files carry many certificates).
MAX_CHAIN_ATTEMPTS = 64
#: Intermediate certificates taken from one file.
MAX_INTERMEDIATES = 32


class TrustStoreError(DanganError):
    """The configured trust store cannot be read (missing, empty, or a file that is not a certificate)."""

    code = "OFD_TRUST_STORE"


@dataclass(frozen=True)
class TrustStore:
    """DER certificates trusted as seal makers and as signers (or their issuers) of plain signatures."""

    makers: tuple[bytes, ...] = ()
    signers: tuple[bytes, ...] = ()
    source: str = ""


def _certificates_in(data: bytes, shown: str) -> list[bytes]:
    if pem.detect(data):
        out: list[bytes] = []
        try:
            for type_name, _headers, der in pem.unarmor(data, multiple=True):
                if type_name not in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
                    raise TrustStoreError(
                        f"{shown}: holds a {type_name}, not only certificates", target=shown
                    )
                out.append(bytes(der))
        except ValueError as exc:
            raise TrustStoreError(f"{shown}: PEM cannot be read: {exc}", target=shown) from exc
        return out
    return [data]


def _check_certificate(der: bytes, shown: str) -> None:
    try:
        ses.check_der_depth(der, "certificate")
        sm.public_key_from_certificate(der)
    except DanganError as exc:
        raise TrustStoreError(f"{shown}: not a usable SM2 certificate: {exc.message}", target=shown) from exc
    except RecursionError as exc:
        raise TrustStoreError(f"{shown}: certificate nested too deeply", target=shown) from exc


def _read_file(path: Path) -> list[bytes]:
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_TRUST_FILE_BYTES:
            raise TrustStoreError(f"{shown}: {size} bytes, too large for a certificate file", target=shown)
        data = path.read_bytes()
    except OSError as exc:
        raise TrustStoreError(f"{shown}: cannot be read: {exc}", target=shown) from exc
    certs = _certificates_in(data, shown)
    if not certs:
        raise TrustStoreError(f"{shown}: no certificate found", target=shown)
    for der in certs:
        _check_certificate(der, shown)
    return certs


def _read_folder(folder: Path) -> list[bytes]:
    out: list[bytes] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in CERT_SUFFIXES:
            continue
        out.extend(_read_file(path))
    return out


def _unique(certs: Iterable[bytes]) -> tuple[bytes, ...]:
    return tuple(dict.fromkeys(certs))


def load_trust_store(path: str | Path) -> TrustStore:
    """Read the trusted certificates at ``path`` (PEM or DER, SM2).

    * a folder holding ``makers/`` and/or ``signers/`` sub-folders: certificates in ``makers/`` are
      trusted as seal makers (制章者), those in ``signers/`` as signers of plain (Type="Sign")
      signatures or their issuing CAs;
    * any other folder (its ``*.pem``, ``*.crt``, ``*.cer``, ``*.der`` files; hidden files and other
      names are skipped), or a single file (a PEM bundle or one DER certificate): every certificate is
      trusted in both roles.

    Raises TrustStoreError (code ``OFD_TRUST_STORE``) when the path is missing, a certificate file
    cannot be read or is not an SM2 certificate, or no certificate is found: a misconfigured trust store
    must not silently trust nothing (or everything).
    """
    root = Path(path)
    shown = str(root)
    if root.is_dir():
        makers_dir, signers_dir = root / "makers", root / "signers"
        if makers_dir.is_dir() or signers_dir.is_dir():
            makers = _read_folder(makers_dir) if makers_dir.is_dir() else []
            signers = _read_folder(signers_dir) if signers_dir.is_dir() else []
        else:
            makers = signers = _read_folder(root)
    elif root.is_file():
        makers = signers = _read_file(root)
    else:
        raise TrustStoreError(f"trust store {shown} does not exist", target=shown)
    store = TrustStore(_unique(makers), _unique(signers), shown)
    if not store.makers and not store.signers:
        raise TrustStoreError(f"trust store {shown} holds no certificate", target=shown)
    if len(store.makers) + len(store.signers) > 2 * MAX_TRUSTED_CERTS:
        raise TrustStoreError(f"trust store {shown} holds too many certificates", target=shown)
    return store


def trusted_ders(certificates: Iterable[bytes] | None) -> list[bytes]:
    """DER of each certificate given as DER or PEM (one certificate per item)."""
    if certificates is None:
        return []
    return list(_unique(sm.certificate_der_from_pem(c) for c in certificates))


# --- matching -------------------------------------------------------------------------------------


@dataclass
class _Cert:
    der: bytes
    cert: Any
    cn: str


@lru_cache(maxsize=2048)
def _load(der: bytes) -> _Cert | None:
    """Parsed certificate (cached: the trusted certificates are compared for every signature)."""
    try:
        ses.check_der_depth(der, "certificate")
        cert = x509.Certificate.load(der)
        cert["tbs_certificate"]["issuer"].dump()
        cert["tbs_certificate"]["subject"].dump()
    except (DanganError, *ses._PARSE_ERRORS):
        return None
    try:
        cn = ses.cert_facts(der).subject_cn
    except DanganError:
        cn = ""
    return _Cert(der, cert, cn)


def _names_equal(a: Any, b: Any) -> bool:
    if bytes(a.dump()) == bytes(b.dump()):
        return True
    try:
        return bool(a == b)
    except ses._PARSE_ERRORS:
        return False


def _is_ca(cert: Any) -> tuple[bool, str]:
    try:
        constraints = cert.basic_constraints_value
        usage = cert.key_usage_value
    except ses._PARSE_ERRORS as exc:
        return False, f"its extensions cannot be parsed ({type(exc).__name__})"
    if constraints is None or not constraints["ca"].native:
        return False, "it is not a CA certificate (basicConstraints cA is not TRUE)"
    if usage is not None and "key_cert_sign" not in usage.native:
        return False, "its keyUsage does not allow signing certificates"
    return True, ""


def issued_by(child_der: bytes, issuer_der: bytes) -> tuple[bool, str]:
    """Whether ``child_der`` was issued by ``issuer_der``: names chain, the issuer is a CA, and the
    issuer's SM2 signature over the child's DER tbsCertificate verifies; (ok, reason if not)."""
    child, issuer = _load(child_der), _load(issuer_der)
    if child is None or issuer is None:
        return False, "certificate cannot be parsed"
    return _issued_by(child, issuer)


def _issued_by(child: _Cert, issuer: _Cert) -> tuple[bool, str]:
    tbs = child.cert["tbs_certificate"]
    if not _names_equal(tbs["issuer"], issuer.cert["tbs_certificate"]["subject"]):
        return False, "issuer name differs"
    ok, why = _is_ca(issuer.cert)
    if not ok:
        return False, f"CN={issuer.cn}: {why}"
    try:
        outer = child.cert["signature_algorithm"]["algorithm"].dotted
        inner = tbs["signature"]["algorithm"].dotted
        signature = bytes(child.cert["signature_value"].native)
        tbs_der = bytes(tbs.dump())
    except ses._PARSE_ERRORS as exc:
        return False, f"certificate cannot be parsed ({type(exc).__name__})"
    if outer not in ses.SM2_OIDS or inner not in ses.SM2_OIDS:
        return False, f"certificate signed with {outer}, not SM2-with-SM3"
    ok, why = ses.verify_sm2(issuer.der, tbs_der, signature)
    return (True, "") if ok else (False, f"signature by CN={issuer.cn}: {why}")


def match_trusted(
    cert_der: bytes, trusted: Sequence[bytes], intermediates: Sequence[bytes] = ()
) -> tuple[bool, str]:
    """Whether ``cert_der`` is trusted: equal to one of ``trusted`` or issued by one, possibly through
    ``intermediates`` (CA certificates carried by the file). (ok, how or why not)."""
    if cert_der in trusted:
        return True, "is a trusted certificate (DER equal)"
    start = _load(cert_der)
    if start is None:
        return False, "the certificate cannot be parsed"
    anchors = [c for c in (_load(d) for d in trusted) if c is not None]
    links = [c for c in (_load(d) for d in intermediates[:MAX_INTERMEDIATES] if d not in trusted) if c]
    attempts = 0
    frontier: list[tuple[_Cert, list[str]]] = [(start, [])]
    seen = {cert_der}
    reasons: list[str] = []
    for _depth in range(MAX_CHAIN):
        next_frontier: list[tuple[_Cert, list[str]]] = []
        for current, path in frontier:
            issuer_name = current.cert["tbs_certificate"]["issuer"]
            for candidate, is_anchor in [(a, True) for a in anchors] + [(i, False) for i in links]:
                if candidate.der in seen and not is_anchor:
                    continue
                if not _names_equal(issuer_name, candidate.cert["tbs_certificate"]["subject"]):
                    continue
                attempts += 1
                if attempts > MAX_CHAIN_ATTEMPTS:
                    return False, "gave up: too many candidate issuer certificates"
                ok, why = _issued_by(current, candidate)
                if not ok:
                    reasons.append(why)
                    continue
                if is_anchor:
                    through = f" through {' → '.join(path)}" if path else ""
                    return True, f"is issued by the trusted certificate CN={candidate.cn}{through}"
                seen.add(candidate.der)
                next_frontier.append((candidate, [*path, f"CN={candidate.cn}"]))
        frontier = next_frontier
        if not frontier:
            break
    why = f" ({'; '.join(dict.fromkeys(reasons))})" if reasons else ""
    return False, f"is neither one of the {len(trusted)} trusted certificates nor issued by one{why}"


__all__ = [
    "TRUST_ENV",
    "TrustStore",
    "TrustStoreError",
    "issued_by",
    "load_trust_store",
    "match_trusted",
    "trusted_ders",
]
