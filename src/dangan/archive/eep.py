"""Export an archived record as an EEP (DA/T 48-2009 电子文件封装包), signed with this instance's key.

The package embeds every file of the record's latest AIP as stored (payload under ``data/`` and the
bag's tag files, so the signed bag can be rebuilt from the EEP), read from the blob store in chunks and
checked against the AIP's recorded SM3 while they are written. Metadata are mapped to DA/T 46 elements
through ``core.package.eep.names.DAT46``. The file is written to a temporary name beside ``dest`` and
published only when complete; every export is one audit event (it reads record content).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.utils import timezone

import dangan
from dangan.accounts.roles import Actor, Perm, require
from dangan.archive.models import Aip, Record, RecordFile
from dangan.archive.services import (
    RecordNotFound,
    check_record_scope,
    class_code_of,
    instance_key,
    latest_aip,
)
from dangan.audit import events
from dangan.core.codes import CodePattern, retention_label
from dangan.core.errors import ArchivalCodeError
from dangan.core.fsutil import fsync_dir
from dangan.core.package import eep
from dangan.core.package import schema as case_schema
from dangan.core.package.eep.writer import Progress
from dangan.storage.blobstore import default_store

PAYLOAD = "data/"


@dataclass(frozen=True)
class EepExport:
    path: Path
    record_id: int
    archival_code: str
    aip_version: int
    result: eep.EepWriteResult


def signer() -> eep.Sm2DigestSigner:
    """This instance's key as a digest signer (the EEP's signed bytes are streamed, so the signature is
    made over e = SM3(Z_A ‖ M) computed while writing; ``InstanceKey.sign`` takes whole messages only)."""
    key = instance_key()
    return eep.Sm2DigestSigner(key._private_key, key.certificate_der)


def _section(metadata: dict[str, Any], name: str) -> dict[str, Any]:
    value = metadata.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _piece(record: Record) -> str:
    try:
        found = CodePattern.parse(record.fonds.archival_code_pattern).match(record.archival_code or "")
    except ArchivalCodeError:
        return ""
    return (found or {}).get("piece", "")


def _entities(record: Record, archived_at: str) -> tuple[tuple[eep.Action, ...], tuple[eep.Agent, ...]]:
    """业务实体 from the case's 办理流程 steps plus the archiving itself; 机构人员实体 for who acted."""
    metadata = record.metadata if isinstance(record.metadata, dict) else {}
    case = _section(metadata, "case")
    agents: dict[tuple[str, str], eep.Agent] = {}

    def agent(kind: str, name: str, org_code: str = "") -> str:
        if not name:
            return ""
        key = (kind, name)
        if key not in agents:
            agents[key] = eep.Agent(id=f"P{len(agents) + 1}", kind=kind, name=name, org_code=org_code)
        return agents[key].id

    unit = agent("机构", _text(case.get("fonds_unit")) or record.fonds.name, _text(case.get("credit_code")))
    actions: list[eep.Action] = []
    steps = metadata.get("steps")
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        actions.append(
            eep.Action(
                id=f"B{len(actions) + 1}",
                agent_id=agent("个人", _text(step.get("handler"))) or unit,
                file_id=record.file_number,
                action=_text(step.get("name")),
                time=_text(step.get("ended_at")) or _text(step.get("started_at")),
                description=_text(step.get("opinion")),
            )
        )
    actions.append(
        eep.Action(
            id=f"B{len(actions) + 1}",
            agent_id=agent("个人", record.archived_by) or unit,
            file_id=record.file_number,
            action="归档",
            time=archived_at,
            description=f"确认归档，档号 {record.archival_code}",
        )
    )
    return tuple(actions), tuple(agents.values())


