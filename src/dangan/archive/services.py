"""Formal-library use-cases: confirm (档号 + AIP), return, read files, export the AIP.

Archival codes are allocated inside the same transaction that writes the AIP rows and flips the
record to ARCHIVED, under a row lock on the group's counter: if anything fails, the counter
increment rolls back with it, so there are no gaps and no duplicates, however many confirmations
run at once. The AIP's payload blobs already exist (stored at intake); only the small tag files
are written here, so the lock is held for milliseconds.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from lxml import etree

from dangan.accounts.roles import Actor, Perm, require
from dangan.archive.models import Aip, AipFile, ArchivalCodeCounter, Record, RecordFile
from dangan.archive.states import RECORD, RecordStatus
from dangan.audit import events
from dangan.core import xmlsafe
from dangan.core.codes import CodePattern, retention_label
from dangan.core.errors import DanganError
from dangan.core.package import aip as bag
from dangan.core.sm import InstanceKey
from dangan.storage.blobstore import default_store

DESCRIPTION_FILE = "dangan/archival-description.xml"
REPORT_FILE = "dangan/check-report.json"


class RecordNotFound(DanganError):
    code = "RECORD_NOT_FOUND"


@functools.cache
def instance_key() -> InstanceKey:
    """This instance's SM2 key and certificate (created on first use under DANGAN_HOME/keys)."""
    return InstanceKey.ensure(
        Path(settings.KEY_DIR),
        common_name=settings.INSTANCE_NAME,
        organization=settings.INSTANCE_ORGANIZATION,
    )


def code_values(record: Record) -> dict[str, str]:
    item = record.service_item
    return {
        "fonds": record.fonds.code,
        "category": item.category_code,
        "year": str(record.year),
        "retention": record.retention,
        "class": item.class_code,
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


def _description_xml(record: Record, archival_code: str, actor: Actor, archived_at: str) -> bytes:
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
        ("题名", record.title),
        ("办件编号", record.case_number),
        ("归档时间", archived_at),
        ("归档确认人", actor.name),
        ("内容摘要", record.content_digest),
    ]
    for tag, value in fields:
        etree.SubElement(root, tag).text = value
    return xmlsafe.serialize(root)


def _payload(record: Record) -> list[bag.PayloadFile]:
    return [
        bag.PayloadFile(path=f.path, size=f.size, sm3=f.sm3, sha256=f.sha256)
        for f in RecordFile.objects.filter(record=record).order_by("path")
    ]


def confirm(actor: Actor, record_id: int, *, rule: str = "") -> Record:
    """Move a pre-archived case into the formal library: assign 档号, write and sign the AIP."""
    require(actor, Perm.CONFIRM)
    key = instance_key()
    store = default_store()
    with transaction.atomic():
        try:
            record = (
                Record.objects.select_for_update().select_related("fonds", "service_item").get(pk=record_id)
            )
        except Record.DoesNotExist:
            raise RecordNotFound(f"no record with id {record_id}") from None
        RECORD.transition(RecordStatus(record.status), RecordStatus.ARCHIVED)
        payload = _payload(record)
        missing = [p.path for p in payload if not store.exists(p.sm3)]
        if missing:
            raise DanganError(
                f"stored copies missing for {', '.join(missing[:5])}; run `dangan verify`",
                code="BLOB_MISSING",
                target=missing[0],
            )
        code = allocate_archival_code(record)
        now = timezone.now()
        archived_at = timezone.localtime(now).isoformat(timespec="seconds")
        report = json.dumps(record.check_report, ensure_ascii=False, indent=2, sort_keys=True).encode()
        files = bag.build_bag(
            payload,
            bag_info={
                "Source-Organization": record.fonds.name,
                "External-Identifier": code,
                "External-Description": record.title.replace("\n", " "),
                "Internal-Sender-Identifier": record.file_number,
                "Bag-Group-Identifier": record.fonds.code,
            },
            tag_files={
                DESCRIPTION_FILE: _description_xml(record, code, actor, archived_at),
                REPORT_FILE: report,
            },
            signer=key,
            bagging_date=timezone.localdate(now),
        )
        for f in files:
            if f.content is not None:
                store.put_bytes(f.content)
        tagmanifest = next(f for f in files if f.path == "tagmanifest-sm3.txt")
        aip = Aip.objects.create(
            record=record,
            version=1,
            tagmanifest_sm3=tagmanifest.sm3,
            signer_fingerprint=key.fingerprint,
            file_count=len(files),
            byte_total=sum(f.size for f in files),
        )
        AipFile.objects.bulk_create(
            [AipFile(aip=aip, path=f.path, size=f.size, sm3=f.sm3, sha256=f.sha256) for f in files]
        )
        record.status = RecordStatus.ARCHIVED
        record.archival_code = code
        record.archived_at = now
        record.archived_by = actor.name
        record.save(update_fields=["status", "archival_code", "archived_at", "archived_by"])
        events.record_archived(actor, record.pk, archival_code=code, aip_digest=tagmanifest.sm3, rule=rule)
    return record


@transaction.atomic
def return_record(actor: Actor, record_id: int, *, reason: str) -> Record:
    """Return a pre-archived case to its sender (退回) with a reason; it gets no archival code."""
    require(actor, Perm.RETURN)
    if not reason.strip():
        raise DanganError("a reason is required to return a case", code="REASON_REQUIRED", target="reason")
    record = Record.objects.select_for_update().get(pk=record_id)
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


def export_aip(actor: Actor, archival_code: str, dest: Path) -> Path:
    """Write the AIP as stored (a BagIt bag) into the new folder ``dest``."""
    require(actor, Perm.DOWNLOAD)
    record = Record.objects.filter(archival_code=archival_code).first()
    if record is None:
        raise RecordNotFound(f"no archived record with 档号 {archival_code}", target=archival_code)
    aip = latest_aip(record)
    if aip is None:
        raise RecordNotFound(f"record {archival_code} has no AIP", target=archival_code)
    store = default_store()
    files = [
        bag.BagFile(path=f.path, size=f.size, sm3=f.sm3, sha256=f.sha256, content=None)
        for f in aip.files.all()
    ]
    out = bag.materialize(files, lambda f: store.open(f.sm3), dest)
    events.aip_exported(actor, record.pk, archival_code=archival_code, destination=str(dest))
    return out
