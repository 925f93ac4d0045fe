"""Verify an EEP as a stream: signature, embedded file digests, structure (XSD) — in bounded memory.

One pass of lxml's *target* parser (SAX-like: libxml2 hands text over in pieces of at most the fed chunk,
so a Base64 node of gigabytes never exists as one string, and nothing builds a tree of it) does all:

* refuses a DOCTYPE (so no entities: no XXE, no billion laughs), never touches the network;
* re-canonicalises 被签名对象 from the parse events with the same :class:`Canonicalizer` the writer uses
  and feeds the bytes to SM3(Z_A ‖ ·) for each candidate signer key;
* decodes each 编码数据 chunk by chunk (strict Base64) and hashes the raw bytes with SM3;
* builds a *skeleton* tree of everything else (each 编码数据 left empty), bounded in depth, element
  count and text size, which is validated against ``dangan-eep-2009.xsd`` afterwards.

Z_A depends on the signer's public key, and the certificate comes *after* 被签名对象. The verifier
therefore reads the certificates from the last MiB of the file first (a hint only) and hashes for those
keys (and any trusted certificate's). If the certificate actually found in the parsed signature block is
another, a second pass computes its digest; the hint can cost time, never correctness.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, cast

from asn1crypto import x509 as _x509
from lxml import etree

from dangan.core import sm
from dangan.core.errors import SignatureError
from dangan.core.package.eep import names as n
from dangan.core.package.eep.c14n import Canonicalizer, NamespaceError
from dangan.core.package.eep.model import BackgroundHash, EepFileCheck, EepReport, EepSignatureCheck, Point
from dangan.core.package.eep.sm2digest import parse_signature, point_from_certificate, verify_digest, z_a

READ_CHUNK = 1024 * 1024
HEAD_SCAN = 64 * 1024
TAIL_SCAN = 1024 * 1024
MAX_DEPTH = 64
MAX_ELEMENTS = 1_000_000
MAX_SKELETON_CHARS = 32 * 1024 * 1024
MAX_CANDIDATES = 8
MAX_SCHEMA_ERRORS = 10

Progress = Callable[[int, int], None]


class _Stop(Exception):
    def __init__(self, code: str, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal


class _LogEntry(Protocol):
    message: str


# --- schema ------------------------------------------------------------------------------------------------

_schema_lock = threading.Lock()


@functools.cache
def eep_schema() -> etree.XMLSchema:
    """The XSD of the EEP (``dangan-eep-2009.xsd``, which imports the extension schema beside it)."""
    folder = resources.files("dangan.core.package.xsd")
    with resources.as_file(folder.joinpath(n.XSD_NAME)) as path:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        return etree.XMLSchema(etree.parse(str(path), parser))


def _schema_errors(root: etree._Element) -> list[str]:
    schema = eep_schema()
    with _schema_lock:
        if schema.validate(root):
            return []
        entries = cast("Iterable[_LogEntry]", schema.error_log)
        return [e.message.replace(f"{{{n.NS}}}", "").replace(f"{{{n.EXT_NS}}}", "dg:") for e in entries]


# --- streaming parts ---------------------------------------------------------------------------------------


class _Base64Sink:
    """Strict Base64 decoding of text that arrives in arbitrary pieces; SM3 and size of the bytes."""

    _WHITESPACE = b" \t\r\n"

    def __init__(self) -> None:
        self.hash = hashlib.new("sm3")
        self.size = 0
        self.error = ""
        self._rest = b""
        self._padded = False

    def feed(self, text: str) -> None:
        if self.error:
            return
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            self.error = "contains characters that are not Base64"
            return
        if b" " in raw or b"\n" in raw or b"\r" in raw or b"\t" in raw:  # (dangan writes none)
            raw = raw.translate(None, self._WHITESPACE)
        if not raw:
            return
        if self._padded:
            self.error = "has data after the Base64 padding '='"
            return
        buf = self._rest + raw if self._rest else raw
        cut = len(buf) - len(buf) % 4
        self._rest = buf[cut:]
        if not cut:
            return
        block = buf[:cut]
        try:
            data = binascii.a2b_base64(block, strict_mode=True)
        except binascii.Error as exc:
            self.error = f"is not valid Base64 ({exc})"
            return
        if block.endswith(b"="):
            self._padded = True
        self.hash.update(data)
        self.size += len(data)

    def finish(self) -> None:
        if self._rest and not self.error:
            self.error = f"is not valid Base64 (its length leaves {len(self._rest)} characters over)"


class _Target:
    """lxml parser target. ``skeleton`` off = digest-only pass (second pass)."""

    def __init__(self, hashers: Mapping[bytes, Any], *, skeleton: bool) -> None:
        # The canonical bytes are hashed in a worker thread while this one decodes and hashes the files.
        self.hashers = {za: BackgroundHash(h) for za, h in hashers.items()}
        self.digests: dict[bytes, bytes] = {}
        self.tb: etree.TreeBuilder | None = etree.TreeBuilder() if skeleton else None
        self.scope: list[dict[str, str]] = [{}]
        self.pending: dict[str, str] = {}
        self.stack: list[str] = []
        self.canon: Canonicalizer | None = None
        self.signed_seen = False
        self.signed_bytes = 0
        self.root_ok = False
        self.elements = 0
        self.chars = 0
        self.sink: _Base64Sink | None = None
        self.sink_depth = 0
        self.root: etree._Element | None = None
        self.decoded: list[tuple[etree._Element | None, _Base64Sink]] = []

    # canonical bytes → every candidate hasher
    def _hash(self, data: bytes) -> None:
        for h in self.hashers.values():
            h.update(data)

    @property
    def _canon_active(self) -> bool:
        return self.canon is not None and not self.canon.done

    def doctype(self, *_args: Any) -> None:
        raise _Stop(
            "XML_UNSAFE", "the file declares a DOCTYPE (DTDs and entities are not allowed)", fatal=True
        )

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.pending[prefix or ""] = uri

    def start(self, tag: str, attrib: Mapping[str, str], nsmap: Any = None) -> None:
        depth = len(self.stack) + 1
        if depth > MAX_DEPTH:
            raise _Stop("EEP_LIMIT", f"elements nest deeper than {MAX_DEPTH} levels", fatal=not self.root_ok)
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise _Stop("EEP_LIMIT", f"more than {MAX_ELEMENTS} elements", fatal=False)
        if depth == 1:
            if tag != n.q(n.E.ROOT):
                raise _Stop(
                    "NOT_EEP",
                    f"the root element is {tag!r}, not {n.E.ROOT} in namespace {n.NS}: not an EEP",
                    fatal=True,
                )
            self.root_ok = True
        scope = {**self.scope[-1], **self.pending}
        try:
            if depth == 2 and tag == n.q(n.E.SIGNED) and not self.signed_seen:
                self.signed_seen = True
                self.canon = Canonicalizer(self._hash, inherited=self.scope[-1])
            if self._canon_active:
                assert self.canon is not None
                for prefix, uri in self.pending.items():
                    self.canon.start_ns(prefix, uri)
                self.canon.start(tag, attrib)
        except NamespaceError as exc:
            raise _Stop("EEP_UNSUPPORTED", str(exc), fatal=True) from exc
        self.pending = {}
        self.scope.append(scope)
        self.stack.append(tag)
        if self.tb is not None:
            self.tb.start(tag, cast("dict[str | bytes, str | bytes]", dict(attrib)))
        if tag == n.q(n.E.ENCODED_DATA) and self.sink is None:
            self.sink = _Base64Sink()
            self.sink_depth = depth

    def data(self, text: str) -> None:
        if self._canon_active:
            assert self.canon is not None
            self.canon.data(text)
        if self.sink is not None:
            if self.tb is not None:
                self.sink.feed(text)
            return
        if self.tb is not None:
            self.chars += len(text)
            if self.chars > MAX_SKELETON_CHARS:
                raise _Stop(
                    "EEP_LIMIT", f"more than {MAX_SKELETON_CHARS} characters of metadata text", fatal=False
                )
            self.tb.data(text)

    def pi(self, target: str, data: str | None = None) -> None:
        if self._canon_active:
            assert self.canon is not None
            self.canon.pi(target, data)

    def comment(self, _text: str) -> None:  # Exc-C14N without comments; the skeleton keeps none either
        return None

    def end(self, tag: str) -> None:
        if self._canon_active:
            assert self.canon is not None
            self.canon.end()
            if self.canon.done:
                self.signed_bytes = self.canon.size
                self.digests = {za: h.digest() for za, h in self.hashers.items()}
                self.release()
        # lxml's TreeBuilder.end returns the element (the stubs say None).
        element = cast("etree._Element", cast(Any, self.tb).end(tag)) if self.tb is not None else None
        if self.sink is not None and len(self.stack) == self.sink_depth:
            if self.tb is not None:
                self.sink.finish()
                self.decoded.append((element, self.sink))
            self.sink = None
        self.stack.pop()
        self.scope.pop()

    def release(self) -> None:
        """Stop the hashing threads (idempotent)."""
        for h in self.hashers.values():
            h.close()

    def close(self) -> etree._Element | None:
        # lxml also calls close() after an error; only a complete document has a skeleton to return.
        if self.tb is None or not self.root_ok or self.stack:
            return None
        if self.root is None:
            self.root = self.tb.close()
        return self.root


def _parse(path: Path, target: _Target, report: EepReport, progress: Progress | None) -> bool:
    """Feed the file to the target parser. False (with the problem added to ``report``) if it stopped."""
    # resolve_entities only concerns the predefined entities and character references here: a DOCTYPE,
    # the only way to declare other entities, stops the parse in _Target.doctype.
    parser = etree.XMLParser(
        target=cast(Any, target),
        resolve_entities=True,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )
    total = path.stat().st_size
    done = 0
    at_close = False
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(READ_CHUNK), b""):
                parser.feed(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            at_close = True
            parser.close()
    except _Stop as stop:
        report.add(stop.code, stop.message, fatal=stop.fatal)
        return False
    except etree.LxmlError as exc:
        message = re.sub(r"\s*\(<string>, line \d+\)$", "", str(exc).strip()) or type(exc).__name__
        if not target.root_ok:
            report.add("XML_MALFORMED", f"not a readable XML document: {message}", fatal=True)
        elif at_close:
            report.add("EEP_TRUNCATED", f"the package ends before it is complete (truncated?): {message}")
        else:
            report.add("XML_MALFORMED", f"the package is not well-formed XML: {message}")
        return False
    finally:
        target.release()
        report.bytes_read = max(report.bytes_read, done)
    return True


# --- pre-scan ----------------------------------------------------------------------------------------------

_CERT_RE = re.compile(
    rb"<(?:[^\s<>/:]+:)?" + n.E.CERT.encode() + rb">\s*([A-Za-z0-9+/=\s]{64,262144}?)\s*</",
)


def _head_is_unsafe(head: bytes) -> bool:
    lowered = head.lstrip(b"\xef\xbb\xbf").lower()
    return b"<!doctype" in lowered or b"<!entity" in lowered


def _tail_certificates(path: Path, size: int) -> list[bytes]:
    """Certificates in the last MiB (a hint for which Z_A to hash with; verified later)."""
    with open(path, "rb") as f:
        f.seek(max(0, size - TAIL_SCAN))
        tail = f.read(TAIL_SCAN)
    found = []
    for m in _CERT_RE.finditer(tail):
        try:
            found.append(base64.b64decode(re.sub(rb"\s+", b"", m.group(1)), validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def _points(certificates: Iterable[bytes]) -> dict[bytes, Point]:
    """Z_A → public point, for the certificates that are SM2 certificates (others ignored)."""
    out: dict[bytes, Point] = {}
    for der in certificates:
        try:
            point = point_from_certificate(der)
        except (SignatureError, ValueError, TypeError):
            continue
        out.setdefault(z_a(point), point)
        if len(out) >= MAX_CANDIDATES:
            break
    return out


# --- reading the skeleton ----------------------------------------------------------------------------------


def _text(parent: etree._Element | None, *path: str) -> str | None:
    if parent is None:
        return None
    el = parent.find("/".join(path))
    return None if el is None else (el.text or "").strip()


def _facts(root: etree._Element) -> dict[str, str]:
    facts: dict[str, str] = {}
    signed = root.find(n.q(n.E.SIGNED))
    for key, name in (("type", n.E.TYPE), ("created", n.E.CREATED), ("creator", n.E.CREATOR)):
        value = _text(signed, n.q(name))
        if value:
            facts[key] = value
    entity = None if signed is None else signed.find("/".join(n.q(x) for x in (n.E.CONTENT, n.E.FILE_BLOCK,
                                                                                 n.E.FILE_ENTITY)))  # fmt: skip
    for item in n.DAT46:
        value = _text(entity, *(n.q(p) for p in item.path))
        if value:
            facts[item.name] = value
    for name, _attr, _meaning in n.AIP_FIELDS:
        value = _text(entity, n.qx(n.X.AIP), n.qx(name))
        if value:
            facts[f"dg:{name}"] = value
    return facts


def _check_files(target: _Target, report: EepReport) -> None:
    for element, sink in target.decoded:
        encoding = element.getparent() if element is not None else None
        name = _text(encoding, n.q(n.E.PROPERTIES), n.q(n.E.FILENAME)) or f"文件 {len(report.files) + 1}"
        size_text = _text(encoding, n.q(n.E.PROPERTIES), n.q(n.E.FILESIZE))
        recorded_size = int(size_text) if size_text and size_text.isdigit() else None
        digest_el = None if encoding is None else encoding.find(f"{n.q(n.E.PROPERTIES)}/{n.qx(n.X.DIGEST)}")
        recorded_sm3 = None
        if digest_el is not None:
            algorithm = digest_el.get(n.X.DIGEST_ALG_ATTR, "")
            if algorithm.upper() == n.DIGEST_ALGORITHM:
                recorded_sm3 = (digest_el.text or "").strip().lower()
            else:
                report.notes.append(f"{name}: digest algorithm {algorithm!r} is not checked (only SM3)")
        actual = sink.hash.hexdigest()
        ok = not sink.error
        if sink.error:
            report.add("BASE64_INVALID", f"编码数据 of {name} {sink.error}", name)
        else:
            if recorded_size is not None and recorded_size != sink.size:
                ok = False
                report.add("FILE_SIZE_MISMATCH",
                           f"{name}: decodes to {sink.size} bytes; 计算机文件大小 says {recorded_size}", name)  # fmt: skip
            if recorded_sm3 is not None and recorded_sm3 != actual:
                ok = False
                report.add("FILE_DIGEST_MISMATCH",
                           f"{name}: SM3 of the decoded bytes is {actual}; the package records {recorded_sm3}",
                           name)  # fmt: skip
            if recorded_sm3 is None and digest_el is None:
                report.notes.append(f"{name}: no recorded digest; only the signature protects it")
        report.files.append(EepFileCheck(name, sink.size, actual, recorded_size, recorded_sm3, ok))


def _b64(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_self_signed(cert_der: bytes) -> bool:
    try:
        cert = _x509.Certificate.load(cert_der)
        return bool(cert.issuer == cert.subject)
    except (ValueError, TypeError):
        return False


def _check_signatures(
    root: etree._Element,
    digests: Mapping[bytes, bytes],
    trusted: Sequence[Point],
    second_pass: Callable[[dict[bytes, Point]], dict[bytes, bytes]],
    report: EepReport,
) -> None:
    signatures = root.findall(f"{n.q(n.E.SIGNATURE_BLOCK)}/{n.q(n.E.SIGNATURE)}")
    if not signatures:
        report.add("SIGNATURE_MISSING", "the package has no 电子签名 in 电子签名块")
        return
    pending: list[tuple[EepSignatureCheck, Point, bytes]] = []
    for index, el in enumerate(signatures, 1):
        sid = _text(el, n.q(n.E.SIG_ID)) or f"#{index}"
        check = EepSignatureCheck(
            id=sid,
            signer=_text(el, n.q(n.E.SIGNER)) or "",
            time=_text(el, n.q(n.E.SIG_TIME)) or "",
            certificate_sm3="",
            valid=False,
            trust="embedded",
        )
        report.signatures.append(check)
        target = f"电子签名 {sid}"

        def fail(code: str, message: str, check: EepSignatureCheck = check, target: str = target) -> None:
            check.reason = message
            report.add(code, f"{target}: {message}", target)

        algorithm = _text(el, n.q(n.E.SIG_ALGORITHM)) or ""
        if algorithm != n.SIGNATURE_ALGORITHM:
            fail("SIGNATURE_ALGORITHM_UNSUPPORTED",
                 f"签名算法标识 is {algorithm!r}; dangan verifies SM2-with-SM3 ({n.SIGNATURE_ALGORITHM})")  # fmt: skip
            continue
        if n.EXC_C14N not in (_text(el, n.q(n.E.SIG_RULE)) or ""):
            fail("SIGNATURE_RULE_UNSUPPORTED",
                 f"签名规则 does not name Exclusive C14N ({n.EXC_C14N}), so the signed bytes are unknown")  # fmt: skip
            continue
        cert_der = _b64(_text(el, n.q(n.E.CERT_BLOCK), n.q(n.E.CERT)))
        if cert_der is None:
            fail("CERTIFICATE_INVALID", "证书 is missing or not valid Base64")
            continue
        check.certificate_sm3 = hashlib.new("sm3", cert_der).hexdigest()
        try:
            point = point_from_certificate(cert_der)
        except (SignatureError, ValueError, TypeError) as exc:
            fail(
                "CERTIFICATE_INVALID", f"证书 is not a usable SM2 certificate: {getattr(exc, 'message', exc)}"
            )
            continue
        if _is_self_signed(cert_der) and not sm.verify_certificate_signature(cert_der):
            fail(
                "CERTIFICATE_INVALID",
                "the self-signed 证书's own signature does not verify (altered certificate)",
            )
            continue
        signature = _b64(_text(el, n.q(n.E.SIG_VALUE)))
        if signature is None or parse_signature(signature) is None:
            fail("SIGNATURE_MALFORMED", "签名结果 is not Base64 of a DER SEQUENCE{r, s} with 0 < r, s < n")
            continue
        if trusted:
            check.trust = "trusted" if point in trusted else "untrusted"
        pending.append((check, point, signature))
    missing = {z_a(point): point for _, point, _ in pending if z_a(point) not in digests}
    if missing:
        digests = {**digests, **second_pass(missing)}
    for check, point, signature in pending:
        e = digests.get(z_a(point))
        if e is None:
            check.reason = "被签名对象 could not be read to the end"
            report.add("SIGNATURE_INVALID", f"电子签名 {check.id}: {check.reason}", f"电子签名 {check.id}")
            continue
        check.valid = verify_digest(point, e, signature)
        if not check.valid:
            check.reason = (
                "the signature does not match 被签名对象: its content or metadata changed after signing, "
                "or the 签名结果/证书 were altered"
            )
            report.add("SIGNATURE_INVALID", f"电子签名 {check.id}: {check.reason}", f"电子签名 {check.id}")
        elif check.trust == "untrusted":
            check.reason = "valid, but signed by a certificate that is not among the trusted ones"
            report.add("SIGNER_UNTRUSTED", f"电子签名 {check.id}: {check.reason}", f"电子签名 {check.id}")


# --- entry point -------------------------------------------------------------------------------------------


def verify_eep(
    path: Path | str,
    *,
    trusted: Sequence[bytes] = (),
    progress: Progress | None = None,
) -> EepReport:
    """Verify the EEP at ``path``. Never raises for bad input: every finding is a problem in the report.

    ``trusted``: DER certificates whose keys the caller trusts (e.g. this instance's). Without them a
    valid signature is reported as verified with the *embedded* certificate only.
    """
    path = Path(path)
    report = EepReport(path=str(path))
    trusted_points: list[Point] = []
    for index, der in enumerate(trusted, 1):
        try:
            trusted_points.append(point_from_certificate(der))
        except (SignatureError, ValueError, TypeError):
            message = f"trusted certificate #{index} is not an SM2 certificate"
            report.add("TRUSTED_CERTIFICATE_INVALID", message, fatal=True)
            return report
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(HEAD_SCAN)
        hints = _tail_certificates(path, size)
    except OSError as exc:
        report.add("UNREADABLE", f"cannot read {path}: {exc.strerror or exc}", fatal=True)
        return report
    if _head_is_unsafe(head):
        report.add("XML_UNSAFE", "the file declares a DOCTYPE or entities, which are not allowed", fatal=True)
        return report
    candidates = _points([*trusted, *hints])
    try:
        _verify(path, report, candidates, trusted_points, progress)
    except OSError as exc:
        report.add("UNREADABLE", f"cannot read {path}: {exc.strerror or exc}", fatal=True)
    except Exception as exc:  # hostile input must give a report, never a traceback
        report.add("VERIFY_FAILED", f"verification stopped: {type(exc).__name__}: {exc}", fatal=True)
    return report


def _verify(
    path: Path,
    report: EepReport,
    candidates: dict[bytes, Point],
    trusted_points: list[Point],
    progress: Progress | None,
) -> None:
    target = _Target({za: hashlib.new("sm3", za) for za in candidates}, skeleton=True)
    report.passes = 1
    if not _parse(path, target, report, progress):
        return
    report.signed_bytes = target.signed_bytes
    root = target.close()
    if root is None:  # pragma: no cover - the parser saw a root or raised
        report.add("NOT_EEP", "no root element", fatal=True)
        return
    signed = root.find(n.q(n.E.SIGNED))
    package_type = _text(signed, n.q(n.E.TYPE))
    version = _text(root, n.q(n.E.VERSION))
    if package_type == n.PACKAGE_TYPE_MODIFIED:
        report.add("EEP_UNSUPPORTED", "封装包类型 is 修改型 (modified package); dangan verifies 原始型 only",
                   fatal=True)  # fmt: skip
        return
    if version is not None and version != n.EEP_VERSION:
        report.add(
            "EEP_UNSUPPORTED", f"版本 is {version!r}; dangan verifies DA/T 48-{n.EEP_VERSION}", fatal=True
        )
        return
    report.facts = _facts(root)
    errors = _schema_errors(root)
    for message in errors[:MAX_SCHEMA_ERRORS]:
        report.add("SCHEMA_INVALID", f"structure (XSD): {message}")
    if len(errors) > MAX_SCHEMA_ERRORS:
        report.add("SCHEMA_INVALID", f"… and {len(errors) - MAX_SCHEMA_ERRORS} more structure errors")
    if signed is None or not target.signed_seen:
        report.add("SIGNED_OBJECT_MISSING", f"the package has no {n.E.SIGNED} under {n.E.ROOT}")
    if root.find(n.q(n.E.LOCK)) is not None:
        report.notes.append(
            "锁定签名 is present but not verified (DA/T 48 leaves its signed bytes to the producer)"
        )
    _check_files(target, report)

    def second_pass(points: dict[bytes, Point]) -> dict[bytes, bytes]:
        again = _Target({za: hashlib.new("sm3", za) for za in points}, skeleton=False)
        report.passes = 2
        scratch = EepReport(path=report.path)
        if not _parse(path, again, scratch, None):
            return {}
        return again.digests

    _check_signatures(root, target.digests, trusted_points, second_pass, report)
