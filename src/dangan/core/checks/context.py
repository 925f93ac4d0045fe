"""What a check may look at: the package as received, its parsed metadata, and the environment.

One :class:`PackageContext` is built per package and shared by all items, so each file is hashed once
(on intake), identified and validated once (:meth:`PackageContext.analysis`), and the metadata is
parsed once. Things only the running archive knows (other records, the database, the storage, the
fonds' archival-code pattern) come in as callables, so ``core`` stays free of Django and an item whose
callable is missing reports "not run" with the reason instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dangan.core import xmlsafe
from dangan.core.checks.scheme import MetadataScheme
from dangan.core.errors import DanganError, MetadataError
from dangan.core.ofd.trust import TrustStore
from dangan.core.package import aip as bagit
from dangan.core.package.intake import ReceivedPackage
from dangan.core.package.metadata import parse_metadata
from dangan.core.package.model import BatchPackageEntry, CasePackage, FileFacts, ScopeItem

if TYPE_CHECKING:
    from dangan.core.checks.content import FileAnalysis

VirusScanFn = Callable[[ReceivedPackage], "VirusScanOutcome"]


@dataclass
class VirusScanOutcome:
    """What the configured scanner said about a package's files."""

    engine: str
    found: list[tuple[str, str]] = field(default_factory=list)  # (path, signature name)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path or "", reason): not scanned
    scanned: int = 0


@dataclass(frozen=True)
class Carrier:
    """An offline carrier (离线载体) the package was read from: 4-3…4-6 check it."""

    medium: str | None  # CD-R, DVD-R, BD-R, HDD, USB … as the operator states it; None = not stated
    extra_files: tuple[str, ...] = ()  # files on the carrier that belong to no package
    bytes_read: int = 0
    seconds: float = 0.0
    read_errors: tuple[str, ...] = ()


@dataclass
class BagView:
    """The AIP (BagIt bag) around a case package, for the transfer, receipt and preservation stages."""

    files: dict[str, FileFacts]  # every file of the bag as received, bag-relative
    info: dict[str, str] = field(default_factory=dict)  # bag-info.txt
    description: dict[str, str] = field(default_factory=dict)  # dangan/archival-description.xml
    problems: list[bagit.BagProblem] = field(default_factory=list)  # from verify_bag_dir
    description_error: str | None = None


@dataclass
class Environment:
    """Hooks into the running archive. Each is optional; an item without its hook says "not run"."""

    # 1-8: (key, value, own file number) -> descriptions of other records holding that value
    find_duplicates: Callable[[str, str, str], list[str]] | None = None
    # 1-7: fonds code -> archival-code pattern (None when the fonds is unknown)
    code_pattern_for: Callable[[str], str | None] | None = None
    # 3-2: None when the metadata database answers, else why not
    probe_database: Callable[[], str | None] | None = None
    # 3-7: bytes needed -> None when the storage can take them, else why not
    probe_storage: Callable[[int], str | None] | None = None
    # 4-8: (path, sm3) of stored copies -> problems (preservation stage)
    probe_copies: Callable[[], list[str]] | None = None
    # 3-9: None when a verified backup holds the record, else why not (preservation stage)
    probe_backup: Callable[[], str | None] | None = None
    # 4-7: how the package arrived ("API, source system X", "CLI, user Y"); None = checked outside the archive
    channel: str | None = None
    virus_scanner: VirusScanFn | None = None
    virus_scanner_problem: str | None = None  # configured but unusable (4-1 fails with this)
    trusted_signer_der: bytes | None = None  # instance certificate: an AIP must be sealed with it
    ofd_trust: TrustStore | None = None  # trusted seal makers and signers for OFD e-seals (1-1)
    ofd_trust_problem: str | None = None  # configured but unreadable: OFD signatures cannot be judged


