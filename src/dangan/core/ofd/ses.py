"""Electronic seals and seal signatures: GM/T 0031-2014 (v1–v3 layout) and GB/T 38540-2020 (v4).

ASN.1 as found in the standards and confirmed on real files (``openssl asn1parse`` of the fixtures)::

    -- GB/T 38540-2020 (version 4)
    SESeal ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING, signAlgID OID, signedValue BIT STRING }
    SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
                                picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
    SES_Header ::= SEQUENCE { ID IA5String ("ES"), version INTEGER, Vid IA5String }
    SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certListType INTEGER,
                                      certList SEQUENCE OF (cert OCTET STRING | CertDigestObj),
                                      createDate, validStart, validEnd GeneralizedTime }
    SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING, width INTEGER, height INTEGER }
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OID,
                                 signature BIT STRING, timeStamp [0] EXPLICIT BIT STRING OPTIONAL }
    TBS_Sign ::= SEQUENCE { version INTEGER (4), eseal SESeal, timeInfo GeneralizedTime,
                            dataHash BIT STRING, propertyInfo IA5String,
                            extDatas [0] EXPLICIT ExtensionDatas OPTIONAL }

    -- GM/T 0031-2014 (versions 1..3)
    SESeal ::= SEQUENCE { esealInfo SES_SealInfo, signInfo SES_SignInfo }
    SES_SignInfo ::= SEQUENCE { cert OCTET STRING, signatureAlgorithm OID, signData BIT STRING }
    SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certList SEQUENCE OF OCTET STRING,
                                      createDate, validStart, validEnd UTCTime }
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, signature BIT STRING }
    TBS_Sign ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo BIT STRING, dataHash BIT STRING,
                            propertyInfo IA5String, cert OCTET STRING, signatureAlgorithm OID }

What is signed (verified empirically on every fixture, see tests/core/ofd):

* signer: SM2-with-SM3 (Z with the default user ID) over the DER ``TBS_Sign`` exactly as encoded;
* seal maker, v4: over the DER ``SES_SealInfo`` (UserV4.esl and three producers' seals in OFDs);
* seal maker, GM/T 0031-2014: over the DER ``SEQUENCE { esealInfo, cert, signatureAlgorithm }``
  (i.e. SESeal without ``signData``; UserV1.esl). Each layout also accepts the other form as a
  fallback and says so, since both bind the seal information.
* ``dataHash`` = SM3(bytes of Signature.xml).

Hostile input: before asn1crypto sees a SignedValue.dat, a seal or a certificate, :func:`check_der_depth`
walks its tag-length structure without recursion and refuses nesting deeper than ``MAX_DER_DEPTH``
(asn1crypto recurses once per level; 50,000 nested SEQUENCEs would exhaust the Python stack).
``RecursionError`` is also caught as a parse error, as a backstop.

Real-world tolerance: the signature BIT STRINGs hold either DER ``SEQUENCE{r,s}`` or 64 raw bytes
``r‖s`` (keyword.ofd); dates may be UTCTime or GeneralizedTime in either layout; name strings may be
any ASN.1 string type; the layout is detected from the structure (a SESeal whose second element is a
SEQUENCE is GM/T 0031, an OCTET STRING is GB/T 38540), not from the version number alone.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos, cms, core, x509

from dangan.core import sm
from dangan.core.errors import DanganError

SM2_SM3_OID = sm.SM2_SIGN_WITH_SM3_OID  # 1.2.156.10197.1.501
SM2_OIDS = {SM2_SM3_OID, "1.2.156.10197.1.301.1"}  # the second is "SM2 signature" used by some tools
SM3_OID = sm.SM3_OID
GM_SIGNED_DATA_OID = "1.2.156.10197.6.1.4.2.2"  # GB/T 35275 signedData
PKCS7_SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
CHINA_TZ = _dt.timezone(_dt.timedelta(hours=8), "CST")

FORMAT_V4 = "GB/T 38540-2020 v4"
#: What asn1crypto raises on malformed input (turned into SesError). RecursionError: deep nesting that
#: slipped past check_der_depth (e.g. inside an OCTET STRING that a spec parses further).
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError, RecursionError)
#: Deepest nesting of constructed ASN.1 values accepted. A real SES_Signature nests about 8 levels deep
#: (certificates sit inside OCTET STRINGs and are checked separately), a certificate about 7.
MAX_DER_DEPTH = 48


def format_v1(version: int) -> str:
    return f"GM/T 0031-2014 v{version}"


class SesError(DanganError):
    """A seal or seal signature that cannot be parsed."""

    code = "SES_INVALID"


# --- ASN.1 -------------------------------------------------------------------------------------------
# asn1crypto ships no type information, so its classes are Any to mypy (hence the ignores).


class AnyString(core.Choice):  # type: ignore[misc]
    _alternatives = [
        ("utf8", core.UTF8String),
        ("ia5", core.IA5String),
        ("printable", core.PrintableString),
        ("bmp", core.BMPString),
        ("teletex", core.TeletexString),
        ("visible", core.VisibleString),
        ("universal", core.UniversalString),
        ("octets", core.OctetString),
    ]


class SesTime(core.Choice):  # type: ignore[misc]
    _alternatives = [
        ("generalized", core.GeneralizedTime),
        ("utc", core.UTCTime),
        ("bits", core.OctetBitString),
        ("octets", core.OctetString),
        ("text", AnyString),
    ]


class ExtensionData(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):  # type: ignore[misc]
    _child_spec = ExtensionData


class SesHeader(core.Sequence):  # type: ignore[misc]
    _fields = [("id", AnyString), ("version", core.Integer), ("vid", AnyString)]


class CertList(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.Any


class SesPropertyV4(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("type", core.Integer),
        ("name", AnyString),
        ("cert_list_type", core.Integer),
        ("cert_list", CertList),
        ("create_date", SesTime),
        ("valid_start", SesTime),
        ("valid_end", SesTime),
    ]


class SesPropertyV1(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("type", core.Integer),
        ("name", AnyString),
        ("cert_list", CertList),
        ("create_date", SesTime),
        ("valid_start", SesTime),
        ("valid_end", SesTime),
    ]


class SesPicture(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("type", AnyString),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class SesSealInfo(core.Sequence):  # type: ignore[misc]
    """Property layout is decided at parse time (see :func:`parse_seal`)."""

    _fields = [
        ("header", SesHeader),
        ("es_id", AnyString),
        ("property", core.Any),
        ("picture", SesPicture),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SesSignInfoV1(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.OctetBitString),
    ]


class SESealV1(core.Sequence):  # type: ignore[misc]
    _fields = [("eseal_info", SesSealInfo), ("sign_info", SesSignInfoV1)]


class SESealV4(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("eseal_info", SesSealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class TbsSignV1(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("eseal", core.Any),
        ("time_info", SesTime),
        ("data_hash", core.OctetBitString),
        ("property_info", AnyString),
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class SesSignatureV1(core.Sequence):  # type: ignore[misc]
    _fields = [("to_sign", TbsSignV1), ("signature", core.OctetBitString)]


class TbsSignV4(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("eseal", core.Any),
        ("time_info", SesTime),
        ("data_hash", core.OctetBitString),
        ("property_info", AnyString),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SesSignatureV4(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("to_sign", TbsSignV4),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


class ContentInfo(core.Sequence):  # type: ignore[misc]
    """PKCS#7 / GB/T 35275 ContentInfo with any content type (asn1crypto's own knows only RFC OIDs)."""

    _fields = [("content_type", core.ObjectIdentifier), ("content", core.Any, {"explicit": 0})]


