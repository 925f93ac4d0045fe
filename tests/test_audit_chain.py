"""The tamper-evident audit trail: SM3 hash chain, signed checkpoints, `dangan audit verify`.

Tampering is done the way someone with database rights would: raw SQL. On PostgreSQL the table
refuses UPDATE and DELETE, so the tamper helpers first disable the trigger (as the table's owner can).
Runs on SQLite always, and on PostgreSQL when DANGAN_DATABASE_URL is a postgres URL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from django.db import DatabaseError, connection, connections, transaction
from django.test import override_settings

from dangan.accounts.roles import Actor
from dangan.audit import chain, events
from dangan.audit.models import AuditCheckpoint, AuditEvent
from dangan.cli import main
from dangan.core import auditchain
from dangan.core.auditchain import EventContent

TABLE = "audit_auditevent"
COLUMNS = ("prev_hash", "hash", "at", "kind", "actor", "role", "object_type", "object_id", "outcome",
           "source_ip", "detail")  # fmt: skip


def _is_pg() -> bool:
    return connection.vendor == "postgresql"


def _sql(statement: str, params: list | tuple = ()) -> None:
    with connection.cursor() as cur:
        if _is_pg():
            cur.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
            cur.execute("ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER USER")
        cur.execute(statement, params)
        if _is_pg():
            cur.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
            cur.execute("ALTER TABLE audit_auditcheckpoint ENABLE TRIGGER USER")


def _log(n: int, start: int = 0) -> None:
    actor = Actor.system("auditor-test")
    for i in range(start, start + n):
        events._log("test.event", actor, "thing", i, note=f"事件 {i}", n=i, nested={"b": [1, 2], "a": None})


def _verify() -> dict:
    res = CliRunner().invoke(main, ["audit", "verify", "--json"])
    data = json.loads(res.stdout)
    assert res.exit_code == (0 if data["intact"] else 1), res.output
    return data


def _first(data: dict) -> tuple[int, str]:
    assert not data["intact"]
    return data["first_bad"]["position"], data["first_bad"]["fault"]


# --- the chain itself ------------------------------------------------------------------------------


def test_canonical_bytes_are_fixed():
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    e = EventContent(
        1, auditchain.GENESIS, at, "k", "张三", "r", "t", "7", "success", "::1", {"b": 1, "a": "中"}
    )
    assert (
        auditchain.event_bytes(e)
        == (
            '["dangan-audit-event/1",1,"'
            + "0" * 64
            + '","2026-01-02T03:04:05.000006+00:00","k","张三","r","t",'
            '"7","success","::1",{"a":"中","b":1}]'
        ).encode()
    )
    shanghai = dt.timezone(dt.timedelta(hours=8))
    same = EventContent(1, auditchain.GENESIS, at.astimezone(shanghai), "k", "张三", "r", "t", "7", "success",
                        "::1", {"a": "中", "b": 1})  # fmt: skip
    assert auditchain.event_hash(e) == auditchain.event_hash(same)
    with pytest.raises(ValueError):
        auditchain.canonical_time(dt.datetime(2026, 1, 1))


@pytest.mark.django_db
def test_events_are_chained_and_verify_intact():
    _log(5)
    AuditEvent.objects.create(kind="case.resumed", actor="x", object_type="submission", object_id="1")
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == auditchain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert all(r.hash == auditchain.event_hash(chain.content_of(r)) for r in rows)
    data = _verify()
    assert data["intact"] and data["events"] == 6 and data["first_bad"] is None
    with pytest.raises(RuntimeError):
        rows[0].save()
    with pytest.raises(RuntimeError):
        rows[0].delete()


@pytest.mark.django_db
def test_event_rolls_back_with_the_change():
    _log(2)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        _log(1)
        1 / 0
    _log(1)
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1, 2, 3]
    assert _verify()["intact"]


@pytest.mark.django_db
def test_empty_trail_is_intact():
    data = _verify()
    assert data["intact"] and data["events"] == 0


# --- tampering --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_edited_row_is_found():
    _log(6)
    _sql(f"UPDATE {TABLE} SET actor = %s WHERE seq = 4", ["mallory"])
    assert _first(_verify()) == (4, auditchain.CHANGED)


@pytest.mark.django_db
def test_edited_detail_is_found():
    _log(6)
    _sql(f"UPDATE {TABLE} SET detail = %s WHERE seq = 2", [json.dumps({"note": "改过"})])
    assert _first(_verify()) == (2, auditchain.CHANGED)


@pytest.mark.django_db
def test_deleted_row_is_found():
    _log(6)
    _sql(f"DELETE FROM {TABLE} WHERE seq = 3")
    assert _first(_verify()) == (3, auditchain.MISSING)


@pytest.mark.django_db
def test_deleted_last_rows_after_the_last_checkpoint_are_not_found():
    """The documented limit: without a checkpoint covering them, the newest events can be cut off."""
    _log(6)
    _sql(f"DELETE FROM {TABLE} WHERE seq >= 5")
    assert _verify()["intact"]


def _row(seq: int) -> list:
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE seq = %s", [seq])
        return list(cur.fetchone())


def _insert(seq: int, values: list) -> None:
    placeholders = ", ".join(["%s"] * (len(COLUMNS) + 1))
    _sql(f"INSERT INTO {TABLE} (seq, {', '.join(COLUMNS)}) VALUES ({placeholders})", [seq, *values])


def _forged(like: list, **changes: str) -> list:
    values = dict(zip(COLUMNS, like, strict=True))
    values.update(changes)
    if not isinstance(values["detail"], str):
        values["detail"] = json.dumps(values["detail"])
    return [values[c] for c in COLUMNS]


@pytest.mark.django_db
def test_inserted_row_in_the_middle_is_found():
    _log(6)
    # Make room at seq 4 (shift the later events up, highest first for the unique index), then insert.
    for seq in (6, 5, 4):
        _sql(f"UPDATE {TABLE} SET seq = seq + 1 WHERE seq = %s", [seq])
    prev = _row(3)[1]
    _insert(4, _forged(_row(5), prev_hash=prev, hash="f" * 64, actor="mallory"))
    assert _first(_verify()) == (4, auditchain.INSERTED)


@pytest.mark.django_db
def test_inserted_row_with_a_correct_hash_is_found():
    """A forger can compute SM3 (it has no key), but the next event still links over the forged one."""
    _log(6)
    for seq in (6, 5, 4):
        _sql(f"UPDATE {TABLE} SET seq = seq + 1 WHERE seq = %s", [seq])
    like = AuditEvent.objects.get(seq=3)
    forged = EventContent(4, like.hash, like.at, "record.archived", "mallory", "", "record", "9", "success",
                          "", {})  # fmt: skip
    values = _forged(_row(3), prev_hash=like.hash, hash=auditchain.event_hash(forged), actor="mallory",
                     kind="record.archived", role="", object_type="record", object_id="9", source_ip="")  # fmt: skip
    values[COLUMNS.index("detail")] = "{}"
    _insert(4, values)
    assert AuditEvent.objects.get(seq=4).hash == auditchain.event_hash(
        chain.content_of(AuditEvent.objects.get(seq=4))
    )
    assert _first(_verify()) == (4, auditchain.INSERTED)


@pytest.mark.django_db
def test_forged_row_appended_with_a_made_up_hash_is_found():
    _log(6)
    _insert(7, _forged(_row(6), prev_hash=_row(6)[1], hash="a" * 64, actor="mallory"))
    assert _first(_verify()) == (7, auditchain.CHANGED)


@pytest.mark.django_db
def test_duplicate_seq_is_found_when_the_unique_index_is_dropped():
    _log(6)
    with connection.cursor() as cur:
        constraints = connection.introspection.get_constraints(cur, TABLE)
    [unique] = [n for n, c in constraints.items() if c["unique"] and c["columns"] == ["seq"]]
    if _is_pg():
        _sql(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{unique}"')
    else:
        pytest.skip("SQLite cannot drop a column's UNIQUE without rebuilding the table")
    _insert(3, _forged(_row(3), actor="mallory"))
    position, fault = _first(_verify())
    assert position == 3 and fault in (auditchain.INSERTED, auditchain.CHANGED)


@pytest.mark.django_db
@pytest.mark.parametrize(("i", "j"), [(2, 5), (3, 4)])
def test_swapped_rows_are_found(i, j):
    _log(6)
    a, b = _row(i), _row(j)
    sets = ", ".join(f"{c} = %s" for c in COLUMNS)
    _sql(f"UPDATE {TABLE} SET {sets} WHERE seq = %s", [*_forged(b), i])
    _sql(f"UPDATE {TABLE} SET {sets} WHERE seq = %s", [*_forged(a), j])
    assert _first(_verify()) == (i, auditchain.ORDER)


@pytest.mark.django_db
def test_swapped_seq_numbers_are_found():
    _log(6)
    _sql(f"UPDATE {TABLE} SET seq = 100 WHERE seq = 2")
    _sql(f"UPDATE {TABLE} SET seq = 2 WHERE seq = 5")
    _sql(f"UPDATE {TABLE} SET seq = 5 WHERE seq = 100")
    assert _first(_verify()) == (2, auditchain.ORDER)


# --- checkpoints ------------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(AUDIT_CHECKPOINT_EVERY=5)
def test_checkpoints_are_written_every_n_events_and_signed():
    _log(12)
    cps = list(AuditCheckpoint.objects.order_by("seq"))
    assert [(c.seq, c.count) for c in cps] == [(5, 5), (10, 10)]
    assert cps[1].head_hash == AuditEvent.objects.get(seq=10).hash
    res = CliRunner().invoke(main, ["audit", "checkpoint", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["seq"] == 12
    data = _verify()
    assert data["intact"] and data["checkpoints"] == 3


@pytest.mark.django_db
@override_settings(AUDIT_CHECKPOINT_EVERY=5)
def test_truncated_tail_after_a_checkpoint_is_found():
    _log(12)
    _sql(f"DELETE FROM {TABLE} WHERE seq > 7")
    assert _first(_verify()) == (8, auditchain.TRUNCATED)


@pytest.mark.django_db
@override_settings(AUDIT_CHECKPOINT_EVERY=5)
def test_consistently_rewritten_chain_is_found_by_the_checkpoint():
    """Edit seq 3 and recompute every later hash: the chain is self-consistent, the signature is not."""
    _log(12)
    _sql(f"UPDATE {TABLE} SET actor = %s WHERE seq = 3", ["mallory"])
    prev = AuditEvent.objects.get(seq=2).hash
    for event in AuditEvent.objects.filter(seq__gte=3).order_by("seq"):
        event.prev_hash = prev
        prev = auditchain.event_hash(chain.content_of(event))
        _sql(
            f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE seq = %s", [event.prev_hash, prev, event.seq]
        )
    assert _first(_verify()) == (5, auditchain.CHECKPOINT_MISMATCH)


@pytest.mark.django_db
@override_settings(AUDIT_CHECKPOINT_EVERY=5)
def test_forged_checkpoint_signature_is_found():
    _log(6)
    cp = AuditCheckpoint.objects.get()
    sig = bytearray(bytes(cp.signature))
    sig[-1] ^= 1
    _sql("UPDATE audit_auditcheckpoint SET signature = %s WHERE seq = 5", [bytes(sig)])
    assert _first(_verify()) == (5, auditchain.BAD_SIGNATURE)
    _sql("UPDATE audit_auditcheckpoint SET signature = %s, head_hash = %s WHERE seq = 5",
         [bytes(cp.signature), "e" * 64])  # fmt: skip
    assert _first(_verify()) == (5, auditchain.BAD_SIGNATURE)


def test_human_output(db):
    _log(3)
    res = CliRunner().invoke(main, ["audit", "verify"])
    assert res.exit_code == 0 and "intact" in res.stdout and "3 events" in res.stdout
    _sql(f"UPDATE {TABLE} SET kind = 'x' WHERE seq = 2")
    res = CliRunner().invoke(main, ["audit", "verify"])
    assert res.exit_code == 1 and "first bad position seq 2 (changed)" in " ".join(res.stdout.split())


# --- PostgreSQL: the trigger and concurrent appends ---------------------------------------------------


@pytest.mark.django_db
@override_settings(AUDIT_CHECKPOINT_EVERY=2)
def test_postgres_refuses_update_and_delete():
    if not _is_pg():
        pytest.skip("PostgreSQL only (DANGAN_DATABASE_URL=postgres://…)")
    _log(2)
    for statement in (f"UPDATE {TABLE} SET actor = 'x' WHERE seq = 1", f"DELETE FROM {TABLE} WHERE seq = 2",
                      "UPDATE audit_auditcheckpoint SET count = 0"):  # fmt: skip
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(statement)
    assert AuditEvent.objects.filter(actor="x").count() == 0 and AuditEvent.objects.count() == 2
    assert AuditCheckpoint.objects.get().count == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain():
    workers, per_worker = 8, 25
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            barrier.wait()
            for i in range(per_worker):
                with transaction.atomic():
                    _log(1, start=w * 1000 + i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, range(workers)))
    assert not errors, errors
    total = workers * per_worker
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, total + 1))
    data = _verify()
    assert data["intact"] and data["events"] == total
