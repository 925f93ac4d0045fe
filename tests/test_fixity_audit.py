"""Scheduled fixity audits (固定性检查, 长期保存 CQ): all AIPs or the rotating sample, FIXITY events,
FixityRun rows, the `dangan preserve audit` command, the Celery beat entry, overdue detection."""

from __future__ import annotations

import json
import math
import os
from datetime import timedelta

import pytest
from click.testing import CliRunner

from dangan.accounts.roles import Actor, Perm, PermissionDenied
from dangan.archive import services as archive
from dangan.archive.models import Aip, AipFile
from dangan.audit.models import AuditEvent
from dangan.cli import main
from dangan.ingest import services as ingest
from dangan.preservation import audit, schedule
from dangan.preservation.models import EventType, FixityRun, Outcome, PreservationEvent
from dangan.storage.blobstore import default_store
from tests.factories import write_case

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_blobs(settings, tmp_path):
    settings.BLOB_DIR = tmp_path / "blobs"


def archive_cases(tmp_path, actor: Actor, count: int) -> list[Aip]:
    aips = []
    for i in range(1, count + 1):
        path = write_case(
            tmp_path / f"case{i}",
            file_number=f"330899-A101-TEST-2025-D30-{i:06d}",
            extra=i.to_bytes(3, "big"),
        )
        sub = ingest.ingest_path(actor, path)
        assert sub.status == "accepted", sub.errors
        aips.append(Aip.objects.get(record=archive.confirm(actor, sub.record.pk)))
    return aips


def own_blob(aip: Aip) -> str:
    for f in aip.files.filter(path__startswith="data/").order_by("path"):
        if AipFile.objects.filter(sm3=f.sm3).count() == 1:
            return f.sm3
    raise AssertionError("no blob of its own")


def rot(digest: str) -> None:
    path = default_store().path(digest)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_full_audit_records_events_run_and_audit_event(tmp_path, test_catalogue, operator):
    aips = archive_cases(tmp_path, operator, 3)
    result = audit.run_audit(operator)
    run = result.run
    assert result.intact and run.completed and run.scope == "all"
    assert (run.aips_total, run.aips_checked, run.aips_failed, run.problem_count) == (3, 3, 0, 0)
    assert run.files == sum(a.file_count for a in aips) and run.bytes == sum(a.byte_total for a in aips)
    events = PreservationEvent.objects.filter(event_type=EventType.FIXITY)
    assert {e.aip_id for e in events} == {a.pk for a in aips}
    assert all(e.outcome == Outcome.SUCCESS and e.detail["run"] == run.pk for e in events)
    ev = AuditEvent.objects.get(kind="fixity.audit", object_type="fixity_run")
    assert ev.object_id == str(run.pk) and ev.outcome == "success" and ev.detail["aips"] == 3
    assert audit.status()["alert"] is False


def test_audit_finds_rot_and_failing_aip_is_rechecked_first(tmp_path, test_catalogue, operator):
    aips = archive_cases(tmp_path, operator, 4)
    audit.run_audit(operator)
    bad = aips[2]
    rot(own_blob(bad))
    result = audit.run_audit(operator)
    assert not result.intact and result.run.aips_failed == 1
    assert {p.code for p in result.problems} == {"DIGEST_MISMATCH"}
    assert result.run.problems[0]["archival_code"] == bad.record.archival_code
    fail = PreservationEvent.objects.get(event_type=EventType.FIXITY, aip=bad, outcome=Outcome.FAILURE)
    assert fail.detail["problems"][0]["code"] == "DIGEST_MISMATCH"
    assert AuditEvent.objects.filter(kind="fixity.audit", outcome="failure").exists()
    st = audit.status()
    assert st["alert"] and st["latest"] == result.run
    # The failed AIP keeps its old last success, so the rotating sample takes it first.
    assert audit.select_sample(90)[0] == bad.pk


