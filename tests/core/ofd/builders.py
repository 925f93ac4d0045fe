"""Test helpers: rewrite OFD ZIPs, build small OFDs, and build SES seals/signatures with fresh SM2 keys."""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import struct
import warnings
import zipfile
from pathlib import Path

from asn1crypto import core

from dangan.core import sm
from dangan.core.ofd import ses

NS = "http://www.ofdspec.org/2016"


def read_entries(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def rezip(
    src: Path,
    dst: Path,
    *,
    replace: dict[str, bytes | None] | None = None,
    add: dict[str, bytes] | None = None,
) -> Path:
    """Copy ``src`` to ``dst`` replacing (bytes) or removing (None) entries by name, then adding ``add``."""
    replace = replace or {}
    entries = read_entries(src)
    tmp = dst.with_name(dst.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in entries:
            if info.filename in replace:
                new = replace[info.filename]
                if new is None:
                    continue
                data = new
            out.writestr(info.filename, data)
        for name, data in (add or {}).items():
            out.writestr(name, data)
    tmp.replace(dst)
    return dst


def member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def write_zip(path: Path, files: dict[str, bytes], *, allow_duplicates: bool = False) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    return path


def set_encrypted_flag(path: Path, name: str) -> None:
    """Mark one entry as encrypted (general-purpose flag bit 0) in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    (flags,) = struct.unpack_from("<H", data, local + 6)
    struct.pack_into("<H", data, local + 6, flags | 1)
    raw = name.encode("utf-8")
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        (name_len,) = struct.unpack_from("<H", data, pos + 28)
        if bytes(data[pos + 46 : pos + 46 + name_len]) == raw:
            (flags,) = struct.unpack_from("<H", data, pos + 8)
            struct.pack_into("<H", data, pos + 8, flags | 1)
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))


def ofd_files(
    *,
    font_file: bytes | None = b"\x00\x01\x00\x00fake-truetype",
    doc_type: str = "OFD-A",
    page_extra: str = "",
    res_extra: str = "",
    document_extra: str = "",
    body_extra: str = "",
) -> dict[str, bytes]:
    """A small, structurally complete one-page OFD (OFD-A conformant with the defaults)."""
    font = (
        '<ofd:Font ID="3" FontName="Test" FamilyName="Test"><ofd:FontFile>font_3.ttf</ofd:FontFile></ofd:Font>'
        if font_file is not None
        else '<ofd:Font ID="3" FontName="宋体" FamilyName="宋体"/>'
    )
    files = {
        "OFD.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{NS}" Version="1.2" DocType="{doc_type}">'
            "<ofd:DocBody><ofd:DocInfo><ofd:DocID>t</ofd:DocID></ofd:DocInfo>"
            f"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>{body_extra}</ofd:DocBody></ofd:OFD>"
        ),
        "Doc_0/Document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{NS}"><ofd:CommonData>'
            "<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
            "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes><ofd:MaxUnitID>5</ofd:MaxUnitID></ofd:CommonData>"
            f'<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages>{document_extra}</ofd:Document>'
        ),
        "Doc_0/PublicRes.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="{NS}" BaseLoc="Res">'
            f"<ofd:Fonts>{font}</ofd:Fonts>{res_extra}</ofd:Res>"
        ),
        "Doc_0/Pages/Page_0/Content.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{NS}"><ofd:Content><ofd:Layer ID="2">'
            '<ofd:TextObject ID="4" Boundary="10 10 50 5" Font="3" Size="3"><ofd:TextCode X="0" Y="3">Hi</ofd:TextCode>'
            f"</ofd:TextObject></ofd:Layer></ofd:Content>{page_extra}</ofd:Page>"
        ),
    }
    out = {name: text.encode("utf-8") for name, text in files.items()}
    if font_file is not None:
        out["Doc_0/Res/font_3.ttf"] = font_file
    return out


# --- SES builders ---------------------------------------------------------------------------------------


def seq(*parts: bytes) -> bytes:
    return ses._seq(b"".join(parts))


def ia5(value: str) -> bytes:
    return bytes(core.IA5String(value).dump())


def utf8(value: str) -> bytes:
    return bytes(core.UTF8String(value).dump())


def integer(value: int) -> bytes:
    return bytes(core.Integer(value).dump())


def octets(value: bytes) -> bytes:
    return bytes(core.OctetString(value).dump())


def bits(value: bytes) -> bytes:
    return bytes(core.OctetBitString(value).dump())


def oid(value: str) -> bytes:
    return bytes(core.ObjectIdentifier(value).dump())


def gtime(moment: dt.datetime) -> bytes:
    return bytes(core.GeneralizedTime(moment).dump())


def utctime(moment: dt.datetime) -> bytes:
    return bytes(core.UTCTime(moment).dump())


class Party:
    """An SM2 key with a self-signed certificate."""

    def __init__(self, name: str) -> None:
        self.key = sm.generate_private_key()
        self.cert = sm.make_self_signed_certificate(self.key, common_name=name, organization="dangan tests")

    def sign(self, data: bytes) -> bytes:
        return sm.sign(self.key, data)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def build_seal(
    maker: Party,
    listed: list[bytes],
    *,
    layout: str = "v4",
    cert_list_type: int = 1,
    name: str = "测试印章",
    es_id: str = "33010000000001",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> bytes:
    start = start or now() - dt.timedelta(days=1)
    end = end or now() + dt.timedelta(days=365)
    alg = oid(sm.SM2_SIGN_WITH_SM3_OID)
    picture = seq(ia5("PNG"), octets(b"\x89PNG fake"), integer(40), integer(40))
    if layout == "v4":
        if cert_list_type == 1:
            cert_list = seq(*(octets(c) for c in listed))
        else:
            cert_list = seq(
                *(seq(bytes(core.PrintableString("sm3").dump()), octets(sm.sm3(c).digest())) for c in listed)
            )
        prop = seq(
            integer(1), utf8(name), integer(cert_list_type), cert_list, gtime(start), gtime(start), gtime(end)
        )
        info = seq(seq(ia5("ES"), integer(4), ia5("dangan")), ia5(es_id), prop, picture)
        signature = maker.sign(info)
        return seq(info, octets(maker.cert), alg, bits(signature))
    prop = seq(
        integer(1),
        utf8(name),
        seq(*(octets(c) for c in listed)),
        utctime(start),
        utctime(start),
        utctime(end),
    )
    info = seq(seq(ia5("ES"), integer(1), ia5("dangan")), ia5(es_id), prop, picture)
    signature = maker.sign(seq(info, octets(maker.cert), alg))
    return seq(info, seq(octets(maker.cert), alg, bits(signature)))


def build_ses_signature(
    signer: Party,
    seal: bytes,
    signature_xml: bytes,
    *,
    layout: str = "v4",
    when: dt.datetime | None = None,
    property_info: str = "/Doc_0/Signs/Sign_0/Signature.xml",
) -> bytes:
    when = when or now()
    alg = oid(sm.SM2_SIGN_WITH_SM3_OID)
    data_hash = bits(sm.sm3(signature_xml).digest())
    if layout == "v4":
        tbs = seq(integer(4), seal, gtime(when), data_hash, ia5(property_info))
        return seq(tbs, octets(signer.cert), alg, bits(signer.sign(tbs)))
    time_info = bits(when.strftime("%Y%m%d%H%M%SZ").encode("ascii"))
    tbs = seq(integer(1), seal, time_info, data_hash, ia5(property_info), octets(signer.cert), alg)
    return seq(tbs, bits(signer.sign(tbs)))


def signature_xml(
    files: dict[str, bytes],
    refs: list[str],
    *,
    seal_loc: str | None = None,
    signed_value: str = "/Doc_0/Signs/Sign_0/SignedValue.dat",
) -> bytes:
    references = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>'
        f"{base64.b64encode(sm.sm3(files[name]).digest()).decode()}</ofd:CheckValue></ofd:Reference>"
        for name in refs
    )
    seal = f"<ofd:Seal><ofd:BaseLoc>{seal_loc}</ofd:BaseLoc></ofd:Seal>" if seal_loc else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signature xmlns:ofd="{NS}"><ofd:SignedInfo>'
        '<ofd:Provider ProviderName="dangan-tests" Version="1" Company="dangan"/>'
        "<ofd:SignatureMethod>1.2.156.10197.1.501</ofd:SignatureMethod>"
        "<ofd:SignatureDateTime>20240101120000</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="1.2.156.10197.1.401">{references}</ofd:References>'
        f'<ofd:StampAnnot ID="9" PageRef="1" Boundary="10 10 40 40"/>{seal}</ofd:SignedInfo>'
        f"<ofd:SignedValue>{signed_value}</ofd:SignedValue></ofd:Signature>"
    ).encode()


def signed_ofd(
    path: Path,
    *,
    signer: Party,
    maker: Party,
    layout: str = "v4",
    cert_list_type: int = 1,
    when: dt.datetime | None = None,
    listed: list[bytes] | None = None,
    seal: bytes | None = None,
) -> Path:
    """A small OFD sealed with a freshly made seal, in the given layout."""
    files = ofd_files(body_extra="<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>")
    refs = sorted(files)
    sx = signature_xml(files, refs)
    if seal is None:
        listed = listed if listed is not None else [signer.cert]
        seal = build_seal(maker, listed, layout=layout, cert_list_type=cert_list_type)
    files["Doc_0/Signs/Signatures.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="{NS}"><ofd:MaxSignId>1</ofd:MaxSignId>'
        '<ofd:Signature ID="1" Type="Seal" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>'
    ).encode()
    files["Doc_0/Signs/Sign_0/Signature.xml"] = sx
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = build_ses_signature(
        signer, seal, sx, layout=layout, when=when
    )
    return write_zip(path, files)


# --- certificate chains and multi-signature documents ----------------------------------------------------


def issue_certificate(
    subject_key,
    common_name: str,
    *,
    issuer: Party | None = None,
    issuer_name: str | None = None,
    ca: bool = False,
    key_usage: set[str] | None = None,
) -> bytes:
    """An SM2 certificate for ``subject_key`` signed by ``issuer`` (self-signed when None).

    ``issuer_name`` overrides the issuer DN written into the certificate (to forge a claimed issuer).
    """
    from asn1crypto import algos, keys, x509

    spki = keys.PublicKeyInfo.load(sm.public_key_der(subject_key.public_key()))
    subject = x509.Name.build({"common_name": common_name, "organization_name": "dangan tests"})
    if issuer_name is not None:
        issuer_dn = x509.Name.build({"common_name": issuer_name, "organization_name": "dangan tests"})
    elif issuer is not None:
        issuer_dn = x509.Certificate.load(issuer.cert).subject
    else:
        issuer_dn = subject
    signing_key = issuer.key if issuer is not None else subject_key
    usage = (
        key_usage
        if key_usage is not None
        else ({"key_cert_sign", "crl_sign"} if ca else {"digital_signature"})
    )
    alg = algos.SignedDigestAlgorithm({"algorithm": sm.SM2_SIGN_WITH_SM3_OID})
    start = now() - dt.timedelta(days=1)
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": secrets.randbits(127) | (1 << 126),
            "signature": alg,
            "issuer": issuer_dn,
            "validity": {
                "not_before": x509.Time(name="utc_time", value=start),
                "not_after": x509.Time(name="utc_time", value=start + dt.timedelta(days=3650)),
            },
            "subject": subject,
            "subject_public_key_info": spki,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
                {"extn_id": "key_usage", "critical": True, "extn_value": usage},
            ],
        }
    )
    signature = sm.sign(signing_key, bytes(tbs.dump()))
    cert = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sm.SM2_SIGN_WITH_SM3_OID}),
            "signature_value": signature,
        }
    )
    return bytes(cert.dump())


class Authority(Party):
    """An SM2 key with a certificate: a CA (self-signed or issued by ``issuer``) or issued by one."""

    def __init__(self, name: str, *, issuer: Party | None = None, ca: bool = False, **kw) -> None:
        self.key = sm.generate_private_key()
        self.cert = issue_certificate(self.key, name, issuer=issuer, ca=ca, **kw)


def signatures_list(entries: list[tuple[str, str]]) -> bytes:
    """Signatures.xml with (ID, BaseLoc relative to Doc_0/Signs) entries, in order."""
    sigs = "".join(f'<ofd:Signature ID="{sid}" Type="Seal" BaseLoc="{loc}"/>' for sid, loc in entries)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="{NS}">'
        f"<ofd:MaxSignId>{len(entries)}</ofd:MaxSignId>{sigs}</ofd:Signatures>"
    ).encode()


def add_seal(
    files: dict[str, bytes],
    index: int,
    *,
    signer: Party,
    maker: Party,
    refs: list[str] | None = None,
    signed_value: str | None = None,
) -> dict[str, bytes]:
    """Seal ``files`` again as signature ``index`` (folder Doc_0/Signs/Sign_<index>/), like a signing tool:
    the references cover every file present (except Signatures.xml) unless ``refs`` is given."""
    if "OFD.xml" in files and b"<ofd:Signatures>" not in files["OFD.xml"]:
        files["OFD.xml"] = files["OFD.xml"].replace(
            b"</ofd:DocRoot>", b"</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>"
        )
    folder = f"Doc_0/Signs/Sign_{index}"
    if refs is None:
        refs = sorted(n for n in files if n != "Doc_0/Signs/Signatures.xml")
    sv = signed_value or f"/{folder}/SignedValue.dat"
    sx = signature_xml(files, refs, signed_value=sv)
    seal = build_seal(maker, [signer.cert])
    existing = []
    if "Doc_0/Signs/Signatures.xml" in files:
        existing = re.findall(
            r'ID="([^"]+)" Type="Seal" BaseLoc="([^"]+)"', files["Doc_0/Signs/Signatures.xml"].decode()
        )
    files["Doc_0/Signs/Signatures.xml"] = signatures_list(
        [*existing, (str(index + 1), f"Sign_{index}/Signature.xml")]
    )
    files[f"{folder}/Signature.xml"] = sx
    value = build_ses_signature(signer, seal, sx, property_info=f"/{folder}/Signature.xml")
    if signed_value is None:
        files[f"{folder}/SignedValue.dat"] = value
    return files
