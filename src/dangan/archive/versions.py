"""Building a new version of an archived case package: the pieces ``archive.services`` puts together.

A new AIP version (容缺 supplement or correction) starts from the current version's case package: its
metadata XML (parsed) and its content files (blobs). The changes are applied to both: supplied files
are added with a 文件信息 entry, replaced files get the new bytes under their path (the extension
follows the new file), corrected metadata values are set. The metadata XML is then rewritten with
the measured sizes and SM3 digests and the new totals, so the result is again a complete, consistent
case package — and the archiving-stage checks (四性检测, the same profile as at intake) run on it as
they would on a package a sender sent. Nothing here writes to the database; files are only written
under a work folder in quarantine.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.core.package import schema
from dangan.core.package.intake import ReceivedPackage
from dangan.core.package.model import Applicant, CasePackage, FileEntry, FileFacts
from dangan.storage.blobstore import FileBlobStore

CHUNK = 1024 * 1024
MAX_REASON = 2000
# Metadata items a correction may not change: the case's identity and what the 档号 is made of
# (the 档号 stays the same across versions), and the totals, which are measured.
NOT_CORRECTABLE = {
    (schema.Group.CASE, "file_number"),
    (schema.Group.CASE, "fonds_code"),
    (schema.Group.CASE, "retention"),
    (schema.Group.CASE, "total_pieces"),
}
_UNSAFE_NAME = set('/\\:*?"<>|')


def correctable_elements() -> list[tuple[str, schema.Element]]:
    """``("<group>/<element>", element)`` for every metadata item a correction may change."""
    out = []
    for group in (schema.Group.CASE, schema.Group.APPLICANT):
        for e in schema.elements_of(group):
            if (group, e.attr) not in NOT_CORRECTABLE:
                out.append((f"{group.value}/{e.name}", e))
    return out


CORRECTABLE = dict(correctable_elements())


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Upload:
    """A file an officer supplies: for a missing material (``material_code``) or replacing ``replaces``."""

    filename: str
    stream: Readable  # a file object or Django's UploadedFile
    material_code: str = ""
    category: str = ""  # supplement: material category (folder); inferred when empty
    replaces: str = ""  # correction: package path of the file it replaces
    derived_from: str = ""  # migration: package path of the original this file was derived from
    note: Mapping[str, Any] | None = None  # migration: tools, timings, validator result (change log)


@dataclass
class Staged:
    upload: Upload
    path: Path  # in the work folder
    facts: FileFacts  # path = "" until placed in the package


@dataclass
class Draft:
    """The new version's case package, assembled in a work folder."""

    pkg: CasePackage
    root: Path  # package root in the work folder
    reused: dict[str, str] = field(default_factory=dict)  # package path -> sm3 of the blob it reuses
    staged: dict[str, Staged] = field(default_factory=dict)  # package path -> supplied/replacing file
    supplied: list[dict[str, str]] = field(default_factory=list)
    replaced: list[dict[str, str]] = field(default_factory=list)
    metadata_changes: list[dict[str, str | None]] = field(default_factory=list)
    derived: list[dict[str, Any]] = field(default_factory=list)


