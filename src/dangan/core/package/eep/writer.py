"""Write an EEP (DA/T 48-2009 电子文件封装包) as a stream: files of any size, memory flat.

The writer owns the serialisation. Everything inside 被签名对象 is produced by a
:class:`~dangan.core.package.eep.c14n.Canonicalizer`, so the bytes written to the file *are* the
exclusive-C14N form of that subtree (the apex carries its own ``xmlns``), and the same bytes go into
SM3 (prefixed by Z_A) as they are written. After the subtree's end tag, e = SM3(Z_A ‖ M) is signed and
the signature block written. Nothing of a file is kept beyond one chunk: each file is read in chunks of
``CHUNK`` bytes (a multiple of 3, so each chunk's Base64 stands alone and only the last one is padded),
its SM3 computed from the raw bytes while reading, and compared with the digest the archive recorded.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import BinaryIO

from dangan.core.package.eep import names as n
from dangan.core.package.eep.c14n import Canonicalizer
from dangan.core.package.eep.model import (
    BackgroundHash,
    DigestSigner,
    EepError,
    EepFile,
    EepWriteResult,
    RecordDescription,
)
from dangan.core.package.eep.sm2digest import message_hasher

CHUNK = 3 * 256 * 1024  # 786 432 raw bytes → 1 MiB of Base64
assert CHUNK % 3 == 0

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

Progress = Callable[[int, int], None]


def _checked(value: str, where: str) -> str:
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        raise EepError(
            f"{where} contains the character U+{ord(bad.group()):04X}, which XML cannot carry",
            code="EEP_VALUE_INVALID",
            target=where,
        )
    return value


class _Emitter:
    """Elements one per line (no indentation) through a canonicaliser."""

    def __init__(self, canon: Canonicalizer) -> None:
        self.canon = canon

    def open(self, name: str, attrs: Mapping[str, str] | None = None, *, ext: bool = False,
             declare_ext: bool = False) -> None:  # fmt: skip
        if declare_ext:
            self.canon.start_ns(n.EXT_PREFIX, n.EXT_NS)
        self.canon.start(n.qx(name) if ext else n.q(name), dict(attrs or {}))

    def newline(self) -> None:
        self.canon.data("\n")

    def close(self) -> None:
        self.canon.end()
        self.newline()

    def block(self, name: str, attrs: Mapping[str, str] | None = None, *, ext: bool = False,
              declare_ext: bool = False) -> None:  # fmt: skip
        self.open(name, attrs, ext=ext, declare_ext=declare_ext)
        self.newline()

    def leaf(self, name: str, text: str, attrs: Mapping[str, str] | None = None, *, ext: bool = False,
             declare_ext: bool = False) -> None:  # fmt: skip
        self.open(name, attrs, ext=ext, declare_ext=declare_ext)
        self.canon.data(_checked(text, name))
        self.close()


def _metadata(em: _Emitter, d: RecordDescription) -> None:
    """The DA/T 46 elements of 文件实体, in table order, leaving out empty values and empty containers."""
    open_groups: list[str] = []
    for item in n.DAT46:
        value = str(getattr(d, item.field) or "")
        if not value:
            continue
        groups = list(item.path[:-1])
        while open_groups and open_groups != groups[: len(open_groups)]:
            em.close()
            open_groups.pop()
        for g in groups[len(open_groups) :]:
            em.block(g)
            open_groups.append(g)
        em.leaf(item.name, value)
    while open_groups:
        em.close()
        open_groups.pop()
    values = [(name, str(getattr(d, attr) or "")) for name, attr, _ in n.AIP_FIELDS]
    if any(v for _, v in values):
        em.block(n.X.AIP, ext=True, declare_ext=True)
        for name, value in values:
            if value:
                em.leaf(name, value, ext=True)
        em.close()


def _document(em: _Emitter, index: int, f: EepFile, emit_file: Callable[[EepFile], None]) -> None:
    suffix = PurePosixPath(f.name).suffix.lstrip(".")
    em.block(n.E.DOCUMENT)
    em.leaf(n.E.DOC_ID, f"D{index}")
    em.leaf(n.E.DOC_SEQUENCE, str(index))
    em.leaf(n.E.DOC_ROLE, "主件" if f.main else "附件")
    em.leaf(n.E.DOC_TITLE, f.title or PurePosixPath(f.name).name)
    em.block(n.E.DOC_DATA)
    em.block(n.E.ENCODING)
    em.block(n.E.PROPERTIES)
    em.leaf(n.E.FORMAT, f.format or suffix.upper() or "BIN")
    em.leaf(n.E.FILENAME, f.name)
    em.leaf(n.E.FILESIZE, str(f.size))
    if f.creator_app:
        em.leaf(n.E.CREATOR_APP, f.creator_app)
    em.leaf(n.X.DIGEST, f.sm3, {n.X.DIGEST_ALG_ATTR: n.DIGEST_ALGORITHM}, ext=True, declare_ext=True)
    em.close()  # 电子属性
    em.leaf(n.E.ENCODING_DESCRIPTION, n.ENCODING_DESCRIPTION)
    if suffix:
        em.leaf(n.E.DECODE_KEY, suffix)
    em.open(n.E.ENCODED_DATA)
    emit_file(f)
    em.close()  # 编码数据
    em.close()  # 编码
    em.close()  # 文档数据
    em.close()  # 文档


def _entities(em: _Emitter, d: RecordDescription) -> None:
    if d.actions:
        em.block(n.E.BUSINESS_BLOCK)
        for action in d.actions:
            em.block(n.E.BUSINESS)
            for name, attr in n.BUSINESS_FIELDS:
                value = str(getattr(action, attr) or "")
                if value:
                    em.leaf(name, value)
            em.close()
        em.close()
    if d.agents:
        em.block(n.E.AGENT_BLOCK)
        for agent in d.agents:
            em.block(n.E.AGENT)
            for name, attr in n.AGENT_FIELDS:
                value = str(getattr(agent, attr) or "")
                if value:
                    em.leaf(name, value)
            em.close()
        em.close()


def write_eep(
    out: BinaryIO,
    description: RecordDescription,
    files: Sequence[EepFile],
    signer: DigestSigner,
    *,
    created: str,
    signed_at: str | None = None,
    progress: Progress | None = None,
) -> EepWriteResult:
    """Write the EEP of one record to ``out`` (a binary stream) and sign it.

    ``created`` is 封装包创建时间 and ``signed_at`` 签名时间 (ISO 8601 with zone; default ``created``).
    Raises :class:`EepError` (code ``EEP_SOURCE_MISMATCH``) when a file's bytes differ from its recorded
    size or SM3; ``out`` then holds a partial package that the caller must discard.
    """
    if not files:
        raise EepError("an EEP needs at least one file", code="EEP_NO_FILES")
    for f in files:
        if len(f.sm3) != 64 or f.size < 0:
            raise EepError(f"file {f.name!r} has no recorded SM3 digest or size", target=f.name)
    hasher = BackgroundHash(message_hasher(signer.point))
    try:
        return _write(out, description, files, signer, hasher, created, signed_at, progress)
    finally:
        hasher.close()


def _write(
    out: BinaryIO,
    description: RecordDescription,
    files: Sequence[EepFile],
    signer: DigestSigner,
    hasher: BackgroundHash,
    created: str,
    signed_at: str | None,
    progress: Progress | None,
) -> EepWriteResult:
    total = sum(f.size for f in files)
    done = 0

    def signed_sink(data: bytes) -> None:
        out.write(data)
        hasher.update(data)  # large Base64 pieces are hashed in the worker while we read and encode

    outer = _Emitter(Canonicalizer(out.write))
    inner = _Emitter(Canonicalizer(signed_sink, inherited={"": n.NS}))

    def emit_file(f: EepFile) -> None:
        nonlocal done
        raw = hashlib.new("sm3")
        size = 0
        with f.open() as stream:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                raw.update(chunk)
                size += len(chunk)
                inner.canon.data(binascii.b2a_base64(chunk, newline=False).decode("ascii"))
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if size != f.size or raw.hexdigest() != f.sm3:
            raise EepError(
                f"{f.name}: the stored copy does not match its recorded digest "
                f"(read {size} bytes, SM3 {raw.hexdigest()}; recorded {f.size} bytes, SM3 {f.sm3}); "
                "run `dangan verify`",
                code="EEP_SOURCE_MISMATCH",
                target=f.name,
            )

    out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    outer.canon.start_ns("", n.NS)
    outer.block(n.E.ROOT)
    outer.leaf(n.E.FORMAT_DESCRIPTION, n.FORMAT_DESCRIPTION)
    outer.leaf(n.E.VERSION, n.EEP_VERSION)

    # --- 被签名对象: canonical bytes, written and hashed at once ----------------------------------------
    inner.block(n.E.SIGNED, {n.E.SIGNED_VERSION_ATTR: n.EEP_VERSION})
    inner.leaf(n.E.TYPE, n.PACKAGE_TYPE_ORIGINAL)
    inner.leaf(n.E.TYPE_DESCRIPTION, n.PACKAGE_TYPE_DESCRIPTION)
    inner.leaf(n.E.CREATED, created)
    inner.leaf(n.E.CREATOR, description.creator or description.fonds_name)
    inner.block(n.E.CONTENT)
    inner.block(n.E.FILE_BLOCK)
    inner.block(n.E.FILE_ENTITY)
    _metadata(inner, description)
    inner.block(n.E.FILE_DATA)
    for index, f in enumerate(files, 1):
        _document(inner, index, f, emit_file)
    inner.close()  # 文件数据
    inner.close()  # 文件实体
    inner.close()  # 文件实体块
    _entities(inner, description)
    inner.close()  # 封装内容
    inner.canon.end()  # 被签名对象 (apex: the newline after it is outside the signed bytes)
    assert inner.canon.done
    outer.newline()

    e = hasher.digest()
    signature = signer.sign_digest(e)

    outer.block(n.E.SIGNATURE_BLOCK)
    outer.block(n.E.SIGNATURE)
    outer.leaf(n.E.SIG_ID, "S1")
    outer.leaf(n.E.SIG_RULE, n.SIGNATURE_RULE)
    outer.leaf(n.E.SIG_TIME, signed_at or created)
    outer.leaf(n.E.SIGNER, signer.signer_name or "dangan")
    outer.leaf(n.E.SIG_VALUE, binascii.b2a_base64(signature, newline=False).decode("ascii"))
    outer.block(n.E.CERT_BLOCK)
    outer.leaf(n.E.CERT, binascii.b2a_base64(signer.certificate_der, newline=False).decode("ascii"))
    outer.close()  # 证书块
    outer.leaf(n.E.SIG_ALGORITHM, n.SIGNATURE_ALGORITHM)
    outer.close()  # 电子签名
    outer.close()  # 电子签名块
    outer.canon.end()  # 电子文件封装包
    out.write(b"\n")
    return EepWriteResult(
        files=len(files),
        raw_bytes=done,
        signed_bytes=inner.canon.size,
        e=e.hex(),
        signature=signature,
        certificate_sm3=hashlib.new("sm3", signer.certificate_der).hexdigest(),
    )
