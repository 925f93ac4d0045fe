"""Validators: good files pass, truncated/corrupt/hostile files are invalid, nothing raises."""

from __future__ import annotations

import random
import re
import stat

import pikepdf
import pytest

from dangan.core.formats import (
    ARCHIVAL_FORMATS,
    FormatId,
    identify,
    is_archival,
    is_compressed_archive,
    is_container_or_compressed,
    is_proprietary_compression,
    media,
    validate,
)
from dangan.core.formats.registry import FORMATS
from dangan.testing.tools import require_tool

from . import samples as s

NEEDS_FFPROBE = {"WAV", "MP3", "FLAC", "MP4", "MOV", "AVI"}
VALID = ["PDF", "JPEG", "PNG", "TIFF", "GIF", "BMP", "WEBP", "XML", "JSON", "TXT", "TXT-GB18030",
         "DOCX", "XLSX", "PPTX", "ODT", "ZIP", *sorted(NEEDS_FFPROBE)]  # fmt: skip
# Formats whose validator must notice a copy cut at 50 %, 90 % and 98 %.
TRUNCATION_CAUGHT = [k for k in VALID if not k.startswith("TXT")] + ["DOC", "PPT"]


def _needs(key: str) -> None:
    if key in NEEDS_FFPROBE:
        require_tool("ffprobe", debian_package="ffmpeg")


@pytest.mark.parametrize("key", VALID)
def test_good_files_are_valid(sample_files, key):
    _needs(key)
    path = sample_files[key]
    result = validate(path, identify(path))
    assert result.status == "valid", result
    assert result.tool and not result.encrypted and result.reason is None
    assert result.problems == [], result.problems


@pytest.mark.parametrize("key", TRUNCATION_CAUGHT)
@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.98])
def test_truncated_copies_are_invalid(sample_files, tmp_path, key, fraction):
    _needs(key)
    fmt = identify(sample_files[key])
    cut = s.truncate(sample_files[key], tmp_path / f"cut-{sample_files[key].name}", fraction)
    result = validate(cut, fmt)
    assert result.status == "invalid", result
    assert result.problems


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_random_bytes_under_any_format_never_raise(tmp_path, name):
    """Hostile input: random bytes validated as each format give invalid/not_run, never an exception."""
    fmt = FormatId(name=name, mime=FORMATS[name].mime)
    rng = random.Random(name)
    for i, size in enumerate((0, 1, 600, 9000)):
        path = s.write(tmp_path / f"r{i}{(FORMATS[name].extensions or ('.bin',))[0]}", rng.randbytes(size))
        result = validate(path, fmt, use_ffprobe=False)
        if name == "TXT" and size == 1 and result.status == "valid":
            continue  # one random byte may well be a printable character
        assert result.status in ("invalid", "not_run"), (name, size, result)
        if result.status == "invalid":
            assert result.problems


