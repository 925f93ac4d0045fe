"""Plain data of the EEP: what the writer is given and what the verifier reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Literal, Protocol

from dangan.core.errors import DanganError

Point = tuple[int, int]


class EepError(DanganError):
    """The EEP cannot be written (bad input, a stored file that does not match its digest …)."""

    code = "EEP_INVALID"


class DigestSigner(Protocol):
    """Signs e = SM3(Z_A ‖ M) (see ``sm2digest``). ``point`` is the public key of ``certificate_der``."""

    certificate_der: bytes
    point: Point

    @property
    def signer_name(self) -> str: ...

    def sign_digest(self, e: bytes) -> bytes: ...


@dataclass(frozen=True)
class Agent:
    """机构人员实体: a person or an organisation that acted on the record."""

    id: str
    kind: str  # 个人 | 机构
    name: str
    org_code: str = ""
    position: str = ""


@dataclass(frozen=True)
class Action:
    """业务实体: one business action (a step of 办理流程, 归档 …)."""

    id: str
    agent_id: str
    file_id: str
    action: str
    time: str = ""
    status: str = ""
    basis: str = ""
    description: str = ""


@dataclass(frozen=True)
class RecordDescription:
    """The record's metadata in the terms of ``names.DAT46`` and ``names.AIP_FIELDS`` (empty = left out)."""

    file_number: str
    title: str
    archival_code: str = ""
    aggregation: str = "文件"
    fonds_name: str = ""
    fonds_unit: str = ""
    fonds_code: str = ""
    year: str = ""
    retention: str = ""
    class_code: str = ""
    piece_number: str = ""
    case_number: str = ""
    responsible: str = ""
    date: str = ""
    security_class: str = ""
    composition: str = ""
    location: str = ""
    system: str = ""
    remarks: str = ""
    item_code: str = ""
    item_name: str = ""
    content_digest: str = ""
    aip_version: str = ""
    aip_tagmanifest_sm3: str = ""
    aip_signer_fingerprint: str = ""
    creator: str = ""  # 封装包创建单位 (the fonds-forming unit)
    actions: tuple[Action, ...] = ()
    agents: tuple[Agent, ...] = ()


@dataclass(frozen=True)
class EepFile:
    """One computer file to embed. ``size`` and ``sm3`` are what the archive recorded; the writer checks
    the bytes it reads against them and refuses to write a package from a damaged copy."""

    name: str  # 计算机文件名 (path inside the AIP)
    size: int
    sm3: str
    open: Callable[[], BinaryIO]
    format: str = ""
    title: str = ""
    main: bool = False  # 文档主从声明: 主件 (content) or 附件 (metadata, package files)
    creator_app: str = ""


@dataclass(frozen=True)
class EepWriteResult:
    files: int
    raw_bytes: int  # bytes of the embedded files
    signed_bytes: int  # length of the canonical 被签名对象 (M)
    e: str  # hex of SM3(Z_A ‖ M)
    signature: bytes
    certificate_sm3: str


# ---------------------------------------------------------------------------------------------------------
# Verification report
# ---------------------------------------------------------------------------------------------------------

Status = Literal["valid", "invalid", "unreadable"]


@dataclass(frozen=True)
class EepProblem:
    code: str
    message: str
    target: str = ""
    #: True when the file cannot be judged at all (not an EEP, unsafe or unreadable XML): exit 2.
    fatal: bool = False


@dataclass
class EepFileCheck:
    name: str
    size: int
    sm3: str
    recorded_size: int | None
    recorded_sm3: str | None
    ok: bool


@dataclass
class EepSignatureCheck:
    id: str
    signer: str
    time: str
    certificate_sm3: str
    valid: bool
    #: "trusted" (the key of a certificate the caller trusts), "embedded" (only the package's own
    #: certificate was used; nothing anchors it), "untrusted" (trusted certificates were given; none matches).
    trust: str
    reason: str = ""


@dataclass
class EepReport:
    path: str
    problems: list[EepProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[EepFileCheck] = field(default_factory=list)
    signatures: list[EepSignatureCheck] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    bytes_read: int = 0
    signed_bytes: int = 0
    passes: int = 0

    @property
    def status(self) -> Status:
        if any(p.fatal for p in self.problems):
            return "unreadable"
        return "invalid" if self.problems else "valid"

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    @property
    def exit_code(self) -> int:
        """0 valid, 1 verification failed, 2 not an EEP / unreadable / unsupported."""
        return {"valid": 0, "invalid": 1, "unreadable": 2}[self.status]

    @property
    def trust(self) -> str:
        levels = {s.trust for s in self.signatures}
        for level in ("untrusted", "embedded", "trusted"):
            if level in levels:
                return level
        return ""

    def add(self, code: str, message: str, target: str = "", *, fatal: bool = False) -> None:
        self.problems.append(EepProblem(code, message, target, fatal))

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "valid": self.valid,
            "trust": self.trust,
            "facts": self.facts,
            "problems": [asdict(p) for p in self.problems],
            "notes": list(self.notes),
            "files": [asdict(f) for f in self.files],
            "signatures": [asdict(s) for s in self.signatures],
            "bytes_read": self.bytes_read,
            "signed_bytes": self.signed_bytes,
            "passes": self.passes,
        }


class BackgroundHash:
    """Feeds large buffers to an SM3 object in one worker thread, one buffer in flight at most.

    hashlib releases the GIL while hashing buffers over 2 KiB, so the caller's own work (Base64, the
    other digest, I/O) overlaps this digest: two cores instead of one, and memory still bounded by one
    extra chunk. Updates keep their order: every update waits for the previous one.
    """

    THRESHOLD = 64 * 1024

    def __init__(self, hasher: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.hasher = hasher
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eep-sm3")
        self._future: Any = None

    def update(self, data: bytes) -> None:
        self.wait()
        if len(data) >= self.THRESHOLD:
            self._future = self._pool.submit(self.hasher.update, data)
        else:
            self.hasher.update(data)

    def wait(self) -> None:
        if self._future is not None:
            future, self._future = self._future, None
            future.result()

    def digest(self) -> bytes:
        self.wait()
        return bytes(self.hasher.digest())

    def close(self) -> None:
        self.wait()
        self._pool.shutdown(wait=True)
