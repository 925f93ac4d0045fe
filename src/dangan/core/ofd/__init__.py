"""OFD documents (GB/T 33190): safe container access, structure and OFD-A checks, signatures and seals.

Entry points: :func:`validate_ofd` (structure + OFD-A, never raises for a bad file),
:func:`verify_signatures` (raises OfdError for an unreadable file) and :func:`verify_document`
(never raises; ``error`` says why). :func:`load_trust_store` reads the trusted seal-maker and signer
certificates (the archive names them with ``DANGAN_OFD_TRUST``) for the signatures' trust step.
"""

from dangan.core.ofd.container import OfdContainer, OfdError, OfdLimits, open_ofd
from dangan.core.ofd.signatures import (
    STEP_LABELS,
    STEP_ORDER,
    OfdSignatureReport,
    ReferenceCheck,
    SignatureVerdict,
    Step,
    verify_document,
    verify_signatures,
)
from dangan.core.ofd.structure import OfdProblem, OfdValidation, validate_ofd
from dangan.core.ofd.trust import TRUST_ENV, TrustStore, TrustStoreError, load_trust_store

__all__ = [
    "STEP_LABELS",
    "STEP_ORDER",
    "TRUST_ENV",
    "OfdContainer",
    "OfdError",
    "OfdLimits",
    "OfdProblem",
    "OfdSignatureReport",
    "OfdValidation",
    "ReferenceCheck",
    "SignatureVerdict",
    "Step",
    "TrustStore",
    "TrustStoreError",
    "load_trust_store",
    "open_ofd",
    "validate_ofd",
    "verify_document",
    "verify_signatures",
]