# --- parsed values -------------------------------------------------------------------------------------


@dataclass
class ParsedSeal:
    """An electronic seal (SESeal) in either layout."""

    layout: str  # "v1" (GM/T 0031-2014) or "v4" (GB/T 38540-2020)
    version: int
    format: str
    der: bytes
    header_id: str
    vid: str
    es_id: str
    seal_type: int
    name: str
    cert_list_type: int  # 1 = certificates, 2 = certificate digests (v1 layout: always 1)
    cert_list: list[bytes]  # DER certificates (type 1) or DER CertDigestObj (type 2)
    create_date: _dt.datetime | None
    valid_start: _dt.datetime | None
    valid_end: _dt.datetime | None
    picture_type: str
    picture_width: int
    picture_height: int
    maker_cert: bytes
    signature_algorithm: str
    signature: bytes  # as stored (DER or raw r‖s)
    #: Candidate byte strings the maker's signature covers, in the order to try: (label, bytes).
    signed_candidates: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class ParsedSesSignature:
    """A SES_Signature (the SignedValue.dat of a Type="Seal" signature) in either layout."""

    layout: str
    version: int
    format: str
    tbs_der: bytes
    seal: ParsedSeal
    signing_time: _dt.datetime | None
    time_text: str
    data_hash: bytes
    property_info: str
    signer_cert: bytes
    signature_algorithm: str
    signature: bytes
    has_timestamp: bool = False
    trailing_bytes: int = 0


