"""The four-property checks as the running archive performs them: the check environment (database,
storage, other records, the fonds' archival-code pattern, the virus scanner) and the profile and
metadata scheme of the service item a package belongs to."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from dangan.archive.models import Record
from dangan.catalog.models import Fonds, ServiceItem
from dangan.catalog.services import check_profile_for, metadata_scheme_for, retention_for
from dangan.core.antivirus import VirusScanner, scanner_from_config
from dangan.core.checks.catalogue import StageProfile
from dangan.core.checks.context import Carrier, Environment, PackageContext
from dangan.core.checks.items_environment import with_virus_scanner
from dangan.core.checks.model import CheckReport, Stage
from dangan.core.checks.runner import check_path as core_check_path
from dangan.core.checks.runner import run_profile
from dangan.core.checks.scheme import DUPLICATE_KEYS
from dangan.core.errors import DanganError
from dangan.core.ofd import TrustStore, load_trust_store
from dangan.core.package import schema
from dangan.core.package.model import BatchPackageEntry, ScopeItem

log = logging.getLogger(__name__)

# Which metadata items 1-8 can compare against the catalogue, and the Record column holding each.
DUPLICATE_COLUMNS = {
    "办件基本信息/办件编号": "case_number",
    "办件基本信息/办件名称": "title",
}
assert set(DUPLICATE_COLUMNS) == set(DUPLICATE_KEYS), "the scheme accepts exactly the keys we can look up"


@functools.cache
def configured_scanner() -> VirusScanner | None:
    """The virus scanner from DANGAN_CLAMAV (e.g. ``clamd:/run/clamav/clamd.ctl``, ``clamscan``)."""
    return scanner_from_config(getattr(settings, "CLAMAV", "") or None)


def _duplicates_within(fonds_scope: frozenset[str] | None):  # type: ignore[no-untyped-def]
    """1-8's lookup, limited to the fonds the caller may see (a source system: the fonds it may send)."""

    def find(key: str, value: str, own_file_number: str) -> list[str]:
        column = DUPLICATE_COLUMNS[key]  # the scheme only accepts keys listed there
        others = Record.objects.filter(**{column: value}).exclude(file_number=own_file_number)
        others = others.exclude(status="returned")
        if fonds_scope is not None:
            others = others.filter(fonds__code__in=fonds_scope)
        return [code or number for code, number in others.values_list("archival_code", "file_number")[:20]]

    return find


def _code_pattern_within(fonds_scope: frozenset[str] | None):  # type: ignore[no-untyped-def]
    def pattern(fonds_code: str) -> str | None:
        if fonds_scope is not None and fonds_code not in fonds_scope:
            return None
        return Fonds.objects.filter(code=fonds_code).values_list("archival_code_pattern", flat=True).first()

    return pattern


def _probe_database(detailed: bool):  # type: ignore[no-untyped-def]
    def probe() -> str | None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:  # any driver error means "not accessible"; the message says which
            log.warning("check 3-2: database not accessible: %s", exc)
            return f"{type(exc).__name__}: {exc}" if detailed else "the archive's database did not answer"
        return None

    return probe


def _probe_storage(detailed: bool):  # type: ignore[no-untyped-def]
    def probe(needed: int) -> str | None:
        root = Path(settings.BLOB_DIR)
        root.mkdir(parents=True, exist_ok=True)
        if not os.access(root, os.W_OK):
            problem = f"{root} is not writable"
        else:
            free = shutil.disk_usage(root).free
            # Room for the blobs and the AIP's tag files, with a margin so the disk never fills completely.
            if free >= needed * 2 + 64 * 1024**2:
                return None
            problem = f"only {free} bytes free in {root}"
        log.warning("check 3-7: %s", problem)
        return problem if detailed else "the archive's storage has no room for this package now"

    return probe