def clean_reason(reason: str, *, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DanganError(f"a reason is required {what}", code="REASON_REQUIRED", target="reason")
    if len(reason) > MAX_REASON:
        raise DanganError(
            f"the reason is longer than {MAX_REASON} characters", code="REASON_TOO_LONG", target="reason"
        )
    return reason


def _extension(filename: str) -> str:
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    if not suffix or len(suffix) > 10 or not suffix[1:].isalnum():
        raise DanganError(
            f"{filename!r} has no file extension such as .pdf (the format is checked against it)",
            code="FILE_NAME_INVALID",
            target=filename,
        )
    return suffix


def _safe_name(text: str) -> str:
    """A file-name part without characters some systems cannot store (check 1-6) or control characters."""
    cleaned = "".join(
        "_" if c in _UNSAFE_NAME or unicodedata.category(c).startswith("C") else c
        for c in unicodedata.normalize("NFC", text)
    ).strip(" .")
    return cleaned[:120] or "材料"


def stage(uploads: Sequence[Upload], work: Path, *, budget: int) -> list[Staged]:
    """Copy each upload into ``work`` while hashing it (SM3 and SHA-256); refuse empty, unnamed and
    oversized files. ``budget`` is the most bytes all uploads together may have."""
    staged: list[Staged] = []
    work.mkdir(parents=True, exist_ok=True)
    for i, up in enumerate(uploads):
        _extension(up.filename)
        target = work / f"upload-{i}"
        hasher = sm.DualHasher()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while block := up.stream.read(CHUNK):
                budget -= len(block)
                if budget < 0:
                    raise DanganError(
                        f"{up.filename} is too large: the package may not exceed the intake limit",
                        code="FILE_TOO_LARGE",
                        target=up.filename,
                    )
                hasher.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.result()
        if digest.size == 0:
            raise DanganError(f"{up.filename} is empty", code="EMPTY_FILE", target=up.filename)
        staged.append(Staged(up, target, FileFacts("", digest.size, digest.sm3, digest.sha256)))
    return staged


def _infer_category(pkg: CasePackage, code: str) -> str:
    """The folder of a supplied material: that of another material with the same code letter, else 申报材料."""
    for e in pkg.files:
        same_letter = bool(e.material_code and code and e.material_code[:1] == code[:1])
        if same_letter and e.category in schema.CATEGORY_FOLDERS:
            return str(e.category)
    return schema.CATEGORY_FOLDERS[0]


def _free_path(folder: str, stem: str, ext: str, taken: set[str]) -> str:
    path = f"{folder}/{stem}{ext}"
    n = 2
    while path.casefold() in taken:
        path = f"{folder}/{stem}-{n}{ext}"
        n += 1
    return path


def add_supplied(draft: Draft, staged: Staged, *, code: str, name: str, now: str) -> None:
    """Add a supplied material: a 文件信息 entry and the file at ``<category>/<material name>.<ext>``."""
    up = staged.upload
    category = up.category or _infer_category(draft.pkg, code)
    if category not in schema.CATEGORY_FOLDERS:
        raise DanganError(
            f"unknown material category {category!r}; one of {', '.join(schema.CATEGORY_FOLDERS)}",
            code="UNKNOWN_CATEGORY",
            target=category,
        )
    ext = _extension(up.filename)
    taken = {(e.path or "").casefold() for e in draft.pkg.files} | {p.casefold() for p in draft.staged}
    path = _free_path(category, _safe_name(name or code), ext, taken)
    sequences = [int(e.sequence or 0) for e in draft.pkg.files if (e.sequence or "").isdigit()]
    draft.pkg.files.append(
        FileEntry(
            sequence=str(max(sequences, default=len(draft.pkg.files)) + 1),
            material_code=code,
            category=category,
            standard_name=name or code,
            actual_name=_safe_name(PurePosixPath(up.filename.replace("\\", "/")).name),
            path=path,
            format=ext.lstrip(".").upper(),
            created_at=now,
        )
    )
    draft.staged[path] = staged
    draft.supplied.append({"code": code, "name": name, "path": path, "sm3": staged.facts.sm3})


def add_derived(draft: Draft, staged: Staged, *, now: str) -> None:
    """Add a file derived from an original by format migration (格式迁移) beside it: same category
    and material code, path ``<original path><ext>`` (e.g. ``申报材料/申请书.docx.pdf``). The original
    stays as it is; the link original → derived goes into the change log (``draft.derived``)."""
    up = staged.upload
    source = up.derived_from
    entry = next((e for e in draft.pkg.files if e.path == source), None)
    if entry is None or source not in draft.reused:
        raise DanganError(
            f"the record has no content file {source!r} to derive from", code="UNKNOWN_FILE", target=source
        )
    ext = _extension(up.filename)
    parent = str(PurePosixPath(source).parent)
    taken = {(e.path or "").casefold() for e in draft.pkg.files} | {p.casefold() for p in draft.staged}
    path = _free_path(parent, PurePosixPath(source).name, ext, taken)
    sequences = [int(e.sequence or 0) for e in draft.pkg.files if (e.sequence or "").isdigit()]
    draft.pkg.files.append(
        FileEntry(
            sequence=str(max(sequences, default=len(draft.pkg.files)) + 1),
            material_code=entry.material_code,
            category=entry.category,
            standard_name=entry.standard_name,
            actual_name=_safe_name(PurePosixPath(entry.actual_name or source).name + ext),
            path=path,
            format=ext.lstrip(".").upper(),
            created_at=now,
        )
    )
    draft.staged[path] = staged
    draft.derived.append(
        {"source": source, "source_sm3": draft.reused[source], "path": path, "sm3": staged.facts.sm3,
         **dict(up.note or {})}
    )  # fmt: skip


def replace_file(draft: Draft, staged: Staged) -> None:
    """Replace a content file: new bytes under the same name (the extension follows the new file)."""
    up = staged.upload
    old = up.replaces
    entry = next((e for e in draft.pkg.files if e.path == old), None)
    if entry is None or old not in draft.reused:
        raise DanganError(
            f"the record has no content file {old!r} to replace", code="UNKNOWN_FILE", target=old
        )
    if draft.reused[old] == staged.facts.sm3:
        raise DanganError(
            f"{up.filename} has exactly the bytes of {old}: replacing it would change nothing",
            code="NOTHING_TO_CHANGE",
            target=old,
        )
    ext = _extension(up.filename)
    new = str(PurePosixPath(old).with_suffix(ext))
    if new != old and any((e.path or "").casefold() == new.casefold() for e in draft.pkg.files):
        raise DanganError(
            f"replacing {old} with a {ext} file would collide with {new}", code="PATH_COLLISION", target=old
        )
    old_sm3 = draft.reused.pop(old)
    entry.path = new
    entry.actual_name = _safe_name(PurePosixPath(up.filename.replace("\\", "/")).name)
    entry.format = ext.lstrip(".").upper()
    for lic in draft.pkg.licenses:
        if lic.path == old:
            lic.path = new
    draft.staged[new] = staged
    draft.replaced.append({"path": old, "new_path": new, "old_sm3": old_sm3, "new_sm3": staged.facts.sm3})


def apply_metadata(draft: Draft, changes: Mapping[str, str], *, record_year: int) -> None:
    """Set corrected metadata values (keys ``<group>/<element>``); values equal to the current ones are
    ignored. A new 办结时间 must keep the record's year (the 档号 is made with it)."""
    pkg = draft.pkg
    for key, raw in changes.items():
        element = CORRECTABLE.get(key)
        if element is None:
            raise DanganError(
                f"{key!r} is not a metadata item a correction may change", code="UNKNOWN_FIELD", target=key
            )
        value = (raw or "").strip()
        target: Any = pkg.case
        if element.group == schema.Group.APPLICANT:
            if pkg.case.applicant is None and value:
                pkg.case.applicant = Applicant()
            target = pkg.case.applicant
        old = getattr(target, element.attr) if target is not None else None
        if (old or "") == value:
            continue
        if element.attr == "completed_at" and element.group == schema.Group.CASE:
            parsed = parse_dt(value)
            if parsed is not None and parsed.year != record_year:
                raise DanganError(
                    f"办结时间 {value} is in another year than the record's {record_year}: the archival code "
                    "is made with the year and stays the same across versions",
                    code="FIELD_CHANGES_ARCHIVAL_CODE",
                    target=key,
                )
        setattr(target, element.attr, value)
        draft.metadata_changes.append({"field": key, "old": old, "new": value})


def place(draft: Draft, store: FileBlobStore) -> ReceivedPackage:
    """Write the draft package into its work folder and measure every file as intake would.

    Reused files are hard links to their blobs (read-only, nothing copied) and are re-hashed here, so a
    rotted stored copy is found before a new version is sealed over it. The metadata XML is written
    last, with each entry's size and SM3 digest and the totals.
    """
    root = draft.root
    root.mkdir(parents=True)
    files: dict[str, FileFacts] = {}
    for path, digest in sorted(draft.reused.items()):
        target = _target(root, path)
        try:
            os.link(store.path(digest), target)
        except FileNotFoundError:
            raise DanganError(
                f"the stored copy of {path} is missing; run `dangan verify`", code="BLOB_MISSING", target=path
            ) from None
        except OSError:  # another file system, or links not allowed: copy
            shutil.copyfile(store.path(digest), target)
        facts = _measure(target, path)
        if facts.sm3 != digest:
            raise DanganError(
                f"the stored copy of {path} does not match its digest; run `dangan verify`",
                code="BLOB_CORRUPT",
                target=path,
            )
        files[path] = facts
    for path, staged in sorted(draft.staged.items()):
        target = _target(root, path)
        os.replace(staged.path, target)
        staged.path = target
        staged.facts = dataclasses.replace(staged.facts, path=path)
        files[path] = staged.facts
    by_path = {e.path: e for e in draft.pkg.files if e.path}
    for path, facts in files.items():
        entry = by_path.get(path)
        if entry is not None:
            entry.size = str(facts.size)
            entry.digest = facts.sm3
            entry.digest_algorithm = "SM3"
    pkg = draft.pkg
    pkg.declared_file_count = str(len(pkg.files))
    pkg.declared_byte_total = str(sum(int(e.size or 0) for e in pkg.files if e.path in files))
    if pkg.case.total_pieces is not None:
        pkg.case.total_pieces = str(len(pkg.files))
    from dangan.core.package.metadata import metadata_xml

    meta = metadata_xml(pkg)
    meta_path = _target(root, schema.METADATA_FILENAME)
    meta_path.write_bytes(meta)
    files[schema.METADATA_FILENAME] = _measure(meta_path, schema.METADATA_FILENAME)
    return ReceivedPackage(root=root, source_name=root.name, files=files)


def _target(root: Path, path: str) -> Path:
    target = root.joinpath(*path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _measure(path: Path, rel: str) -> FileFacts:
    hasher = sm.DualHasher()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            hasher.update(block)
    d = hasher.result()
    return FileFacts(rel, d.size, d.sm3, d.sha256)


def parse_dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def metadata_json(pkg: CasePackage) -> dict[str, Any]:
    """The package metadata as the record keeps it (the same shape intake stores)."""

    def factory(items: list[tuple[str, Any]]) -> dict[str, Any]:
        return {k: (sorted(v) if isinstance(v, set) else v) for k, v in items}

    return dataclasses.asdict(pkg, dict_factory=factory)


def record_columns(pkg: CasePackage) -> dict[str, Any]:
    """The record's searchable columns that come from the metadata (as intake sets them)."""
    return {
        "title": (pkg.case.title or "")[:500],
        "case_number": (pkg.case.case_number or "")[:100],
        "applicant_name": ((pkg.case.applicant.name if pkg.case.applicant else "") or "")[:200],
        "accepted_at": parse_dt(pkg.case.accepted_at),
        "completed_at": parse_dt(pkg.case.completed_at),
    }
