"""The coverage step (References must cover the signed document) and the bounds on the work a hostile
OFD can cause (de-duplicated hashing, caps on references, signatures and hashed bytes)."""

from __future__ import annotations

import base64
import os
import time

import pytest

from dangan.core import sm
from dangan.core.ofd import OfdContainer, OfdLimits, verify_document, verify_signatures

from .builders import (
    NS,
    Party,
    add_seal,
    build_seal,
    build_ses_signature,
    ofd_files,
    signature_xml,
    signatures_list,
    write_zip,
)

PAGE = "Doc_0/Pages/Page_0/Content.xml"


def outcomes(verdict):
    return {s.name: s.outcome for s in verdict.steps}


@pytest.fixture(scope="module")
def parties():
    return Party("签章人"), Party("制章人")


def sealed(files, parties, index=0, **kw):
    signer, maker = parties
    return add_seal(files, index, signer=signer, maker=maker, **kw)


# --- coverage -----------------------------------------------------------------------------------------


def test_partial_references_then_page_rewritten(tmp_path, parties):
    """The reviewer's case: a seal listing only OFD.xml and Document.xml stays 'valid' after the page
    text changes. Coverage fails and names the unprotected files."""
    files = sealed(ofd_files(), parties, refs=["OFD.xml", "Doc_0/Document.xml"])
    files[PAGE] = files[PAGE].replace(b">Hi<", b">TAMPERED: approved 1,000,000 yuan<")
    (v,) = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert not v.valid and v.status == "invalid"
    assert outcomes(v)["references"] == "pass" and outcomes(v)["coverage"] == "fail"
    assert v.uncovered == ["/Doc_0/Pages/Page_0/Content.xml", "/Doc_0/PublicRes.xml", "/Doc_0/Res/font_3.ttf"]
    text = v.step("coverage").reason
    assert "3 of 5 files" in text and "/Doc_0/Pages/Page_0/Content.xml" in text


def test_full_coverage_passes(tmp_path, parties):
    (v,) = verify_signatures(write_zip(tmp_path / "t.ofd", sealed(ofd_files(), parties)))
    assert v.valid and outcomes(v)["coverage"] == "pass" and v.uncovered == []


def test_file_added_after_signing_is_uncovered(tmp_path, parties):
    files = sealed(ofd_files(), parties)
    files["Doc_0/Res/extra.png"] = b"\x89PNG added later"
    (v,) = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert outcomes(v)["coverage"] == "fail" and v.uncovered == ["/Doc_0/Res/extra.png"]


def test_second_seal_files_are_not_required_of_the_first(tmp_path, parties):
    """Signing twice: the later signature rewrites Signatures.xml and adds its own folder; the first
    stays valid. The later one covers the earlier signature's files."""
    files = sealed(ofd_files(), parties, 0)
    files = sealed(files, parties, 1)
    files["Doc_0/Signs/Sign_1/stamp.png"] = b"\x89PNG appearance of the later seal"
    first, second = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert first.valid and second.valid, (first.steps, second.steps)
    assert outcomes(first)["coverage"] == "pass" and outcomes(second)["coverage"] == "pass"
    assert "/Doc_0/Signs/Sign_0/SignedValue.dat" in [r.file_ref for r in second.references]


def test_later_signature_must_cover_the_earlier_ones(tmp_path, parties):
    files = sealed(ofd_files(), parties, 0)
    refs = sorted(
        n for n in files if n not in ("Doc_0/Signs/Signatures.xml", "Doc_0/Signs/Sign_0/SignedValue.dat")
    )
    files = sealed(files, parties, 1, refs=refs)
    first, second = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert first.valid
    assert outcomes(second)["coverage"] == "fail"
    assert second.uncovered == ["/Doc_0/Signs/Sign_0/SignedValue.dat"]


def test_a_later_signature_cannot_claim_content_as_its_own(tmp_path, parties):
    """A forged later signature naming the page as its SignedValue does not take the page out of the
    first signature's required coverage."""
    files = sealed(ofd_files(), parties, 0, refs=["OFD.xml", "Doc_0/Document.xml", "Doc_0/PublicRes.xml"])
    files = sealed(files, parties, 1, signed_value=f"/{PAGE}")
    first, second = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert outcomes(first)["coverage"] == "fail"
    assert "/Doc_0/Pages/Page_0/Content.xml" in first.uncovered
    assert not second.valid


def test_signature_folder_not_under_its_list_is_not_excluded(tmp_path, parties):
    """Only a signature's own folder inside the Signs area is excluded wholesale: a Signature.xml put in
    a content folder excludes its named files only."""
    signer, maker = parties
    files = ofd_files(body_extra="<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>")
    refs = sorted(files)
    files["Doc_0/Pages/Page_0/notes.bin"] = b"uncovered"  # beside the Signature.xml below
    sx = signature_xml(files, refs, signed_value="SignedValue.dat")
    files["Doc_0/Signs/Signatures.xml"] = signatures_list([("1", "/Doc_0/Pages/Page_0/Signature.xml")])
    files["Doc_0/Pages/Page_0/Signature.xml"] = sx
    files["Doc_0/Pages/Page_0/SignedValue.dat"] = build_ses_signature(
        signer, build_seal(maker, [signer.cert]), sx, property_info="/Doc_0/Pages/Page_0/Signature.xml"
    )
    (v,) = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert v.uncovered == ["/Doc_0/Pages/Page_0/notes.bin"]


