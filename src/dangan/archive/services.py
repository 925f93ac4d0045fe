"""Formal-library use-cases: confirm (档号 + AIP), return, read files, export the AIP, and new AIP
versions: supplying materials missing at archiving (容缺补充) and corrections (更正).

Archival codes are allocated inside the same transaction that writes the AIP rows and flips the
record to ARCHIVED, under a row lock on the group's counter: if anything fails, the counter
increment rolls back with it, so there are no gaps and no duplicates, however many confirmations
run at once. The AIP's payload blobs already exist (stored at intake); only the small tag files
are written here, so the lock is held for milliseconds.

A new version is assembled, checked and sealed outside the lock, based on the current version; its
blobs are stored before the transaction; the transaction then locks the record, makes sure no other
version was written meanwhile (else VERSION_CONFLICT; (record, version) is also unique) and writes the
version rows. The 档号 stays; earlier versions stay exactly as they were.
"""

from __future__ import annotations

import functools
import json
import shutil
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from lxml import etree

from dangan.accounts.roles import Actor, Perm, PermissionDenied, require, scoped
from dangan.archive import versions
from dangan.archive.models import Aip, AipFile, ArchivalCodeCounter, Record, RecordFile
from dangan.archive.states import GAP, RECORD, GapStatus, RecordStatus, VersionKind
from dangan.audit import events
from dangan.core import sm, xmlsafe
from dangan.core.checks.context import build_context
from dangan.core.checks.model import CheckReport, Stage
from dangan.core.codes import CodePattern, retention_label
from dangan.core.errors import DanganError, MetadataError
from dangan.core.errors import IntegrityError as FixityError
from dangan.core.package import aip as bag
from dangan.core.package import schema
from dangan.core.package.intake import ReceivedPackage
from dangan.core.package.metadata import parse_metadata
from dangan.core.package.model import CasePackage
from dangan.core.sm import InstanceKey
from dangan.storage.blobstore import BlobMissing, default_store

Upload = versions.Upload

DESCRIPTION_FILE = "dangan/archival-description.xml"
REPORT_FILE = "dangan/check-report.json"


class RecordNotFound(DanganError):
    code = "RECORD_NOT_FOUND"


def visible_records(actor: Actor, perm: Perm = Perm.VIEW_RECORDS) -> QuerySet[Record]:
    """Every record in the fonds where ``actor`` holds ``perm`` (lists, counts, selections)."""
    require(actor, perm)
    return scoped(Record.objects.all(), actor, perm)


def read_record(actor: Actor, record_id: int, *, channel: str, what: str = "record") -> Record:
    """One record for reading (its page, its API answer, its report): scoped and audited."""
    require(actor, Perm.VIEW_RECORDS)
    record = Record.objects.select_related("fonds", "service_item").filter(pk=record_id).first()
    if record is None or not actor.can(Perm.VIEW_RECORDS, record.fonds_id):
        raise RecordNotFound(f"no record with id {record_id}")
    events.record_viewed(
        actor, record.pk, channel=channel, what=what, archival_code=record.archival_code or ""
    )
    return record


def check_record_scope(actor: Actor, perm: Perm, record: Record) -> None:
    """Refuse ``perm`` on a record outside the actor's fonds. A record the actor may not even see is
    reported as not found (its existence is not disclosed); one it may see, as not permitted."""
    if actor.can(perm, record.fonds_id):
        return
    if actor.can(Perm.VIEW_RECORDS, record.fonds_id) or actor.can(Perm.VIEW_SUBMISSIONS, record.fonds_id):
        raise PermissionDenied(actor, perm, record.fonds_id)
    raise RecordNotFound(f"no record with id {record.pk}")


class VersionConflict(DanganError):
    code = "VERSION_CONFLICT"


class ChecksFailed(DanganError):
    """The new version's package fails the archiving-stage checks; ``errors`` lists the failures."""

    code = "CHECKS_FAILED"

    def __init__(self, message: str, *, errors: list[dict[str, str]], report: dict[str, Any]) -> None:
        super().__init__(message)
        self.errors = errors
        self.report = report


@functools.cache
def instance_key() -> InstanceKey:
    """This instance's SM2 key and certificate (created on first use under DANGAN_HOME/keys)."""
    return InstanceKey.ensure(
        Path(settings.KEY_DIR),
        common_name=settings.INSTANCE_NAME,
        organization=settings.INSTANCE_ORGANIZATION,
    )


def class_code_of(record: Record) -> str:
    """The 机构(问题)代码 of the record's 档号: its own class (re-classified) or its service item's."""
    if record.archive_class_id is not None and record.archive_class is not None:
        return record.archive_class.code
    return record.service_item.class_code


def code_values(record: Record) -> dict[str, str]:
    item = record.service_item
    return {
        "fonds": record.fonds.code,
        "category": item.category_code,
        "year": str(record.year),
        "retention": record.retention,
        "class": class_code_of(record),
        "item": item.code,
    }


