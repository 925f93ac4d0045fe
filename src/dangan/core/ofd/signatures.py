"""Verification of OFD signatures and electronic seals (GB/T 33190 §18, GM/T 0031, GB/T 38540, GB/T 35275).

``OFD.xml`` DocBody ``Signatures`` → ``Signatures.xml`` → each ``<Signature ID Type BaseLoc>`` →
``Signature.xml`` {SignedInfo {Provider, SignatureMethod, SignatureDateTime, References {Reference
FileRef → CheckValue}, StampAnnot, Seal/BaseLoc}, SignedValue}. ``Type`` defaults to "Seal".

The kind of SignedValue.dat is recognised from its content, not from ``Type``:

* a DER SES_Signature (seal signature, GM/T 0031-2014 or GB/T 38540-2020; see :mod:`.ses`);
* a PKCS#7 / GB/T 35275 SignedData (keyword.ofd Sign_3): the signature covers the encapsulated
  content (there: SM3 of Signature.xml) or, with signed attributes, their DER SET;
* a bare SM2 signature (DigitalSign.ofd): SM2-with-SM3 over the bytes of Signature.xml. It carries no
  certificate, so it can only be verified with a certificate supplied by the caller (``certificates``);
  without one the verdict is "unverifiable", never valid.

Steps, always reported in this order (``pass``/``fail``/``not_run``):

1. ``signer_signature`` — the signer's SM2 signature over DER(TBS_Sign) (SignedData: over the content
   or signed attributes; bare signature: over Signature.xml) with the signer's certificate;
2. ``cert_in_seal`` — the signer certificate is in the seal's certList (DER equal, or its digest);
3. ``seal_signature`` — the seal maker's signature over the seal information;
4. ``trust`` — who made it: for a seal, the maker certificate (制章者) equals or is issued by a
   certificate in ``trusted_makers``; for a plain signature, the signer certificate equals or is issued
   by one in ``trusted_signers`` (see :mod:`.trust`). ``not_run`` when none are configured, with the
   reason "no trusted seal-maker certificates configured (DANGAN_OFD_TRUST)" (or "signer");
5. ``validity`` — signer certificate and seal validity periods at the signing time (the signed
   ``timeInfo``; for plain signatures the signed signing-time attribute or, failing that, the unsigned
   SignatureDateTime). A certificate valid then but expired now passes; the expiry is a note;
6. ``data_hash`` — the signed digest equals SM3(bytes of Signature.xml);
7. ``references`` — every Reference's CheckValue equals base64(digest(file bytes)); a missing file fails
   and is named. Each (part, algorithm) is hashed once per document; more than
   ``OfdLimits.max_references`` references fail unchecked; hashing stops at ``max_digest_bytes``;
8. ``coverage`` — the References cover the whole signed document: every container file except
   (a) the signature lists (Signatures.xml: each later signature rewrites it; ofdrw's "continue signing"
   mode leaves it out for that reason), (b) the files of this signature and of the signatures after it
   in the list (its Signature.xml, SignedValue, Seal file, and its own folder when it has one, e.g.
   ``Doc_0/Signs/Sign_1/``: they are written after, or by, a later signing), (c) the folders of the
   container's other documents. Files the documents use as content (pages, templates, resources, fonts,
   images, annotations, attachments, tags: see :func:`.structure.content_parts`) are never excluded,
   whatever a signature names. Earlier signatures' files must be covered (they existed at signing
   time). GB/T 33190 does not say that References must list every file, but producers (ofdrw's
   ``OFDSigner``, the fixtures' signers) digest every file present when signing, and an archive cannot
   vouch for content a signature does not protect: uncovered files fail the step and are listed.

Verdict fields:

* ``valid`` — cryptographically intact since signing: step 1 passed and no step failed, the ``trust``
  step aside. It says nothing about who made the seal;
* ``trusted`` — True (trust passed), False (trust failed: maker/signer not trusted), None (not
  checked: no trust store, or the certificate could not be read);
* ``status`` — ``"valid"`` (intact and trusted), ``"intact"`` (intact, maker/signer not verified
  against a trusted list), ``"untrusted"`` (intact, but the maker/signer is not trusted), ``"invalid"``
  (an integrity step failed), ``"unverifiable"`` (nothing failed but the signer's signature could not
  be checked, e.g. a bare signature without a supplied certificate).

A document declaring more than ``OfdLimits.max_signatures`` signatures is refused (OfdError
``OFD_LIMIT``). Two Signature entries naming the same Signature.xml: the second fails. Not checked:
revocation (CRL/OCSP), the v4 ``timeStamp`` token (reported as a note when present).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.core.ofd import ses
from dangan.core.ofd import trust as _trust
from dangan.core.ofd.container import (
    OfdContainer,
    OfdError,
    OfdLimits,
    child,
    child_text,
    children,
    folder_of,
    local,
    parse_xml,
)
from dangan.core.ofd.structure import content_parts

Outcome = Literal["pass", "fail", "not_run"]

STEP_SIGNER = "signer_signature"
STEP_CERT_IN_SEAL = "cert_in_seal"
STEP_SEAL = "seal_signature"
STEP_TRUST = "trust"
STEP_VALIDITY = "validity"
STEP_DATA_HASH = "data_hash"
STEP_REFERENCES = "references"
STEP_COVERAGE = "coverage"
STEP_ORDER = (
    STEP_SIGNER,
    STEP_CERT_IN_SEAL,
    STEP_SEAL,
    STEP_TRUST,
    STEP_VALIDITY,
    STEP_DATA_HASH,
    STEP_REFERENCES,
    STEP_COVERAGE,
)
#: The steps that decide ``valid`` (cryptographic integrity); ``trust`` decides ``trusted``.
INTEGRITY_STEPS = tuple(name for name in STEP_ORDER if name != STEP_TRUST)
STEP_LABELS = {
    STEP_SIGNER: "签章人签名 / signer's signature",
    STEP_CERT_IN_SEAL: "证书属于印章 / signer certificate listed in seal",
    STEP_SEAL: "制章人签名 / seal maker's signature",
    STEP_TRUST: "可信制章者/签名者 / trusted seal maker or signer",
    STEP_VALIDITY: "签章时有效期 / validity at signing time",
    STEP_DATA_HASH: "签名原文摘要 / data hash of Signature.xml",
    STEP_REFERENCES: "文件摘要 / file references (CheckValue)",
    STEP_COVERAGE: "保护范围 / references cover the document",
}
NO_TRUSTED_MAKERS = f"no trusted seal-maker certificates configured ({_trust.TRUST_ENV})"
NO_TRUSTED_SIGNERS = f"no trusted signer certificates configured ({_trust.TRUST_ENV})"
#: Uncovered files named in the coverage step's reason (all are in ``SignatureVerdict.uncovered``).
_SHOWN_UNCOVERED = 20
_MAX_UNCOVERED = 1_000

_CHECK_METHODS = {
    "sm3": "sm3",
    ses.SM3_OID: "sm3",
    "sha256": "sha256",
    "sha-256": "sha256",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "sha1": "sha1",
    "sha-1": "sha1",
    "1.3.14.3.2.26": "sha1",
    "md5": "md5",
    "1.2.840.113549.2.5": "md5",
}


@dataclass
class Step:
    name: str
    outcome: Outcome = "not_run"
    reason: str = ""


@dataclass
class ReferenceCheck:
    file_ref: str
    ok: bool
    reason: str = ""


@dataclass
class SignatureVerdict:
    id: str
    type: str
    #: Cryptographically intact since signing (every step but ``trust``); says nothing about the maker.
    valid: bool = False
    #: "valid" (intact and trusted), "intact" (trust not checked), "untrusted" (intact, maker/signer not
    #: trusted), "invalid" (an integrity step failed) or "unverifiable" (nothing failed but the signer's
    #: signature could not be checked, e.g. a bare signature without a supplied certificate).
    status: str = "invalid"
    #: True: the maker (seal) or signer (plain signature) is trusted; False: it is not; None: not checked.
    trusted: bool | None = None
    signer: str | None = None
    seal_name: str | None = None
    seal_id: str | None = None
    time: str | None = None
    algorithm: str | None = None
    format: str | None = None
    steps: list[Step] = field(default_factory=lambda: [Step(name) for name in STEP_ORDER])
    references: list[ReferenceCheck] = field(default_factory=list)
    #: Files of the signed document that the References do not cover (coverage step), sorted.
    uncovered: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expired_now: bool = False
    signature_xml: str = ""
    provider: str | None = None

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def set(self, name: str, outcome: Outcome, reason: str = "") -> None:
        s = self.step(name)
        s.outcome = outcome
        s.reason = reason

    @property
    def failed_steps(self) -> list[Step]:
        return [s for s in self.steps if s.outcome == "fail"]

    def finish(self) -> None:
        failed = any(self.step(name).outcome == "fail" for name in INTEGRITY_STEPS)
        signer_ok = self.step(STEP_SIGNER).outcome == "pass"
        self.valid = signer_ok and not failed
        trust = self.step(STEP_TRUST).outcome
        self.trusted = None if trust == "not_run" else trust == "pass"
        if not self.valid:
            self.status = "invalid" if failed else "unverifiable"
        else:
            self.status = {True: "valid", False: "untrusted", None: "intact"}[self.trusted]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OfdSignatureReport:
    """Signatures of one OFD. ``signed`` is False for an unsigned (or unreadable) document."""

    signed: bool
    signatures: list[SignatureVerdict] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None

    @property
    def valid(self) -> bool:
        """True only for a signed document whose every signature is intact (``SignatureVerdict.valid``)."""
        return self.signed and self.error is None and all(v.valid for v in self.signatures)

    @property
    def trusted(self) -> bool | None:
        """False if any signature is untrusted, True if every one is trusted, else None (not checked)."""
        if not self.signed or self.error is not None:
            return None
        values = [v.trusted for v in self.signatures]
        if False in values:
            return False
        return True if all(values) else None

    @property
    def any_invalid(self) -> bool:
        return any(v.status == "invalid" for v in self.signatures)

    @property
    def any_untrusted(self) -> bool:
        return any(v.status == "untrusted" for v in self.signatures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "signed": self.signed,
            "valid": self.valid,
            "trusted": self.trusted,
            "signatures": [v.as_dict() for v in self.signatures],
            "error": self.error,
            "error_code": self.error_code,
        }


@dataclass
class SignatureEntry:
    """One ``<Signature>`` of a Signatures.xml."""

    id: str
    type: str
    part: str | None  # resolved path of Signature.xml, None when it cannot be resolved
    signatures_xml: str
    problem: str = ""
    #: Document.xml of the DocBody whose signature list declares it (None when unknown).
    doc_part: str | None = None


@dataclass
class SignatureXml:
    part: str
    provider: str
    method: str
    datetime_text: str
    check_method: str
    references: list[tuple[str, str]]
    signed_value: str
    seal_loc: str
    stamp_annots: int


# --- discovery ------------------------------------------------------------------------------------


def _entry_part(container: OfdContainer) -> str:
    found = container.locate("OFD.xml")
    if found is None:
        raise OfdError(
            "not an OFD: OFD.xml is missing from the container root", target="OFD.xml", code="OFD_NO_ENTRY"
        )
    return found.name


def _read_root(container: OfdContainer) -> etree._Element:
    part = _entry_part(container)
    root = container.read_xml(part)
    if local(root) != "OFD":
        raise OfdError(
            f"OFD.xml root element is <{local(root)}>, not <OFD>", target=part, code="OFD_NO_ENTRY"
        )
    return root


def signature_entries(container: OfdContainer) -> list[SignatureEntry]:
    """The signatures the document declares (OFD.xml DocBody/Signatures, also Document.xml/Signatures).

    Raises OfdError(``OFD_LIMIT``) when the lists declare more than ``limits.max_signatures``.
    """
    root = _read_root(container)
    lists: dict[str, str | None] = {}  # signature list part → Document.xml of its DocBody
    problems: list[SignatureEntry] = []
    for body in children(root, "DocBody"):
        refs = [(child_text(body, "Signatures"), "")]
        doc_ref = child_text(body, "DocRoot")
        doc_part: str | None = None
        if doc_ref:
            try:
                doc_loc = container.find(doc_ref, "")
                if doc_loc is not None:
                    doc_part = doc_loc.name
                    doc = container.read_xml(doc_loc.name)
                    refs.append((child_text(doc, "Signatures"), folder_of(doc_loc.name)))
            except OfdError:
                pass  # structure validation reports an unreadable Document.xml
        for ref, base in refs:
            if not ref:
                continue
            try:
                loc = container.find(ref, base)
            except OfdError as exc:
                problems.append(
                    SignatureEntry("", "Seal", None, ref, f"Signatures {ref!r}: {exc.message}", doc_part)
                )
                continue
            if loc is None:
                problems.append(
                    SignatureEntry(
                        "", "Seal", None, ref, f"Signatures.xml {ref} is missing from the container", doc_part
                    )
                )
            elif loc.name not in lists:
                lists[loc.name] = doc_part
    entries: list[SignatureEntry] = list(problems)
    cap = container.limits.max_signatures
    for part, doc_part in lists.items():
        try:
            sigs = container.read_xml(part)
        except OfdError as exc:
            entries.append(SignatureEntry("", "Seal", None, part, f"{part}: {exc.message}", doc_part))
            continue
        declared = children(sigs, "Signature")
        if len(entries) + len(declared) > cap:
            raise OfdError(
                f"{part}: the document declares more than {cap} signatures ({len(entries) + len(declared)}): "
                "refused, not verified",
                target=part,
                code="OFD_LIMIT",
            )
        for el in declared:
            sid = el.get("ID", "")
            kind = el.get("Type") or "Seal"
            base_loc = el.get("BaseLoc", "")
            try:
                loc = container.find(base_loc, folder_of(part)) if base_loc else None
            except OfdError as exc:
                entries.append(
                    SignatureEntry(sid, kind, None, part, f"BaseLoc {base_loc!r}: {exc.message}", doc_part)
                )
                continue
            if loc is None:
                entries.append(
                    SignatureEntry(
                        sid,
                        kind,
                        None,
                        part,
                        f"Signature.xml {base_loc or '(no BaseLoc)'} is missing",
                        doc_part,
                    )
                )
            else:
                entries.append(SignatureEntry(sid, kind, loc.name, part, "", doc_part))
    return entries


def parse_signature_xml(container: OfdContainer, part: str) -> tuple[SignatureXml, bytes]:
    data = container.read(part, max_bytes=container.limits.max_xml_bytes)
    root = parse_xml(data, part)
    if local(root) != "Signature":
        raise OfdError(
            f"{part}: root element is <{local(root)}>, not <Signature>", target=part, code="OFD_XML_INVALID"
        )
    info = child(root, "SignedInfo")
    if info is None:
        raise OfdError(f"{part}: no SignedInfo", target=part, code="OFD_XML_INVALID")
    provider_el = child(info, "Provider")
    provider = ""
    if provider_el is not None:
        provider = " ".join(
            v
            for v in (
                provider_el.get("ProviderName", ""),
                provider_el.get("Version", ""),
                provider_el.get("Company", ""),
            )
            if v
        )
    refs_el = child(info, "References")
    references: list[tuple[str, str]] = []
    check_method = ""
    if refs_el is not None:
        check_method = refs_el.get("CheckMethod", "")
        for ref in children(refs_el, "Reference"):
            references.append((ref.get("FileRef", ""), child_text(ref, "CheckValue")))
    seal_el = child(info, "Seal")
    seal_loc = child_text(seal_el, "BaseLoc") if seal_el is not None else ""
    return (
        SignatureXml(
            part=part,
            provider=provider,
            method=child_text(info, "SignatureMethod"),
            datetime_text=child_text(info, "SignatureDateTime"),
            check_method=check_method,
            references=references,
            signed_value=child_text(root, "SignedValue"),
            seal_loc=seal_loc,
            stamp_annots=len(children(info, "StampAnnot")),
        ),
        data,
    )


# --- steps ----------------------------------------------------------------------------------------


class _Digests:
    """Digests of container parts, each (part, algorithm) computed once per document, within a budget."""

    def __init__(self, container: OfdContainer) -> None:
        self.container = container
        self.budget = container.limits.max_digest_bytes
        self.used = 0
        self.cache: dict[tuple[str, str], bytes | OfdError] = {}

    def get(self, part: str, algorithm: str) -> bytes:
        key = (part, algorithm)
        if key not in self.cache:
            size = self.container.size(part)
            if self.used + size > self.budget:
                raise OfdError(
                    f"not hashed: the document's hashing budget of {self.budget} bytes is spent",
                    target=part,
                    code="OFD_LIMIT",
                )
            self.used += size
            try:
                self.cache[key] = self.container.digest(part, algorithm)
            except OfdError as exc:
                self.cache[key] = exc
        value = self.cache[key]
        if isinstance(value, OfdError):
            raise value
        return value


@dataclass
class _Context:
    """What verifying the signatures of one document shares."""

    container: OfdContainer
    entries: list[SignatureEntry]
    certificates: list[bytes]
    trusted_makers: list[bytes]
    trusted_signers: list[bytes]
    digests: _Digests
    content: set[str]
    lists: set[str]
    doc_parts: set[str]
    parsed: dict[str, tuple[SignatureXml, bytes] | OfdError] = field(default_factory=dict)
    own_files: dict[int, set[str]] = field(default_factory=dict)  # by position in ``entries``

    def signature_xml(self, part: str) -> tuple[SignatureXml, bytes]:
        if part not in self.parsed:
            try:
                self.parsed[part] = parse_signature_xml(self.container, part)
            except OfdError as exc:
                self.parsed[part] = exc
        value = self.parsed[part]
        if isinstance(value, OfdError):
            raise value
        return value


def _check_references(ctx: _Context, sx: SignatureXml, verdict: SignatureVerdict) -> set[str] | None:
    """The references step; the container parts the References name (found ones), None if not checked."""
    container = ctx.container
    cap = container.limits.max_references
    if len(sx.references) > cap:
        verdict.set(
            STEP_REFERENCES,
            "fail",
            f"Signature.xml lists {len(sx.references)} references, over the limit of {cap}: not checked",
        )
        return None
    method_key = sx.check_method.strip().lower()
    if not method_key:
        algorithm = "sm3"
        verdict.notes.append("References has no CheckMethod: SM3 assumed")
    else:
        algorithm = _CHECK_METHODS.get(method_key, _CHECK_METHODS.get(sx.check_method.strip(), ""))
    resolved: list[tuple[str, str, str | None, str]] = []  # (shown, CheckValue, part, problem)
    missing: list[str] = []
    other: list[str] = []
    for file_ref, check_value in sx.references:
        shown = file_ref or "(empty FileRef)"
        try:
            loc = container.find(file_ref, "") if file_ref else None
            if loc is None and file_ref:
                loc = container.find(file_ref, folder_of(sx.part))
        except OfdError as exc:
            resolved.append((shown, check_value, None, exc.message))
            continue
        if loc is None:
            resolved.append((shown, check_value, None, "file is missing from the container"))
            continue
        if not loc.exact:
            verdict.notes.append(f"reference {shown} found as {loc.name} ({loc.how})")
        resolved.append((shown, check_value, loc.name, ""))
    referenced = {part for _, _, part, _ in resolved if part is not None}
    if not sx.references:
        verdict.set(STEP_REFERENCES, "fail", "Signature.xml lists no references: it protects no file")
        return referenced
    if not algorithm:
        verdict.set(STEP_REFERENCES, "fail", f"unsupported CheckMethod {sx.check_method!r}")
        return referenced
    if algorithm in ("md5", "sha1"):
        verdict.notes.append(f"references use the weak digest {algorithm.upper()}")
    mismatched: list[str] = []
    for shown, check_value, part, problem in resolved:
        try:
            expected = base64.b64decode(check_value.strip(), validate=True)
        except (binascii.Error, ValueError):
            verdict.references.append(ReferenceCheck(shown, False, "CheckValue is not base64"))
            other.append(f"{shown} (CheckValue not base64)")
            continue
        if part is None:
            verdict.references.append(ReferenceCheck(shown, False, problem))
            if problem == "file is missing from the container":
                missing.append(shown)
            else:
                other.append(f"{shown} ({problem})")
            continue
        try:
            actual = ctx.digests.get(part, algorithm)
        except OfdError as exc:
            verdict.references.append(ReferenceCheck(shown, False, exc.message))
            other.append(f"{shown} ({exc.message})")
            continue
        if actual == expected:
            verdict.references.append(ReferenceCheck(shown, True))
        else:
            verdict.references.append(
                ReferenceCheck(
                    shown,
                    False,
                    f"CheckValue mismatch: file {algorithm.upper()} is {base64.b64encode(actual).decode()}",
                )
            )
            mismatched.append(shown)
    total = len(sx.references)
    if not (mismatched or missing or other):
        verdict.set(STEP_REFERENCES, "pass", f"all {total} references match ({algorithm.upper()})")
        return referenced
    parts = []
    if mismatched:
        parts.append("content modified (CheckValue mismatch): " + ", ".join(mismatched))
    if missing:
        parts.append("referenced file missing: " + ", ".join(missing))
    if other:
        parts.append("unreadable: " + ", ".join(other))
    bad = len(mismatched) + len(missing) + len(other)
    verdict.set(STEP_REFERENCES, "fail", f"{bad} of {total} references fail — " + "; ".join(parts))
    return referenced


def _own_folder(ctx: _Context, entry: SignatureEntry) -> str | None:
    """The folder that belongs to this signature alone (``Doc_0/Signs/Sign_1``), or None.

    Only a folder strictly inside the folder of its signature list, when that list folder is neither
    the document's folder nor above it, and when it holds no other signature, list or document.
    """
    if entry.part is None:
        return None
    sig_folder = folder_of(entry.part)
    list_folder = folder_of(entry.signatures_xml)
    if not list_folder or not sig_folder.startswith(list_folder + "/"):
        return None
    if entry.doc_part is not None and (folder_of(entry.doc_part) + "/").startswith(list_folder + "/"):
        return None
    prefix = sig_folder + "/"
    others = [e.part for e in ctx.entries if e is not entry and e.part]
    if any(p.startswith(prefix) for p in [*others, *ctx.lists, *ctx.doc_parts]):
        return None
    return sig_folder


def _signature_files(ctx: _Context, position: int) -> set[str]:
    """The files of one signature: its Signature.xml, SignedValue, Seal file and own folder — never a
    part the documents use as content."""
    if position not in ctx.own_files:
        ctx.own_files[position] = _find_signature_files(ctx, ctx.entries[position])
    return ctx.own_files[position]


def _under(name: str, folders: set[str]) -> bool:
    """Whether ``name`` lies inside one of ``folders`` (at any depth)."""
    folder = folder_of(name)
    while folder:
        if folder in folders:
            return True
        folder = folder_of(folder)
    return False


def _find_signature_files(ctx: _Context, entry: SignatureEntry) -> set[str]:
    if entry.part is None:
        return set()
    container = ctx.container
    files = {entry.part}
    try:
        sx: SignatureXml | None = ctx.signature_xml(entry.part)[0]
    except OfdError:
        sx = None
    if sx is not None:
        for ref in (sx.signed_value, sx.seal_loc):
            if not ref:
                continue
            try:
                loc = container.find(ref, folder_of(entry.part))
            except OfdError:
                loc = None
            if loc is not None:
                files.add(loc.name)
    folder = _own_folder(ctx, entry)
    if folder is not None:
        files.update(name for name in container.entries if _under(name, {folder}))
    return files - ctx.content


def _check_coverage(
    ctx: _Context, entry: SignatureEntry, referenced: set[str] | None, verdict: SignatureVerdict
) -> None:
    if referenced is None:
        verdict.set(STEP_COVERAGE, "not_run", "the references were not checked")
        return
    own_doc_folder = folder_of(entry.doc_part) if entry.doc_part else None
    other_docs: set[str] = set()
    for doc_part in ctx.doc_parts:
        folder = folder_of(doc_part)
        if doc_part == entry.doc_part or not folder:
            continue
        if own_doc_folder is not None and (own_doc_folder + "/").startswith(folder + "/"):
            continue  # that document's folder holds this one
        other_docs.add(folder)
    required = {name for name in ctx.container.entries if not _under(name, other_docs)}
    required -= ctx.lists - ctx.content
    index = next(i for i, e in enumerate(ctx.entries) if e is entry)
    for position, other in enumerate(ctx.entries):
        if position >= index or other.doc_part != entry.doc_part:
            required -= _signature_files(ctx, position)
    uncovered = sorted(required - referenced)
    verdict.uncovered = ["/" + name for name in uncovered[:_MAX_UNCOVERED]]
    if not uncovered:
        verdict.set(
            STEP_COVERAGE,
            "pass",
            f"the references cover all {len(required)} files of the signed document "
            "(signature lists and the files of this and later signatures excepted)",
        )
        return
    shown = ", ".join("/" + name for name in uncovered[:_SHOWN_UNCOVERED])
    more = f" (+{len(uncovered) - _SHOWN_UNCOVERED} more)" if len(uncovered) > _SHOWN_UNCOVERED else ""
    verdict.set(
        STEP_COVERAGE,
        "fail",
        f"{len(uncovered)} of {len(required)} files of the signed document are not covered by the "
        f"references and could be changed without breaking this signature: {shown}{more}",
    )


def _check_trust(
    verdict: SignatureVerdict,
    cert: bytes | None,
    trusted: Sequence[bytes],
    role: str,
    intermediates: Sequence[bytes] = (),
) -> None:
    """The trust step for the seal maker's (role "seal maker") or the signer's certificate."""
    if not trusted:
        verdict.set(STEP_TRUST, "not_run", NO_TRUSTED_MAKERS if role == "seal maker" else NO_TRUSTED_SIGNERS)
        return
    if cert is None:
        verdict.set(STEP_TRUST, "not_run", f"no {role} certificate to check")
        return
    ok, how = _trust.match_trusted(cert, trusted, intermediates)
    try:
        cn = ses.cert_facts(cert).subject_cn
    except DanganError:
        cn = ""
    who = f"{role} certificate CN={cn}" if cn else f"{role} certificate"
    verdict.set(STEP_TRUST, "pass" if ok else "fail", f"{who} {how}")


def _iso(moment: _dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(_dt.UTC).isoformat()


def _validity(
    verdict: SignatureVerdict,
    at: _dt.datetime | None,
    at_source: str,
    certs: Sequence[tuple[str, ses.CertFacts]],
    seal: ses.ParsedSeal | None,
) -> None:
    if at is None:
        verdict.set(STEP_VALIDITY, "fail", "the signing time cannot be determined")
        return
    now = _dt.datetime.now(_dt.UTC)
    problems: list[str] = []
    checked: list[str] = []
    for label, facts in certs:
        if facts.not_before is None or facts.not_after is None:
            problems.append(f"{label} has no readable validity period")
            continue
        checked.append(f"{label} {facts.not_before.date()}…{facts.not_after.date()}")
        if at < facts.not_before:
            problems.append(
                f"{label} was not yet valid at signing time (valid from {_iso(facts.not_before)})"
            )
        elif at > facts.not_after:
            problems.append(f"{label} had expired at signing time (valid until {_iso(facts.not_after)})")
        elif facts.not_after < now:
            verdict.expired_now = True
            verdict.notes.append(
                f"informational: {label} expired on {_iso(facts.not_after)}, after signing (valid at signing time)"
            )
    if seal is not None:
        if seal.valid_start is None or seal.valid_end is None:
            problems.append("the seal has no readable validity period")
        else:
            checked.append(f"seal {seal.valid_start.date()}…{seal.valid_end.date()}")
            if at < seal.valid_start:
                problems.append(
                    f"the seal was not yet valid at signing time (valid from {_iso(seal.valid_start)})"
                )
            elif at > seal.valid_end:
                problems.append(f"the seal had expired at signing time (valid until {_iso(seal.valid_end)})")
            elif seal.valid_end < now:
                verdict.expired_now = True
                verdict.notes.append(
                    f"informational: the seal's validity ended on {_iso(seal.valid_end)}, after signing"
                )
    when = f"signing time {_iso(at)} ({at_source})"
    if problems:
        verdict.set(STEP_VALIDITY, "fail", f"{when}: " + "; ".join(problems))
    else:
        verdict.set(STEP_VALIDITY, "pass", f"{when} within " + ", ".join(checked))


def _facts(cert_der: bytes, verdict: SignatureVerdict, label: str) -> ses.CertFacts | None:
    try:
        return ses.cert_facts(cert_der)
    except DanganError as exc:
        verdict.notes.append(f"{label}: {exc.message}")
        return None


def _algorithm(oid: str) -> str:
    if oid in ses.SM2_OIDS:
        return f"SM2-SM3 ({oid})"
    return f"unsupported ({oid})"


def _verify_seal(
    verdict: SignatureVerdict, sx: SignatureXml, sx_bytes: bytes, value: bytes, ctx: _Context
) -> None:
    container = ctx.container
    try:
        parsed = ses.parse_ses_signature(value)
    except ses.SesError as exc:
        verdict.set(STEP_SIGNER, "fail", f"SignedValue.dat is not a readable SES_Signature: {exc.message}")
        return
    seal = parsed.seal
    verdict.format = parsed.format
    verdict.seal_name = seal.name
    verdict.seal_id = seal.es_id
    verdict.time = _iso(parsed.signing_time)
    verdict.algorithm = _algorithm(parsed.signature_algorithm)
    if seal.format != parsed.format:
        verdict.notes.append(f"the seal inside is in the {seal.format} layout")
    if parsed.trailing_bytes:
        verdict.notes.append(f"{parsed.trailing_bytes} bytes after the DER SES_Signature were ignored")
    if parsed.has_timestamp:
        verdict.notes.append("a timeStamp is present; it is not verified")
    if parsed.property_info and parsed.property_info.lstrip("/") != sx.part:
        verdict.notes.append(f"propertyInfo names {parsed.property_info}, the signature is {sx.part}")
    signer = _facts(parsed.signer_cert, verdict, "signer certificate")
    maker = _facts(seal.maker_cert, verdict, "seal maker certificate")
    verdict.signer = signer.subject_cn if signer else None

    # 1. signer's signature over DER(TBS_Sign)
    if parsed.signature_algorithm not in ses.SM2_OIDS:
        verdict.set(STEP_SIGNER, "fail", f"unsupported signature algorithm {parsed.signature_algorithm}")
    else:
        ok, why = ses.verify_sm2(parsed.signer_cert, parsed.tbs_der, parsed.signature)
        who = f"CN={signer.subject_cn}" if signer else "the signer certificate"
        if ok:
            verdict.set(STEP_SIGNER, "pass", f"SM2 signature over DER TBS_Sign verifies with {who}")
        else:
            verdict.set(STEP_SIGNER, "fail", f"SM2 signature over DER TBS_Sign with {who}: {why}")

    # 2. signer certificate listed in the seal
    ok, why = ses.cert_in_list(seal, parsed.signer_cert)
    verdict.set(STEP_CERT_IN_SEAL, "pass" if ok else "fail", why)

    # 3. seal maker's signature
    if seal.signature_algorithm not in ses.SM2_OIDS:
        verdict.set(STEP_SEAL, "fail", f"unsupported seal signature algorithm {seal.signature_algorithm}")
    else:
        who = f"maker CN={maker.subject_cn}" if maker else "the maker certificate"
        for index, (label, data) in enumerate(seal.signed_candidates):
            ok, why = ses.verify_sm2(seal.maker_cert, data, seal.signature)
            if ok:
                extra = "" if index == 0 else f" (not the {seal.format} form {seal.signed_candidates[0][0]})"
                verdict.set(STEP_SEAL, "pass", f"{who} signed DER {label}{extra}")
                break
        else:
            verdict.set(
                STEP_SEAL, "fail", f"{who}: signature over DER {seal.signed_candidates[0][0]} does not verify"
            )
        if (
            maker
            and seal.create_date
            and maker.not_before
            and maker.not_after
            and not maker.not_before <= seal.create_date <= maker.not_after
        ):
            verdict.notes.append(
                f"informational: the seal's createDate {_iso(seal.create_date)} is outside the maker certificate's "
                f"validity {_iso(maker.not_before)}…{_iso(maker.not_after)}"
            )

    # trust: the maker certificate against the trusted seal makers
    _check_trust(verdict, seal.maker_cert, ctx.trusted_makers, "seal maker")

    # 4. validity at signing time
    if signer is None:
        verdict.set(STEP_VALIDITY, "fail", "signer certificate cannot be read")
    else:
        _validity(verdict, parsed.signing_time, "TBS_Sign timeInfo", [("signer certificate", signer)], seal)

    # 5. dataHash = SM3(Signature.xml)
    computed = sm.sm3(sx_bytes).digest()
    if parsed.data_hash == computed:
        verdict.set(STEP_DATA_HASH, "pass", "dataHash equals SM3 of Signature.xml")
    else:
        verdict.set(
            STEP_DATA_HASH,
            "fail",
            f"dataHash {parsed.data_hash.hex()} ≠ SM3(Signature.xml) {computed.hex()}: Signature.xml was changed",
        )

    # Seal.esl beside the signature, when present, should be the seal that was signed.
    if sx.seal_loc:
        try:
            loc = container.find(sx.seal_loc, folder_of(sx.part))
            if loc is not None and container.read(loc.name) != seal.der:
                verdict.notes.append(f"{loc.name} differs from the seal inside SignedValue.dat")
        except OfdError as exc:
            verdict.notes.append(f"Seal {sx.seal_loc}: {exc.message}")


def _xml_time(sx: SignatureXml) -> _dt.datetime | None:
    return ses.parse_time_text(sx.datetime_text) if sx.datetime_text else None


def _no_seal(verdict: SignatureVerdict) -> None:
    verdict.set(STEP_CERT_IN_SEAL, "not_run", "plain digital signature: no seal")
    verdict.set(STEP_SEAL, "not_run", "plain digital signature: no seal")


def _verify_signed_data(
    verdict: SignatureVerdict, sx: SignatureXml, sx_bytes: bytes, value: bytes, ctx: _Context
) -> None:
    _no_seal(verdict)
    try:
        parsed = ses.parse_signed_data(value)
    except ses.SesError as exc:
        verdict.set(STEP_SIGNER, "fail", f"SignedValue.dat is not a readable SignedData: {exc.message}")
        return
    verdict.format = (
        "GB/T 35275 SignedData" if parsed.outer_type == ses.GM_SIGNED_DATA_OID else "PKCS#7 SignedData"
    )
    verdict.algorithm = _algorithm(parsed.signature_algorithm)
    if parsed.signer_cert is None:
        verdict.set(STEP_SIGNER, "fail", "the SignedData carries no signer certificate")
        return
    signer = _facts(parsed.signer_cert, verdict, "signer certificate")
    verdict.signer = signer.subject_cn if signer else None
    content = parsed.content if parsed.content is not None else sx_bytes
    if parsed.signature_algorithm not in ses.SM2_OIDS or parsed.digest_algorithm != ses.SM3_OID:
        verdict.set(
            STEP_SIGNER,
            "fail",
            f"unsupported algorithms: digest {parsed.digest_algorithm}, signature {parsed.signature_algorithm}",
        )
    else:
        if parsed.signed_attrs_der is not None:
            data = parsed.signed_attrs_der
            what = "signed attributes"
            digest_ok = parsed.message_digest == sm.sm3(content).digest()
        else:
            data = content
            what = "encapsulated content" if parsed.content is not None else "Signature.xml (detached)"
            digest_ok = True
        ok, why = ses.verify_sm2(parsed.signer_cert, data, parsed.signature)
        who = f"CN={signer.subject_cn}" if signer else "the signer certificate"
        if ok and digest_ok:
            verdict.set(STEP_SIGNER, "pass", f"SM2 signature over the {what} verifies with {who}")
        elif ok:
            verdict.set(STEP_SIGNER, "fail", "messageDigest attribute does not match the content")
        else:
            verdict.set(STEP_SIGNER, "fail", f"SM2 signature over the {what} with {who}: {why}")
    others = [c for c in parsed.certificates if c != parsed.signer_cert]
    _check_trust(verdict, parsed.signer_cert, ctx.trusted_signers, "signer", others)
    at, source = parsed.signing_time, "signed signingTime attribute"
    if at is None:
        at, source = _xml_time(sx), "SignatureDateTime of Signature.xml (not signed)"
    verdict.time = _iso(at)
    if signer is None:
        verdict.set(STEP_VALIDITY, "fail", "signer certificate cannot be read")
    else:
        _validity(verdict, at, source, [("signer certificate", signer)], None)
    computed = sm.sm3(sx_bytes).digest()
    if parsed.content is None:
        verdict.set(STEP_DATA_HASH, "pass", "detached signature computed over the Signature.xml bytes")
    elif parsed.content == computed:
        verdict.set(STEP_DATA_HASH, "pass", "signed content equals SM3 of Signature.xml")
    elif parsed.content == sx_bytes:
        verdict.set(STEP_DATA_HASH, "pass", "signed content is Signature.xml itself")
    else:
        verdict.set(
            STEP_DATA_HASH,
            "fail",
            f"signed content {parsed.content[:32].hex()} ≠ SM3(Signature.xml) {computed.hex()}: Signature.xml was changed",
        )


def _verify_raw(
    verdict: SignatureVerdict, sx: SignatureXml, sx_bytes: bytes, value: bytes, ctx: _Context
) -> None:
    certificates = ctx.certificates
    _no_seal(verdict)
    verdict.format = "bare SM2 signature (" + ("raw r‖s" if len(value) == 64 else "DER SEQUENCE{r, s}") + ")"
    method = sx.method.strip()
    verdict.algorithm = _algorithm(method) if method else "SM2-SM3 (assumed: no SignatureMethod)"
    if method and method not in ses.SM2_OIDS and method.upper() not in ("SM2", "SM3WITHSM2", "SM2-SM3"):
        verdict.set(STEP_SIGNER, "fail", f"unsupported SignatureMethod {method}")
        return
    at = _xml_time(sx)
    verdict.time = _iso(at)
    if not certificates:
        verdict.set(
            STEP_SIGNER,
            "not_run",
            "SignedValue.dat is a bare SM2 signature that carries no certificate: supply the signer's certificate",
        )
        verdict.set(STEP_VALIDITY, "not_run", "no signer certificate")
        verdict.set(STEP_DATA_HASH, "not_run", "no signer certificate")
        return
    for cert in certificates:
        ok, _why = ses.verify_sm2(cert, sx_bytes, value)
        if ok:
            facts = _facts(cert, verdict, "supplied certificate")
            verdict.signer = facts.subject_cn if facts else None
            verdict.set(
                STEP_SIGNER,
                "pass",
                f"SM2 signature over the Signature.xml bytes verifies with the supplied certificate CN={verdict.signer}",
            )
            verdict.set(
                STEP_DATA_HASH, "pass", "the signature is computed over the Signature.xml bytes directly"
            )
            _check_trust(verdict, cert, ctx.trusted_signers, "signer")
            if facts is None:
                verdict.set(STEP_VALIDITY, "fail", "signer certificate cannot be read")
            else:
                _validity(
                    verdict,
                    at,
                    "SignatureDateTime of Signature.xml (not signed)",
                    [("signer certificate", facts)],
                    None,
                )
            return
    verdict.set(
        STEP_SIGNER,
        "fail",
        f"SM2 signature over the Signature.xml bytes does not verify with any of the {len(certificates)} supplied certificates",
    )
    verdict.set(STEP_DATA_HASH, "not_run", "signature did not verify")


def _verify_entry(ctx: _Context, entry: SignatureEntry, seen: dict[str, str]) -> SignatureVerdict:
    container = ctx.container
    verdict = SignatureVerdict(id=entry.id, type=entry.type, signature_xml=entry.part or "")
    trusted = ctx.trusted_signers if entry.type == "Sign" else ctx.trusted_makers
    if not trusted:
        verdict.set(STEP_TRUST, "not_run", NO_TRUSTED_SIGNERS if entry.type == "Sign" else NO_TRUSTED_MAKERS)
    else:
        verdict.set(STEP_TRUST, "not_run", "not checked: the signature could not be read")
    verdict.set(STEP_COVERAGE, "not_run", "the references were not checked")
    if entry.type not in ("Seal", "Sign"):
        verdict.notes.append(f"unknown signature Type {entry.type!r}")
    if entry.part is None:
        verdict.set(STEP_SIGNER, "fail", entry.problem)
        verdict.set(STEP_REFERENCES, "fail", entry.problem)
        verdict.finish()
        return verdict
    if entry.part in seen:
        problem = (
            f"{entry.part} is also the Signature.xml of signature {seen[entry.part]!r}: not verified twice"
        )
        verdict.set(STEP_SIGNER, "fail", problem)
        verdict.set(STEP_REFERENCES, "fail", problem)
        verdict.finish()
        return verdict
    seen[entry.part] = entry.id
    try:
        sx, sx_bytes = ctx.signature_xml(entry.part)
    except OfdError as exc:
        verdict.set(STEP_SIGNER, "fail", f"Signature.xml cannot be read: {exc.message}")
        verdict.set(STEP_REFERENCES, "fail", "Signature.xml cannot be read")
        verdict.finish()
        return verdict
    verdict.provider = sx.provider or None
    referenced = _check_references(ctx, sx, verdict)
    _check_coverage(ctx, entry, referenced, verdict)
    value: bytes | None = None
    if not sx.signed_value:
        verdict.set(STEP_SIGNER, "fail", "Signature.xml names no SignedValue")
    else:
        try:
            loc = container.find(sx.signed_value, folder_of(entry.part))
            if loc is None:
                verdict.set(
                    STEP_SIGNER, "fail", f"SignedValue {sx.signed_value} is missing from the container"
                )
            else:
                value = container.read(loc.name)
        except OfdError as exc:
            verdict.set(STEP_SIGNER, "fail", f"SignedValue {sx.signed_value}: {exc.message}")
    if value is not None:
        try:
            if ses.is_signed_data(value):
                _verify_signed_data(verdict, sx, sx_bytes, value, ctx)
                kind = "Sign"
            elif ses.is_raw_signature(value):
                _verify_raw(verdict, sx, sx_bytes, value, ctx)
                kind = "Sign"
            else:
                _verify_seal(verdict, sx, sx_bytes, value, ctx)
                kind = "Seal"
        except RecursionError:  # backstop: ses bounds nesting before parsing
            verdict.set(STEP_SIGNER, "fail", "SignedValue.dat is nested too deeply to be parsed")
            kind = entry.type
        if kind != entry.type:
            verdict.notes.append(
                f"Type is {entry.type!r} but SignedValue.dat holds a {verdict.format or 'seal signature'}"
            )
    verdict.finish()
    return verdict


def _certificate_ders(certificates: Iterable[bytes]) -> list[bytes]:
    return [sm.certificate_der_from_pem(c) for c in certificates]


def verify_signatures(
    path: str | Path,
    *,
    certificates: Iterable[bytes] = (),
    trusted_makers: Iterable[bytes] | None = None,
    trusted_signers: Iterable[bytes] | None = None,
    limits: OfdLimits | None = None,
) -> list[SignatureVerdict]:
    """Verify every signature of the OFD at ``path`` (an empty list when it is unsigned).

    ``certificates`` (DER or PEM) are used only for bare signatures, which carry none; they are not
    trusted for that. ``trusted_makers``: certificates (DER or PEM) trusted as seal makers (制章者);
    ``trusted_signers``: certificates trusted as signers of plain signatures, or as their issuing CAs
    (e.g. ``load_trust_store(path).makers`` / ``.signers``). None or empty: the trust step is not run.
    Raises OfdError when the file is not a readable OFD, or declares more signatures than
    ``limits.max_signatures`` (``OFD_LIMIT``).
    """
    certs = _certificate_ders(certificates)
    makers = _trust.trusted_ders(trusted_makers)
    signers = _trust.trusted_ders(trusted_signers)
    with OfdContainer(path, limits) as container:
        entries = signature_entries(container)
        if not entries:
            return []
        ctx = _Context(
            container=container,
            entries=entries,
            certificates=certs,
            trusted_makers=makers,
            trusted_signers=signers,
            digests=_Digests(container),
            content=content_parts(container),
            lists={e.signatures_xml for e in entries if e.part is not None},
            doc_parts={e.doc_part for e in entries if e.doc_part is not None} | _document_parts(container),
        )
        seen: dict[str, str] = {}
        return [_verify_entry(ctx, entry, seen) for entry in entries]


def _document_parts(container: OfdContainer) -> set[str]:
    """Document.xml of every DocBody (unresolvable ones left out)."""
    out: set[str] = set()
    for body in children(_read_root(container), "DocBody"):
        ref = child_text(body, "DocRoot")
        if not ref:
            continue
        try:
            loc = container.find(ref, "")
        except OfdError:
            continue
        if loc is not None:
            out.add(loc.name)
    return out


def verify_document(
    path: str | Path,
    *,
    certificates: Iterable[bytes] = (),
    trusted_makers: Iterable[bytes] | None = None,
    trusted_signers: Iterable[bytes] | None = None,
    limits: OfdLimits | None = None,
) -> OfdSignatureReport:
    """Signature report for one OFD; never raises for a bad file (``error`` says why).

    See :func:`verify_signatures` for the arguments.
    """
    try:
        verdicts = verify_signatures(
            path,
            certificates=certificates,
            trusted_makers=trusted_makers,
            trusted_signers=trusted_signers,
            limits=limits,
        )
    except DanganError as exc:
        return OfdSignatureReport(signed=False, error=exc.message, error_code=exc.code)
    return OfdSignatureReport(signed=bool(verdicts), signatures=verdicts)


__all__ = [
    "INTEGRITY_STEPS",
    "NO_TRUSTED_MAKERS",
    "NO_TRUSTED_SIGNERS",
    "STEP_LABELS",
    "STEP_ORDER",
    "OfdSignatureReport",
    "ReferenceCheck",
    "SignatureEntry",
    "SignatureVerdict",
    "Step",
    "verify_document",
    "verify_signatures",
]
