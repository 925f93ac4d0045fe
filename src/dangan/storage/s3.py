"""Blob store on any S3-compatible object store (AWS S3, MinIO, Ceph RGW, OSS/COS/OBS S3 endpoints).

Objects are keyed ``<prefix>sm3/ab/cd/<hex>``, the layout of the local store, and carry their SM3 as
user metadata (``x-amz-meta-sm3``). Writes stream: blobs above ``PART`` go up as a multipart upload in
``PART``-sized parts, hashed (SM3) while they are sent; the object becomes visible only when the upload
is completed, and the upload is aborted — nothing visible — when the bytes do not hash to the address
they are meant for, or when any part fails.

Verification after upload: replication and repair read the object back and re-hash it (``rehash``),
because that is the only check that proves what the server *holds* — the SM3 metadata is only what we
*said*; it lets ``check-copies --quick`` and the listing compare without downloading, and it would
reveal an object overwritten by a client that did not set it, but not a silent change on the server.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from dangan.core import sm
from dangan.storage.base import CHUNK, BlobMissing, DigestMismatch, check_digest, relative_key

PART = 8 * 1024 * 1024  # S3 requires ≥ 5 MiB for every part but the last


class _BodyReader(io.RawIOBase):
    """A file-like view of a botocore StreamingBody (so ``with store.open(d) as f`` works everywhere)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _read_full(stream: BinaryIO, n: int) -> bytes:
    """``n`` bytes, or fewer only at the end (a short read must not make a short middle part)."""
    chunks = []
    left = n
    while left:
        block = stream.read(left)
        if not block:
            break
        chunks.append(block)
        left -= len(block)
    return b"".join(chunks)


def _is_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("404", "NoSuchKey", "NotFound") or status == 404


class S3BlobStore:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = (prefix.strip("/") + "/") if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                region_name=region or "us-east-1",
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                config=Config(
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    retries={"max_attempts": 2, "mode": "standard"},  # replication retries on top
                    s3={"addressing_style": "path"},  # works with MinIO and most S3-compatible servers
                ),
            )
        self.client = client

    def __repr__(self) -> str:  # never the credentials
        return f"S3BlobStore({self.describe()})"

    def describe(self) -> str:
        where = self.endpoint_url or "aws"
        return f"{where} s3://{self.bucket}/{self.prefix}"

    def key(self, digest: str) -> str:
        return self.prefix + relative_key(digest)

    def _head(self, digest: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
            return head
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    def exists(self, digest: str) -> bool:
        return self._head(digest) is not None

    def size(self, digest: str) -> int:
        head = self._head(digest)
        if head is None:
            raise BlobMissing(digest)
        return int(head["ContentLength"])

    def stored_sm3(self, digest: str) -> str | None:
        """The SM3 recorded as metadata when the object was written (None if absent)."""
        head = self._head(digest)
        if head is None:
            raise BlobMissing(digest)
        value = head.get("Metadata", {}).get("sm3")
        return str(value) if value else None

    def open(self, digest: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobMissing(digest) from None
            raise
        return io.BufferedReader(_BodyReader(obj["Body"]), buffer_size=CHUNK)

    def rehash(self, digest: str) -> str:
        h = sm.sm3()
        with self.open(digest) as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                h.update(block)
        return h.hexdigest()

    # --- writing

    def _upload(self, key: str, stream: BinaryIO, expected: str | None) -> sm.StreamDigest:
        """Stream to ``key``; when ``expected`` is given, the object appears only if the bytes hash to it.

        Without ``expected`` (the digest is not known before reading) the bytes go to a temporary key
        first and are copied server-side to their address, then the temporary key is removed.
        """
        hasher = sm.DualHasher()
        first = _read_full(stream, PART)
        hasher.update(first)
        target = key if expected else f"{self.prefix}tmp/{uuid.uuid4().hex}"
        nxt = _read_full(stream, PART) if len(first) == PART else b""
        if not nxt:  # one request
            result = hasher.result()
            if expected and result.sm3 != expected:
                raise DigestMismatch(expected, result.sm3)
            self.client.put_object(Bucket=self.bucket, Key=target, Body=first, Metadata={"sm3": result.sm3})
        else:
            meta = {"sm3": expected} if expected else {}
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=target, Metadata=meta)
            upload_id = upload["UploadId"]
            parts: list[dict[str, Any]] = []
            try:
                block = first
                while block:
                    number = len(parts) + 1
                    resp = self.client.upload_part(
                        Bucket=self.bucket, Key=target, UploadId=upload_id, PartNumber=number, Body=block
                    )
                    parts.append({"PartNumber": number, "ETag": resp["ETag"]})
                    block, nxt = nxt, (_read_full(stream, PART) if nxt else b"")
                    hasher.update(block)
                result = hasher.result()
                if expected and result.sm3 != expected:
                    raise DigestMismatch(expected, result.sm3)
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                # the original error matters; a stale upload is harmless (and expires by bucket rule)
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload_id)
                raise
        result = hasher.result()
        if not expected:
            final = self.key(result.sm3)
            if not self.exists(result.sm3):
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=final,
                    CopySource={"Bucket": self.bucket, "Key": target},
                    Metadata={"sm3": result.sm3},
                    MetadataDirective="REPLACE",
                )
            self.client.delete_object(Bucket=self.bucket, Key=target)
        return result

    def put_stream(self, stream: BinaryIO) -> sm.StreamDigest:
        return self._upload("", stream, None)

    def put_bytes(self, data: bytes) -> str:
        digest = sm.sm3_hex(data)
        if not self.exists(digest):
            self._upload(self.key(digest), io.BytesIO(data), digest)
        return digest

    def put_file(self, path: Path) -> str:
        with open(path, "rb") as f:
            return self.put_stream(f).sm3

    def replace(self, digest: str, stream: BinaryIO) -> int:
        """An S3 PUT (or completed multipart upload) replaces the object atomically."""
        d = check_digest(digest)
        return self._upload(self.key(d), stream, d).size

    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))

    def digests(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + "sm3/"):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if len(name) == 64:
                    yield name

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
