"""批次清单 against what arrived: every disagreement is reported."""

from __future__ import annotations

from pathlib import Path

from dangan.core.package import schema
from dangan.core.package.batch import expand, package_digest, package_size
from dangan.core.package.metadata import batch_manifest_xml
from dangan.core.package.model import BatchManifest, BatchPackageEntry
from tests.factories import write_case


def _batch(tmp_path: Path, *, count: str | None = None, drop_entry: bool = False, extra_entry: bool = False,
           size_delta: int = 0) -> Path:  # fmt: skip
    folder = tmp_path / "batch"
    a = write_case(folder, file_number="F-1")
    b = write_case(folder, file_number="F-2", as_zip=True)
    entries = [
        BatchPackageEntry(
            name=p.name,
            size=str(package_size(p) + size_delta),
            digest=package_digest(p),
            digest_algorithm="SM3",
        )
        for p in (a, b)
    ]
    if drop_entry:
        entries.pop()
    if extra_entry:
        entries.append(BatchPackageEntry(name="F-3.zip", size="10"))
    total = sum(int(e.size or 0) for e in entries)
    manifest = BatchManifest(batch_number="B-7", package_count=count or str(len(entries)), byte_total=str(total),
                             packages=entries)  # fmt: skip
    (folder / schema.BATCH_MANIFEST_FILENAME).write_bytes(batch_manifest_xml(manifest))
    return folder


def test_consistent_batch(tmp_path):
    batch = expand([_batch(tmp_path)])
    assert batch.errors == []
    assert [(p.path.name, p.batch, p.entry is not None) for p in batch.packages] == [
        ("F-1", "B-7", True), ("F-2.zip", "B-7", True)
    ]  # fmt: skip


def test_missing_unlisted_count_and_size(tmp_path):
    def codes(**kw):
        return sorted(e["code"] for e in expand([_batch(tmp_path / str(kw), **kw)]).errors)

    assert codes(extra_entry=True) == [
        "BATCH_BYTES_MISMATCH",
        "BATCH_COUNT_MISMATCH",
        "BATCH_PACKAGE_MISSING",
    ]
    assert codes(drop_entry=True) == [
        "BATCH_BYTES_MISMATCH",
        "BATCH_COUNT_MISMATCH",
        "BATCH_PACKAGE_UNLISTED",
    ]
    assert codes(count="5") == ["BATCH_COUNT_MISMATCH"]
    assert codes(size_delta=1) == ["BATCH_BYTES_MISMATCH", "BATCH_SIZE_MISMATCH", "BATCH_SIZE_MISMATCH"]


def test_unreadable_manifest_takes_nothing(tmp_path):
    folder = _batch(tmp_path)
    (folder / schema.BATCH_MANIFEST_FILENAME).write_bytes(b"<broken")
    batch = expand([folder])
    assert batch.packages == [] and [e["code"] for e in batch.errors] == ["BATCH_MANIFEST_INVALID"]


def test_nested_batches_and_missing_paths(tmp_path):
    write_case(tmp_path / "outer" / "inner", file_number="N-1")
    write_case(tmp_path / "outer", file_number="N-2", as_zip=True)
    (tmp_path / "outer" / "notes.txt").write_text("ignored")
    batch = expand([tmp_path / "outer", tmp_path / "nope"])
    assert sorted(p.path.name for p in batch.packages) == ["N-1", "N-2.zip"]
    assert [e["code"] for e in batch.errors] == ["NOT_FOUND"]