def describe(record: Record, aip: Aip) -> eep.RecordDescription:
    """The record in the terms of the DA/T 46 mapping table (``names.DAT46``) and the AIP extension."""
    metadata = record.metadata if isinstance(record.metadata, dict) else {}
    case = _section(metadata, "case")
    config = _section(metadata, "config")
    item = record.service_item
    archived_at = (
        timezone.localtime(record.archived_at).isoformat(timespec="seconds") if record.archived_at else ""
    )
    actions, agents = _entities(record, archived_at)
    content_files = (
        RecordFile.objects.filter(record=record).exclude(path=case_schema.METADATA_FILENAME).count()
    )
    return eep.RecordDescription(
        file_number=record.file_number,
        title=record.title,
        archival_code=record.archival_code or "",
        fonds_name=record.fonds.name,
        fonds_unit=_text(case.get("fonds_unit")) or record.fonds.name,
        fonds_code=record.fonds.code,
        year=str(record.year),
        retention=retention_label(record.retention),
        class_code=class_code_of(record),
        piece_number=_piece(record),
        case_number=record.case_number,
        responsible=_text(config.get("implementing_agency")) or item.agency or record.fonds.name,
        date=timezone.localtime(record.completed_at).date().isoformat() if record.completed_at else "",
        security_class=_text(case.get("security_class")),
        composition="组合文件" if content_files > 1 else "单件",
        location=f"dangan AIP {record.archival_code} v{aip.version}",
        system=f"dangan {dangan.__version__}",
        remarks=_text(case.get("remarks")),
        item_code=item.code,
        item_name=item.name,
        content_digest=record.content_digest,
        aip_version=str(aip.version),
        aip_tagmanifest_sm3=aip.tagmanifest_sm3,
        aip_signer_fingerprint=aip.signer_fingerprint,
        creator=record.fonds.name,
        actions=actions,
        agents=agents,
    )


def files(record: Record, aip: Aip) -> list[eep.EepFile]:
    """The AIP's files as stored: content first, then the case metadata XML, then the bag's tag files."""
    store = default_store()
    rows = {f.path: f for f in RecordFile.objects.filter(record=record)}
    metadata_path = PAYLOAD + case_schema.METADATA_FILENAME

    def order(path: str) -> tuple[int, str]:
        if path == metadata_path:
            return (1, path)
        return (0 if path.startswith(PAYLOAD) else 2, path)

    out = []
    for f in sorted(aip.files.all(), key=lambda f: order(f.path)):
        row = rows.get(f.path[len(PAYLOAD) :]) if f.path.startswith(PAYLOAD) else None
        content = row is not None and f.path != metadata_path
        out.append(
            eep.EepFile(
                name=f.path,
                size=f.size,
                sm3=f.sm3,
                open=functools.partial(store.open, f.sm3),
                format=(row.format if row is not None else "")
                or PurePosixPath(f.path).suffix.lstrip(".").upper(),
                title=(row.name if row is not None and row.name else PurePosixPath(f.path).name),
                main=content,
            )
        )
    return out


def export_eep(
    actor: Actor, archival_code: str, dest: Path, *, progress: Progress | None = None
) -> EepExport:
    """Write the EEP of the archived record ``archival_code`` to the new file ``dest``."""
    require(actor, Perm.DOWNLOAD)
    record = (
        Record.objects.select_related("fonds", "service_item").filter(archival_code=archival_code).first()
    )
    if record is None:
        raise RecordNotFound(f"no archived record with 档号 {archival_code}", target=archival_code)
    check_record_scope(actor, Perm.DOWNLOAD, record)
    aip = latest_aip(record)
    if aip is None:
        raise RecordNotFound(f"record {archival_code} has no AIP", target=archival_code)
    dest = Path(dest)
    if dest.exists():
        raise eep.EepError(f"{dest} already exists", code="DESTINATION_EXISTS", target=str(dest))
    key_signer = signer()
    description = describe(record, aip)
    embedded = files(record, aip)
    now = timezone.localtime(timezone.now()).isoformat(timespec="seconds")
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.partial")
    try:
        with open(tmp, "xb") as out:
            result = eep.write_eep(out, description, embedded, key_signer, created=now, progress=progress)
            out.flush()
            os.fsync(out.fileno())
        _publish(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    events.eep_exported(
        actor,
        record.pk,
        archival_code=archival_code,
        destination=str(dest),
        aip_version=aip.version,
        files=result.files,
        bytes_embedded=result.raw_bytes,
        signed_digest=result.e,
    )
    return EepExport(dest, record.pk, archival_code, aip.version, result)


def _publish(tmp: Path, dest: Path) -> None:
    """Give the complete file its name without replacing anything that appeared there meanwhile."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise eep.EepError(f"{dest} already exists", code="DESTINATION_EXISTS", target=str(dest)) from None
    except OSError:  # a file system without hard links
        if dest.exists():
            raise eep.EepError(
                f"{dest} already exists", code="DESTINATION_EXISTS", target=str(dest)
            ) from None
        os.replace(tmp, dest)
    fsync_dir(dest.parent)