def test_other_documents_are_not_required(tmp_path, parties):
    """A signature of the first document need not cover the folder of a second document."""
    files = ofd_files()
    files.update({f"Doc_1/{k[len('Doc_0/') :]}": v for k, v in files.items() if k.startswith("Doc_0/")})
    files["OFD.xml"] = files["OFD.xml"].replace(
        b"</ofd:OFD>",
        b"<ofd:DocBody><ofd:DocInfo><ofd:DocID>u</ofd:DocID></ofd:DocInfo>"
        b"<ofd:DocRoot>Doc_1/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
    )
    files = sealed(files, parties, 0, refs=[n for n in sorted(files) if not n.startswith("Doc_1/")])
    (v,) = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert v.valid and outcomes(v)["coverage"] == "pass", v.step("coverage").reason
    files["Doc_0/Res/added.bin"] = b"x"
    (v,) = verify_signatures(write_zip(tmp_path / "u.ofd", files))
    assert v.uncovered == ["/Doc_0/Res/added.bin"]


# --- bounds -------------------------------------------------------------------------------------------


def _many_refs(path, n_refs, m_sigs, *, big=1024 * 1024, random_check_values=False):
    """The reviewer's amplification document: one large entry referenced n times, m signature entries."""
    files = ofd_files(body_extra="<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>")
    data = bytes(big)
    files["Doc_0/Res/big.bin"] = data
    cv = base64.b64encode(sm.sm3(data).digest()).decode()
    values = (base64.b64encode(os.urandom(32)).decode() if random_check_values else cv for _ in range(n_refs))
    refs = "".join(
        f'<ofd:Reference FileRef="/Doc_0/Res/big.bin"><ofd:CheckValue>{value}</ofd:CheckValue></ofd:Reference>'
        for value in values
    )
    files["Doc_0/Signs/Sign_0/Signature.xml"] = (
        f'<?xml version="1.0"?><ofd:Signature xmlns:ofd="{NS}"><ofd:SignedInfo>'
        f'<ofd:References CheckMethod="1.2.156.10197.1.401">{refs}</ofd:References></ofd:SignedInfo>'
        "<ofd:SignedValue>/Doc_0/Signs/Sign_0/SignedValue.dat</ofd:SignedValue></ofd:Signature>"
    ).encode()
    sigs = "".join(f'<ofd:Signature ID="{i}" BaseLoc="Sign_{i}/Signature.xml"/>' for i in range(m_sigs))
    for i in range(1, m_sigs):
        files[f"Doc_0/Signs/Sign_{i}/Signature.xml"] = files["Doc_0/Signs/Sign_0/Signature.xml"]
    files["Doc_0/Signs/Signatures.xml"] = (
        f'<?xml version="1.0"?><ofd:Signatures xmlns:ofd="{NS}">{sigs}</ofd:Signatures>'
    ).encode()
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = b"\x30\x03\x02\x01\x00"
    return write_zip(path, files)


def test_each_part_is_hashed_once_per_document(tmp_path, monkeypatch):
    calls = []
    original = OfdContainer.digest

    def counting(self, part, algorithm="sm3"):
        calls.append((part, algorithm))
        return original(self, part, algorithm)

    monkeypatch.setattr(OfdContainer, "digest", counting)
    path = _many_refs(tmp_path / "dos.ofd", 2_000, 4)
    started = time.perf_counter()
    report = verify_document(path)
    assert time.perf_counter() - started < 10
    assert calls == [("Doc_0/Res/big.bin", "sm3")]
    assert len(report.signatures) == 4
    assert all(len(v.references) == 2_000 and all(r.ok for r in v.references) for v in report.signatures)


def test_too_many_references_are_refused_unchecked(tmp_path, monkeypatch):
    monkeypatch.setattr(OfdContainer, "digest", lambda *a, **k: pytest.fail("hashed"))
    path = _many_refs(tmp_path / "dos.ofd", 10_001, 1, random_check_values=True)  # compresses < 200:1
    (v,) = verify_signatures(path)
    assert outcomes(v)["references"] == "fail" and outcomes(v)["coverage"] == "not_run"
    assert "10001 references, over the limit of 10000: not checked" in v.step("references").reason
    assert v.references == [] and not v.valid


def test_too_many_signatures_refuse_the_document(tmp_path):
    path = _many_refs(tmp_path / "dos.ofd", 1, 5, big=10)
    report = verify_document(path, limits=OfdLimits(max_signatures=4))
    assert report.error_code == "OFD_LIMIT" and not report.signed and not report.valid
    assert "more than 4 signatures" in report.error
    assert len(verify_document(path, limits=OfdLimits(max_signatures=5)).signatures) == 5
    assert OfdLimits().max_signatures == 100 and OfdLimits().max_references == 10_000


def test_hashing_budget(tmp_path):
    path = _many_refs(tmp_path / "dos.ofd", 3, 1, big=1000)
    (v,) = verify_signatures(path, limits=OfdLimits(max_digest_bytes=500))
    assert outcomes(v)["references"] == "fail"
    assert "hashing budget of 500 bytes is spent" in v.step("references").reason


def test_two_entries_naming_one_signature_xml(tmp_path, parties):
    files = sealed(ofd_files(), parties, 0)
    files["Doc_0/Signs/Signatures.xml"] = signatures_list(
        [("1", "Sign_0/Signature.xml"), ("2", "Sign_0/Signature.xml")]
    )
    first, second = verify_signatures(write_zip(tmp_path / "t.ofd", files))
    assert first.valid
    assert (
        not second.valid
        and "also the Signature.xml of signature '1'" in second.step("signer_signature").reason
    )