def allocate_archival_code(record: Record) -> str:
    """Next code in the record's group. Must run inside the confirming transaction."""
    pattern = CodePattern.parse(record.fonds.archival_code_pattern)
    values = code_values(record)
    key = pattern.group_key(values)
    ArchivalCodeCounter.objects.bulk_create(
        [ArchivalCodeCounter(group_key=key, last_piece=0)], ignore_conflicts=True
    )
    counter = ArchivalCodeCounter.objects.select_for_update().get(group_key=key)
    counter.last_piece += 1
    counter.save(update_fields=["last_piece"])
    return pattern.format(values, counter.last_piece)


@dataclass(frozen=True)
class Revision:
    """What a version after the first records about itself in its archival description."""

    version: int
    kind: VersionKind
    previous_version: int
    previous_tagmanifest_sm3: str
    reason: str
    by: str
    at: str
    changes: Mapping[str, Any]


def _description_xml(
    record: Record,
    archival_code: str,
    actor: Actor,
    archived_at: str,
    *,
    version: int = 1,
    content_digest: str | None = None,
    gap_reason: str = "",
    gap: Sequence[Mapping[str, str]] = (),
    gap_status: str = "",
    revision: Revision | None = None,
) -> bytes:
    """档案描述 of one AIP version. ``actor``/``archived_at`` are who confirmed the record and when
    (the same in every version); a later version adds 版本信息 naming the previous version."""
    root = etree.Element("档案描述")
    fields = [
        ("档号", archival_code),
        ("电子文件号", record.file_number),
        ("全宗号", record.fonds.code),
        ("立档单位名称", record.fonds.name),
        ("事项编码", record.service_item.code),
        ("事项名称", record.service_item.name),
        ("年度", str(record.year)),
        ("保管期限", record.retention),
        ("保管期限名称", retention_label(record.retention)),
        ("保管期限依据", record.retention_basis),
        ("题名", record.title),
        ("办件编号", record.case_number),
        ("归档时间", archived_at),
        ("归档确认人", actor.name),
        ("内容摘要", content_digest or record.content_digest),
        ("版本", str(version)),
    ]
    for tag, value in fields:
        etree.SubElement(root, tag).text = value
    if gap_reason or gap:
        block = etree.SubElement(root, "容缺归档")
        etree.SubElement(block, "容缺原因").text = gap_reason
        etree.SubElement(block, "容缺状态").text = gap_status or GapStatus.OPEN.value
        for m in gap:
            el = etree.SubElement(block, "缺少材料", 编码=m.get("code", ""))
            el.text = m.get("name", "")
    if revision is not None:
        info = etree.SubElement(root, "版本信息")
        etree.SubElement(
            info,
            "前一版本",
            版本号=str(revision.previous_version),
            标签清单SM3=revision.previous_tagmanifest_sm3,
        )
        etree.SubElement(info, "变更类型").text = revision.kind.value
        etree.SubElement(info, "变更原因").text = revision.reason
        etree.SubElement(info, "变更人").text = revision.by
        etree.SubElement(info, "变更时间").text = revision.at
        for m in revision.changes.get("supplied", []):
            el = etree.SubElement(info, "补充材料", 编码=m["code"], 路径=m["path"], SM3=m["sm3"])
            el.text = m.get("name", "")
        for r in revision.changes.get("replaced", []):
            etree.SubElement(
                info,
                "替换文件",
                原路径=r["path"],
                新路径=r["new_path"],
                原SM3=r["old_sm3"],
                新SM3=r["new_sm3"],
            )
        for d in revision.changes.get("migrated", []):
            el = etree.SubElement(
                info, "格式迁移", 原路径=d["source"], 原SM3=d["source_sm3"], 新路径=d["path"], 新SM3=d["sm3"]
            )
            el.text = str(d.get("agent", ""))
        for c in revision.changes.get("metadata", []):
            el = etree.SubElement(info, "元数据更正", 项=c["field"])
            etree.SubElement(el, "原值").text = c["old"] if c["old"] is not None else ""
            etree.SubElement(el, "新值").text = c["new"] or ""
    return xmlsafe.serialize(root)


def _payload(record: Record) -> list[bag.PayloadFile]:
    return [
        bag.PayloadFile(path=f.path, size=f.size, sm3=f.sm3, sha256=f.sha256)
        for f in RecordFile.objects.filter(record=record).order_by("path")
    ]


def _bag_info(record: Record, code: str, version: int, previous: Aip | None) -> dict[str, str]:
    info = {
        "Source-Organization": record.fonds.name,
        "External-Identifier": code,
        "External-Description": record.title.replace("\n", " ").replace("\r", " "),
        "Internal-Sender-Identifier": record.file_number,
        "Bag-Group-Identifier": record.fonds.code,
        "Dangan-AIP-Version": str(version),
    }
    if previous is not None:
        info["Dangan-Previous-Version"] = str(previous.version)
        info["Dangan-Previous-Tagmanifest-SM3"] = previous.tagmanifest_sm3
    return info


