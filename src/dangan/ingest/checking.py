"""The four-property checks as the running archive performs them: the check environment (database,
storage, other records, the fonds' archival-code pattern, the virus scanner) and the profile and
metadata scheme of the service item a package belongs to."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from dangan.archive.models import Record
from dangan.catalog.models import Fonds, ServiceItem
from dangan.catalog.services import check_profile_for, metadata_scheme_for, retention_for
from dangan.core.antivirus import VirusScanner, scanner_from_config
from dangan.core.checks.catalogue import StageProfile
from dangan.core.checks.context import Environment, PackageContext
from dangan.core.checks.items_environment import with_virus_scanner
from dangan.core.checks.model import CheckReport, Stage
from dangan.core.checks.runner import check_path as core_check_path
from dangan.core.checks.runner import run_profile
from dangan.core.package.model import ScopeItem

# Which metadata items 1-8 can compare against the catalogue, and the Record column holding each.
DUPLICATE_COLUMNS = {
    "办件基本信息/办件编号": "case_number",
    "办件基本信息/办件名称": "title",
    "办件基本信息/电子文件号": "file_number",
}


@functools.cache
def configured_scanner() -> VirusScanner | None:
    """The virus scanner from DANGAN_CLAMAV (e.g. ``clamd:/run/clamav/clamd.ctl``, ``clamscan``)."""
    return scanner_from_config(getattr(settings, "CLAMAV", "") or None)


def _find_duplicates(key: str, value: str, own_file_number: str) -> list[str]:
    column = DUPLICATE_COLUMNS.get(key)
    if column is None:
        return []
    others = (
        Record.objects.filter(**{column: value})
        .exclude(file_number=own_file_number)
        .exclude(status="returned")
        .values_list("archival_code", "file_number")[:20]
    )
    return [code or number for code, number in others]


def _code_pattern_for(fonds_code: str) -> str | None:
    return Fonds.objects.filter(code=fonds_code).values_list("archival_code_pattern", flat=True).first()


def _probe_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not accessible"; the message says which
        return f"{type(exc).__name__}: {exc}"
    return None


def _probe_storage(needed: int) -> str | None:
    root = Path(settings.BLOB_DIR)
    root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK):
        return f"{root} is not writable"
    free = shutil.disk_usage(root).free
    # Room for the blobs and the AIP's tag files, with a margin so the disk never fills completely.
    if free < needed * 2 + 64 * 1024**2:
        return f"only {free} bytes free in {root}"
    return None


def environment(*, channel: str | None) -> Environment:
    from dangan.archive.services import instance_key

    env = Environment(
        find_duplicates=_find_duplicates,
        code_pattern_for=_code_pattern_for,
        probe_database=_probe_database,
        probe_storage=_probe_storage,
        channel=channel,
        trusted_signer_der=instance_key().certificate_der,
    )
    return with_virus_scanner(env, configured_scanner())


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


def check_path(
    path: Path, stage: Stage, *, channel: str | None = None, carrier_medium: str | None = None
) -> tuple[CheckReport, dict[str, object]]:
    """Check a package on disk as this archive would, without ingesting it (nothing is stored)."""
    from dangan.ingest.services import limits

    def prepare(ctx: PackageContext) -> StageProfile:
        return apply_item(ctx, stage, resolve_item(ctx))

    return core_check_path(
        path,
        stage,
        work_dir=Path(settings.QUARANTINE_DIR),
        env=environment(channel=channel),
        carrier_medium=carrier_medium,
        limits=limits(),
        prepare=prepare,
    )
