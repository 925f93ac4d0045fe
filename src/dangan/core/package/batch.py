"""Batch (one exchange of many packages): find the packages in a folder, check them against 批次清单.

A batch folder holds package folders and/or package ZIPs, optionally a batch manifest, and may
nest further batch folders. The manifest is the sender's registration of the exchange; every
disagreement with what actually arrived is reported (a missing package must never go unnoticed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.core.package import schema
from dangan.core.package.metadata import parse_batch_manifest
from dangan.core.package.model import BatchManifest, BatchPackageEntry


@dataclass
class BatchPackage:
    path: Path
    batch: str = ""
    entry: BatchPackageEntry | None = None


@dataclass
class Batch:
    packages: list[BatchPackage] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def is_package_dir(path: Path) -> bool:
    """A package folder has its metadata XML or at least one material folder (then 1-12 explains)."""
    return (path / schema.METADATA_FILENAME).exists() or any(
        (path / folder).is_dir() for folder in schema.CATEGORY_FOLDERS
    )


def package_size(path: Path) -> int:
    """Bytes of a package as the batch manifest counts them: the ZIP file, or all files of a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def package_digest(path: Path) -> str:
    """SM3 as the batch manifest declares it: of the ZIP, or of a folder package's metadata XML."""
    target = path if path.is_file() else path / schema.METADATA_FILENAME
    return sm.sm3_file(str(target)) if target.exists() else ""


def expand(paths: list[Path]) -> Batch:
    """Turn command-line paths into packages (with their manifest entries) and batch-level errors."""
    batch = Batch()
    for p in paths:
        if p.is_file() or (p.is_dir() and is_package_dir(p)):
            batch.packages.append(BatchPackage(p))
        elif p.is_dir():
            _expand_batch(p, batch)
        else:
            batch.errors.append({"code": "NOT_FOUND", "message": f"{p} does not exist", "target": str(p)})
    return batch


def _expand_batch(folder: Path, batch: Batch) -> None:
    manifest_path = folder / schema.BATCH_MANIFEST_FILENAME
    manifest: BatchManifest | None = None
    if manifest_path.exists():
        try:
            manifest = parse_batch_manifest(manifest_path.read_bytes())
        except DanganError as exc:
            batch.errors.append(
                {
                    "code": "BATCH_MANIFEST_INVALID",
                    "message": f"{manifest_path}: {exc.message}",
                    "target": str(manifest_path),
                }
            )
            return  # without a readable registration the exchange cannot be checked: take none of it
    name = (manifest.batch_number if manifest else None) or folder.name
    found: list[Path] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not is_package_dir(child):
            _expand_batch(child, batch)  # a nested batch folder
        elif child.is_dir() or child.suffix.lower() == ".zip":
            found.append(child)
    if not found and manifest is None and not any(c.is_dir() for c in folder.iterdir()):
        batch.errors.append(
            {"code": "NOT_A_PACKAGE", "message": f"{folder} holds no package", "target": str(folder)}
        )
    entries = {e.name: e for e in manifest.packages if e.name} if manifest else {}
    batch.packages += [BatchPackage(p, batch=name, entry=entries.get(p.name)) for p in found]
    if manifest is not None:
        batch.errors += check_manifest(folder, manifest, found)


def check_manifest(folder: Path, manifest: BatchManifest, found: list[Path]) -> list[dict[str, str]]:
    """Registration (批次清单) against arrival: counts, listed vs present, sizes and totals."""
    errors: list[dict[str, str]] = []
    target = str(folder / schema.BATCH_MANIFEST_FILENAME)

    def err(code: str, message: str, where: str = target) -> None:
        errors.append({"code": code, "message": message, "target": where})

    names = {p.name for p in found}
    listed = {e.name for e in manifest.packages if e.name}
    for missing in sorted(listed - names):
        err("BATCH_PACKAGE_MISSING", f"{missing} is listed in the batch manifest but did not arrive", missing)
    for extra in sorted(names - listed):
        err("BATCH_PACKAGE_UNLISTED", f"{extra} arrived but is not listed in the batch manifest", extra)
    if manifest.package_count is not None and manifest.package_count.strip() != str(len(found)):
        err("BATCH_COUNT_MISMATCH", f"包数量 says {manifest.package_count}, {len(found)} packages arrived")
    sizes = {p.name: package_size(p) for p in found}
    for e in manifest.packages:
        if e.name in sizes and e.size is not None and e.size.strip() != str(sizes[e.name]):
            err(
                "BATCH_SIZE_MISMATCH",
                f"{e.name}: 大小 says {e.size}, the package has {sizes[e.name]} bytes",
                e.name,
            )
    if manifest.byte_total is not None and manifest.byte_total.strip() != str(sum(sizes.values())):
        err(
            "BATCH_BYTES_MISMATCH",
            f"总字节数 says {manifest.byte_total}, the packages have {sum(sizes.values())} bytes",
        )
    return errors