def _seal(
    payload: list[bag.PayloadFile],
    *,
    bag_info: dict[str, str],
    description: bytes,
    report: dict[str, Any],
    key: InstanceKey,
    when: Any,
) -> list[bag.BagFile]:
    """Build and sign the bag's tag files and store them (the payload blobs exist already)."""
    store = default_store()
    files = bag.build_bag(
        payload,
        bag_info=bag_info,
        tag_files={
            DESCRIPTION_FILE: description,
            REPORT_FILE: json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True).encode(),
        },
        signer=key,
        bagging_date=timezone.localdate(when),
    )
    for f in files:
        if f.content is not None:
            store.put_bytes(f.content)
    return files


def _write_aip(record: Record, files: list[bag.BagFile], key: InstanceKey, **fields: Any) -> Aip:
    tagmanifest = next(f for f in files if f.path == bag.TAGMANIFEST_SM3)
    aip = Aip.objects.create(
        record=record,
        tagmanifest_sm3=tagmanifest.sm3,
        signer_fingerprint=key.fingerprint,
        file_count=len(files),
        byte_total=sum(f.size for f in files),
        **fields,
    )
    AipFile.objects.bulk_create(
        [AipFile(aip=aip, path=f.path, size=f.size, sm3=f.sm3, sha256=f.sha256) for f in files]
    )
    return aip


def confirm(actor: Actor, record_id: int, *, rule: str = "", gap_reason: str = "") -> Record:
    """Move a pre-archived case into the formal library: assign 档号, write and sign the AIP.

    A case filed with a gap (required materials missing, 容缺) is archived only with the officer's
    ``gap_reason``; the missing materials and the reason go into the AIP's archival description.
    """
    require(actor, Perm.CONFIRM)
    key = instance_key()
    store = default_store()
    with transaction.atomic():
        try:
            record = (
                Record.objects.select_for_update(of=("self",))
                .select_related("fonds", "service_item")
                .get(pk=record_id)
            )
        except Record.DoesNotExist:
            raise RecordNotFound(f"no record with id {record_id}") from None
        check_record_scope(actor, Perm.CONFIRM, record)
        RECORD.transition(RecordStatus(record.status), RecordStatus.ARCHIVED)
        reason = ""
        if record.gap_status == GapStatus.OPEN:
            missing = ", ".join(f"{m.get('code')} {m.get('name')}".strip() for m in record.gap_materials)
            reason = versions.clean_reason(
                gap_reason,
                what=f"to archive {record.file_number} with required materials missing ({missing}) "
                "(容缺归档); or return the case",
            )
        payload = _payload(record)
        missing_blobs = [p.path for p in payload if not store.exists(p.sm3)]
        if missing_blobs:
            raise DanganError(
                f"stored copies missing for {', '.join(missing_blobs[:5])}; run `dangan verify`",
                code="BLOB_MISSING",
                target=missing_blobs[0],
            )
        # Retention schedule (issue 4, catalog): the rules in force on the archiving day decide 保管期限
        # (the longest of the item's rule and its materials' rules); it goes into the 档号 and the AIP.
        from dangan.catalog.services import retention_for_record

        decision = retention_for_record(record, on=timezone.localdate())
        record.retention, record.retention_basis = decision.code, decision.describe()[:500]
        code = allocate_archival_code(record)
        now = timezone.now()
        archived_at = timezone.localtime(now).isoformat(timespec="seconds")
        files = _seal(
            payload,
            bag_info=_bag_info(record, code, 1, None),
            description=_description_xml(
                record,
                code,
                actor,
                archived_at,
                gap_reason=reason,
                gap=record.gap_materials if reason else (),
                gap_status=record.gap_status,
            ),
            report=record.check_report,
            key=key,
            when=now,
        )
        aip = _write_aip(
            record,
            files,
            key,
            version=1,
            kind=VersionKind.ARCHIVED,
            created_by=actor.name,
            reason=reason,
            changes={"gap": record.gap_materials} if reason else {},
        )
        record.status = RecordStatus.ARCHIVED
        record.archival_code = code
        record.archived_at = now
        record.archived_by = actor.name
        record.gap_reason = reason
        record.save(
            update_fields=[
                "status",
                "archival_code",
                "archived_at",
                "archived_by",
                "gap_reason",
                "retention",
                "retention_basis",
            ]
        )
        if reason:
            events.record_archived_with_gap(
                actor,
                record.pk,
                archival_code=code,
                aip_digest=aip.tagmanifest_sm3,
                missing=record.gap_materials,
                reason=reason,
            )
        else:
            events.record_archived(
                actor, record.pk, archival_code=code, aip_digest=aip.tagmanifest_sm3, rule=rule
            )
        _aip_written_event(actor, record.pk, aip, kind="archived")
        from dangan.preservation.replication import after_aip_written  # replicas: after commit

        after_aip_written(record.pk)
    return record