def check_der_depth(der: bytes, what: str, *, limit: int = MAX_DER_DEPTH) -> None:
    """Raise SesError when the first DER/BER value of ``der`` nests constructed values deeper than ``limit``.

    Iterative (no recursion, linear time). Only the tag-length structure is read; the contents of
    primitive values (OCTET STRING, BIT STRING) are not descended into. Bytes after the first value are
    ignored, as asn1crypto ignores them. A truncated or malformed header is a SesError too.
    """
    n = len(der)
    pos = 0
    ends: list[int | None] = []  # end offset of each open constructed value; None = indefinite length
    while True:
        while ends:
            last = ends[-1]
            if last is None or pos < last:
                break
            if pos > last:
                raise SesError(f"{what}: an ASN.1 value overruns its enclosing value")
            ends.pop()
        if not ends and pos > 0:
            return
        if pos >= n:
            raise SesError(f"{what}: truncated ASN.1 value")
        if ends and ends[-1] is None and der[pos : pos + 2] == b"\x00\x00":
            ends.pop()
            pos += 2
            continue
        tag = der[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # high tag number form
            while pos < n and der[pos] & 0x80:
                pos += 1
            pos += 1
        if pos >= n:
            raise SesError(f"{what}: truncated ASN.1 header")
        first = der[pos]
        pos += 1
        constructed = bool(tag & 0x20)
        if first == 0x80:
            if not constructed:
                raise SesError(f"{what}: indefinite length on a primitive ASN.1 value")
            ends.append(None)
        else:
            if first & 0x80:
                count = first & 0x7F
                if count > 8 or pos + count > n:
                    raise SesError(f"{what}: bad ASN.1 length")
                length = int.from_bytes(der[pos : pos + count], "big")
                pos += count
            else:
                length = first
            end = pos + length
            if end > n:
                raise SesError(f"{what}: truncated ASN.1 value ({length} bytes declared)")
            if constructed:
                ends.append(end)
            else:
                pos = end
        if len(ends) > limit:
            raise SesError(f"{what}: ASN.1 values nested more than {limit} levels deep: refused")


def _string(value: Any) -> str:
    chosen = value.chosen if isinstance(value, core.Choice) else value
    native = chosen.native
    if isinstance(native, bytes):
        for encoding in ("utf-8", "gb18030"):
            try:
                return native.decode(encoding)
            except UnicodeDecodeError:
                continue
        return native.hex()
    return str(native) if native is not None else ""


def _bits(value: Any) -> bytes:
    """Bytes of a BIT STRING (unused bits ignored: these hold byte strings)."""
    return bytes(value.contents[1:]) if value.contents else b""


def parse_time_text(value: str) -> _dt.datetime | None:
    """Parse the time formats producers write (SignatureDateTime, v1 timeInfo).

    ``20201010151120``, ``2020-04-22 16:22:44``, ``2024-01-01T00:00:00`` (no zone: China Standard
    Time, UTC+8 — the fixtures confirm it: keyword.ofd writes 17:18:49 in Signature.xml for the
    signed 09:18:49Z), ``20201004072855.302Z``, ``200620091849Z`` and ISO 8601 with an offset.
    """
    s = value.strip()
    if not s:
        return None
    compact = re.match(r"^(\d{14})(?:\.(\d{1,6}))?(Z|[+-]\d{4})?$", s)
    if compact:
        moment = _dt.datetime.strptime(compact.group(1), "%Y%m%d%H%M%S")
        if compact.group(2):
            moment = moment.replace(microsecond=int(compact.group(2).ljust(6, "0")))
        return _zone(moment, compact.group(3))
    short = re.match(r"^(\d{12})(Z|[+-]\d{4})?$", s)
    if short:
        return _zone(_dt.datetime.strptime(short.group(1), "%y%m%d%H%M%S"), short.group(2))
    try:
        moment = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return moment


def _zone(moment: _dt.datetime, zone: str | None) -> _dt.datetime:
    if zone == "Z":
        return moment.replace(tzinfo=_dt.UTC)
    if zone:
        sign = 1 if zone[0] == "+" else -1
        offset = _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        return moment.replace(tzinfo=_dt.timezone(sign * offset))
    return moment.replace(tzinfo=CHINA_TZ)


def _time(value: Any) -> tuple[_dt.datetime | None, str]:
    """(moment, text) of a SesTime. ASN.1 times without a zone are taken as UTC."""
    if value is None:
        return None, ""
    name = value.name
    chosen = value.chosen
    if name in ("generalized", "utc"):
        moment = chosen.native
        text = bytes(chosen.contents).decode("ascii", "replace")
        if isinstance(moment, _dt.datetime) and moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.UTC)
        return (moment if isinstance(moment, _dt.datetime) else None), text
    raw = _bits(chosen) if name == "bits" else (chosen.native if name == "octets" else None)
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else _string(chosen)
    return parse_time_text(text.strip("\x00 ")), text