def test_mutated_good_files_never_raise(sample_files, tmp_path):
    rng = random.Random(7)
    for key, path in sorted(sample_files.items()):
        fmt = identify(path)
        data = bytearray(path.read_bytes())
        for n in range(3):
            mutated = bytearray(data)
            for _ in range(max(1, len(data) // 200)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            target = s.write(tmp_path / f"m{n}-{path.name}", bytes(mutated))
            assert identify(target).name  # never raises
            result = validate(target, fmt, use_ffprobe=False)
            assert result.status in ("valid", "invalid", "not_run"), (key, result)


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_details(sample_files):
    result = validate(sample_files["PDF"], identify(sample_files["PDF"]))
    assert result.details["pages"] == 2
    assert result.details["pdfa"] is None
    assert result.details["active_content"] == []
    assert result.tool.startswith("pikepdf ")


def test_pdf_encrypted_without_user_password_opens_but_is_flagged(tmp_path):
    path = s.pdf_variant(tmp_path / "enc.pdf", encryption=pikepdf.Encryption(owner="owner", user="", R=6))
    result = validate(path, identify(path))
    assert result.status == "valid" and result.encrypted
    assert any("decrypted before they are archived" in p for p in result.problems)
    assert result.details["encryption"]["R"] == 6


def test_pdf_with_user_password_is_invalid_and_encrypted(tmp_path):
    path = s.pdf_variant(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="u", R=4))
    result = validate(path, identify(path))
    assert result.status == "invalid" and result.encrypted
    assert "user password" in result.problems[0]


def test_pdf_javascript_and_launch_are_reported(tmp_path):
    path = s.pdf_variant(tmp_path / "js.pdf", javascript=True, launch=True)
    result = validate(path, identify(path))
    assert result.status == "valid"
    kinds = " ".join(result.details["active_content"])
    assert "JavaScript" in kinds and "Launch" in kinds
    assert any("JavaScript" in p for p in result.problems)


@pytest.mark.parametrize(
    ("part", "conformance", "claim"), [("1", "B", "1B"), ("2", "b", "2B"), ("3", "A", "3A")]
)
def test_pdfa_claim_from_xmp(tmp_path, part, conformance, claim):
    path = s.pdf_variant(tmp_path / "a.pdf", pdfa=(part, conformance))
    assert validate(path, identify(path)).details["pdfa"] == claim


def test_pdf_damaged_xref_is_reported(sample_files, tmp_path):
    data = sample_files["PDF"].read_bytes()
    m = re.search(rb"startxref\s+(\d+)", data)
    assert m
    bad = data[: m.start(1)] + str(int(m.group(1)) + 9).encode() + data[m.end(1) :]
    path = s.write(tmp_path / "xref.pdf", bad)
    result = validate(path, identify(path))
    assert result.details.get("repaired") is True
    assert any("cross-reference table is damaged" in p for p in result.problems)


# --- images ----------------------------------------------------------------------------------


def test_decompression_bomb_is_invalid_with_a_clear_message(tmp_path):
    path = s.write(tmp_path / "bomb.png", s.png_bomb())
    assert identify(path).name == "PNG"
    result = validate(path, identify(path))
    assert result.status == "invalid"
    assert "decompression bomb" in result.problems[0]


def test_image_details_and_trailing_data(sample_files, tmp_path):
    result = validate(sample_files["JPEG"], identify(sample_files["JPEG"]))
    assert (result.details["width"], result.details["height"], result.details["frames"]) == (64, 48, 1)
    padded = s.write(tmp_path / "t.jpg", sample_files["JPEG"].read_bytes() + b"hidden data")
    result = validate(padded, identify(padded))
    assert result.status == "valid" and "after the JPEG end-of-image marker" in result.problems[0]


def test_multi_page_tiff_decodes_every_page(tmp_path):
    from PIL import Image

    pages = [Image.new("L", (20, 10), i * 40) for i in range(3)]
    path = tmp_path / "p.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert validate(path, identify(path)).details["frames"] == 3


# --- audio and video -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["PyAV", "ffprobe"])
def test_ffmpeg_reports_codecs_and_duration(sample_files, monkeypatch, backend):
    if backend == "ffprobe":  # the fallback where PyAV cannot be imported
        require_tool("ffprobe", debian_package="ffmpeg")
        monkeypatch.setattr(media, "pyav_available", lambda: False)
    result = validate(sample_files["MP4"], identify(sample_files["MP4"]))
    assert result.tool.startswith(f"{backend} ")
    video = [st for st in result.details["streams"] if st["codec_type"] == "video"]
    assert video and video[0]["width"] == 64 and video[0]["codec_name"] == "mpeg4"
    wav = validate(sample_files["WAV"], identify(sample_files["WAV"]))
    assert wav.details["pcm"]["frame_rate"] == 8000 and wav.details["duration"] == pytest.approx(
        0.5, abs=0.01
    )


@pytest.mark.parametrize("key", ["MP3", "WAV", "FLAC", "MP4", "MOV"])
def test_mutagen_is_the_fallback_without_ffprobe(sample_files, key):
    result = validate(sample_files[key], identify(sample_files[key]), use_ffprobe=False)
    assert result.status == "valid" and result.tool.startswith("mutagen "), result
    assert result.details["duration"] > 0


def test_avi_without_ffprobe_is_not_run(sample_files):
    result = validate(sample_files["AVI"], identify(sample_files["AVI"]), use_ffprobe=False)
    assert result.status == "not_run" and "ffmpeg" in (result.reason or "")


def test_media_truncation_is_caught_without_ffprobe(sample_files, tmp_path):
    for key in ("MP3", "WAV", "MP4", "MOV"):
        cut = s.truncate(sample_files[key], tmp_path / f"cut-{sample_files[key].name}", 0.8)
        result = validate(cut, identify(sample_files[key]), use_ffprobe=False)
        assert result.status == "invalid" and "truncated" in result.problems[0], (key, result)


def test_ffprobe_timeout_makes_the_file_invalid(sample_files, tmp_path, monkeypatch):
    slow = tmp_path / "ffprobe"
    slow.write_text("#!/bin/sh\nif [ \"$1\" = -version ]; then echo 'ffprobe 0.0'; exit 0; fi\nsleep 30\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(media, "ffprobe_path", lambda: str(slow))
    monkeypatch.setattr(media, "pyav_available", lambda: False)
    result = media.validate_media(sample_files["MP4"], "MP4", timeout=0.5)
    assert result.status == "invalid" and "did not finish" in result.problems[0]


def test_pyav_time_budget_makes_the_file_invalid(sample_files, monkeypatch):
    monkeypatch.setattr(media, "_PACKETS_BETWEEN_CHECKS", 1)
    result = media.validate_media(sample_files["MP4"], "MP4", timeout=0.0)
    assert result.status == "invalid" and "did not finish" in result.problems[0]


@pytest.mark.parametrize("key", ["MP3", "WAV", "FLAC", "MP4", "MOV", "AVI"])
@pytest.mark.parametrize("fraction", [None, 0.5, 0.9])
def test_pyav_and_ffprobe_agree(sample_files, tmp_path, monkeypatch, key, fraction):
    """In-process PyAV gives the verdict ffprobe gives, on good files and on cut copies."""
    require_tool("ffprobe", debian_package="ffmpeg")
    path = sample_files[key]
    if fraction is not None:
        path = s.truncate(path, tmp_path / f"cut-{path.name}", fraction)
    fmt = identify(sample_files[key])
    by_pyav = validate(path, fmt)
    monkeypatch.setattr(media, "pyav_available", lambda: False)
    by_ffprobe = validate(path, fmt)
    assert by_pyav.tool.startswith("PyAV ") and by_ffprobe.tool.startswith("ffprobe ")
    assert by_pyav.status == by_ffprobe.status, (by_pyav, by_ffprobe)
    assert bool(by_pyav.problems) == bool(by_ffprobe.problems), (by_pyav, by_ffprobe)
    streams = [(st["codec_type"], st.get("codec_name")) for st in by_pyav.details.get("streams", [])]
    assert streams == [
        (st["codec_type"], st.get("codec_name")) for st in by_ffprobe.details.get("streams", [])
    ]


# --- XML, JSON, text -------------------------------------------------------------------------


def test_xml_never_resolves_entities(tmp_path):
    xxe = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    path = s.write(tmp_path / "xxe.xml", xxe)
    result = validate(path, identify(path))
    assert result.status == "invalid" and "DOCTYPE" in result.problems[0]


def test_text_with_a_broken_character_is_invalid(tmp_path):
    path = s.write(tmp_path / "t.txt", "电子档案".encode() * 30 + b"\xe6\xa1")  # cut inside a UTF-8 character
    result = validate(path, identify(path))
    assert result.status == "invalid" and "utf-8" in result.problems[0]
    ascii_then_gb = s.write(tmp_path / "g.txt", b"a" * 9000 + "档案".encode("gb18030"))
    result = validate(ascii_then_gb, identify(ascii_then_gb))
    assert result.status == "valid" and result.details["encoding"] == "gb18030"


# --- ZIP, office, OLE, OFD -------------------------------------------------------------------


def test_encrypted_zip_entry_is_reported(tmp_path):
    path = s.write(tmp_path / "e.zip", s.set_encrypted_flag(s.zip_bytes([("a.txt", b"x" * 50)])))
    result = validate(path, identify(path))
    assert result.encrypted and result.details["encrypted_entries"] == ["a.txt"]
    assert "decrypted before they are archived" in result.problems[0]


def test_ooxml_package_checks(tmp_path):
    broken = s.write(tmp_path / "b.docx", s.ooxml("DOCX", broken_main=True))
    result = validate(broken, identify(broken))
    assert result.status == "invalid" and "word/document.xml" in result.problems[0]
    macros = s.write(tmp_path / "m.docm", s.ooxml("DOCX", macros=True))
    result = validate(macros, identify(macros))
    assert result.status == "valid" and result.details["macros"] is True


def test_zip_crc_error_is_invalid(tmp_path):
    data = bytearray(s.zip_bytes([("a.txt", b"hello world " * 20)], compress=False))
    at = data.find(b"hello world")
    data[at] = ord("j")
    path = s.write(tmp_path / "crc.zip", bytes(data))
    result = validate(path, identify(path))
    assert result.status == "invalid" and "CRC" in result.problems[0]


@pytest.mark.parametrize(
    ("maker", "encrypted"),
    [(lambda: s.doc(), False), (lambda: s.doc(encrypted=True), True), (lambda: s.xls(encrypted=True), True),
     (lambda: s.xls(), False), (lambda: s.ppt(encrypted=True), True), (lambda: s.ppt(), False)],
)  # fmt: skip
def test_ole_documents_report_encryption_and_are_not_run(tmp_path, maker, encrypted):
    path = s.write(tmp_path / "x.bin", maker())
    fmt = identify(path)
    result = validate(path, fmt)
    assert result.status == "not_run" and f"no validator for {fmt.name}" in (result.reason or "")
    assert result.encrypted is encrypted
    assert bool(result.problems) is encrypted


def test_encrypted_ooxml_is_invalid(sample_files):
    result = validate(sample_files["OOXML"], identify(sample_files["OOXML"]))
    assert result.status == "invalid" and result.encrypted


def test_ofd_is_left_to_the_ofd_module(ofd_fixtures):
    for path in ofd_fixtures:
        result = validate(path, identify(path))
        assert (result.status, result.reason) == ("not_run", "validated by the OFD module")


def test_unknown_and_archives_are_not_run(sample_files, tmp_path):
    unknown = s.write(tmp_path / "u.bin", random.Random(1).randbytes(500))
    assert validate(unknown).status == "not_run"
    for key in ("RAR", "7Z", "GZIP", "TAR"):
        result = validate(sample_files[key], identify(sample_files[key]))
        assert result.status == "not_run" and "3-8" in (result.reason or "")


def test_validate_identifies_when_no_format_is_given(sample_files):
    assert validate(sample_files["PNG"]).status == "valid"


# --- classification --------------------------------------------------------------------------


def test_classification_helpers(sample_files):
    assert {"OFD", "PDF", "JPEG", "TIFF", "PNG", "MP3", "WAV", "MP4", "XML", "TXT"} == ARCHIVAL_FORMATS
    assert is_archival(identify(sample_files["OFD"])) and not is_archival(identify(sample_files["DOCX"]))
    assert is_archival("DOCX", accepted=frozenset({"DOCX"}))
    for key in ("ZIP", "RAR", "7Z", "GZIP"):
        fmt = identify(sample_files[key])
        assert is_compressed_archive(fmt) and is_container_or_compressed(fmt)
    assert is_proprietary_compression(identify(sample_files["RAR"]))
    assert not is_proprietary_compression("ZIP")
    assert is_container_or_compressed("TAR") and not is_compressed_archive("TAR")
    for key in ("OFD", "DOCX", "DOC", "PDF"):
        assert not is_container_or_compressed(identify(sample_files[key]))


def test_pyav_on_hostile_media_never_raises(sample_files, tmp_path):
    """FFmpeg runs in this process now: random and mutated media end as a verdict, never an exception."""
    rng = random.Random(11)
    for key in ("MP3", "WAV", "FLAC", "MP4", "MOV", "AVI"):
        data = sample_files[key].read_bytes()
        for n in range(4):
            mutated = bytearray(data)
            for _ in range(max(1, len(data) // 150)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            path = s.write(tmp_path / f"h{n}-{sample_files[key].name}", bytes(mutated))
            result = media.validate_media(path, key)
            assert result.tool.startswith("PyAV ") and result.status in ("valid", "invalid"), result
        noise = s.write(tmp_path / f"noise-{sample_files[key].name}", rng.randbytes(5000))
        result = media.validate_media(noise, key)
        assert result.status == "invalid" and result.problems, result