@dataclass
class PackageContext:
    """Everything a check may look at. Built once per package."""

    received: ReceivedPackage
    package: CasePackage | None = None
    metadata_error: MetadataError | None = None
    schema_errors: list[str] = field(default_factory=list)  # XSD structure errors (1-12)
    scheme: MetadataScheme = field(default_factory=MetadataScheme.default)
    scope: list[ScopeItem] | None = None  # configured scope; None = the package's own 归档范围
    batch_entry: BatchPackageEntry | None = None
    configured_retention: str | None = None  # the archive's retention for this service item
    archival_code: str | None = None  # 档号, once one exists (batch entry, AIP description)
    record_year: str | None = None
    bag: BagView | None = None
    carrier: Carrier | None = None
    accepted_formats: frozenset[str] | None = None  # None = the formats module's default list
    env: Environment = field(default_factory=Environment)
    _analysis: dict[str, FileAnalysis] = field(default_factory=dict, repr=False)

    @property
    def virus_scanner(self) -> VirusScanFn | None:
        return self.env.virus_scanner

    def analysis(self, path: str) -> FileAnalysis:
        """Format identification, validation and signature verification of one content file (cached)."""
        found = self._analysis.get(path)
        if found is None:
            from dangan.core.checks.content import analyse

            found = analyse(self.received.root / path, trust=self.env.ofd_trust)
            self._analysis[path] = found
        return found

    def analyses(self) -> dict[str, FileAnalysis]:
        return {p: self.analysis(p) for p in sorted(self.received.content_files)}


def _parse_package(ctx: PackageContext) -> None:
    try:
        data = ctx.received.metadata_bytes()
        if data is None:
            return
        ctx.package = parse_metadata(data)
    except MetadataError as exc:
        ctx.metadata_error = exc
        return
    from dangan.core.package.xsd import validate_case_structure

    ctx.schema_errors = validate_case_structure(data)


def build_context(
    received: ReceivedPackage,
    *,
    scope: list[ScopeItem] | None = None,
    batch_entry: BatchPackageEntry | None = None,
    scheme: MetadataScheme | None = None,
    env: Environment | None = None,
) -> PackageContext:
    """Context for a case package (归档信息包) as a sender made it."""
    ctx = PackageContext(received=received, scope=scope, batch_entry=batch_entry, env=env or Environment())
    if scheme is not None:
        ctx.scheme = scheme
    if batch_entry is not None and batch_entry.archival_code:
        ctx.archival_code = batch_entry.archival_code
    _parse_package(ctx)
    return ctx


def is_bag(received: ReceivedPackage) -> bool:
    return bagit.BAGIT_TXT in received.files and any(p.startswith("data/") for p in received.files)


def _read_small(received: ReceivedPackage, path: str, limit: int = 1024 * 1024) -> bytes | None:
    facts = received.files.get(path)
    if facts is None or facts.size > limit:
        return None
    return (received.root / path).read_bytes()


def _bag_info(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    label = ""
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line[:1] in (" ", "\t") and label:
            out[label] += " " + line.strip()
        elif ":" in line:
            label, _, value = line.partition(":")
            label = label.strip()
            out[label] = value.strip()
    return out


def _description(data: bytes) -> dict[str, str]:
    root = xmlsafe.parse(data, name="archival-description.xml")
    return {child.tag: (child.text or "") for child in root if isinstance(child.tag, str)}


def build_bag_context(
    received: ReceivedPackage, *, scheme: MetadataScheme | None = None, env: Environment | None = None
) -> PackageContext:
    """Context for an AIP (BagIt bag): the case package is the payload under data/."""
    payload = {
        p[len("data/") :]: FileFacts(p[len("data/") :], f.size, f.sm3, f.sha256)
        for p, f in received.files.items()
        if p.startswith("data/")
    }
    inner = ReceivedPackage(root=received.root / "data", source_name=received.source_name, files=payload)
    inner.container_sm3 = received.container_sm3
    env = env or Environment()
    # The BagIt verifier re-reads every byte: simple and already proven; hashing twice is the price.
    view = BagView(
        files=dict(received.files),
        problems=bagit.verify_bag_dir(received.root, trusted_cert_der=env.trusted_signer_der),
    )
    info = _read_small(received, bagit.BAG_INFO_TXT)
    if info is not None:
        view.info = _bag_info(info)
    desc = _read_small(received, "dangan/archival-description.xml")
    if desc is not None:
        try:
            view.description = _description(desc)
        except DanganError as exc:
            view.description_error = f"archival-description.xml unreadable: {exc.message}"
    ctx = PackageContext(received=inner, bag=view, env=env)
    if scheme is not None:
        ctx.scheme = scheme
    ctx.archival_code = view.description.get("档号") or view.info.get("External-Identifier") or None
    ctx.record_year = view.description.get("年度") or None
    _parse_package(ctx)
    return ctx


def describe(ctx: PackageContext) -> dict[str, Any]:
    """A few facts for the report header."""
    return {
        "source": ctx.received.source_name,
        "files": len(ctx.received.content_files),
        "bytes": sum(f.size for f in ctx.received.content_files.values()),
        "aip": ctx.bag is not None,
        "archival_code": ctx.archival_code or "",
    }