def environment(
    *, channel: str | None, fonds_scope: frozenset[str] | None = None, detailed: bool = True
) -> Environment:
    """The running archive as the checks see it.

    ``fonds_scope`` limits what other records and fonds settings the checks may look at (a source
    system sees only the fonds it may send); ``detailed`` False keeps paths and driver errors out of
    the messages (they go to the log), for reports that leave the archive.
    """
    from dangan.archive.services import instance_key

    env = Environment(
        find_duplicates=_duplicates_within(fonds_scope),
        code_pattern_for=_code_pattern_within(fonds_scope),
        probe_database=_probe_database(detailed),
        probe_storage=_probe_storage(detailed),
        channel=channel,
        trusted_signer_der=instance_key().certificate_der,
    )
    env.ofd_trust, env.ofd_trust_problem = configured_ofd_trust()
    return with_virus_scanner(env, configured_scanner())


@functools.cache
def configured_ofd_trust() -> tuple[TrustStore | None, str | None]:
    """The OFD trust store from DANGAN_OFD_TRUST, or (None, why it is unusable)."""
    path = getattr(settings, "OFD_TRUST", "")
    if not path:
        return None, None
    try:
        return load_trust_store(Path(path)), None
    except DanganError as exc:
        log.error("DANGAN_OFD_TRUST unusable: %s", exc.message)
        return None, f"the configured OFD trust store is unusable: {exc.message}"


def resolve_item(ctx: PackageContext) -> ServiceItem | None:
    pkg = ctx.package
    if pkg is None:
        return None
    return (
        ServiceItem.objects.select_related("fonds")
        .filter(fonds__code=pkg.case.fonds_code or "", code=pkg.config.item_code or "")
        .first()
    )


def run_checks(ctx: PackageContext, stage: Stage, item: ServiceItem | None) -> CheckReport:
    """Apply the service item's scheme, scope, retention and profile, then run the stage's checks."""
    return run_profile(ctx, stage, profile=apply_item(ctx, stage, item))


def apply_item(ctx: PackageContext, stage: Stage, item: ServiceItem | None) -> StageProfile:
    """Set the service item's scheme, scope and retention on the context; return its stage profile."""
    if item is not None:
        ctx.scheme = metadata_scheme_for(item)
        codes = {e.material_code for e in ctx.package.files if e.material_code} if ctx.package else set()
        ctx.configured_retention = retention_for(item, on=timezone.localdate(), material_codes=codes).code
        if item.scope:
            ctx.scope = [
                ScopeItem(code=m["code"], name=m.get("name", ""), required=bool(m.get("required")))
                for m in item.scope
            ]
    return check_profile_for(stage, item)


STALE_WORK_SECONDS = 6 * 3600


def sweep_stale_work(root: Path, *, older_than: float = STALE_WORK_SECONDS) -> int:
    """Remove check/pre-check folders a killed process left behind (they hold personal data)."""
    removed = 0
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than
    for entry in root.iterdir():
        if entry.name.startswith(("dangan-check-", "precheck-")) and entry.is_dir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
            except OSError:
                continue
    return removed


def check_path(
    path: Path,
    stage: Stage,
    *,
    channel: str | None = None,
    carrier: Carrier | None = None,
    batch_entry: BatchPackageEntry | None = None,
    fonds_scope: frozenset[str] | None = None,
    detailed: bool = True,
) -> tuple[CheckReport, dict[str, object]]:
    """Check a package on disk as this archive would, without ingesting it (nothing is stored).

    With ``fonds_scope`` the package must belong to one of those fonds (a source system's), and the
    checks see only records and settings of those fonds.
    """
    from dangan.ingest.services import limits

    def prepare(ctx: PackageContext) -> StageProfile:
        item = resolve_item(ctx)
        if (
            fonds_scope is not None
            and ctx.package is not None
            and ctx.package.case.fonds_code not in fonds_scope
        ):
            raise DanganError(
                f"this account may not send cases of fonds {ctx.package.case.fonds_code!r}",
                code="FONDS_NOT_ALLOWED",
                target=f"{schema.Group.CASE.value}/全宗号",
            )
        return apply_item(ctx, stage, item)

    work_dir = Path(settings.QUARANTINE_DIR)
    sweep_stale_work(work_dir)
    return core_check_path(
        path,
        stage,
        work_dir=work_dir,
        env=environment(channel=channel, fonds_scope=fonds_scope, detailed=detailed),
        carrier=carrier,
        batch_entry=batch_entry,
        limits=limits(),
        prepare=prepare,
    )