def _int(value: Any) -> int:
    native = value.native
    return int(native) if native is not None else 0


def signature_der(signature: bytes) -> bytes:
    """SM2 signature as DER ``SEQUENCE{r, s}``: raw 64-byte ``r‖s`` is converted, DER kept as is."""
    if len(signature) == 64 and not _is_der_sig(signature):
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        return bytes(algos.DSASignature({"r": r, "s": s}).dump())
    return signature


def _is_der_sig(signature: bytes) -> bool:
    try:
        parsed = algos.DSASignature.load(signature, strict=True)
        parsed["r"].native  # noqa: B018
        parsed["s"].native  # noqa: B018
    except _PARSE_ERRORS:
        return False
    return True


def is_raw_signature(data: bytes) -> bool:
    """A bare SM2 signature: DER ``SEQUENCE{r, s}`` or 64 raw bytes."""
    return len(data) == 64 or (len(data) <= 80 and _is_der_sig(data))


def _load(spec: Any, der: bytes, what: str, *, deep: bool = True) -> Any:
    try:
        value = spec.load(der)
        if deep:
            value.native  # noqa: B018 - parse everything now so errors surface here, not later
    except _PARSE_ERRORS as exc:
        raise SesError(f"{what} cannot be parsed: {exc}") from exc
    return value


def _seq(body: bytes) -> bytes:
    """DER SEQUENCE header around ``body``."""
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return b"\x30" + length + body


def seal_layout(der: bytes) -> str:
    """ "v1" or "v4" from the structure of a DER SESeal."""
    try:
        top = core.Sequence.load(der)
        count = len(top)
        second = top[1] if count > 1 else None
    except _PARSE_ERRORS as exc:
        raise SesError(f"seal is not DER: {exc}") from exc
    if count == 2 and isinstance(second, core.Sequence):
        return "v1"
    if count >= 4:
        return "v4"
    raise SesError(f"seal has {count} elements: neither the GM/T 0031 nor the GB/T 38540 layout")


def parse_seal(der: bytes) -> ParsedSeal:
    """Parse an SESeal (``.esl`` or the ``eseal`` inside a SES_Signature), either layout."""
    check_der_depth(der, "seal")
    try:
        return _parse_seal(der)
    except _PARSE_ERRORS as exc:
        raise SesError(f"seal cannot be parsed: {type(exc).__name__}: {exc}") from exc