def test_rotating_sample_covers_every_aip_within_the_period(tmp_path, test_catalogue, operator):
    aips = archive_cases(tmp_path, operator, 5)
    period = 5  # batch = ceil(5/5) * 2 = 2 per day (+ never checked ones)
    first = audit.run_audit(operator, sample="rotating", period=period)
    assert first.run.aips_checked == 5  # all never checked
    # Simulate days passing: age every fixity event by one day per run.
    checked_on: dict[int, int] = {}
    for day in range(1, period + 1):
        PreservationEvent.objects.filter(event_type=EventType.FIXITY).update(at=_minus_day())
        Aip.objects.update(created_at=_minus_day("created_at"))
        res = audit.run_audit(operator, sample="rotating", period=period)
        assert res.run.aips_checked == audit.batch_size(5, period) == 2
        for e in PreservationEvent.objects.filter(event_type=EventType.FIXITY, detail__run=res.run.pk):
            checked_on[e.aip_id] = day
        assert res.run.overdue == 0
    assert set(checked_on) == {a.pk for a in aips}
    assert audit.overdue_aips(period).count() == 0


def _minus_day(field: str = "at"):
    from django.db.models import F

    return F(field) - timedelta(days=1)


def test_batch_size():
    assert audit.batch_size(0, 90) == 0
    assert audit.batch_size(10, 90) == 2
    assert audit.batch_size(1000, 90) == math.ceil(1000 / 90) * audit.SAFETY
    assert audit.batch_size(3, 1) == 3


def test_overdue_counts_from_creation_and_last_success(tmp_path, test_catalogue, operator):
    (aip,) = archive_cases(tmp_path, operator, 1)
    assert audit.overdue_aips(90).count() == 0  # new, not yet due
    Aip.objects.update(created_at=aip.created_at - timedelta(days=91))
    assert audit.status()["overdue"] == 1 and audit.status()["alert"]
    audit.run_audit(operator, sample="rotating")
    assert audit.overdue_aips(90).count() == 0
    PreservationEvent.objects.filter(event_type=EventType.FIXITY).update(at=_minus_day())
    assert audit.overdue_aips(1).count() == 1


def test_period_from_environment(monkeypatch, settings):
    monkeypatch.setenv("DANGAN_FIXITY_PERIOD_DAYS", "30")
    assert audit.period_days() == 30
    settings.FIXITY_PERIOD_DAYS = 7
    assert audit.period_days() == 7


def test_needs_verify_permission(test_catalogue):
    with pytest.raises(PermissionDenied):
        audit.run_audit(Actor.system("clerk", frozenset({Perm.VIEW_RECORDS})))
    assert not FixityRun.objects.exists()


def test_cli_audit_exit_codes_and_json(tmp_path, test_catalogue, operator):
    aips = archive_cases(tmp_path, operator, 2)
    runner = CliRunner()
    ok = runner.invoke(main, ["preserve", "audit", "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert data["intact"] and data["scope"] == "all" and data["aips_checked"] == 2
    rot(own_blob(aips[0]))
    bad = runner.invoke(main, ["preserve", "audit", "--sample", "--json"])
    assert bad.exit_code == 1, bad.output
    data = json.loads(bad.output)
    assert data["scope"] == "rotating" and data["problems"][0]["code"] == "DIGEST_MISMATCH"
    text = runner.invoke(main, ["preserve", "audit"])
    assert text.exit_code == 1 and "DIGEST_MISMATCH" in text.output and "发现问题" in text.output


def test_beat_schedule(settings, monkeypatch):
    settings.BROKER_URL = ""
    assert schedule.beat_schedule() == {}
    settings.BROKER_URL = "redis://localhost:6379/0"
    monkeypatch.setattr(schedule.importlib.util, "find_spec", lambda name: object())
    entry = schedule.beat_schedule()["dangan-fixity-audit"]
    assert entry["task"] == schedule.TASK_NAME == "dangan.preservation.fixity_audit"
    assert entry["schedule"] == 86400.0 and entry["kwargs"] == {"sample": "rotating"}
    monkeypatch.setattr(schedule.importlib.util, "find_spec", lambda name: None)
    assert schedule.beat_schedule() == {}


def test_scheduled_task_body(tmp_path, test_catalogue, operator):
    archive_cases(tmp_path, operator, 1)
    summary = schedule.fixity_audit()
    assert summary["intact"] and summary["scope"] == "rotating" and summary["aips_checked"] == 1
    assert FixityRun.objects.get().actor == "schedule:fixity"
