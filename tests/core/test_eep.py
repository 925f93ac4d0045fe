"""EEP (DA/T 48-2009): streaming Exc-C14N, SM2 over a precomputed digest, writer and verifier.

Independent checks: lxml's (libxml2's) exclusive C14N for the canonical bytes; Tongsuo's one-shot SM2
(``sm.verify``), pure-Python gmssl and the OpenSSL 3 command line for the signature.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from asn1crypto import algos
from gmssl import sm2 as gm_sm2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from dangan.core import sm
from dangan.core.errors import SignatureError
from dangan.core.package import eep
from dangan.core.package.eep import c14n, sm2digest
from dangan.core.package.eep import names as n

XSD_DIR = Path(eep.__file__).parent.parent / "xsd"


# --- helpers -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key():
    return sm.generate_private_key()


@pytest.fixture(scope="module")
def cert(key):
    return sm.make_self_signed_certificate(key, common_name="测试实例", organization="示范市档案馆")


@pytest.fixture(scope="module")
def signer(key, cert):
    return eep.Sm2DigestSigner(key, cert)


def _file(name: str, data: bytes, **kw) -> eep.EepFile:
    return eep.EepFile(name=name, size=len(data), sm3=sm.sm3_hex(data), open=lambda: io.BytesIO(data), **kw)


FILES = {
    "data/申报材料/申请书.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 40,
    "data/结果材料/决定 & <书>.txt": "准予许可\r\n第二行".encode(),
    "data/基本信息元数据.xml": '<?xml version="1.0"?><归档信息包/>'.encode(),
    "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
    "empty.bin": b"",
}

DESCRIPTION = eep.RecordDescription(
    file_number="330899-A101-TEST-2025-D30-000001",
    title="关于张三测试事项的办件 & <附件>",
    archival_code="T001-WS·2025-D30-SP-0001",
    fonds_name="示范市行政审批服务局",
    fonds_unit="示范市行政审批服务局",
    fonds_code="T001",
    year="2025",
    retention="定期30年",
    class_code="SP",
    piece_number="0001",
    case_number="BJ-2025-0001",
    responsible="示范市行政审批服务局",
    date="2025-03-05",
    security_class="内部",
    composition="组合文件",
    location="dangan AIP T001-WS·2025-D30-SP-0001 v1",
    system="dangan test",
    item_code="TEST-ITEM",
    item_name="测试事项",
    content_digest="b" * 64,
    aip_version="1",
    aip_tagmanifest_sm3="a" * 64,
    aip_signer_fingerprint="c" * 64,
    creator="示范市行政审批服务局",
    actions=(
        eep.Action("B1", "P2", "330899-A101-TEST-2025-D30-000001", "受理", "2025-03-03T09:30:00",
                   description="材料齐全，予以受理"),
        eep.Action("B2", "P3", "330899-A101-TEST-2025-D30-000001", "归档", "2025-06-01T10:00:00+08:00"),
    ),
    agents=(eep.Agent("P1", "机构", "示范市行政审批服务局"), eep.Agent("P2", "个人", "李四"),
            eep.Agent("P3", "个人", "cli:operator")),
)  # fmt: skip


def write(path: Path, signer, files=None, description=DESCRIPTION) -> eep.EepWriteResult:
    files = (
        files if files is not None else [_file(k, v, main=k.startswith("data/申")) for k, v in FILES.items()]
    )
    with open(path, "wb") as out:
        return eep.write_eep(out, description, files, signer, created="2025-06-01T10:00:00+08:00")


@pytest.fixture(scope="module")
def package(tmp_path_factory, signer) -> Path:
    path = tmp_path_factory.mktemp("eep") / "package.xml"
    write(path, signer)
    return path


def _signed_range(data: bytes) -> bytes:
    start = data.index(f"<{n.E.SIGNED}".encode())
    end = data.index(f"</{n.E.SIGNED}>".encode()) + len(f"</{n.E.SIGNED}>".encode())
    return data[start:end]


def _lxml_c14n(data: bytes) -> bytes:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    return etree.tostring(root.find(n.q(n.E.SIGNED)), method="c14n", exclusive=True, with_comments=False)


def _codes(report: eep.EepReport) -> list[str]:
    return [p.code for p in report.problems]


def _mutated(package: Path, tmp_path: Path, old: bytes, new: bytes, *, count: int = 1) -> Path:
    data = package.read_bytes()
    assert old in data, old
    out = tmp_path / "mutated.xml"
    out.write_bytes(data.replace(old, new, count))
    return out


# --- streaming Exc-C14N against libxml2's ------------------------------------------------------------------


class _Events:
    """Parser target that canonicalises the first element named ``apex`` with our Canonicalizer."""

    def __init__(self, apex: str) -> None:
        self.apex = apex
        self.out = bytearray()
        self.scope: list[dict[str, str]] = [{}]
        self.pending: dict[str, str] = {}
        self.canon: c14n.Canonicalizer | None = None

    def start_ns(self, prefix, uri):
        self.pending[prefix or ""] = uri

    def start(self, tag, attrib, nsmap=None):
        if self.canon is None and c14n.split(tag)[1] == self.apex:
            self.canon = c14n.Canonicalizer(self.out.extend, inherited=self.scope[-1])
        if self.canon is not None and not self.canon.done:
            for p, u in self.pending.items():
                self.canon.start_ns(p, u)
            self.canon.start(tag, attrib)
        self.scope.append({**self.scope[-1], **self.pending})
        self.pending = {}

    def data(self, text):
        if self.canon is not None and not self.canon.done:
            self.canon.data(text)

    def pi(self, target, data=None):
        if self.canon is not None and not self.canon.done:
            self.canon.pi(target, data)

    def end(self, tag):
        if self.canon is not None and not self.canon.done:
            self.canon.end()
        self.scope.pop()

    def close(self):
        return bytes(self.out)


def ours(doc: bytes, apex: str) -> bytes:
    parser = etree.XMLParser(target=_Events(apex), resolve_entities=True, no_network=True, load_dtd=False)
    parser.feed(doc)
    return parser.close()


def libxml2(doc: bytes, apex: str) -> bytes:
    root = etree.fromstring(doc)
    el = next(e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == apex)
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)


C14N_CASES = [
    b'<r xmlns="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u"><s x="1" b:y="2" a="&#9;&#10;&#13;&lt;&amp;&quot;'
    b'&gt;"><t>a &amp; b &lt; c &gt; d&#13;</t><b:u/></s></r>',
    b'<r xmlns:p="urn:p"><p:s><q xmlns=""><p:t p:z="1"/></q><![CDATA[<x>&]]><?pi  data ?><!-- c --></p:s></r>',
    b'<r xmlns="urn:a"><s><t xmlns=""><u xmlns="urn:a"/></t></s></r>',
    b'<r xmlns:p="urn:1"><s><p:t xmlns:p="urn:2"><p:u xmlns:p="urn:1"/></p:t></s></r>',
    b'<r xml:lang="zh"><s xml:space="preserve" b="2" a="1"><?target?>\xe6\x96\x87 \t\n</s></r>',
    b'<r xmlns="urn:a" xmlns:z="urn:z"><s z:b="1" a="2" z:a="3"><z:t/></s></r>',
]


@pytest.mark.parametrize("doc", C14N_CASES)
def test_streaming_canonical_form_equals_libxml2_exclusive_c14n(doc):
    assert ours(doc, "s") == libxml2(doc, "s")


_names = st.sampled_from(["a", "b", "档号", "题名", "x-y", "z.1"])
_prefixes = st.sampled_from(["", "p", "q", "dg"])
_uris = st.sampled_from(["", "urn:one", "urn:two", n.NS])
_texts = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                 | st.sampled_from(["&", "<", ">", "\r", "\n", "\t", '"', "'"]), max_size=12)  # fmt: skip


@st.composite
def _trees(draw, depth=0):
    prefix, uri = draw(_prefixes), draw(_uris)
    if prefix and not uri:
        uri = "urn:one"
    tag = f"{{{uri}}}{draw(_names)}" if uri else draw(_names)
    nsmap = {(prefix or None): uri} if uri else None
    el = etree.Element(tag, nsmap=nsmap)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(_names)
        auri = draw(st.sampled_from(["", "urn:one", "urn:two"]))
        el.set(f"{{{auri}}}{name}" if auri else name, draw(_texts))
    el.text = draw(_texts) or None
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            child = draw(_trees(depth + 1))
            child.tail = draw(_texts) or None
            el.append(child)
    return el


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees())
def test_canonical_form_equals_libxml2_on_generated_trees(tree):
    wrapper = etree.Element("{urn:w}wrap", nsmap={None: "urn:w", "p": "urn:two"})
    wrapper.append(tree)
    doc = etree.tostring(wrapper, encoding="utf-8")
    apex = etree.QName(tree).localname
    try:
        etree.fromstring(doc)
    except etree.XMLSyntaxError:
        assume(False)  # lxml can serialise clashing prefixes it cannot read back; not our concern
    try:
        mine = ours(doc, apex)
    except c14n.NamespaceError:
        return  # the same URI under two prefixes in scope: refused, never guessed
    root = etree.fromstring(doc)
    assert mine == etree.tostring(root[0], method="c14n", exclusive=True, with_comments=False)


def test_ambiguous_prefix_is_refused():
    doc = b'<r xmlns="urn:a" xmlns:a="urn:a"><s/></r>'
    with pytest.raises(c14n.NamespaceError, match="several prefixes"):
        ours(doc, "s")


# --- SM2 over a precomputed digest ---------------------------------------------------------------------------


def _e(point, message: bytes) -> bytes:
    h = sm2digest.message_hasher(point)
    h.update(message)
    return h.digest()


def _gmssl(point) -> gm_sm2.CryptSM2:
    crypt = gm_sm2.CryptSM2(private_key=None, public_key="00" * 64)
    crypt.public_key = f"{point[0]:064x}{point[1]:064x}"
    return crypt


def _rs(signature: bytes) -> str:
    parsed = algos.DSASignature.load(signature)
    return f"{parsed['r'].native:064x}{parsed['s'].native:064x}"


def test_z_a_and_digest_signature_equal_a_normal_sm2_signature(key, signer):
    point = sm2digest.public_point(key.public_key())
    message = os.urandom(5000)
    e = _e(point, message)
    signature = signer.sign_digest(e)
    # Tongsuo's one-shot SM2/SM3 (Z_A inside) and pure-Python gmssl accept it over the whole message.
    assert sm.verify(key.public_key(), message, signature)
    assert _gmssl(point).verify_with_sm3(_rs(signature), message)
    # And our pure-Python verification accepts Tongsuo's and gmssl's signatures of the message.
    assert sm2digest.verify_digest(point, e, sm.sign(key, message))
    d = f"{key.private_numbers().private_value:064x}"
    gm = gm_sm2.CryptSM2(private_key=d, public_key="00" * 64)
    gm.public_key = f"{point[0]:064x}{point[1]:064x}"
    rs = gm.sign_with_sm3(message, os.urandom(32).hex())
    der = algos.DSASignature({"r": int(rs[:64], 16), "s": int(rs[64:], 16)}).dump()
    assert sm2digest.verify_digest(point, e, der)


def test_verify_digest_rejects_what_it_must(key, signer):
    point = sm2digest.public_point(key.public_key())
    e = _e(point, b"message")
    signature = signer.sign_digest(e)
    assert sm2digest.verify_digest(point, e, signature)
    assert not sm2digest.verify_digest(point, bytes([e[0] ^ 1]) + e[1:], signature)
    other = sm2digest.public_point(sm.generate_private_key().public_key())
    assert not sm2digest.verify_digest(other, e, signature)
    r, s = sm2digest.parse_signature(signature)
    for bad in (
        algos.DSASignature({"r": r, "s": sm2digest.N}).dump(),
        algos.DSASignature({"r": 0, "s": s}).dump(),
        signature + b"\x00",
        b"\x30\x00",
        b"",
    ):
        assert not sm2digest.verify_digest(point, e, bad)
    assert not sm2digest.verify_digest((point[0], point[1] ^ 1), e, signature)  # not on the curve
    assert sm2digest.z_a(point) != sm2digest.z_a(point, b"another id")


def test_sign_digest_refuses_wrong_input(key, cert):
    with pytest.raises(ValueError):
        sm2digest.sign_digest(key, b"short")
    with pytest.raises(SignatureError):
        eep.Sm2DigestSigner(sm.generate_private_key(), cert)  # certificate of another key


# --- writer + verifier -------------------------------------------------------------------------------------


def test_round_trip_and_independent_canonical_form(package, key, cert):
    data = package.read_bytes()
    report = eep.verify_eep(package)
    assert report.status == "valid", report.problems
    assert report.exit_code == 0 and report.trust == "embedded" and report.passes == 1
    assert [f.name for f in report.files] == list(FILES)
    assert all(f.ok and f.sm3 == sm.sm3_hex(FILES[f.name]) for f in report.files)
    assert report.facts["dg:档号"] == DESCRIPTION.archival_code
    assert report.facts["题名"] == DESCRIPTION.title and report.facts["保管期限"] == "定期30年"
    # The signed bytes are a literal byte range of the file and equal libxml2's Exc-C14N of 被签名对象.
    signed = _signed_range(data)
    assert signed == _lxml_c14n(data)
    assert report.signed_bytes == len(signed)
    sig = base64.b64decode(
        re.search(rb"<\xe7\xad\xbe\xe5\x90\x8d\xe7\xbb\x93\xe6\x9e\x9c>(.*?)<", data).group(1)
    )
    assert sm.verify(key.public_key(), signed, sig)
    point = sm2digest.public_point(key.public_key())
    assert _gmssl(point).verify_with_sm3(_rs(sig), signed)
    trusted = eep.verify_eep(package, trusted=[cert, cert])
    assert trusted.valid and trusted.trust == "trusted"
    assert eep.verify_eep(package, trusted=[b"junk"]).exit_code == 2


def test_openssl_command_line_verifies_the_signature(package, cert, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command")
    data = package.read_bytes()
    (tmp_path / "signed.xml").write_bytes(_signed_range(data))
    sig = re.search(rb"<\xe7\xad\xbe\xe5\x90\x8d\xe7\xbb\x93\xe6\x9e\x9c>(.*?)<", data).group(1)
    (tmp_path / "sig.der").write_bytes(base64.b64decode(sig))
    (tmp_path / "cert.pem").write_bytes(sm.certificate_pem(cert))
    pub = subprocess.run([openssl, "x509", "-in", "cert.pem", "-pubkey", "-noout"], cwd=tmp_path,
                         capture_output=True, check=False)  # fmt: skip
    if pub.returncode != 0:
        pytest.skip(f"openssl cannot read SM2 certificates: {pub.stderr!r}")
    (tmp_path / "pub.pem").write_bytes(pub.stdout)
    res = subprocess.run(
        [openssl, "dgst", "-sm3", "-verify", "pub.pem", "-signature", "sig.der",
         "-sigopt", "distid:1234567812345678", "signed.xml"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if "distid" in res.stderr and res.returncode != 0:
        pytest.skip(f"openssl without SM2 distid support: {res.stderr}")
    assert res.returncode == 0 and "Verified OK" in res.stdout, res.stderr


def test_full_package_validates_against_the_xsd(package):
    # Small package: validate the complete document (Base64 included) with the schema.
    root = etree.parse(str(package), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    schema = eep.eep_schema()
    assert schema.validate(root), schema.error_log


def test_xsd_declares_every_name_the_code_uses():
    declared = set()
    for name in (n.XSD_NAME, n.XSD_EXT_NAME):
        tree = etree.parse(str(XSD_DIR / name))
        declared |= {el.get("name") for el in tree.iter(f"{{{n.XSD_NS}}}element")}
    names = {v for k, v in vars(n.E).items() if k.isupper() and not k.endswith("_ATTR")}
    names |= {n.X.DIGEST, n.X.AIP} | {name for name, _, _ in n.AIP_FIELDS}
    names |= {part for item in n.DAT46 for part in item.path} | set(n.DAT46_GROUPS)
    names |= {name for name, _ in n.BUSINESS_FIELDS} | {name for name, _ in n.AGENT_FIELDS}
    assert names - declared == set()


def test_equivalent_serialisations_still_verify(package, tmp_path):
    """The verifier re-canonicalises the parsed infoset: quoting, character references, CRLF line ends and
    whitespace outside 被签名对象 do not matter."""
    data = package.read_bytes()
    variants = {
        "char-ref": data.replace("<题名>关于张三".encode(), "<题名>&#x5173;于张三".encode(), 1),
        "quote": data.replace(b'eep\xe7\x89\x88\xe6\x9c\xac="2009"', b"eep\xe7\x89\x88\xe6\x9c\xac='2009'"),
        "crlf": data.replace(b"\n", b"\r\n"),
        "outer-space": data.replace(f"<{n.E.VERSION}>".encode(), f"\n   <{n.E.VERSION}>".encode()),
        "comment": data.replace("</题名>".encode(), "<!-- note --></题名>".encode(), 1),
    }
    for name, variant in variants.items():
        assert variant != data, name
        path = tmp_path / f"{name}.xml"
        path.write_bytes(variant)
        report = eep.verify_eep(path)
        assert report.valid, (name, report.problems)


def test_hint_miss_takes_a_second_pass(package, tmp_path):
    # Push the certificate out of the tail window: trailing comments after the root are well-formed.
    path = tmp_path / "padded.xml"
    path.write_bytes(package.read_bytes() + b"<!--" + b" " * (2 * 1024 * 1024) + b"-->\n")
    report = eep.verify_eep(path)
    assert report.valid and report.passes == 2, report.problems


# --- tampering: each change fails with the reason that names it ------------------------------------------


def test_changed_byte_in_base64_fails_digest_and_signature(package, tmp_path):
    data = package.read_bytes()
    start = data.index(f"<{n.E.ENCODED_DATA}>".encode()) + len(f"<{n.E.ENCODED_DATA}>".encode()) + 40
    flipped = bytearray(data)
    flipped[start] = ord("A") if flipped[start] != ord("A") else ord("B")
    path = tmp_path / "b64.xml"
    path.write_bytes(bytes(flipped))
    report = eep.verify_eep(path)
    assert report.exit_code == 1
    assert _codes(report) == ["FILE_DIGEST_MISMATCH", "SIGNATURE_INVALID"]
    assert report.problems[0].target == "data/申报材料/申请书.pdf"


def test_changed_metadata_value_fails_signature(package, tmp_path):
    report = eep.verify_eep(_mutated(package, tmp_path, "<题名>关于张三".encode(), "<题名>关于李四".encode()))
    assert report.exit_code == 1 and _codes(report) == ["SIGNATURE_INVALID"]
    assert report.facts["题名"].startswith("关于李四")


def test_changed_file_size_fails(package, tmp_path):
    size = str(len(FILES["bagit.txt"])).encode()
    old = f"<{n.E.FILESIZE}>".encode() + size + f"</{n.E.FILESIZE}>".encode()
    new = (
        f"<{n.E.FILESIZE}>".encode()
        + str(len(FILES["bagit.txt"]) + 1).encode()
        + f"</{n.E.FILESIZE}>".encode()
    )
    report = eep.verify_eep(_mutated(package, tmp_path, old, new))
    assert _codes(report) == ["FILE_SIZE_MISMATCH", "SIGNATURE_INVALID"]


def _element_text(data: bytes, name: str) -> bytes:
    return re.search(f"<{name}>(.*?)</{name}>".encode(), data, re.DOTALL).group(1)


def test_changed_signature_fails(package, tmp_path):
    value = _element_text(package.read_bytes(), n.E.SIG_VALUE)
    raw = bytearray(base64.b64decode(value))
    raw[-5] ^= 0x01  # inside s
    report = eep.verify_eep(_mutated(package, tmp_path, value, base64.b64encode(bytes(raw))))
    assert report.exit_code == 1 and _codes(report) == ["SIGNATURE_INVALID"]
    report = eep.verify_eep(_mutated(package, tmp_path, value, base64.b64encode(b"\x30\x03\x02\x01\x01")))
    assert _codes(report) == ["SIGNATURE_MALFORMED"]


@pytest.mark.parametrize("offset", [40, 200, -80, -20])
def test_changed_certificate_fails(package, tmp_path, offset):
    value = _element_text(package.read_bytes(), n.E.CERT)
    raw = bytearray(base64.b64decode(value))
    raw[offset] ^= 0x01
    report = eep.verify_eep(_mutated(package, tmp_path, value, base64.b64encode(bytes(raw))))
    # Near the end the flipped bit lands in the certificate's signature or its DER framing (the
    # signature's length varies with the random key): invalid (1) or, rarely, unreadable (2) — never valid.
    assert report.exit_code in (1, 2) and report.problems, report.problems
    if report.exit_code == 1:
        assert _codes(report)[0] in ("CERTIFICATE_INVALID",), report.problems


def test_untrusted_signer_fails(package):
    other = sm.generate_private_key()
    other_cert = sm.make_self_signed_certificate(other, common_name="其他", organization="其他")
    report = eep.verify_eep(package, trusted=[other_cert])
    assert report.exit_code == 1 and _codes(report) == ["SIGNER_UNTRUSTED"] and report.trust == "untrusted"


def test_invalid_base64_character(package, tmp_path):
    data = package.read_bytes()
    start = data.index(f"<{n.E.ENCODED_DATA}>".encode()) + len(f"<{n.E.ENCODED_DATA}>".encode()) + 10
    path = tmp_path / "bad64.xml"
    path.write_bytes(data[:start] + b"*" + data[start + 1 :])
    report = eep.verify_eep(path)
    assert _codes(report)[0] == "BASE64_INVALID" and report.exit_code == 1


def test_structure_error_is_reported(package, tmp_path):
    data = package.read_bytes()
    path = tmp_path / "renamed.xml"
    path.write_bytes(data.replace(n.E.FILENAME.encode(), "文件名称".encode()))
    report = eep.verify_eep(path)
    assert report.exit_code == 1
    assert "SCHEMA_INVALID" in _codes(report) and "SIGNATURE_INVALID" in _codes(report)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_truncated_package(package, tmp_path, keep):
    data = package.read_bytes()
    path = tmp_path / "truncated.xml"
    path.write_bytes(data[: int(len(data) * keep)])
    report = eep.verify_eep(path)
    assert report.exit_code == 1 and _codes(report) == ["EEP_TRUNCATED"], report.problems


def test_modified_package_type_is_unsupported(package, tmp_path):
    report = eep.verify_eep(
        _mutated(package, tmp_path, "<封装包类型>原始型".encode(), "<封装包类型>修改型".encode())
    )
    assert report.exit_code == 2 and _codes(report) == ["EEP_UNSUPPORTED"]


HOSTILE = {  # name: (content, first problem code, exit status)
    "not-eep": (b'<?xml version="1.0"?><root xmlns="urn:x"><a/></root>', "NOT_EEP", 2),
    "wrong-namespace": ("<电子文件封装包><版本>2009</版本></电子文件封装包>".encode(), "NOT_EEP", 2),
    "not-xml": (b"%PDF-1.4 \x00\x01\x02 binary", "XML_MALFORMED", 2),
    "empty": (b"", "XML_MALFORMED", 2),
    "xxe": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + f'<电子文件封装包 xmlns="{n.NS}">&x;</电子文件封装包>'.encode(),
        "XML_UNSAFE",
        2,
    ),
    "billion-laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>',
        "XML_UNSAFE",
        2,
    ),
    # A DOCTYPE hidden behind 70 KB of comments gets past the head scan: the parser target refuses it.
    "late-doctype": (
        b"<!--" + b"x" * 70_000 + b'--><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>',
        "XML_UNSAFE",
        2,
    ),
    # Inside a recognised EEP root: the package is damaged, not foreign (exit 1).
    "undefined-entity": (f'<电子文件封装包 xmlns="{n.NS}">&x;</电子文件封装包>'.encode(), "XML_MALFORMED", 1),
    "deep": (
        f'<电子文件封装包 xmlns="{n.NS}">'.encode()
        + b"<a>" * 100
        + b"</a>" * 100
        + "</电子文件封装包>".encode(),
        "EEP_LIMIT",
        1,
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_and_foreign_inputs(tmp_path, name):
    content, code, status = HOSTILE[name]
    path = tmp_path / f"{name}.xml"
    path.write_bytes(content)
    report = eep.verify_eep(path)
    assert _codes(report)[0] == code, report.problems
    assert report.exit_code == status


def test_missing_file_is_unreadable(tmp_path):
    report = eep.verify_eep(tmp_path / "nope.xml")
    assert report.exit_code == 2 and _codes(report) == ["UNREADABLE"]


def test_writer_refuses_a_file_that_does_not_match_its_digest(signer, tmp_path):
    bad = eep.EepFile(name="data/x.pdf", size=3, sm3="0" * 64, open=lambda: io.BytesIO(b"abc"))
    with pytest.raises(eep.EepError) as info:
        write(tmp_path / "x.xml", signer, files=[bad])
    assert info.value.code == "EEP_SOURCE_MISMATCH" and info.value.target == "data/x.pdf"


def test_writer_refuses_characters_xml_cannot_carry(signer, tmp_path):
    import dataclasses

    description = dataclasses.replace(DESCRIPTION, title="bad \x01 title")
    with pytest.raises(eep.EepError) as info:
        write(tmp_path / "x.xml", signer, description=description)
    assert info.value.code == "EEP_VALUE_INVALID" and info.value.target == "题名"


# --- memory: streaming both ways -----------------------------------------------------------------------------

MEMORY_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys
    from pathlib import Path
    from dangan.core import sm
    from dangan.core.package import eep

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    folder, size = Path(sys.argv[1]), int(sys.argv[2])
    key = sm.generate_private_key()
    cert = sm.make_self_signed_certificate(key, common_name="mem", organization="mem")
    signer = eep.Sm2DigestSigner(key, cert)
    big = folder / "big.bin"
    h = hashlib.new("sm3")
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(size >> 20):
            chunk = bytes([i & 0xFF]) + block[1:]
            h.update(chunk)
            f.write(chunk)
    eep.verify_eep  # imported
    base = hwm()
    files = [eep.EepFile(name="data/big.bin", size=size, sm3=h.hexdigest(), open=lambda: open(big, "rb"))]
    with open(folder / "big.xml", "wb") as out:
        eep.write_eep(out, eep.RecordDescription(file_number="F", title="T", creator="U"), files, signer,
                      created="2025-01-01T00:00:00+08:00")
    after_write = hwm()
    report = eep.verify_eep(folder / "big.xml")
    print(json.dumps({"base": base, "write": after_write, "verify": hwm(), "status": report.status,
                      "problems": [p.message for p in report.problems]}))
    """
)


def test_memory_stays_flat_for_a_50_mb_file(tmp_path):
    import json

    size = 50 * 1024 * 1024
    res = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path), str(size)],
                         capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    result = json.loads(res.stdout)
    assert result["status"] == "valid", result
    # The package holds ~67 MB of Base64; peak RSS may grow by a few chunk buffers, not by the file.
    assert result["write"] - result["base"] < 20 * 1024 * 1024, result
    assert result["verify"] - result["base"] < 20 * 1024 * 1024, result


def test_docs_mapping_table_matches_the_code():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "eep.md").read_text(encoding="utf-8")
    for item in n.DAT46:
        row = (
            f"| {item.number} | {'/'.join(item.path)} | {item.source} | {'yes' if item.verified else 'no'} |"
        )
        assert row in doc, f"docs/eep.md §2 is out of date: {row}"