def _parse_seal(der: bytes) -> ParsedSeal:
    layout = seal_layout(der)
    if layout == "v1":
        seal = _load(SESealV1, der, "seal (GM/T 0031-2014 layout)")
        sign_info = seal["sign_info"]
        maker_cert = bytes(sign_info["cert"].native)
        alg = sign_info["signature_algorithm"].dotted
        signature = _bits(sign_info["sign_data"])
    else:
        seal = _load(SESealV4, der, "seal (GB/T 38540 layout)")
        maker_cert = bytes(seal["cert"].native)
        alg = seal["sign_alg_id"].dotted
        signature = _bits(seal["signed_value"])
    info = seal["eseal_info"]
    header = info["header"]
    version = _int(header["version"])
    prop_der = bytes(info["property"].dump())
    prop_top = core.Sequence.load(prop_der)
    has_list_type = len(prop_top) > 2 and isinstance(prop_top[2], core.Integer)
    prop = _load(SesPropertyV4 if has_list_type else SesPropertyV1, prop_der, "seal property")
    cert_list_type = _int(prop["cert_list_type"]) if has_list_type else 1
    cert_list: list[bytes] = []
    for item in prop["cert_list"]:
        raw = bytes(item.dump())
        if cert_list_type == 1 and raw[:1] == b"\x04":  # OCTET STRING holding a certificate
            cert_list.append(bytes(core.OctetString.load(raw).native))
        else:
            cert_list.append(raw)
    picture = info["picture"]
    info_der = bytes(info.dump())
    if layout == "v1":
        tbs_seal = _seq(
            info_der
            + bytes(seal["sign_info"]["cert"].dump())
            + bytes(seal["sign_info"]["signature_algorithm"].dump())
        )
        candidates = [("SEQUENCE{esealInfo, cert, signatureAlgorithm}", tbs_seal), ("SES_SealInfo", info_der)]
    else:
        tbs_seal = _seq(info_der + bytes(seal["cert"].dump()) + bytes(seal["sign_alg_id"].dump()))
        candidates = [("SES_SealInfo", info_der), ("SEQUENCE{eSealInfo, cert, signAlgID}", tbs_seal)]
    create, _ = _time(prop["create_date"])
    start, _ = _time(prop["valid_start"])
    end, _ = _time(prop["valid_end"])
    return ParsedSeal(
        layout=layout,
        version=version,
        format=FORMAT_V4 if layout == "v4" else format_v1(version),
        der=der,
        header_id=_string(header["id"]),
        vid=_string(header["vid"]),
        es_id=_string(info["es_id"]),
        seal_type=_int(prop["type"]),
        name=_string(prop["name"]),
        cert_list_type=cert_list_type,
        cert_list=cert_list,
        create_date=create,
        valid_start=start,
        valid_end=end,
        picture_type=_string(picture["type"]),
        picture_width=_int(picture["width"]),
        picture_height=_int(picture["height"]),
        maker_cert=maker_cert,
        signature_algorithm=alg,
        signature=signature,
        signed_candidates=candidates,
    )


def ses_signature_layout(der: bytes) -> str:
    try:
        top = core.Sequence.load(der)
        count = len(top)
        first = top[0] if count else None
    except _PARSE_ERRORS as exc:
        raise SesError(f"SignedValue is not DER: {exc}") from exc
    if not isinstance(first, core.Sequence):
        raise SesError("SignedValue is not a SES_Signature (first element is not TBS_Sign)")
    if count == 2:
        return "v1"
    if count in (4, 5):
        return "v4"
    raise SesError(f"SES_Signature has {count} elements: neither layout")


def parse_ses_signature(der: bytes) -> ParsedSesSignature:
    """Parse a DER SES_Signature (GM/T 0031-2014 or GB/T 38540-2020)."""
    check_der_depth(der, "SES_Signature")
    try:
        return _parse_ses_signature(der)
    except _PARSE_ERRORS as exc:
        raise SesError(f"SES_Signature cannot be parsed: {type(exc).__name__}: {exc}") from exc


