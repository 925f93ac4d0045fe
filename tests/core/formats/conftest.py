"""A sample of every format the tests cover, built once per session in a temporary folder."""

from __future__ import annotations

import bz2
import lzma
import random
from pathlib import Path

import pytest

from . import samples as s

# The shared folder sits beside the checkout (locally and in CI); its fixtures are never modified.
OFD_FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "ofd"


def _build(root: Path) -> dict[str, Path]:
    made: dict[str, Path] = {}

    def add(key: str, name: str, data: bytes) -> None:
        made[key] = s.write(root / name, data)

    add("PDF", "a.pdf", s.pdf_bytes(pages=2))
    add("JPEG", "a.jpg", s.image_bytes("JPEG"))
    add("PNG", "a.png", s.image_bytes("PNG"))
    add("TIFF", "a.tif", s.image_bytes("TIFF"))
    add("GIF", "a.gif", s.image_bytes("GIF"))
    add("BMP", "a.bmp", s.image_bytes("BMP"))
    add("WEBP", "a.webp", s.image_bytes("WEBP"))
    add("WAV", "a.wav", s.wav_bytes())
    made["MP3"] = s.audio_file(root / "a.mp3", "mp3", "libmp3lame")
    made["FLAC"] = s.audio_file(root / "a.flac", "flac", "flac")
    made["MP4"] = s.video_file(root / "a.mp4", "mp4")
    made["MOV"] = s.video_file(root / "a.mov", "mov")
    made["AVI"] = s.video_file(root / "a.avi", "avi")
    add("XML", "a.xml", s.XML_DOC)
    add("JSON", "a.json", s.JSON_DOC)
    add("TXT", "a.txt", s.TEXT_UTF8)
    add("TXT-GB18030", "gb.txt", s.TEXT_GB18030)
    add("HTML", "a.html", b"<!DOCTYPE html>\n<html><body>x</body></html>")
    add("RTF", "a.rtf", rb"{\rtf1\ansi hello}")
    add("DOCX", "a.docx", s.ooxml("DOCX"))
    add("XLSX", "a.xlsx", s.ooxml("XLSX"))
    add("PPTX", "a.pptx", s.ooxml("PPTX"))
    add("ODT", "a.odt", s.odt())
    add("DOC", "a.doc", s.doc())
    add("XLS", "a.xls", s.xls())
    add("PPT", "a.ppt", s.ppt())
    add("OOXML", "secret.docx", s.encrypted_ooxml())
    add("ZIP", "a.zip", s.zip_bytes([("a.txt", b"hello"), ("b/c.txt", b"world" * 100)]))
    add("RAR", "a.rar", b"Rar!\x1a\x07\x01\x00" + random.Random(1).randbytes(200))
    add("7Z", "a.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + random.Random(2).randbytes(200))
    add("GZIP", "a.gz", s.gzip_bytes())
    add("BZIP2", "a.bz2", bz2.compress(b"hello" * 100))
    add("XZ", "a.xz", lzma.compress(b"hello" * 100))
    add("TAR", "a.tar", s.tar_bytes())
    add("OFD", "a.ofd", (OFD_FIXTURES / "helloworld.ofd").read_bytes())
    return made


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory) -> dict[str, Path]:
    return _build(tmp_path_factory.mktemp("formats"))


@pytest.fixture(scope="session")
def ofd_fixtures() -> list[Path]:
    found = sorted(OFD_FIXTURES.glob("*.ofd"))
    assert found, f"no OFD fixtures under {OFD_FIXTURES}"
    return found
