"""EEP: the XML encapsulation package of DA/T 48-2009 (电子文件封装包), written and verified as streams.

* :func:`write_eep` — one record's metadata (mapped to DA/T 46-2009 elements, ``names.DAT46``) and its
  files (Base64 in 编码数据, SM3 in ``dg:数字摘要``), signed SM2/SM3 over the exclusive-C14N form of
  被签名对象, in memory independent of the files' sizes;
* :func:`verify_eep` — signature, embedded file digests and structure (``dangan-eep-2009.xsd``), again
  streaming; returns an :class:`EepReport` (never raises for bad input).

See docs/eep.md for the mapping table, the signature design and how to verify a package independently.
"""

from __future__ import annotations

from dangan.core.package.eep import names
from dangan.core.package.eep.c14n import Canonicalizer, NamespaceError
from dangan.core.package.eep.model import (
    Action,
    Agent,
    DigestSigner,
    EepError,
    EepFile,
    EepFileCheck,
    EepProblem,
    EepReport,
    EepSignatureCheck,
    EepWriteResult,
    RecordDescription,
)
from dangan.core.package.eep.sm2digest import Sm2DigestSigner
from dangan.core.package.eep.verify import eep_schema, verify_eep
from dangan.core.package.eep.writer import write_eep

__all__ = [
    "Action",
    "Agent",
    "Canonicalizer",
    "DigestSigner",
    "EepError",
    "EepFile",
    "EepFileCheck",
    "EepProblem",
    "EepReport",
    "EepSignatureCheck",
    "EepWriteResult",
    "NamespaceError",
    "RecordDescription",
    "Sm2DigestSigner",
    "eep_schema",
    "names",
    "verify_eep",
    "write_eep",
]