def _aip_written_event(actor: Actor, record_id: int, aip: Aip, *, kind: str) -> None:
    """The preservation history starts when an AIP version is written (PREMIS "ingestion")."""
    from dangan.preservation.events import record_event
    from dangan.preservation.models import EventType, Outcome

    record_event(
        EventType.INGEST,
        agent=f"{actor.name} (dangan {_version()})",
        outcome=Outcome.SUCCESS,
        record_id=record_id,
        aip_id=aip.pk,
        blob_sm3=aip.tagmanifest_sm3,
        location="primary",
        version=aip.version,
        kind=kind,
        files=aip.file_count,
        bytes=aip.byte_total,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dangan")
    except PackageNotFoundError:
        return "dev"


def reclassify(actor: Actor, record_id: int, *, class_code: str) -> Record:
    """Put a pre-archived case into another class of its fonds' classification scheme (重新分类): the
    class's code becomes the 机构(问题)代码 of the 档号 the case gets when it is confirmed.

    Only pre-archived cases: an archived record's 档号 contains its class code, and neither the 档号
    nor an AIP ever changes (a correction keeps the 档号 too, see ``versions.NOT_CORRECTABLE``).
    Returns the record unchanged (and writes no event) when it is in that class already.
    """
    require(actor, Perm.RECLASSIFY)
    from dangan.catalog.models import ArchiveClass

    code = (class_code or "").strip()
    with transaction.atomic():
        record = (
            # PostgreSQL cannot lock the nullable side of the outer join to archive_class: lock the record only
            Record.objects.select_for_update(of=("self",))
            .select_related("fonds", "service_item", "archive_class")
            .filter(pk=record_id)
            .first()
        )
        if record is None:
            raise RecordNotFound(f"no record with id {record_id}")
        check_record_scope(actor, Perm.RECLASSIFY, record)
        if record.status != RecordStatus.PRE_ARCHIVE:
            raise DanganError(
                f"{record.archival_code or record.file_number} is {record.status}: only pre-archived cases "
                "are re-classified (an archived record's 档号 holds its class and never changes)",
                code="NOT_PRE_ARCHIVE",
                target=str(record.pk),
            )
        cls = ArchiveClass.objects.filter(fonds=record.fonds, code=code).first()
        if cls is None:
            raise DanganError(
                f"fonds {record.fonds.code} has no class {code!r} in its classification scheme",
                code="UNKNOWN_CLASS",
                target="class_code",
            )
        if record.archive_class_id == cls.pk:
            return record
        previous = class_code_of(record)
        record.archive_class = cls
        record.save(update_fields=["archive_class"])
        events.record_reclassified(
            actor, record.pk, file_number=record.file_number, class_code=cls.code, previous=previous
        )
    return record


@transaction.atomic
def return_record(actor: Actor, record_id: int, *, reason: str) -> Record:
    """Return a pre-archived case to its sender (退回) with a reason; it gets no archival code."""
    require(actor, Perm.RETURN)
    if not reason.strip():
        raise DanganError("a reason is required to return a case", code="REASON_REQUIRED", target="reason")
    record = Record.objects.select_for_update().filter(pk=record_id).first()
    if record is None:
        raise RecordNotFound(f"no record with id {record_id}")
    check_record_scope(actor, Perm.RETURN, record)
    RECORD.transition(RecordStatus(record.status), RecordStatus.RETURNED)
    record.status = RecordStatus.RETURNED
    record.returned_reason = reason.strip()
    record.save(update_fields=["status", "returned_reason"])
    events.record_returned(actor, record.pk, reason=record.returned_reason)
    return record


def open_record_file(
    actor: Actor, record: Record, path: str, *, purpose: str = "download"
) -> tuple[RecordFile, BinaryIO]:
    """Open one file of a record for reading; every read of content is audited.

    For an archived record the bytes come from its latest AIP (the signed, verified copy), so an
    edited file row cannot serve other content than the archive holds.
    """
    require(actor, Perm.DOWNLOAD)
    check_record_scope(actor, Perm.DOWNLOAD, record)
    f = RecordFile.objects.get(record=record, path=path)
    digest = f.sm3
    aip = latest_aip(record)
    if aip is not None:
        digest = aip.files.get(path=f"data/{path}").sm3
    stream = default_store().open(digest)
    events.record_file_read(actor, record.pk, path=path, purpose=purpose)
    return f, stream


def latest_aip(record: Record) -> Aip | None:
    return record.aips.order_by("-version").first()


def aip_version(record: Record, version: int | None = None) -> Aip:
    """The record's AIP of that version (default: the current one, the highest number)."""
    ref = record.archival_code or record.file_number
    aip = latest_aip(record) if version is None else record.aips.filter(version=version).first()
    if aip is None:
        what = "an AIP" if version is None else f"AIP version {version}"
        raise RecordNotFound(f"record {ref} has no {what}", target=ref, code="AIP_NOT_FOUND")
    return aip


def _bag_files(aip: Aip) -> list[bag.BagFile]:
    return [
        bag.BagFile(path=f.path, size=f.size, sm3=f.sm3, sha256=f.sha256, content=None)
        for f in aip.files.all()
    ]


def export_aip(actor: Actor, archival_code: str, dest: Path, *, version: int | None = None) -> Path:
    """Write the AIP as stored (a BagIt bag) into the new folder ``dest``; the current version unless
    ``version`` is given (earlier versions stay readable)."""
    require(actor, Perm.DOWNLOAD)
    record = Record.objects.filter(archival_code=archival_code).first()
    if record is None:
        raise RecordNotFound(f"no archived record with 档号 {archival_code}", target=archival_code)
    check_record_scope(actor, Perm.DOWNLOAD, record)
    aip = aip_version(record, version)
    store = default_store()
    out = bag.materialize(_bag_files(aip), lambda f: store.open(f.sm3), dest)
    destination = str(dest) if version is None else f"{dest} (version {aip.version})"
    events.aip_exported(actor, record.pk, archival_code=archival_code, destination=destination)
    return out


def aip_zip_name(record: Record, aip: Aip) -> str:
    base = "".join(c if c not in '/\\:*?"<>|' else "_" for c in (record.archival_code or record.file_number))
    return f"{base}-v{aip.version}"


def write_aip_zip(actor: Actor, record_id: int, version: int, out: IO[bytes]) -> Aip:
    """Write one AIP version as a ZIP of its bag folder into ``out`` (a download). Every payload byte is
    re-hashed on the way and must match the signed manifest, or IntegrityError is raised."""
    require(actor, Perm.DOWNLOAD)
    record = Record.objects.filter(pk=record_id).first()
    if record is None:
        raise RecordNotFound(f"no record with id {record_id}")
    check_record_scope(actor, Perm.DOWNLOAD, record)
    aip = aip_version(record, version)
    store = default_store()
    folder = aip_zip_name(record, aip)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for f in _bag_files(aip):
            stored = f.path.startswith(bag.PAYLOAD_DIR + "/")  # content is mostly compressed already
            info = zipfile.ZipInfo(f"{folder}/{f.path}", date_time=_zip_time(aip))
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            hasher = sm.DualHasher()
            with store.open(f.sm3) as src, zf.open(info, "w", force_zip64=f.size > 2**31) as dst:
                while block := src.read(1024 * 1024):
                    hasher.update(block)
                    dst.write(block)
            got = hasher.result()
            if (got.size, got.sm3) != (f.size, f.sm3):
                raise FixityError(f"stored copy of {f.path} does not match the AIP", target=f.path)
    events.aip_exported(
        actor,
        record.pk,
        archival_code=record.archival_code or "",
        destination=f"download {folder}.zip (version {aip.version})",
    )
    return aip


def _zip_time(aip: Aip) -> tuple[int, int, int, int, int, int]:
    t = timezone.localtime(aip.created_at)
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)


