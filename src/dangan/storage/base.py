"""The interface every blob store implements (local files, S3-compatible object stores).

A blob is addressed by the SM3 of its bytes, in the same layout everywhere: ``sm3/ab/cd/<hex>`` (under
the folder of a file store, under the key prefix of an S3 store). Stores are write-once for normal
work; ``replace`` and ``delete`` exist for repair only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from dangan.core import sm

CHUNK = 1024 * 1024
HEX = frozenset("0123456789abcdef")


class BlobMissing(Exception):
    def __init__(self, digest: str) -> None:
        super().__init__(f"blob {digest} is missing from the store")
        self.digest = digest


class DigestMismatch(Exception):
    """Bytes written under an address do not hash to it (the source was damaged, or the write was)."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"bytes hash to {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual


def check_digest(digest: str) -> str:
    d = digest.lower()
    if len(d) != 64 or not set(d) <= HEX:
        raise ValueError(f"not an SM3 hex digest: {digest!r}")
    return d


def relative_key(digest: str) -> str:
    d = check_digest(digest)
    return f"sm3/{d[:2]}/{d[2:4]}/{d}"


@runtime_checkable
class BlobStore(Protocol):
    """What replication, repair and the conformance tests use."""

    def exists(self, digest: str) -> bool: ...

    def open(self, digest: str) -> BinaryIO:
        """A readable binary stream of the blob (raises BlobMissing)."""
        ...

    def size(self, digest: str) -> int:
        """Size in bytes (raises BlobMissing)."""
        ...

    def put_bytes(self, data: bytes) -> str: ...

    def put_stream(self, stream: BinaryIO) -> sm.StreamDigest:
        """Store what ``stream`` yields; returns its SM3 (and SHA-256, size). Write-once."""
        ...

    def put_file(self, path: Path) -> str: ...

    def replace(self, digest: str, stream: BinaryIO) -> int:
        """Write ``stream`` under ``digest`` even if a (damaged) copy is there, atomically: readers see
        the old copy or the new one, never a mix. The bytes must hash to ``digest`` or nothing changes
        (DigestMismatch). Returns the size. For replication and repair."""
        ...

    def delete(self, digest: str) -> None:
        """Remove a copy (repair and tests only; never part of normal work)."""
        ...

    def digests(self) -> Iterator[str]:
        """Every stored address."""
        ...

    def rehash(self, digest: str) -> str:
        """SM3 of the stored bytes (raises BlobMissing)."""
        ...

    def ping(self) -> None:
        """Raise OSError (or the client's error) when the location cannot be reached."""
        ...

    def describe(self) -> str:
        """Where it is, without any secret (for tables and logs)."""
        ...
