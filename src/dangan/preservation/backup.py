"""Backup and restore (备份与恢复): the database, the blobs, the keys, under an SM2-signed SM3 manifest.

A backup folder holds::

    backup.json               what, when, which instance, counts (pinned by the manifest's first line)
    manifest-sm3.txt          "dangan-backup-manifest/1 <TAB> SM3(backup.json)", then one line per file:
                              "<sm3> <TAB> <size> <TAB> F|B <TAB> <path>" (F: in this backup; B: a blob
                              held by the base backup of an incremental one)
    manifest-sm3.txt.sig      SM2 signature (DER) over the exact bytes of manifest-sm3.txt
    signer.pem                the certificate of the instance key that signed it
    说明.txt                  the explanation for people (Chinese and English); not manifested
    db/NNNN-<app.model>.jsonl the database, one model per file in dependency order, one JSON object a line
                              (Django's serialisation with natural foreign keys: loads on any engine)
    keys/…, secret/secret_key the instance's keys and certificates and the secret key (SECRETS: 0600/0700)
    blobs/sm3/ab/cd/<sm3>     every blob (a full backup) or every blob the base does not hold

Split onto volumes (``volume_size``), the same tree is spread over ``vol-001/``, ``vol-002/``…; each
volume has its own 说明.txt and a copy of backup.json, the manifest, its signature and the signer. A
file larger than the room left on a volume is cut into ``<path>.part-0001``, ``.part-0002``… and joined
again (and hashed as a whole) on verify and restore.

The database dump is always complete; "incremental" concerns the blobs (the bulk of an archive).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import re
import secrets
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.management.color import no_style
from django.db import connection, models, transaction

from dangan.accounts.roles import Actor
from dangan.core import sm
from dangan.core.errors import DanganError

FORMAT = "dangan-backup-manifest/1"
INFO = "backup.json"
MANIFEST = "manifest-sm3.txt"
SIGNATURE = "manifest-sm3.txt.sig"
SIGNER = "signer.pem"
README = "说明.txt"
METADATA = frozenset({INFO, MANIFEST, SIGNATURE, SIGNER, README})
PART = re.compile(r"^(?P<path>.+)\.part-(?P<n>\d{4})$")
VOLUME = re.compile(r"^vol-(\d{3})$")
CHUNK = 1024 * 1024
HEX = frozenset("0123456789abcdef")
#: Room kept on every volume for the metadata besides the manifest (说明.txt, backup.json, signature, signer).
RESERVE = 16 * 1024
#: Not backed up: recreated by ``migrate`` (content types, permissions: referred to by natural key) or
#: short-lived (sessions).
SKIPPED = frozenset({"contenttypes.contenttype", "auth.permission", "sessions.session"})

Progress = Callable[[str, int, int], None]


class BackupError(DanganError):
    code = "BACKUP_INVALID"


@dataclass(frozen=True)
class Entry:
    sm3: str
    size: int
    held: bool  # True: the file is in this backup (F); False: a blob held by the base (B)
    path: str

    def line(self) -> str:
        return f"{self.sm3}\t{self.size}\t{'F' if self.held else 'B'}\t{self.path}\n"


@dataclass
class Manifest:
    info_sm3: str
    entries: list[Entry]

    def text(self) -> str:
        return f"{FORMAT}\t{self.info_sm3}\n" + "".join(e.line() for e in self.entries)

    @classmethod
    def parse(cls, data: bytes, where: str) -> Manifest:
        try:
            lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            raise BackupError(f"{where} is not UTF-8 text", target=where) from None
        head = lines[0].split("\t")
        if len(head) != 2 or head[0] != FORMAT or len(head[1]) != 64:
            raise BackupError(f"{where} is not a dangan backup manifest ({FORMAT})", target=where)
        entries = []
        for n, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            parts = line.split("\t")
            if (
                len(parts) != 4
                or len(parts[0]) != 64
                or not set(parts[0]) <= HEX
                or not parts[1].isdigit()
                or parts[2] not in ("F", "B")
                or (parts[3].startswith("blobs/") and parts[3] != _blob_rel(parts[0]))
            ):
                raise BackupError(f"{where} line {n} is malformed", target=where)
            _safe_relative(parts[3])
            entries.append(Entry(parts[0], int(parts[1]), parts[2] == "F", parts[3]))
        return cls(head[1], entries)


@dataclass
class Problem:
    code: str  # MISSING | SIZE_MISMATCH | DIGEST_MISMATCH | UNLISTED | SIGNATURE_INVALID | VOLUME_MISSING …
    path: str
    message: str


@dataclass
class VerifyReport:
    ok: bool
    backup_id: str
    kind: str
    volumes: int
    files: int
    bytes: int
    signer_fingerprint: str
    problems: list[Problem]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["first_bad"] = asdict(self.problems[0]) if self.problems else None
        return out


@dataclass
class BackupResult:
    backup_id: str
    kind: str
    path: str
    volumes: int
    files: int
    bytes: int
    db_rows: int
    blobs_total: int
    blobs_held: int
    keys: int
    manifest_sm3: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RestoreResult:
    backup_id: str
    kind: str
    rows: int
    blobs: int
    keys: int
    seconds: float
    bases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _noop(_what: str, _done: int, _total: int) -> None:
    return None


def _safe_relative(path: str) -> str:
    parts = path.split("/")
    bad = any(p in ("", ".", "..") for p in parts) or any(c in path for c in "\\\t\n\r\0")
    if not path or path.startswith("/") or bad:
        raise BackupError(f"unsafe path in the manifest: {path!r}", target=path)
    return path


def _mkdir(path: Path) -> None:
    """Create ``path`` and any missing parents 0700 (``mkdir(parents=True)`` gives parents the umask's mode)."""
    if path.is_dir():
        return
    _mkdir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def _open_new(path: Path) -> BinaryIO:
    """A new private file (0600 whatever the umask)."""
    _mkdir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")


def _write_new(path: Path, data: bytes) -> None:
    with _open_new(path) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------------- database dump


def dump_models() -> list[type[models.Model]]:
    """Every concrete model in dependency order (what a row refers to comes first)."""
    app_list = [(config, None) for config in apps.get_app_configs() if config.models_module is not None]
    ordered = serializers.sort_dependencies(app_list, allow_cycles=True)
    return [
        m for m in ordered
        if m._meta.label_lower not in SKIPPED and not m._meta.proxy and m._meta.managed
    ]  # fmt: skip


def _json_default(value: Any) -> Any:
    # Django's encoder cuts datetimes to milliseconds; the audit chain hashes microseconds.
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        raise TypeError("binary values are serialised by Django as base64")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _dump_database(folder: Path, progress: Progress) -> tuple[list[tuple[str, Path, int, str]], int]:
    """Write db/NNNN-<model>.jsonl files (streamed, one consistent snapshot). Returns (rel, path, size,
    sm3) per file and the row count."""
    out: list[tuple[str, Path, int, str]] = []
    total_rows = 0
    serializer = serializers.get_serializer("python")()
    model_list = dump_models()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for n, model in enumerate(model_list, start=1):
            rel = f"db/{n:04d}-{model._meta.label_lower}.jsonl"
            path = folder / rel
            hasher = sm.sm3()
            size = 0
            with _open_new(path) as f:
                rows = model._base_manager.order_by("pk").iterator(chunk_size=1000)
                for chunk in _batched(rows, 1000):
                    for obj in serializer.serialize(chunk, use_natural_foreign_keys=True):
                        line = json.dumps(
                            obj, default=_json_default, ensure_ascii=False, separators=(",", ":")
                        )
                        data = (line + "\n").encode("utf-8")
                        hasher.update(data)
                        f.write(data)
                        size += len(data)
                        total_rows += 1
                f.flush()
                os.fsync(f.fileno())
            out.append((rel, path, size, hasher.hexdigest()))
            progress("数据库 Database", n, len(model_list))
    return out, total_rows


# ----------------------------------------------------------------------------------- volumes


class _Volumes:
    """Places files into the backup folder, or into volume folders of at most ``size`` bytes each."""

    def __init__(self, root: Path, size: int | None, reserve: int) -> None:
        self.root = root
        self.size = size
        self.room = (size - reserve) if size else None
        self.count = 1
        self.used = 0
        if self.room is not None and self.room < 4096:
            assert size is not None
            raise BackupError(
                f"volume size {size} bytes is too small for this backup's manifest and notes: "
                f"give at least {reserve + 64 * 1024} bytes",
                target="--volume-size",
            )

    def folder(self, n: int) -> Path:
        return self.root if self.size is None else self.root / f"vol-{n:03d}"

    def folders(self) -> list[Path]:
        return [self.folder(n) for n in range(1, self.count + 1)]

    def _next(self) -> None:
        self.count += 1
        self.used = 0

    def place_file(self, rel: str, src: Path, size: int) -> None:
        """Move a finished file (same file system) into place, or copy it in parts."""
        if self.room is None or size <= self.room - self.used or size <= self.room:
            if self.room is not None and size > self.room - self.used:
                self._next()
            dest = self.folder(self.count) / rel
            _mkdir(dest.parent)
            os.replace(src, dest)
            self.used += size
            return
        with open(src, "rb") as f:
            self.copy_stream(rel, f, size, None)
        src.unlink()

    def copy_stream(self, rel: str, stream: IO[bytes], size: int, hasher: Any) -> None:
        """Copy exactly ``size`` bytes of ``stream`` to ``rel`` (cut into parts when it does not fit)."""
        if self.room is None or size <= self.room - self.used or size <= self.room:
            if self.room is not None and size > self.room - self.used:
                self._next()
            self._copy(self.folder(self.count) / rel, stream, size, hasher)
            self.used += size
            return
        part = 0
        remaining = size
        while remaining:
            if self.used >= self.room:
                self._next()
            n = min(self.room - self.used, remaining)
            part += 1
            self._copy(self.folder(self.count) / f"{rel}.part-{part:04d}", stream, n, hasher)
            self.used += n
            remaining -= n

    @staticmethod
    def _copy(dest: Path, stream: IO[bytes], size: int, hasher: Any) -> None:
        with _open_new(dest) as f:
            left = size
            while left:
                block = stream.read(min(CHUNK, left))
                if not block:
                    raise BackupError(f"{dest.name}: the source ended early (changed while copying?)")
                if hasher is not None:
                    hasher.update(block)
                f.write(block)
                left -= len(block)
            f.flush()
            os.fsync(f.fileno())


# -------------------------------------------------------------------------------------- create


def _key_files() -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    key_dir = Path(settings.KEY_DIR)
    if key_dir.is_dir():
        for path in sorted(key_dir.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                files.append((_safe_relative("keys/" + path.relative_to(key_dir).as_posix()), path))
    secret_file = Path(settings.DATA_DIR) / "secret_key"
    if secret_file.is_file():
        files.append(("secret/secret_key", secret_file))
    return files


def _blob_rel(digest: str) -> str:
    return f"blobs/sm3/{digest[:2]}/{digest[2:4]}/{digest}"


def _base_blobs(base: Path, fingerprint: str) -> tuple[dict[str, int], str, str]:
    """The blobs a base backup holds (itself or through its own base): {digest: size}, its id and the
    SM3 of its manifest. The base's signature must verify and be this instance's."""
    folder = base.parent if base.is_file() else _volume_folders(base)[0]
    manifest_bytes = (base if base.is_file() else folder / MANIFEST).read_bytes()
    manifest = Manifest.parse(manifest_bytes, str(base))
    cert = (folder / SIGNER).read_bytes() if (folder / SIGNER).exists() else b""
    sig = (folder / SIGNATURE).read_bytes() if (folder / SIGNATURE).exists() else b""
    if not cert or not _signature_ok(manifest_bytes, sig, cert):
        raise BackupError(f"the base backup's manifest signature does not verify: {base}", target=str(base))
    if sm.sm3_hex(sm.certificate_der_from_pem(cert)) != fingerprint:
        raise BackupError(f"the base backup was signed by another instance: {base}", target=str(base))
    info_file = folder / INFO
    base_id = ""
    if info_file.exists() and sm.sm3_hex(info_file.read_bytes()) == manifest.info_sm3:
        base_id = json.loads(info_file.read_bytes())["id"]
    blobs = {e.sm3: e.size for e in manifest.entries if e.path.startswith("blobs/")}
    return blobs, base_id, sm.sm3_hex(manifest_bytes)


def create(
    actor: Actor,
    dest: Path,
    *,
    incremental_from: Path | None = None,
    volume_size: int | None = None,
    progress: Progress = _noop,
) -> BackupResult:
    """Write a full (or, with ``incremental_from``, incremental) backup into the new folder ``dest``."""
    from dangan.archive.services import instance_key
    from dangan.audit import events
    from dangan.preservation.events import record_event
    from dangan.preservation.models import EventType, Outcome
    from dangan.storage.blobstore import default_store

    started = time.monotonic()
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder", target=str(dest))
    key = instance_key()
    base_blobs: dict[str, int] = {}
    base_id = base_manifest = ""
    if incremental_from is not None:
        base_blobs, base_id, base_manifest = _base_blobs(Path(incremental_from), key.fingerprint)
    _mkdir(dest)
    backup_id = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(4)
    work = dest / f".work-{secrets.token_hex(4)}"
    _mkdir(work)
    try:
        db_files, db_rows = _dump_database(work, progress)
        # Blobs are listed after the database snapshot: every blob a dumped row names was stored before
        # its row was committed, so it is in the list.
        store = default_store()
        all_blobs = {d: store.size(d) for d in store.digests()}
        keys = _key_files()
        entries_plan: list[tuple[str, int]] = [(rel, size) for rel, _p, size, _h in db_files]
        entries_plan += [(rel, p.stat().st_size) for rel, p in keys]
        held = {d: s for d, s in all_blobs.items() if d not in base_blobs}
        entries_plan += [(_blob_rel(d), s) for d, s in sorted(held.items())]
        manifest_len = len(f"{FORMAT}\t{'0' * 64}\n".encode())
        manifest_len += sum(len(f"{'0' * 64}\t{s}\tF\t{rel}\n".encode()) for rel, s in entries_plan)
        manifest_len += sum(
            len(f"{'0' * 64}\t{s}\tB\t{_blob_rel(d)}\n".encode())
            for d, s in all_blobs.items() if d in base_blobs
        )  # fmt: skip
        volumes = _Volumes(dest, volume_size, manifest_len + RESERVE)
        entries: list[Entry] = []
        total_bytes = sum(s for _r, s in entries_plan)
        done = 0
        for rel, path, size, digest in db_files:
            volumes.place_file(rel, path, size)
            entries.append(Entry(digest, size, True, rel))
            done += size
            progress("写入 Writing", done, total_bytes)
        for rel, path in keys:
            hasher = sm.sm3()
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                volumes.copy_stream(rel, f, size, hasher)
            entries.append(Entry(hasher.hexdigest(), size, True, rel))
            done += size
            progress("写入 Writing", done, total_bytes)
        for digest, size in sorted(held.items()):
            hasher = sm.sm3()
            with store.open(digest) as f:
                volumes.copy_stream(_blob_rel(digest), f, size, hasher)
            if hasher.hexdigest() != digest:
                raise BackupError(
                    f"blob {digest} is damaged in the store (SM3 {hasher.hexdigest()}): run `dangan verify` "
                    "and repair it before backing up",
                    target=_blob_rel(digest),
                )
            entries.append(Entry(digest, size, True, _blob_rel(digest)))
            done += size
            progress("写入 Writing", done, total_bytes)
        for digest, size in sorted(all_blobs.items()):
            if digest in base_blobs:
                entries.append(Entry(digest, size, False, _blob_rel(digest)))
        info = {
            "format": FORMAT,
            "id": backup_id,
            "kind": "incremental" if incremental_from is not None else "full",
            "created": _dt.datetime.now(_dt.UTC).isoformat(),
            "instance": settings.INSTANCE_NAME,
            "organization": settings.INSTANCE_ORGANIZATION,
            "signer_fingerprint": key.fingerprint,
            "database_engine": connection.vendor,
            "migrations": _applied_migrations(),
            "base": {"id": base_id, "manifest_sm3": base_manifest} if incremental_from is not None else None,
            "volumes": volumes.count,
            "volume_size": volume_size,
            "counts": {
                "db_files": len(db_files),
                "db_rows": db_rows,
                "blobs_total": len(all_blobs),
                "blobs_held": len(held),
                "blob_bytes_held": sum(held.values()),
                "keys": len(keys),
            },
        }
        info_bytes = json.dumps(info, ensure_ascii=False, indent=1).encode("utf-8")
        manifest_bytes = Manifest(sm.sm3_hex(info_bytes), entries).text().encode("utf-8")
        signature = key.sign(manifest_bytes)
        for n, folder in enumerate(volumes.folders(), start=1):
            _mkdir(folder)
            _write_new(folder / INFO, info_bytes)
            _write_new(folder / MANIFEST, manifest_bytes)
            _write_new(folder / SIGNATURE, signature)
            _write_new(folder / SIGNER, key.certificate_pem)
            _write_new(folder / README, _readme(info, n, volumes.count).encode("utf-8"))
            if volume_size is not None:
                used = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                if used > volume_size:  # pragma: no cover - the reserve is computed to prevent this
                    raise BackupError(f"volume {folder.name} came out at {used} bytes, over {volume_size}")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    manifest_sm3 = sm.sm3_hex(manifest_bytes)
    result = BackupResult(
        backup_id=backup_id, kind=str(info["kind"]), path=str(dest), volumes=volumes.count,
        files=sum(1 for e in entries if e.held), bytes=total_bytes, db_rows=db_rows,
        blobs_total=len(all_blobs), blobs_held=len(held), keys=len(keys), manifest_sm3=manifest_sm3,
        seconds=round(time.monotonic() - started, 3),
    )  # fmt: skip
    with transaction.atomic():
        record_event(
            EventType.BACKUP, agent=actor.name, outcome=Outcome.SUCCESS, location="backup",
            backup_id=backup_id, kind=result.kind, path=str(dest), volumes=result.volumes, files=result.files,
            bytes=result.bytes, blobs=result.blobs_held, manifest_sm3=manifest_sm3, base=base_id,
        )  # fmt: skip
        events.backup_created(
            actor, backup_id, kind=result.kind, files=result.files, bytes_written=result.bytes,
            blobs=result.blobs_held, volumes=result.volumes, manifest_sm3=manifest_sm3, base=base_id,
        )  # fmt: skip
    return result


def _readme(info: dict[str, Any], volume: int, volumes: int) -> str:
    counts = info["counts"]
    base = info["base"]
    base_line_zh = f"增量备份，基础备份：{base['id'] or base['manifest_sm3']}" if base else "全量备份"
    base_line_en = f"incremental, on top of backup {base['id'] or base['manifest_sm3']}" if base else "full"
    return f"""说明文件 — dangan 档案系统备份
==================================

本卷：第 {volume} 卷，共 {volumes} 卷
备份编号：{info["id"]}
类型：{base_line_zh}
创建时间（UTC）：{info["created"]}
实例：{info["instance"]}（{info["organization"]}）
签名证书指纹（SM3）：{info["signer_fingerprint"]}
内容：数据库 {counts["db_rows"]} 行（{counts["db_files"]} 个文件）；电子文件（blob）{counts["blobs_held"]} 个，
      {counts["blob_bytes_held"]} 字节（实例共 {counts["blobs_total"]} 个）；密钥与证书 {counts["keys"]} 个文件。

【保密】本备份包含实例的 SM2 私钥和 secret key（keys/、secret/ 目录）及公民个人信息：
文件权限为 0600、目录为 0700。请按涉密载体保管，离线存放，异地保存，仅限系统管理员接触。

校验：  dangan backup verify <备份目录>
        （先验证 manifest-sm3.txt 的 SM2 签名，再逐个文件核对 SM3 和大小；多卷时把各卷目录
        vol-001、vol-002…放在同一目录下）
恢复：  在一个全新的空实例上（设置 DANGAN_HOME，运行 dangan manage migrate）执行
        dangan backup restore <备份目录> [--base <基础备份目录>]（增量备份需同时提供基础备份）
        恢复后运行 dangan verify 和 dangan audit verify。
文件清单：manifest-sm3.txt（每行：SM3、字节数、F=本备份内/B=在基础备份中、路径）；
        manifest-sm3.txt.sig 是对清单的 SM2 签名，signer.pem 是签名证书。
        超过卷容量的文件被分成 <路径>.part-0001、.part-0002…，恢复时自动拼接。

Notes — dangan archive backup
=============================

This volume: {volume} of {volumes}
Backup id: {info["id"]}
Kind: {base_line_en}
Created (UTC): {info["created"]}
Instance: {info["instance"]} ({info["organization"]})
Signer certificate fingerprint (SM3): {info["signer_fingerprint"]}
Contents: database {counts["db_rows"]} rows ({counts["db_files"]} files); blobs {counts["blobs_held"]}
      ({counts["blob_bytes_held"]} bytes; the instance has {counts["blobs_total"]}); keys and certificates
      {counts["keys"]} files.

CONFIDENTIAL: this backup holds the instance's SM2 private key and secret key (keys/, secret/) and
citizens' personal data. Files are mode 0600, folders 0700. Keep the carrier offline, off-site and
within reach of the system administrators only.

Verify:  dangan backup verify <backup folder>
         (checks the SM2 signature over manifest-sm3.txt, then every file's SM3 and size; for several
         volumes put the folders vol-001, vol-002… side by side in one folder)
Restore: on a new, empty instance (set DANGAN_HOME, run dangan manage migrate):
         dangan backup restore <backup folder> [--base <base backup folder>] (an incremental backup needs
         its base), then run dangan verify and dangan audit verify.
Manifest: manifest-sm3.txt (per line: SM3, size, F = in this backup / B = in the base backup, path);
         manifest-sm3.txt.sig is the SM2 signature over it, signer.pem the signer's certificate.
         Files larger than a volume are cut into <path>.part-0001, .part-0002… and joined on restore.
"""


# -------------------------------------------------------------------------------------- verify


def _volume_folders(root: Path) -> list[Path]:
    root = Path(root)
    if (root / MANIFEST).is_file():
        return [root]
    vols = sorted(p for p in root.iterdir() if p.is_dir() and VOLUME.match(p.name)) if root.is_dir() else []
    if not vols:
        raise BackupError(
            f"{root} is not a dangan backup (no {MANIFEST}, no vol-NNN folders)", target=str(root)
        )
    return vols


def _signature_ok(manifest: bytes, signature: bytes, cert_pem: bytes) -> bool:
    try:
        public_key = sm.public_key_from_certificate(sm.certificate_der_from_pem(cert_pem))
    except DanganError:
        return False
    return sm.verify(public_key, manifest, signature)


@dataclass
class _Located:
    whole: dict[str, Path]
    parts: dict[str, list[tuple[int, Path]]]
    unlisted: list[str]


def _locate(folders: list[Path]) -> _Located:
    whole: dict[str, Path] = {}
    parts: dict[str, list[tuple[int, Path]]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(folder).as_posix()
            if rel in METADATA:
                continue
            m = PART.match(rel)
            if m:
                parts.setdefault(m["path"], []).append((int(m["n"]), path))
            else:
                whole[rel] = path
    for chunks in parts.values():
        chunks.sort()
    return _Located(whole, parts, [])


class _Joined(io.RawIOBase):
    """The parts of a split file read as one stream."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self._paths = list(paths)
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._current is None:
                if not self._paths:
                    return 0
                self._current = open(self._paths.pop(0), "rb")  # noqa: SIM115 - closed below
            n = self._current.readinto(buffer)  # type: ignore[attr-defined]
            if n:
                return int(n)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


def _open_entry(located: _Located, rel: str) -> BinaryIO | None:
    if rel in located.whole:
        return open(located.whole[rel], "rb")
    chunks = located.parts.get(rel)
    if not chunks:
        return None
    if [n for n, _p in chunks] != list(range(1, len(chunks) + 1)):
        return None
    return io.BufferedReader(_Joined([p for _n, p in chunks]), CHUNK)


@dataclass
class _Backup:
    folders: list[Path]
    manifest: Manifest
    manifest_bytes: bytes
    info: dict[str, Any]
    signer_pem: bytes
    located: _Located


def _read_backup(root: Path, problems: list[Problem]) -> _Backup | None:
    folders = _volume_folders(root)
    first = folders[0]
    try:
        manifest_bytes = (first / MANIFEST).read_bytes()
        signature = (first / SIGNATURE).read_bytes()
        signer = (first / SIGNER).read_bytes()
    except FileNotFoundError as exc:
        problems.append(Problem("MISSING", Path(exc.filename).name, f"{exc.filename} is missing"))
        return None
    manifest = Manifest.parse(manifest_bytes, str(first / MANIFEST))
    if not _signature_ok(manifest_bytes, signature, signer):
        problems.append(
            Problem("SIGNATURE_INVALID", MANIFEST, "the SM2 signature over the manifest does not verify")
        )
        return None
    info: dict[str, Any] = {}
    for folder in folders:
        for name, want in ((MANIFEST, manifest_bytes), (SIGNATURE, signature), (SIGNER, signer)):
            path = folder / name
            if not path.is_file() or path.read_bytes() != want:
                problems.append(
                    Problem("VOLUME_MISMATCH", f"{folder.name}/{name}", f"{path} differs or is missing")
                )
        info_path = folder / INFO
        if not info_path.is_file() or sm.sm3_hex(info_path.read_bytes()) != manifest.info_sm3:
            problems.append(
                Problem(
                    "DIGEST_MISMATCH", f"{folder.name}/{INFO}", f"{info_path} does not match the manifest"
                )
            )
        elif not info:
            info = json.loads(info_path.read_bytes())
    if info and len(folders) != int(info.get("volumes", 1)):
        names = {f.name for f in folders}
        missing = [f"vol-{n:03d}" for n in range(1, int(info["volumes"]) + 1) if f"vol-{n:03d}" not in names]
        problems.append(
            Problem("VOLUME_MISSING", missing[0] if missing else str(root),
                    f"the backup has {info['volumes']} volumes, found {len(folders)}: missing {', '.join(missing)}")
        )  # fmt: skip
    return _Backup(folders, manifest, manifest_bytes, info, signer, _locate(folders))


def _check_entry(located: _Located, entry: Entry) -> Problem | None:
    stream = _open_entry(located, entry.path)
    if stream is None:
        return Problem("MISSING", entry.path, f"{entry.path} is missing (or one of its parts is)")
    hasher = sm.sm3()
    size = 0
    with stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            hasher.update(block)
            size += len(block)
    if size != entry.size:
        return Problem(
            "SIZE_MISMATCH", entry.path, f"{entry.path}: {size} bytes, the manifest says {entry.size}"
        )
    if hasher.hexdigest() != entry.sm3:
        return Problem(
            "DIGEST_MISMATCH", entry.path, f"{entry.path}: SM3 {hasher.hexdigest()}, manifest {entry.sm3}"
        )
    return None


def verify(root: Path, *, progress: Progress = _noop) -> VerifyReport:
    """Check the signature, then every file against the manifest (streamed SM3), across volumes."""
    started = time.monotonic()
    problems: list[Problem] = []
    backup = _read_backup(Path(root), problems)
    if backup is None:
        return VerifyReport(False, "", "", 0, 0, 0, "", problems, round(time.monotonic() - started, 3))
    held = [e for e in backup.manifest.entries if e.held]
    total = sum(e.size for e in held)
    done = 0
    for entry in held:
        problem = _check_entry(backup.located, entry)
        if problem is not None:
            problems.append(problem)
        done += entry.size
        progress("校验 Verifying", done, total)
    listed = {e.path for e in held}
    for rel in sorted(set(backup.located.whole) | set(backup.located.parts)):
        if rel not in listed and not rel.startswith(".work-"):
            problems.append(Problem("UNLISTED", rel, f"{rel} is not in the manifest"))
    fingerprint = sm.sm3_hex(sm.certificate_der_from_pem(backup.signer_pem))
    return VerifyReport(
        ok=not problems, backup_id=str(backup.info.get("id", "")), kind=str(backup.info.get("kind", "")),
        volumes=len(backup.folders), files=len(held), bytes=total, signer_fingerprint=fingerprint,
        problems=problems, seconds=round(time.monotonic() - started, 3),
    )  # fmt: skip


# ------------------------------------------------------------------------------------- restore


def _applied_migrations() -> list[str]:
    from django.db.migrations.recorder import MigrationRecorder

    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def _not_empty() -> list[str]:
    """What makes this instance not fresh (rows in any backed-up table, blobs, an instance key)."""
    from dangan.storage.blobstore import default_store

    found = []
    for model in dump_models():
        n = model._base_manager.count()
        if n:
            found.append(f"{n} {model._meta.label_lower}")
    if next(iter(default_store().digests()), None) is not None:
        found.append(f"blobs in {default_store().describe()}")
    key_dir = Path(settings.KEY_DIR)
    if key_dir.is_dir() and any(key_dir.iterdir()):
        found.append(f"files in {key_dir}")
    return found


def _load_file(stream: IO[bytes], using: str) -> tuple[int, type[models.Model] | None]:
    rows = 0
    model: type[models.Model] | None = None
    for batch in _batched(stream, 500):
        objs = [json.loads(line) for line in batch]
        deserialized = list(serializers.deserialize("python", objs, using=using))
        if not deserialized:
            continue
        model = type(deserialized[0].object)
        instances = [d.object for d in deserialized]
        fields = [f for f in model._meta.local_concrete_fields]
        size = connection.ops.bulk_batch_size(fields, instances) or len(instances)
        for i in range(0, len(instances), size):
            # raw=True: values as they were (no auto_now, no save() override: audit rows keep seq/hash).
            model._base_manager.using(using)._insert(instances[i : i + size], fields=fields, raw=True)  # type: ignore[attr-defined]
        for d in deserialized:
            for name, values in (d.m2m_data or {}).items():
                m2m = model._meta.get_field(name)
                through = m2m.remote_field.through  # type: ignore[union-attr]
                src, dst = m2m.m2m_field_name(), m2m.m2m_reverse_field_name()  # type: ignore[union-attr]
                through._base_manager.using(using).bulk_create(
                    [through(**{f"{src}_id": d.object.pk, f"{dst}_id": v}) for v in values]
                )
        rows += len(instances)
    return rows, model


def restore(
    actor: Actor, root: Path, *, bases: list[Path] | None = None, progress: Progress = _noop
) -> RestoreResult:
    """Restore a verified backup onto this fresh, empty instance: all of it, or nothing."""
    from dangan.archive.services import instance_key
    from dangan.audit import events
    from dangan.preservation.events import record_event
    from dangan.preservation.models import EventType, Outcome
    from dangan.storage.blobstore import FileBlobStore, default_store

    started = time.monotonic()
    occupied = _not_empty()
    if occupied:
        raise BackupError(
            "restore needs a fresh, empty instance (a new DANGAN_HOME / database after `dangan manage "
            f"migrate`); this one has: {', '.join(occupied[:5])}",
            code="RESTORE_REFUSED",
        )
    store = default_store()
    if not isinstance(store, FileBlobStore):
        raise BackupError("restore needs a file primary store", code="RESTORE_REFUSED")
    reports = []
    for folder in [Path(root), *(bases or [])]:
        report = verify(folder, progress=progress)
        if not report.ok:
            first = report.problems[0]
            raise BackupError(f"backup {folder} does not verify: {first.code} {first.path}: {first.message}",
                              target=first.path, code="BACKUP_INVALID")  # fmt: skip
        reports.append(report)
    if any(r.signer_fingerprint != reports[0].signer_fingerprint for r in reports):
        raise BackupError("the base backups were signed by another instance", code="BACKUP_INVALID")
    main = _read_backup(Path(root), [])
    assert main is not None
    unknown = sorted(set(main.info.get("migrations", [])) - set(_applied_migrations()))
    if unknown:
        raise BackupError(
            f"the backup was made by a newer dangan (migration {unknown[0]} is unknown here): upgrade first",
            code="RESTORE_REFUSED",
        )
    base_backups = [b for b in (_read_backup(Path(p), []) for p in bases or []) if b is not None]
    data_dir = Path(settings.DATA_DIR)
    stage = data_dir / f".restore-{secrets.token_hex(6)}"
    _mkdir(stage)
    placed_blobs: list[str] = []
    key_dir = Path(settings.KEY_DIR)
    secret_file = data_dir / "secret_key"
    old_secret = secret_file.read_bytes() if secret_file.exists() else None
    keys_placed = secret_placed = False
    try:
        # 1. Stage blobs and keys, re-hashing every byte.
        blob_entries = [e for e in main.manifest.entries if e.path.startswith("blobs/")]
        total = sum(e.size for e in blob_entries)
        done = 0
        for entry in blob_entries:
            sources = [main] if entry.held else base_backups
            staged = stage / "blobs" / entry.sm3
            for source in sources:
                stream = _open_entry(source.located, entry.path)
                if stream is None:
                    continue
                hasher = sm.sm3()
                with stream, _open_new(staged) as f:
                    while block := stream.read(CHUNK):
                        hasher.update(block)
                        f.write(block)
                if hasher.hexdigest() == entry.sm3:
                    break
                staged.unlink()
            else:
                raise BackupError(
                    f"blob {entry.path} is in no backup given (an incremental backup needs its base: --base)",
                    target=entry.path, code="BACKUP_INCOMPLETE",
                )  # fmt: skip
            done += entry.size
            progress("恢复文件 Restoring blobs", done, total)
        key_entries = [e for e in main.manifest.entries if e.path.startswith(("keys/", "secret/"))]
        for entry in key_entries:
            stream = _open_entry(main.located, entry.path)
            assert stream is not None  # verified above
            with stream:
                _write_new(stage / entry.path, stream.read())
        # 2. The database in one transaction; then files are moved into place before it commits.
        rows = 0
        db_entries = sorted(
            (e for e in main.manifest.entries if e.path.startswith("db/")), key=lambda e: e.path
        )
        loaded: list[type[models.Model]] = []
        with transaction.atomic():
            for n, entry in enumerate(db_entries, start=1):
                stream = _open_entry(main.located, entry.path)
                assert stream is not None
                with stream:
                    count, model = _load_file(stream, connection.alias)
                rows += count
                if model is not None:
                    loaded.append(model)
                progress("数据库 Database", n, len(db_entries))
            if connection.vendor == "postgresql" and loaded:
                with connection.cursor() as cur:
                    for sql in connection.ops.sequence_reset_sql(no_style(), loaded):
                        cur.execute(sql)
            if (stage / "keys").is_dir():
                with contextlib.suppress(FileNotFoundError, OSError):
                    key_dir.rmdir()  # empty (checked above)
                os.replace(stage / "keys", key_dir)
                keys_placed = True
                os.chmod(key_dir, 0o700)
                instance_key.cache_clear()
            if (stage / "secret" / "secret_key").is_file():
                os.replace(stage / "secret" / "secret_key", secret_file)
                secret_placed = True
            for entry in blob_entries:
                store.adopt(stage / "blobs" / entry.sm3, entry.sm3)
                placed_blobs.append(entry.sm3)
            if keys_placed and (key_dir / "instance-sm2.crt").is_file():
                restored_fp = sm.sm3_hex(
                    sm.certificate_der_from_pem((key_dir / "instance-sm2.crt").read_bytes())
                )
                if restored_fp != reports[0].signer_fingerprint:
                    raise BackupError(
                        "the restored instance certificate is not the one that signed the backup"
                    )
            bases_ids = [r.backup_id for r in reports[1:]]
            record_event(
                EventType.RESTORE, agent=actor.name, outcome=Outcome.SUCCESS, location="backup",
                backup_id=reports[0].backup_id, path=str(root), rows=rows, blobs=len(blob_entries),
                keys=len(key_entries), bases=bases_ids,
            )  # fmt: skip
            events.backup_restored(
                actor, reports[0].backup_id, kind=reports[0].kind, rows=rows, blobs=len(blob_entries),
                keys=len(key_entries), manifest_sm3=sm.sm3_hex(main.manifest_bytes), bases=bases_ids,
            )  # fmt: skip
    except BaseException:
        for digest in placed_blobs:
            store.delete(digest)
        if keys_placed:
            shutil.rmtree(key_dir, ignore_errors=True)
            instance_key.cache_clear()
        if secret_placed and old_secret is not None:
            tmp = data_dir / f".secret_key.{os.getpid()}"
            _write_new(tmp, old_secret)
            os.replace(tmp, secret_file)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for path in key_dir.rglob("*") if key_dir.is_dir() else []:
        mode = stat.S_IMODE(path.stat().st_mode)
        os.chmod(path, 0o700 if path.is_dir() else mode & 0o600 or 0o600)
    return RestoreResult(
        backup_id=reports[0].backup_id, kind=reports[0].kind, rows=rows, blobs=len(blob_entries),
        keys=len(key_entries), seconds=round(time.monotonic() - started, 3), bases=bases_ids,
    )  # fmt: skip


def parse_size(text: str) -> int:
    """``4G``, ``650M``, ``64K``, ``1048576`` (binary units)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise BackupError(f"not a size: {text!r} (e.g. 4G, 650M, 64K)", target="--volume-size")
    return int(m[1]) * int(1024 ** "_KMGT".index(m[2].upper() or "_"))