# ---------------------------------------------------------------------------------------------
# New AIP versions: 容缺 supplements and corrections


def supplement(actor: Actor, record_id: int, *, uploads: Sequence[Upload], reason: str) -> Aip:
    """Supply materials missing when the record was archived with a gap (容缺): a new AIP version.

    Each upload names the missing material it is (``material_code``, from the record's gap). The new
    version holds every current file plus the supplied ones; if materials are still missing the gap
    stays open (and the version says which), else it is closed.
    """
    require(actor, Perm.SUPPLEMENT)
    reason = versions.clean_reason(reason, what="to supplement a record")
    if not uploads:
        raise DanganError("supply at least one file", code="NO_FILES", target="files")
    return _revise(actor, record_id, VersionKind.SUPPLEMENT, reason, uploads=uploads, changes={})


def correct(
    actor: Actor,
    record_id: int,
    *,
    reason: str,
    changes: Mapping[str, str] | None = None,
    uploads: Sequence[Upload] = (),
) -> Aip:
    """Correct an archived record (更正): changed metadata values (``{"<group>/<element>": value}``, see
    ``versions.CORRECTABLE``) and/or replaced files (uploads with ``replaces``) — a new AIP version
    with the reason, the person and the time. Values equal to the current ones are no change."""
    require(actor, Perm.CORRECT)
    reason = versions.clean_reason(reason, what="to correct a record")
    if not changes and not uploads:
        raise DanganError("nothing to correct: change a value or replace a file", code="NOTHING_TO_CHANGE")
    return _revise(actor, record_id, VersionKind.CORRECTION, reason, uploads=uploads, changes=changes or {})