def _parse_ses_signature(der: bytes) -> ParsedSesSignature:
    layout = ses_signature_layout(der)
    trailing = 0
    try:
        trailing = len(der) - len(core.Sequence.load(der).dump())
    except _PARSE_ERRORS:
        trailing = 0
    if layout == "v1":
        sig = _load(SesSignatureV1, der, "SES_Signature (GM/T 0031-2014 layout)")
        tbs = sig["to_sign"]
        signer_cert = bytes(tbs["cert"].native)
        alg = tbs["signature_algorithm"].dotted
        has_timestamp = False
    else:
        sig = _load(SesSignatureV4, der, "SES_Signature (GB/T 38540 layout)")
        tbs = sig["to_sign"]
        signer_cert = bytes(sig["cert"].native)
        alg = sig["signature_alg_id"].dotted
        has_timestamp = bool(sig["time_stamp"].contents) if sig["time_stamp"] is not None else False
    version = _int(tbs["version"])
    seal = parse_seal(bytes(tbs["eseal"].dump()))
    moment, text = _time(tbs["time_info"])
    return ParsedSesSignature(
        layout=layout,
        version=version,
        format=FORMAT_V4 if layout == "v4" else format_v1(version),
        tbs_der=bytes(tbs.dump()),
        seal=seal,
        signing_time=moment,
        time_text=text,
        data_hash=_bits(tbs["data_hash"]),
        property_info=_string(tbs["property_info"]),
        signer_cert=signer_cert,
        signature_algorithm=alg,
        signature=_bits(sig["signature"]),
        has_timestamp=has_timestamp,
        trailing_bytes=max(trailing, 0),
    )


def is_signed_data(der: bytes) -> bool:
    try:
        top = core.Sequence.load(der)
        return len(top) == 2 and isinstance(top[0], core.ObjectIdentifier)
    except _PARSE_ERRORS:
        return False


@dataclass
class ParsedSignedData:
    """A PKCS#7 / GB/T 35275 SignedData with one signer."""

    outer_type: str
    content_type: str
    content: bytes | None  # the encapsulated content, None when detached
    certificates: list[bytes]
    signer_cert: bytes | None
    digest_algorithm: str
    signature_algorithm: str
    signature: bytes
    signed_attrs_der: bytes | None  # DER as a SET (what the signature covers when present)
    message_digest: bytes | None
    signing_time: _dt.datetime | None


def parse_signed_data(der: bytes) -> ParsedSignedData:
    check_der_depth(der, "SignedData")
    info = _load(ContentInfo, der, "SignedData ContentInfo", deep=False)
    if info["content_type"].dotted not in (GM_SIGNED_DATA_OID, PKCS7_SIGNED_DATA_OID):
        raise SesError(f"ContentInfo type {info['content_type'].dotted} is not signedData")
    try:
        signed = info["content"].parse(cms.SignedData)
        encap = signed["encap_content_info"]
        content_obj = encap["content"]
        content = (
            bytes(content_obj.native) if content_obj is not None and content_obj.native is not None else None
        )
        certificates = (
            [bytes(c.chosen.dump()) for c in signed["certificates"]] if signed["certificates"] else []
        )
        signers = list(signed["signer_infos"])
        if len(signers) != 1:
            raise SesError(f"SignedData has {len(signers)} signers; exactly one is supported")
        signer = signers[0]
        serial = None
        if signer["sid"].name == "issuer_and_serial_number":
            serial = signer["sid"].chosen["serial_number"].native
        signer_cert = None
        for cert_der in certificates:
            if serial is None or x509.Certificate.load(cert_der).serial_number == serial:
                signer_cert = cert_der
                break
        attrs = signer["signed_attrs"]
        attrs_der = None
        message_digest = None
        signing_time = None
        if attrs is not None and len(attrs):
            raw = bytes(attrs.dump())
            attrs_der = b"\x31" + raw[1:]
            for attr in attrs:
                oid = attr["type"].dotted
                values = attr["values"]
                if oid == "1.2.840.113549.1.9.4" and len(values):
                    message_digest = bytes(values[0].native)
                elif oid == "1.2.840.113549.1.9.5" and len(values):
                    moment = values[0].chosen.native
                    signing_time = moment if isinstance(moment, _dt.datetime) else None
        return ParsedSignedData(
            outer_type=info["content_type"].dotted,
            content_type=encap["content_type"].dotted,
            content=content,
            certificates=certificates,
            signer_cert=signer_cert,
            digest_algorithm=signer["digest_algorithm"]["algorithm"].dotted,
            signature_algorithm=signer["signature_algorithm"]["algorithm"].dotted,
            signature=bytes(signer["signature"].native),
            signed_attrs_der=attrs_der,
            message_digest=message_digest,
            signing_time=signing_time,
        )
    except _PARSE_ERRORS as exc:
        raise SesError(f"SignedData cannot be parsed: {type(exc).__name__}: {exc}") from exc


