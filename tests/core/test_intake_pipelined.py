"""The large-file copy of intake (SM3 on a helper thread): digests of exactly the bytes written, limits
kept, threads stopped."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
import zipfile
from pathlib import Path

import pytest

from dangan.core import sm
from dangan.core.errors import UnsafeArchiveError
from dangan.core.package import intake


def _data(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def _expected(data: bytes) -> tuple[str, str]:
    return hashlib.new("sm3", data).hexdigest(), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("sizes", [[1], [4096, 3, 70000], [2 * 1024 * 1024] * 5 + [17]])
def test_pipelined_hasher_matches_plain(sizes, depth):
    chunks = [_data(n, seed=i) for i, n in enumerate(sizes)]
    with sm.PipelinedDualHasher(depth=depth) as piped:
        for c in chunks:
            piped.update(c)
        got = piped.result()
    plain = sm.DualHasher()
    for c in chunks:
        plain.update(c)
    assert got == plain.result()


def test_pipelined_hasher_empty():
    assert sm.PipelinedDualHasher().result() == sm.DualHasher().result()


class _Trickle(io.RawIOBase):
    """A source that returns short reads (as pipes and some decompressors do)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = min(len(b), 777_777, len(self._data) - self._pos)
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


@pytest.mark.parametrize(
    "size", [intake.PIPELINE_MIN_BYTES, 9 * intake.PIPELINE_CHUNK + 5, 12 * intake.PIPELINE_CHUNK]
)
def test_large_file_copy_hashes_the_bytes_written(tmp_path: Path, size: int):
    data = _data(size)
    facts = intake._write_new_file(
        tmp_path,
        "a/b.bin",
        _Trickle(data),
        10 * size,
        limit_code="X",
        size_hint=10**9,  # the large-file copy whatever the size
    )
    assert (tmp_path / "a/b.bin").read_bytes() == data
    assert (facts.size, facts.sm3, facts.sha256) == (size, *_expected(data))


def test_large_file_copy_stops_at_the_budget(tmp_path: Path):
    data = _data(intake.PIPELINE_MIN_BYTES + 10)
    with pytest.raises(UnsafeArchiveError) as err:
        intake._write_new_file(
            tmp_path,
            "x.bin",
            io.BytesIO(data),
            len(data) - 1,
            limit_code="PACKAGE_TOO_LARGE",
            size_hint=len(data),
        )
    assert err.value.code == "PACKAGE_TOO_LARGE"


def test_a_lying_size_hint_changes_only_the_copy_method(tmp_path: Path):
    data = _data(intake.PIPELINE_CHUNK * 2 + 1)
    small = intake._write_new_file(tmp_path, "s.bin", io.BytesIO(data), 10**9, limit_code="X", size_hint=1)
    big = intake._write_new_file(tmp_path, "b.bin", io.BytesIO(data), 10**9, limit_code="X", size_hint=10**9)
    assert (
        (small.sm3, small.sha256, small.size)
        == (big.sm3, big.sha256, big.size)
        == (*_expected(data), len(data))
    )


def test_folder_and_zip_intake_of_large_files(tmp_path: Path):
    big = _data(intake.PIPELINE_MIN_BYTES + 12345, seed=5)
    src = tmp_path / "pkg"
    (src / "申报材料").mkdir(parents=True)
    (src / "申报材料" / "big.bin").write_bytes(big)
    (src / "small.txt").write_bytes(b"hello")
    received = intake.receive_folder(src, tmp_path / "q1")
    facts = received.files["申报材料/big.bin"]
    assert (facts.sm3, facts.sha256) == _expected(big)
    assert received.files["small.txt"].sm3 == hashlib.new("sm3", b"hello").hexdigest()

    zpath = tmp_path / "pkg.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr(zipfile.ZipInfo("申报材料/big.bin"), big, compress_type=zipfile.ZIP_STORED)
        zf.writestr("small.txt", b"hello", compress_type=zipfile.ZIP_DEFLATED)
    (tmp_path / "q2").mkdir()
    zreceived = intake.receive_zip(zpath, tmp_path / "q2")
    assert zreceived.files["申报材料/big.bin"] == facts
    assert os.path.getsize(tmp_path / "q2" / "申报材料" / "big.bin") == len(big)


def test_large_zip_entry_longer_than_declared_is_cut_at_the_budget(tmp_path: Path):
    """The size hint comes from the ZIP header and is never trusted: the byte count decides."""
    data = _data(intake.PIPELINE_MIN_BYTES + 1, seed=9)
    with pytest.raises(UnsafeArchiveError):
        intake._write_new_file(
            tmp_path,
            "z.bin",
            io.BytesIO(data),
            intake.PIPELINE_MIN_BYTES,
            limit_code="ZIP_TOO_LARGE",
            size_hint=10,
        )


def test_container_digest_of_a_large_zip_is_computed_beside_the_unpacking(tmp_path: Path):
    big = _data(intake.PIPELINE_MIN_BYTES + 3, seed=11)
    zpath = tmp_path / "pkg.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a/big.bin", big)
        zf.writestr("small.txt", b"x")
    (tmp_path / "q").mkdir()
    received = intake.receive_zip(zpath, tmp_path / "q")
    assert received.container_sm3 == hashlib.new("sm3", zpath.read_bytes()).hexdigest()
    assert received.files["a/big.bin"].sm3 == _expected(big)[0]


def test_a_refused_large_zip_stops_its_container_digest(tmp_path: Path):
    zpath = tmp_path / "bad.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a/big.bin", _data(intake.PIPELINE_MIN_BYTES + 3, seed=12))
        zf.writestr("../evil.txt", b"x")
    (tmp_path / "q").mkdir()
    with pytest.raises(UnsafeArchiveError) as err:
        intake.receive_zip(zpath, tmp_path / "q")
    assert err.value.code == "ZIP_PATH_TRAVERSAL"
    assert not any(t.name == "zip-sm3" for t in threading.enumerate())