def migrate(
    actor: Actor,
    record_id: int,
    *,
    derived: Sequence[Upload],
    reason: str,
    after_write: Callable[[Record, Aip], None] | None = None,
) -> Aip:
    """Add files derived by format migration (格式迁移, e.g. PDF/A from DOCX) beside their originals:
    a new AIP version of kind migration. Each upload names its original (``derived_from``) and may
    carry a ``note`` (tools, validator result) for the change log. The originals stay unchanged.
    ``after_write(record, aip)`` runs inside the version's transaction (the preservation event)."""
    require(actor, Perm.CORRECT)
    reason = versions.clean_reason(reason, what="to migrate a record's formats")
    if not derived:
        raise DanganError("no derived files to add", code="NO_FILES", target="files")
    return _revise(
        actor, record_id, VersionKind.MIGRATION, reason, uploads=derived, changes={}, after_write=after_write
    )


def _validate_uploads(record: Record, kind: VersionKind, uploads: Sequence[Upload]) -> None:
    missing = {m.get("code", ""): m for m in record.gap_materials}
    seen: set[str] = set()
    for up in uploads:
        if kind == VersionKind.MIGRATION:
            if not up.derived_from or up.derived_from in seen:
                raise DanganError(
                    f"{up.filename}: name the one original it was derived from",
                    code="UNKNOWN_FILE",
                    target=up.filename,
                )
            seen.add(up.derived_from)
        elif kind == VersionKind.SUPPLEMENT:
            if up.replaces:
                raise DanganError(
                    "a supplement adds missing materials; replacing a file is a correction",
                    code="WRONG_KIND",
                    target=up.replaces,
                )
            if up.material_code not in missing:
                listed = ", ".join(f"{c} {m.get('name', '')}".strip() for c, m in missing.items())
                raise DanganError(
                    f"material {up.material_code or '(none)'!r} is not missing from this record "
                    f"(missing: {listed or 'nothing'})",
                    code="UNKNOWN_MATERIAL",
                    target=up.material_code,
                )
        else:
            if not up.replaces:
                raise DanganError(
                    f"{up.filename}: say which file it replaces", code="UNKNOWN_FILE", target=up.filename
                )
            if up.replaces in seen:
                raise DanganError(
                    f"{up.replaces} is replaced twice", code="DUPLICATE_FILE", target=up.replaces
                )
            seen.add(up.replaces)


def _load_record(record_id: int) -> Record:
    record = Record.objects.select_related("fonds", "service_item").filter(pk=record_id).first()
    if record is None:
        raise RecordNotFound(f"no record with id {record_id}")
    if record.status != RecordStatus.ARCHIVED:
        raise DanganError(
            f"{record.file_number} is not archived ({record.status}): only archived records get new "
            "versions; a pre-archived case is confirmed or returned",
            code="NOT_ARCHIVED",
            target=str(record.pk),
        )
    return record


