"""``dangan quickstart``: a working archive with demo data, from nothing, in one command.

Idempotent: run it again and it keeps the existing data directory, database and key, and only adds
what is missing (it never re-creates the administrator or re-ingests the same demo cases).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from rich.console import Console

from dangan.accounts.roles import Actor, Role
from dangan.accounts.services import create_user, ensure_role_groups
from dangan.archive import services as archive_services
from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.catalog import services as catalog_services
from dangan.catalog.models import Fonds
from dangan.ingest import services as ingest_services

ADMIN = "admin"
LEAVE_PENDING = 5  # demo cases left in the pre-archive library, so the confirm workflow can be tried


def load_demo_catalogue(actor: Actor) -> Fonds:
    from dangan.demo.catalog import DEMO_FONDS, SERVICE_ITEMS

    fonds = catalog_services.upsert_fonds(
        actor, code=DEMO_FONDS.code, name=DEMO_FONDS.unit, region_code=DEMO_FONDS.region_code
    )
    for item in SERVICE_ITEMS:
        catalog_services.upsert_service_item(
            actor,
            fonds,
            code=item.code,
            name=item.name,
            version=item.version,
            item_type=item.item_type,
            agency=item.agency,
            retention=item.retention,
            class_code=item.class_code,
            category_code=item.category_code,
            auto_confirm=item.auto_confirm,
            scope=[{"code": s.code, "name": s.name, "required": s.required} for s in item.scope],
        )
    return fonds


def setup_instance(console: Console) -> None:
    """Data directory, database, instance key and the administrator: everything but demo data."""
    data = Path(settings.DATA_DIR)
    console.print(f"数据目录 data directory: [bold]{data}")
    call_command("migrate", interactive=False, verbosity=0)
    key = archive_services.instance_key()
    console.print(f"实例签名证书 instance SM2 certificate: {key.cert_path} (SM3 {key.fingerprint[:16]}…)")
    ensure_role_groups()
    if not User.objects.filter(username=ADMIN).exists():
        # One account that can both configure the catalogue and work as records officer, for a demo.
        # Separating the administrators (三员分立) comes with the accounts work.
        _, password = create_user(ADMIN, [Role.RECORDS_OFFICER, Role.SYSTEM_ADMIN])
        console.print(
            f"管理员 administrator: [bold]{ADMIN}[/]  初始密码 initial password: [bold yellow]{password}[/]"
        )
    else:
        console.print(
            f"管理员 administrator [bold]{ADMIN}[/] exists (password unchanged; reset it with "
            f"`dangan manage changepassword {ADMIN}`)"
        )


def run(*, cases: int, seed: int, console: Console, progress: Callable[[], Any]) -> None:
    from dangan.demo.broken import write_broken_variants
    from dangan.demo.generator import generate

    setup_instance(console)
    data = Path(settings.DATA_DIR)
    operator = Actor.system("quickstart")
    fonds = load_demo_catalogue(operator)
    console.print(f"全宗 fonds {fonds.code} {fonds.name}: {fonds.service_items.count()} 事项 service items")

    inbox = data / "demo-inbox"
    if not inbox.exists():
        staging = data / "demo-inbox.partial"
        shutil.rmtree(staging, ignore_errors=True)
        with progress() as bar:
            task = bar.add_task("生成演示办件 Generating demo cases", total=cases)
            generate(
                staging / "batch", cases=cases, seed=seed, progress=lambda n: bar.update(task, completed=n)
            )
        write_broken_variants(staging / "broken", seed=seed)
        staging.rename(inbox)

    done = inbox / ".ingested"
    if done.exists():
        console.print("演示办件已接收 demo cases were ingested before (delete demo-inbox/.ingested to redo)")
    else:
        _ingest_demo(inbox, operator, console, progress)
        done.touch()
    archived = Record.objects.filter(status=RecordStatus.ARCHIVED).count()
    waiting = Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).count()
    console.print(
        f"正式库 formal library: [bold]{archived}[/] 档案 records · 预归档库 pre-archive: {waiting}"
    )


def _ingest_demo(inbox: Path, operator: Actor, console: Console, progress: Callable[[], Any]) -> None:
    sources, _ = ingest_services.expand_paths([inbox / "batch"])
    broken, _ = ingest_services.expand_paths([inbox / "broken"])  # one good "base" case, the rest broken
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    with progress() as bar:
        task = bar.add_task("接收与检测 Ingesting and checking", total=len(sources) + len(broken))
        for src in [*sources, *broken]:
            sub = ingest_services.ingest_path(operator, src.path, batch=src.batch, batch_entry=src.entry)
            counts[sub.status] = counts.get(sub.status, 0) + 1
            bar.advance(task)
    console.print(
        f"接收 accepted {counts['accepted']} · 重复 duplicate {counts['duplicate']} · "
        f"拒收 rejected {counts['rejected']} (the rejected ones are the demo's deliberately broken packages)"
    )

    # Confirm most of them as the records officer would; leave a few to try the workflow in the UI.
    pending = list(
        Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).order_by("id").values_list("id", flat=True)
    )
    to_confirm = pending[: max(0, len(pending) - LEAVE_PENDING)]
    officer = Actor.from_user(User.objects.get(username=ADMIN))
    with progress() as bar:
        task = bar.add_task("归档确认 Confirming", total=len(to_confirm))
        for rid in to_confirm:
            archive_services.confirm(officer, rid)
            bar.advance(task)
