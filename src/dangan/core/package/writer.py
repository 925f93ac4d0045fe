"""Write a case package as a folder or a ZIP (what a service system produces).

``complete`` fills in what must be measured (size, SM3 digest, totals) so producers cannot get it
wrong by hand; the demo generator then breaks things on purpose where it wants to.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from dangan.core import sm
from dangan.core.package import schema
from dangan.core.package.metadata import metadata_xml
from dangan.core.package.model import CasePackage


def complete(pkg: CasePackage, files: Mapping[str, bytes]) -> CasePackage:
    """Set size, SM3 digest, format and sequence of each declared file from ``files``, and the totals."""
    for i, step in enumerate(pkg.steps, 1):
        step.sequence = step.sequence or str(i)
    for i, entry in enumerate(pkg.files, 1):
        entry.sequence = entry.sequence or str(i)
        if entry.path is None or entry.path not in files:
            continue
        data = files[entry.path]
        entry.size = str(len(data))
        entry.digest = sm.sm3_hex(data)
        entry.digest_algorithm = "SM3"
        if not entry.format:
            entry.format = PurePosixPath(entry.path).suffix.lstrip(".").upper()
    pkg.declared_file_count = str(len(pkg.files))
    pkg.declared_byte_total = str(
        sum(len(files[e.path]) for e in pkg.files if e.path is not None and e.path in files)
    )
    if pkg.case.total_pieces is None:
        pkg.case.total_pieces = str(len(pkg.files))
    return pkg


def package_name(pkg: CasePackage) -> str:
    """Folder/ZIP name: the electronic file number (电子文件号), made safe for a file system."""
    name = pkg.file_number or "unnamed"
    return "".join(c if c not in '/\\:*?"<>|' else "_" for c in name)


def write_folder(
    pkg: CasePackage, files: Mapping[str, bytes], dest: Path, *, metadata: bytes | None = None
) -> Path:
    """Write ``dest/<电子文件号>/`` with the metadata XML and files. Returns the folder."""
    root = dest / package_name(pkg)
    root.mkdir(parents=True, exist_ok=False)
    (root / schema.METADATA_FILENAME).write_bytes(metadata if metadata is not None else metadata_xml(pkg))
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def write_zip(
    pkg: CasePackage, files: Mapping[str, bytes], dest: Path, *, metadata: bytes | None = None
) -> Path:
    """Write ``dest/<电子文件号>.zip`` (UTF-8 names, deflate). Written to a temp name, then renamed."""
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / f"{package_name(pkg)}.zip"
    tmp = final.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(schema.METADATA_FILENAME, metadata if metadata is not None else metadata_xml(pkg))
        for rel, data in files.items():
            zf.writestr(rel, data)
    os.replace(tmp, final)
    return final