def _revise(
    actor: Actor,
    record_id: int,
    kind: VersionKind,
    reason: str,
    *,
    uploads: Sequence[Upload],
    changes: Mapping[str, str],
    after_write: Callable[[Record, Aip], None] | None = None,
) -> Aip:
    record = _load_record(record_id)
    check_record_scope(actor, Perm.SUPPLEMENT if kind == VersionKind.SUPPLEMENT else Perm.CORRECT, record)
    if kind == VersionKind.SUPPLEMENT and record.gap_status != GapStatus.OPEN:
        raise DanganError(
            f"{record.archival_code} has no missing materials to supply; change files with a correction",
            code="NO_GAP",
            target=str(record.pk),
        )
    _validate_uploads(record, kind, uploads)
    base = aip_version(record)
    store = default_store()
    key = instance_key()
    base_files = {f.path: f for f in base.files.all()}
    meta_row = base_files.get(f"{bag.PAYLOAD_DIR}/{schema.METADATA_FILENAME}")
    if meta_row is None:
        raise DanganError(
            f"version {base.version} of {record.archival_code} has no metadata XML",
            code="METADATA_MISSING",
            target=schema.METADATA_FILENAME,
        )
    try:
        with store.open(meta_row.sm3) as f:
            pkg = parse_metadata(f.read())
    except BlobMissing:
        raise DanganError(
            "the stored metadata XML is missing; run `dangan verify`", code="BLOB_MISSING"
        ) from None
    except MetadataError as exc:
        raise DanganError(f"the stored metadata XML cannot be read: {exc.message}", code=exc.code) from exc

    work = Path(settings.QUARANTINE_DIR) / f"version-{uuid.uuid4().hex}"
    try:
        draft = versions.Draft(
            pkg=pkg,
            root=work / "package",
            reused={
                f.path.removeprefix(bag.PAYLOAD_DIR + "/"): f.sm3
                for f in base_files.values()
                if f.path.startswith(bag.PAYLOAD_DIR + "/") and f is not meta_row
            },
        )
        staged = versions.stage(uploads, work / "uploads", budget=settings.MAX_PACKAGE_BYTES)
        now = timezone.now()
        at = timezone.localtime(now).isoformat(timespec="seconds")
        names = {m.get("code", ""): m.get("name", "") for m in record.gap_materials}
        for item in staged:
            if kind == VersionKind.SUPPLEMENT:
                code = item.upload.material_code
                versions.add_supplied(draft, item, code=code, name=names.get(code, ""), now=at)
            elif kind == VersionKind.MIGRATION:
                versions.add_derived(draft, item, now=at)
            else:
                versions.replace_file(draft, item)
        versions.apply_metadata(draft, changes, record_year=record.year)
        if kind == VersionKind.CORRECTION and not draft.metadata_changes and not draft.replaced:
            raise DanganError(
                "nothing to correct: every value equals the current one", code="NOTHING_TO_CHANGE"
            )
        received = versions.place(draft, store)
        total = sum(f.size for f in received.files.values())
        if total > settings.MAX_PACKAGE_BYTES:
            raise DanganError(
                f"the new version would hold {total} bytes, more than the limit {settings.MAX_PACKAGE_BYTES}",
                code="PACKAGE_TOO_LARGE",
            )
        # A migrated original stays, now with its PDF/A beside it: its 3-3 (format) finding does not block.
        exempt = {d["source"] for d in draft.derived}
        report, remaining = _check_version(actor, record, kind, received, pkg, exempt=exempt)
        change_log: dict[str, Any] = {}
        if draft.supplied:
            change_log["supplied"] = draft.supplied
        if draft.replaced:
            change_log["replaced"] = draft.replaced
        if draft.metadata_changes:
            change_log["metadata"] = draft.metadata_changes
        if draft.derived:
            change_log["migrated"] = draft.derived
        gap_status = GapStatus(record.gap_status)
        if gap_status == GapStatus.OPEN:
            new_gap = GapStatus.OPEN if remaining else GapStatus.CLOSED
            if kind == VersionKind.SUPPLEMENT:
                GAP.transition(gap_status, new_gap)
            gap_status = new_gap
            change_log["gap"] = remaining
        payload = [
            bag.PayloadFile(path=f.path, size=f.size, sm3=f.sm3, sha256=f.sha256)
            for f in sorted(received.files.values(), key=lambda f: f.path)
        ]
        # Blobs first (a crash after this leaves orphan blobs, never a version without its bytes).
        for path, item in draft.staged.items():
            store.adopt(item.path, received.files[path].sm3)
        meta_facts = received.files[schema.METADATA_FILENAME]
        store.adopt(received.root / schema.METADATA_FILENAME, meta_facts.sm3)
        revision = Revision(
            version=base.version + 1,
            kind=kind,
            previous_version=base.version,
            previous_tagmanifest_sm3=base.tagmanifest_sm3,
            reason=reason,
            by=actor.name,
            at=at,
            changes=change_log,
        )
        for name, value in versions.record_columns(pkg).items():  # corrected 题名 etc. (not saved here)
            setattr(record, name, value)
        confirmer = Actor.system(record.archived_by or "")
        archived_at = timezone.localtime(record.archived_at or now).isoformat(timespec="seconds")
        description = _description_xml(
            record,
            record.archival_code or "",
            confirmer,
            archived_at,
            version=revision.version,
            content_digest=received.content_digest(),
            gap_reason=record.gap_reason,
            gap=remaining,
            gap_status=gap_status.value if record.gap_status != GapStatus.NONE else "",
            revision=revision,
        )
        files = _seal(
            payload,
            bag_info=_bag_info(record, record.archival_code or "", revision.version, base),
            description=description,
            report=report.to_dict(),
            key=key,
            when=now,
        )
        return _commit_version(
            actor, record, base, kind, reason, files, key, draft, received, report, gap_status, remaining,
            change_log, after_write,
        )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_version(
    actor: Actor,
    record: Record,
    kind: VersionKind,
    received: ReceivedPackage,
    pkg: CasePackage,
    *,
    exempt: set[str] | frozenset[str] = frozenset(),
) -> tuple[CheckReport, list[dict[str, str]]]:
    """Run the archiving-stage checks (the service item's profile, as at intake) on the new package.

    Any blocking failure refuses the version, except GD-2-9 for materials that were already missing
    (the gap the record was archived with). Returns the report and the materials still missing.
    """
    from dangan.ingest import checking

    channel = f"{kind.value} by {actor.name} ({actor.kind})"
    ctx = build_context(received, env=checking.environment(channel=channel))
    report = checking.run_checks(ctx, Stage.ARCHIVE, record.service_item)
    gap_codes = {m.get("code", "") for m in record.gap_materials}
    blocking = [
        r
        for r in report.failures()
        if not (_is_scope_result(r.code) and _scope_code(r.target) in gap_codes)
        and not (r.code.endswith("-3-3") and r.target in exempt)
    ]
    if blocking:
        errors = [{"code": r.code, "message": r.message, "target": r.target} for r in blocking]
        first = "; ".join(f"{e['code']} {e['message']}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise ChecksFailed(
            f"the new version fails the archiving checks: {first}{more}",
            errors=errors,
            report=report.to_dict(),
        )
    present = {e.material_code for e in pkg.files if e.path in received.files}
    remaining = [m for m in record.gap_materials if m.get("code", "") not in present]
    return report, remaining


