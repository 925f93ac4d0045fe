"""档号 allocation under parallel confirmations: no gaps, no duplicates (real concurrency on PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from dangan.archive import services as archive
from dangan.archive.models import Record
from dangan.catalog.models import ServiceItem
from dangan.ingest.models import Submission

WORKERS = 8
RECORDS = 48


def _make_pre_archive_records(fonds, n: int) -> list[int]:
    """Rows straight in the pre-archive state (intake is tested elsewhere; here only allocation matters)."""
    item = ServiceItem.objects.get(fonds=fonds, code="TEST-ITEM")
    return [
        Record.objects.create(
            file_number=f"C-{i:04d}", fonds=fonds, service_item=item, title=f"并发测试 {i}", year=2025,
            retention="D30", content_digest="0" * 64,
        ).pk
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_parallel_confirmations_allocate_consecutive_codes(test_catalogue, officer_actor):
    ids = _make_pre_archive_records(test_catalogue, RECORDS)
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker(chunk: list[int]) -> None:
        try:
            barrier.wait()
            for rid in chunk:
                archive.confirm(officer_actor, rid)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    chunks = [ids[i::WORKERS] for i in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(worker, chunks))
    assert not errors, errors
    codes = sorted(Record.objects.values_list("archival_code", flat=True))
    assert codes == [f"T001-WS·2025-D30-SP-{n:04d}" for n in range(1, RECORDS + 1)]
    assert Submission.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_parallel_confirmations_of_the_same_record_archive_it_once(test_catalogue, officer_actor):
    [rid] = _make_pre_archive_records(test_catalogue, 1)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker() -> None:
        barrier.wait()
        try:
            archive.confirm(officer_actor, rid)
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["InvalidTransition"] * 3 + ["ok"]
    assert Record.objects.get(pk=rid).aips.count() == 1


def test_configured_backend_is_the_one_in_use(db):
    """Guards CI: a PostgreSQL run must really be on PostgreSQL, not silently on SQLite."""
    import os

    expected = "postgresql" if os.environ.get("DANGAN_DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected
