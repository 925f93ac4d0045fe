"""Local content-addressed blob store: ``blobs/sm3/ab/cd/<sm3 hex>``.

Write-once: a blob is written to a temp file, fsynced, made read-only and renamed into place, and
the folder is fsynced, so a crash leaves either the whole blob or none. A blob whose address
already exists is not rewritten (``replace`` does, for repair). It implements ``base.BlobStore``, as
does the S3-compatible back end (``s3.S3BlobStore``); ``locations`` says which store plays which role.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dangan.core import sm
from dangan.core.fsutil import fsync_dir
from dangan.storage.base import CHUNK, BlobMissing, DigestMismatch, check_digest

__all__ = ["CHUNK", "BlobMissing", "DigestMismatch", "FileBlobStore", "default_store"]


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def path(self, digest: str) -> Path:
        d = check_digest(digest)
        return self.root / "sm3" / d[:2] / d[2:4] / d

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobMissing(digest) from None

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobMissing(digest) from None

    def _install(self, tmp_path: Path, digest: str) -> None:
        target = self.path(digest)
        if self._claim(digest):
            os.unlink(tmp_path)
            return
        self._ensure_dir(target.parent)
        os.chmod(tmp_path, 0o444)
        os.utime(tmp_path)  # stored now (an adopted file keeps its unpack time otherwise): see _claim
        os.replace(tmp_path, target)
        fsync_dir(target.parent)

    def _ensure_dir(self, folder: Path) -> None:
        """Create the fan-out folders durably: a new folder's entry lives in its parent."""
        if folder.is_dir():
            return
        self._ensure_dir(folder.parent)
        folder.mkdir(mode=0o700, exist_ok=True)
        fsync_dir(folder.parent)

    def _claim(self, digest: str) -> bool:
        """True when the blob is already stored; its mtime is then set to now, so that the orphan
        clean-up (which only removes unreferenced blobs untouched for a day) never takes a blob an
        ingest in progress has just found there and is about to reference."""
        try:
            os.utime(self.path(digest))
            return True
        except FileNotFoundError:
            return False
        except OSError:  # not ours to touch (another owner, read-only mount): it is there all the same
            return self.exists(digest)

    def put_bytes(self, data: bytes) -> str:
        digest = sm.sm3_hex(data)
        if self._claim(digest):
            return digest
        with self._temp() as (f, tmp_path):
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._install(tmp_path, digest)
        return digest

    def put_stream(self, stream: BinaryIO) -> sm.StreamDigest:
        hasher = sm.DualHasher()
        with self._temp() as (f, tmp_path):
            for block in iter(lambda: stream.read(CHUNK), b""):
                hasher.update(block)
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
        result = hasher.result()
        self._install(tmp_path, result.sm3)
        return result

    def adopt(self, path: Path, digest: str) -> None:
        """Move an already-hashed file (e.g. from quarantine, same file system) into the store.

        The caller vouches for ``digest`` (it was computed while the file was written); the bytes are
        fsynced here before the rename makes them visible under their address.
        """
        if self._claim(digest):
            return
        self.tmp.mkdir(parents=True, exist_ok=True)
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
        staged = Path(tempfile.mktemp(dir=self.tmp, prefix="adopt-"))  # noqa: S306 - replaced atomically below
        try:
            os.replace(path, staged)
        except OSError:  # another file system: copy, then install
            try:
                shutil.copyfile(path, staged)
                with open(staged, "rb+") as f:
                    os.fsync(f.fileno())
            except BaseException:  # e.g. disk full: no partial copy stays behind
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staged)
                raise
        self._install(staged, digest)

    def put_file(self, path: Path) -> str:
        with open(path, "rb") as f:
            return self.put_stream(f).sm3

    def replace(self, digest: str, stream: BinaryIO) -> int:
        """Repair: write verified bytes over a damaged (read-only) copy, or where one is missing.

        The new copy is written to a temp file, fsynced, checked against ``digest``, made read-only and
        renamed over the old one (a rename needs the folder's permission, not the file's), so a reader
        sees the old copy or the new one. Bytes that hash otherwise change nothing (DigestMismatch).
        """
        target = self.path(digest)
        hasher = sm.sm3()
        size = 0
        with self._temp() as (f, tmp_path):
            for block in iter(lambda: stream.read(CHUNK), b""):
                hasher.update(block)
                size += len(block)
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
        actual = hasher.hexdigest()
        if actual != target.name:
            os.unlink(tmp_path)
            raise DigestMismatch(target.name, actual)
        self._ensure_dir(target.parent)
        os.chmod(tmp_path, 0o444)
        os.replace(tmp_path, target)
        fsync_dir(target.parent)
        return size

    def delete(self, digest: str) -> None:
        target = self.path(digest)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
            fsync_dir(target.parent)

    def digests(self) -> Iterator[str]:
        base = self.root / "sm3"
        if not base.is_dir():
            return
        for first in sorted(base.iterdir()):
            if not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for blob in sorted(second.iterdir()):
                    if blob.is_file() and len(blob.name) == 64:
                        yield blob.name

    def ping(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"{self.root} is not a folder")
        if self.root.exists() and not os.access(self.root, os.W_OK | os.X_OK):
            raise PermissionError(f"{self.root} is not writable")
        if not self.root.exists() and not os.access(self.root.parent, os.W_OK):
            raise FileNotFoundError(f"{self.root} does not exist and cannot be created")

    def describe(self) -> str:
        return str(self.root)

    @contextlib.contextmanager
    def _temp(self) -> Iterator[tuple[BinaryIO, Path]]:
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="put-")
        tmp_path = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f, tmp_path
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)
            raise

    def rehash(self, digest: str) -> str:
        """SM3 of the stored bytes (fixity audit). Raises BlobMissing."""
        try:
            return sm.sm3_file(str(self.path(digest)))
        except FileNotFoundError:
            raise BlobMissing(digest) from None


def default_store() -> FileBlobStore:
    """The primary location (``DANGAN_STORAGE_LOCATIONS``; by default the local store at BLOB_DIR)."""
    from dangan.storage.locations import primary_store

    return primary_store()