def _is_scope_result(code: str) -> bool:
    return code.endswith("-2-9")


def _scope_code(target: str) -> str:
    """The material code of a GD-2-9 result's target (``归档范围/<code>``)."""
    return target.rsplit("/", 1)[-1]


def missing_materials(report: CheckReport, scope: Sequence[Any]) -> list[dict[str, str]]:
    """The required materials GD-2-9 found missing, as ``{"code", "name"}`` (names from the scope)."""
    names = {s.code: s.name for s in scope}
    out: list[dict[str, str]] = []
    for r in report.results:
        if _is_scope_result(r.code) and r.outcome.value == "fail":
            code = _scope_code(r.target)
            out.append({"code": code, "name": names.get(code, "")})
    return out


def _commit_version(
    actor: Actor,
    record: Record,
    base: Aip,
    kind: VersionKind,
    reason: str,
    files: list[bag.BagFile],
    key: InstanceKey,
    draft: versions.Draft,
    received: ReceivedPackage,
    report: CheckReport,
    gap_status: GapStatus,
    remaining: list[dict[str, str]],
    change_log: dict[str, Any],
    after_write: Callable[[Record, Aip], None] | None = None,
) -> Aip:
    pkg = draft.pkg
    declared = {e.path: e for e in pkg.files if e.path}
    try:
        with transaction.atomic():
            locked = Record.objects.select_for_update().get(pk=record.pk)
            current = latest_aip(locked)
            if locked.status != RecordStatus.ARCHIVED or current is None or current.pk != base.pk:
                raise VersionConflict(
                    f"{record.archival_code} got version {current.version if current else '?'} "
                    f"(by {current.created_by if current else '?'}) while this one was prepared; "
                    "reload the record and try again",
                    target=str(record.pk),
                )
            aip = _write_aip(
                locked, files, key, version=base.version + 1, kind=kind, previous=base,
                created_by=actor.name, reason=reason, changes=change_log,
            )  # fmt: skip
            RecordFile.objects.filter(record=locked).delete()
            RecordFile.objects.bulk_create(
                [
                    RecordFile(
                        record=locked,
                        path=facts.path,
                        size=facts.size,
                        sm3=facts.sm3,
                        sha256=facts.sha256,
                        material_code=(declared[facts.path].material_code or "")
                        if facts.path in declared
                        else "",
                        category=(declared[facts.path].category or "") if facts.path in declared else "",
                        name=(declared[facts.path].standard_name or "")
                        if facts.path in declared
                        else "元数据",
                        format=(declared[facts.path].format or "") if facts.path in declared else "XML",
                    )
                    for facts in received.files.values()
                ]
            )
            for name, value in versions.record_columns(pkg).items():
                setattr(locked, name, value)
            locked.metadata = versions.metadata_json(pkg)
            locked.check_report = report.to_dict()
            locked.file_count = len(received.content_files)
            locked.byte_total = sum(f.size for f in received.content_files.values())
            locked.gap_status = gap_status
            locked.gap_materials = remaining
            locked.save()
            if kind == VersionKind.SUPPLEMENT:
                events.record_supplemented(
                    actor, locked.pk, version=aip.version, aip_digest=aip.tagmanifest_sm3,
                    supplied=draft.supplied, remaining=remaining, reason=reason,
                )  # fmt: skip
            elif kind == VersionKind.MIGRATION:
                events.record_migrated(
                    actor, locked.pk, version=aip.version, aip_digest=aip.tagmanifest_sm3,
                    migrated=draft.derived, reason=reason,
                )  # fmt: skip
            else:
                events.record_corrected(
                    actor, locked.pk, version=aip.version, aip_digest=aip.tagmanifest_sm3,
                    changes=change_log, reason=reason,
                )  # fmt: skip
            _aip_written_event(actor, locked.pk, aip, kind=kind.value)
            if after_write is not None:
                after_write(locked, aip)
            from dangan.preservation.replication import after_aip_written  # replicas: after commit

            after_aip_written(locked.pk)
    except IntegrityError:
        # (record, version) is unique: another version with this number won the race.
        raise VersionConflict(
            f"{record.archival_code} got version {base.version + 1} from someone else meanwhile; "
            "reload the record and try again",
            target=str(record.pk),
        ) from None
    return aip


def version_summaries(record: Record) -> list[dict[str, Any]]:
    """Every AIP version of a record, newest first, with who made it, when, why and what changed."""
    return [
        {
            "version": a.version,
            "kind": a.kind,
            "created_at": a.created_at,
            "created_by": a.created_by,
            "reason": a.reason,
            "changes": a.changes,
            "tagmanifest_sm3": a.tagmanifest_sm3,
            "previous_tagmanifest_sm3": a.previous.tagmanifest_sm3 if a.previous else "",
            "file_count": a.file_count,
            "byte_total": a.byte_total,
            "aip": a,
        }
        for a in record.aips.select_related("previous").order_by("-version")
    ]
