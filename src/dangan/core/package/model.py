"""The case package (归档信息包) as plain data.

Leaf values are kept as the strings the sender wrote: ``None`` means the element was absent, ``""``
that it was present but empty. Checks (not the reader) decide whether a value is valid, so a package
with a wrong date still loads and gets a precise check result instead of a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScopeItem:
    """One material in the archiving scope (归档范围)."""

    code: str
    name: str
    required: bool


@dataclass
class ArchiveConfig:
    """归档配置信息."""

    item_code: str | None = None
    item_name: str | None = None
    item_version: str | None = None
    item_type: str | None = None
    implementing_agency: str | None = None
    retention: str | None = None
    scope: list[ScopeItem] = field(default_factory=list)


@dataclass
class Applicant:
    """申请人."""

    name: str | None = None
    kind: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    address: str | None = None
    legal_representative: str | None = None
    phone: str | None = None


@dataclass
class CaseInfo:
    """办件基本信息."""

    file_number: str | None = None
    case_number: str | None = None
    title: str | None = None
    case_type: str | None = None
    region_code: str | None = None
    fonds_code: str | None = None
    fonds_unit: str | None = None
    credit_code: str | None = None
    accepting_unit: str | None = None
    accepted_at: str | None = None
    completed_at: str | None = None
    result: str | None = None
    result_license_number: str | None = None
    acceptance_number: str | None = None
    security_class: str | None = None
    retention: str | None = None
    archived_at: str | None = None
    total_pieces: str | None = None
    remarks: str | None = None
    applicant: Applicant | None = None


@dataclass
class ProcessStep:
    """环节 of 办理流程信息."""

    sequence: str | None = None
    name: str | None = None
    handler: str | None = None
    opinion: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


@dataclass
class License:
    """证照 of 电子证照信息."""

    license_type: str | None = None
    license_number: str | None = None
    issuer: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    holder: str | None = None
    path: str | None = None


@dataclass
class FileEntry:
    """文件 of 文件信息: one content file as the metadata declares it."""

    sequence: str | None = None
    material_code: str | None = None
    category: str | None = None
    standard_name: str | None = None
    actual_name: str | None = None
    path: str | None = None
    format: str | None = None
    size: str | None = None
    digest_algorithm: str | None = None
    digest: str | None = None
    created_at: str | None = None
    sharing: str | None = None


@dataclass
class CasePackage:
    """One case (办件) = one archival information package."""

    config: ArchiveConfig = field(default_factory=ArchiveConfig)
    case: CaseInfo = field(default_factory=CaseInfo)
    steps: list[ProcessStep] = field(default_factory=list)
    licenses: list[License] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    declared_file_count: str | None = None
    declared_byte_total: str | None = None
    version: str | None = None
    # Which groups were present in the XML at all (2-3 distinguishes "absent" from "empty").
    groups_present: set[str] = field(default_factory=set)

    @property
    def file_number(self) -> str:
        return self.case.file_number or ""


@dataclass(frozen=True)
class FileFacts:
    """What we measured about one file while taking it in: never what the sender claims."""

    path: str  # package-relative, '/'-separated
    size: int
    sm3: str
    sha256: str


@dataclass
class BatchPackageEntry:
    name: str | None = None
    fonds_code: str | None = None
    item_code: str | None = None
    title: str | None = None
    size: str | None = None
    digest_algorithm: str | None = None
    digest: str | None = None
    archived_at: str | None = None
    archival_code: str | None = None


@dataclass
class BatchManifest:
    """批次清单: one exchange of many packages (DOMAIN.md §2)."""

    system_code: str | None = None
    batch_number: str | None = None
    sent_at: str | None = None
    package_count: str | None = None
    byte_total: str | None = None
    file_total: str | None = None
    standard: str | None = None
    packages: list[BatchPackageEntry] = field(default_factory=list)
