"""Fixity: re-hash every stored AIP and check its signed manifest chain.

For each AIP: every blob is re-hashed (SM3) against its address; the SM2 signature over
tagmanifest-sm3.txt is verified with the signer certificate the bag carries, which must be this
instance's; the tag manifest must list the tag files as stored; the payload manifest must list
the payload files as stored. A change to a blob, to a database row, or to a manifest is found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import Max

from dangan.accounts.roles import Actor, Perm, require
from dangan.archive.models import Aip, Record, RecordFile
from dangan.archive.services import instance_key
from dangan.archive.states import RecordStatus
from dangan.audit import events
from dangan.core import sm
from dangan.core.errors import DanganError
from dangan.core.package import aip as bag
from dangan.storage.blobstore import BlobMissing, FileBlobStore, default_store

TAGMANIFEST = "tagmanifest-sm3.txt"
SIGNATURE = "tagmanifest-sm3.txt.sig"
SIGNER = "dangan/signer.pem"


@dataclass
class FixityProblem:
    archival_code: str
    path: str
    code: str  # BLOB_MISSING | DIGEST_MISMATCH | SIGNATURE_INVALID | SIGNER_UNTRUSTED | MANIFEST_MISMATCH
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FixityReport:
    aips: int
    files: int
    bytes: int
    problems: list[FixityProblem]

    @property
    def intact(self) -> bool:
        return not self.problems


def _read(store: FileBlobStore, digest: str) -> bytes:
    with store.open(digest) as f:
        return f.read()


def verify_aip(
    aip: Aip, store: FileBlobStore, trusted_fingerprint: str, cache: dict[str, str | None]
) -> list[FixityProblem]:
    code = aip.record.archival_code or aip.record.file_number
    problems: list[FixityProblem] = []
    files = {f.path: f for f in aip.files.all()}
    intact: set[str] = set()
    for f in files.values():
        if f.sm3 not in cache:
            try:
                cache[f.sm3] = store.rehash(f.sm3)
            except BlobMissing:
                cache[f.sm3] = None
        actual = cache[f.sm3]
        if actual is None:
            problems.append(
                FixityProblem(code, f.path, "BLOB_MISSING", f"stored copy of {f.path} is missing")
            )
        elif actual != f.sm3:
            problems.append(
                FixityProblem(code, f.path, "DIGEST_MISMATCH", f"{f.path}: SM3 is {actual}, recorded {f.sm3}")
            )
        else:
            intact.add(f.path)

    if not {TAGMANIFEST, SIGNATURE, SIGNER} <= intact:
        if not {TAGMANIFEST, SIGNATURE, SIGNER} <= set(files):
            problems.append(
                FixityProblem(code, TAGMANIFEST, "MANIFEST_MISMATCH", "signature files are not recorded")
            )
        return problems
    tagmanifest = _read(store, files[TAGMANIFEST].sm3)
    signature = _read(store, files[SIGNATURE].sm3)
    cert_der = sm.certificate_der_from_pem(_read(store, files[SIGNER].sm3))
    if sm.sm3_hex(cert_der) != trusted_fingerprint:
        problems.append(
            FixityProblem(code, SIGNER, "SIGNER_UNTRUSTED", "the bag was not signed by this instance's key")
        )
    if not sm.verify(sm.public_key_from_certificate(cert_der), tagmanifest, signature):
        problems.append(
            FixityProblem(code, SIGNATURE, "SIGNATURE_INVALID", "SM2 signature over the tag manifest fails")
        )
        return problems
    for path, digest in bag.parse_manifest(tagmanifest).items():
        if path not in files or files[path].sm3 != digest:
            problems.append(
                FixityProblem(code, path, "MANIFEST_MISMATCH", f"{path} differs from the signed tag manifest")
            )
    if "manifest-sm3.txt" in intact:
        listed = bag.parse_manifest(_read(store, files["manifest-sm3.txt"].sm3))
        stored = {p: f.sm3 for p, f in files.items() if p.startswith("data/")}
        for path in sorted(set(listed) | set(stored)):
            if listed.get(path) != stored.get(path):
                problems.append(
                    FixityProblem(
                        code, path, "MANIFEST_MISMATCH", f"{path} differs from the signed payload manifest"
                    )
                )
    return problems


def _record_matches_aip(aip: Aip) -> list[FixityProblem]:
    """The record's file list (what downloads and the UI use) must equal the AIP's payload."""
    code = aip.record.archival_code or aip.record.file_number
    payload = {f.path.removeprefix("data/"): f.sm3 for f in aip.files.all() if f.path.startswith("data/")}
    rows = dict(RecordFile.objects.filter(record_id=aip.record_id).values_list("path", "sm3"))
    return [
        FixityProblem(code, path, "RECORD_MISMATCH", f"record file {path} differs from the AIP's payload")
        for path in sorted(set(payload) | set(rows))
        if payload.get(path) != rows.get(path)
    ]


def verify_all(actor: Actor, *, progress: Callable[[int, int], None] | None = None) -> FixityReport:
    require(actor, Perm.VERIFY)
    store = default_store()
    trusted = instance_key().fingerprint
    aips = Aip.objects.select_related("record").prefetch_related("files").order_by("id")
    total = aips.count()
    problems: list[FixityProblem] = []
    cache: dict[str, str | None] = {}
    files = size = 0
    # Every version is verified; the record's file rows describe its current (highest) version only.
    current = dict(
        Aip.objects.order_by().values("record_id").annotate(v=Max("version")).values_list("record_id", "v")
    )
    for i, aip in enumerate(aips.iterator(chunk_size=200), 1):
        try:
            problems += verify_aip(aip, store, trusted, cache)
        except DanganError as exc:  # e.g. a signer file that is no certificate: report, go on
            code = aip.record.archival_code or aip.record.file_number
            problems.append(FixityProblem(code, SIGNER, exc.code, exc.message))
        if current.get(aip.record_id) == aip.version:
            problems += _record_matches_aip(aip)
        files += aip.file_count
        size += aip.byte_total
        if progress:
            progress(i, total)
    for record in Record.objects.filter(status=RecordStatus.ARCHIVED, aips__isnull=True):
        problems.append(
            FixityProblem(
                record.archival_code or record.file_number, "", "AIP_MISSING", "archived record has no AIP"
            )
        )
    events.fixity_audit_run(actor, aips=total, problems=len(problems))
    return FixityReport(aips=total, files=files, bytes=size, problems=problems)
