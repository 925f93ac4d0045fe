"""National cryptography (SM3 digests; SM2 signatures and keys are added below by the SM2 section).

SM3 comes from OpenSSL through ``hashlib.new("sm3")``; SM2 from tongsuopy (Tongsuo).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

SM3_OID = "1.2.156.10197.1.401"
CHUNK = 1024 * 1024


def sm3(data: bytes = b"") -> "hashlib._Hash":
    return hashlib.new("sm3", data)


def sm3_hex(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


@dataclass(frozen=True)
class StreamDigest:
    size: int
    sm3: str
    sha256: str


class DualHasher:
    """SM3 and SHA-256 over the same bytes in one pass (the AIP carries both manifests)."""

    def __init__(self) -> None:
        self._sm3 = hashlib.new("sm3")
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._sm3.update(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    def result(self) -> StreamDigest:
        return StreamDigest(self.size, self._sm3.hexdigest(), self._sha256.hexdigest())


def digest_stream(stream: BinaryIO, *, chunk: int = CHUNK) -> StreamDigest:
    hasher = DualHasher()
    for block in iter(lambda: stream.read(chunk), b""):
        hasher.update(block)
    return hasher.result()


def sm3_file(path: str, *, chunk: int = CHUNK) -> str:
    h = hashlib.new("sm3")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sm3_lines(lines: Iterable[str]) -> str:
    h = hashlib.new("sm3")
    for line in lines:
        h.update(line.encode("utf-8"))
    return h.hexdigest()
