"""Leftovers of interrupted work in the primary store: orphan blobs and temporary files.

A killed ingest can leave (a) blobs written into the store before the record's transaction committed
— content no record or AIP refers to — and (b) half-written temporary files in ``blobs/tmp``. Neither
is ever counted as a record (the fault tests check that), but they take space and, for (a), hold
personal data nobody manages. ``find_leftovers`` lists them; ``remove_leftovers`` deletes them.

Safety: only blobs untouched for ``older_than`` (default a day) are candidates — the store refreshes
a blob's mtime whenever an ingest finds it already there (``FileBlobStore._claim``), so a blob an ingest
in progress is about to reference is never old. Referenced means: a content file of any record (the
pre-archive library included) or any file of any AIP version. Every removal is audited.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from dangan.accounts.roles import Actor, Perm, require_all_fonds
from dangan.archive.models import AipFile, RecordFile
from dangan.audit import events
from dangan.storage.blobstore import default_store

DEFAULT_OLDER_THAN = 24 * 3600.0  # seconds


@dataclass
class Leftovers:
    orphan_blobs: list[str] = field(default_factory=list)
    orphan_bytes: int = 0
    temp_files: list[str] = field(default_factory=list)
    temp_bytes: int = 0
    removed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def empty(self) -> bool:
        return not self.orphan_blobs and not self.temp_files


def _referenced() -> set[str]:
    refs = set(RecordFile.objects.values_list("sm3", flat=True).distinct().iterator(chunk_size=5000))
    refs.update(AipFile.objects.values_list("sm3", flat=True).distinct().iterator(chunk_size=5000))
    return refs


def _is_referenced(digest: str) -> bool:
    return RecordFile.objects.filter(sm3=digest).exists() or AipFile.objects.filter(sm3=digest).exists()


def _put_back(store: Any, digest: str, held: Any) -> None:
    """Return a blob that was claimed meanwhile to its address (unless an ingest stored it anew)."""
    target = store.path(digest)
    with contextlib.suppress(FileExistsError):  # never replace a fresh copy an ingest wrote meanwhile
        os.link(held, target)
    os.unlink(held)


def find_leftovers(actor: Actor, *, older_than: float = DEFAULT_OLDER_THAN) -> Leftovers:
    """Orphan blobs and temporary files in the primary store not touched for ``older_than`` seconds."""
    require_all_fonds(actor, Perm.VERIFY)
    store = default_store()
    cutoff = time.time() - older_than
    found = Leftovers()
    referenced = _referenced()
    for digest in store.digests():
        if digest in referenced:
            continue
        try:
            st = store.path(digest).stat()
        except FileNotFoundError:
            continue
        if st.st_mtime < cutoff:
            found.orphan_blobs.append(digest)
            found.orphan_bytes += st.st_size
    if store.tmp.is_dir():
        for entry in sorted(store.tmp.iterdir()):
            try:
                st = entry.lstat()
            except FileNotFoundError:
                continue
            if entry.is_file() and st.st_mtime < cutoff:
                found.temp_files.append(entry.name)
                found.temp_bytes += st.st_size
    return found


def remove_leftovers(actor: Actor, *, older_than: float = DEFAULT_OLDER_THAN) -> Leftovers:
    """Delete what ``find_leftovers`` finds. Each orphan is first renamed out of its address into
    ``blobs/trash`` (from then on an ingest that looks for it finds nothing and stores a fresh copy),
    then checked again — still unreferenced and still untouched (an ingest that found it just before
    the rename refreshed its time) — and only then deleted; otherwise it is put back."""
    require_all_fonds(actor, Perm.VERIFY)
    found = find_leftovers(actor, older_than=older_than)
    store = default_store()
    cutoff = time.time() - older_than
    trash = store.root / "trash"
    removed: list[str] = []
    if found.orphan_blobs:
        trash.mkdir(mode=0o700, exist_ok=True)
    for digest in found.orphan_blobs:
        held = trash / digest
        try:
            os.rename(store.path(digest), held)
        except FileNotFoundError:
            continue
        if held.stat().st_mtime >= cutoff or _is_referenced(digest):
            _put_back(store, digest, held)
            continue
        os.unlink(held)
        removed.append(digest)
    for name in found.temp_files:
        try:
            os.unlink(store.tmp / name)
        except FileNotFoundError:
            continue
    found.orphan_blobs = removed
    found.removed = True
    events.storage_cleaned(
        actor,
        orphan_blobs=len(removed),
        orphan_bytes=found.orphan_bytes,
        temp_files=len(found.temp_files),
        older_than_hours=round(older_than / 3600, 2),
    )
    return found