# --- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertFacts:
    subject_cn: str
    serial: int
    not_before: _dt.datetime | None
    not_after: _dt.datetime | None


def cert_facts(cert_der: bytes) -> CertFacts:
    """Subject CN, serial and validity, tolerant of names that asn1crypto cannot fully parse
    (e.g. x500UniqueIdentifier written as UTF8String in keyword.ofd)."""
    check_der_depth(cert_der, "certificate")
    try:
        cert = x509.Certificate.load(cert_der)
        tbs = cert["tbs_certificate"]
        serial = int(tbs["serial_number"].native)
        validity = tbs["validity"]
        not_before = validity["not_before"].native
        not_after = validity["not_after"].native
    except _PARSE_ERRORS as exc:
        raise SesError(f"certificate cannot be parsed: {exc}") from exc
    cn = ""
    try:
        for rdn in tbs["subject"].chosen:
            for atv in rdn:
                if atv["type"].dotted == "2.5.4.3":
                    cn = str(atv["value"].native)
    except _PARSE_ERRORS:
        cn = cn or ""
    return CertFacts(cn, serial, not_before, not_after)


def cert_digest(cert_der: bytes, algorithm: str) -> bytes | None:
    """Digest of a certificate for a CertDigestObj ``type`` (names or OIDs); None when unknown."""
    name = algorithm.strip().lower().replace("-", "")
    table = {
        "sm3": "sm3",
        SM3_OID: "sm3",
        "sha256": "sha256",
        "2.16.840.1.101.3.4.2.1": "sha256",
        "sha1": "sha1",
        "1.3.14.3.2.26": "sha1",
    }
    algo = table.get(name)
    if algo is None:
        return None
    return hashlib.new(algo, cert_der, usedforsecurity=algo != "sha1").digest()


def cert_in_list(seal: ParsedSeal, signer_cert: bytes) -> tuple[bool, str]:
    """Whether the signer certificate is one the seal lists (certListType 1: DER equal; 2: digest)."""
    if not seal.cert_list:
        return False, "the seal lists no certificates"
    if seal.cert_list_type == 1:
        if signer_cert in seal.cert_list:
            return True, f"signer certificate is listed in the seal ({len(seal.cert_list)} listed, DER equal)"
        return False, f"signer certificate is not among the {len(seal.cert_list)} certificates the seal lists"
    if seal.cert_list_type == 2:
        for item in seal.cert_list:
            try:
                obj = core.Sequence.load(item)
                kind = _string(AnyString.load(obj[0].dump()))
                value = bytes(core.OctetString.load(obj[1].dump()).native)
            except _PARSE_ERRORS:
                continue
            digest = cert_digest(signer_cert, kind)
            if digest is not None and digest == value:
                return True, f"signer certificate digest ({kind}) is listed in the seal"
        return False, "no certificate digest in the seal matches the signer certificate"
    return False, f"unknown certListType {seal.cert_list_type}"


def verify_sm2(cert_der: bytes, data: bytes, signature: bytes) -> tuple[bool, str]:
    """SM2-with-SM3 verification with the public key of ``cert_der``; (ok, reason if not)."""
    try:
        check_der_depth(cert_der, "certificate")
        key = sm.public_key_from_certificate(cert_der)
    except DanganError as exc:
        return False, exc.message
    except RecursionError:
        return False, "certificate cannot be parsed: nested too deeply"
    if sm.verify(key, data, signature_der(signature)):
        return True, ""
    return False, "signature does not verify"
