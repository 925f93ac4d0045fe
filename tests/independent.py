"""Independent cross-checks: bagit-python for bags, pure-Python gmssl for SM2 signatures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import bagit
from asn1crypto import algos, x509
from gmssl import sm2 as gm_sm2

from dangan.core import sm


def bagit_validate(path: Path) -> None:
    """Validate with bagit-python, SM3 manifests included (bagit only knows hashlib's guaranteed set)."""
    saved = bagit.CHECKSUM_ALGOS
    bagit.CHECKSUM_ALGOS = set(saved) | {"sm3"}
    try:
        assert "sm3" in hashlib.algorithms_available
        bag = bagit.Bag(str(path))
        assert set(bag.algorithms) >= {"sm3", "sha256"}
        bag.validate()
    finally:
        bagit.CHECKSUM_ALGOS = saved


def gmssl_verify_bag_signature(path: Path) -> bool:
    cert = x509.Certificate.load(sm.certificate_der_from_pem((path / "dangan" / "signer.pem").read_bytes()))
    point = cert.public_key["public_key"].native
    sig = algos.DSASignature.load((path / "tagmanifest-sm3.txt.sig").read_bytes())
    crypt = gm_sm2.CryptSM2(private_key=None, public_key="00" * 64)
    crypt.public_key = point[1:].hex()  # gmssl's lstrip("04") can eat leading digits of x
    return bool(
        crypt.verify_with_sm3(
            f"{sig['r'].native:064x}{sig['s'].native:064x}", (path / "tagmanifest-sm3.txt").read_bytes()
        )
    )
