"""``dangan ingest --jobs N``: worker processes give the same outcome as one process.

Real worker processes (spawn) on the test database (SQLite here; PostgreSQL with DANGAN_DATABASE_URL):
the same packages — a demo batch with its 批次清单, a broken package, and one package given twice —
end with the same statuses, the same accepted set, no duplicate records, and an intact audit chain.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.conf import settings
from django.core.management import call_command

from dangan.archive.models import Record
from dangan.audit import chain
from dangan.cli import main
from dangan.demo.generator import generate
from dangan.ingest.models import Submission
from dangan.quickstart import load_demo_catalogue


def _run(args: list[str], operator) -> tuple[int, list[dict]]:
    res = CliRunner().invoke(main, ["ingest", "--json", *args])
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    return res.exit_code, lines


def _outcome(lines: list[dict]) -> Counter:
    return Counter(
        (Path(r["package"]).name, r["status"], r.get("file_number"), tuple(e["code"] for e in r["errors"]))
        for r in lines
    )


def _check_database(lines: list[dict]) -> None:
    accepted = [r for r in lines if r["status"] == "accepted"]
    numbers = list(Record.objects.values_list("file_number", flat=True))
    assert len(numbers) == len(set(numbers)) == len(accepted)  # no duplicate records
    assert set(numbers) == {r["file_number"] for r in accepted}
    codes = [c for c in Record.objects.values_list("archival_code", flat=True) if c]
    assert len(codes) == len(set(codes))
    assert Submission.objects.count() == len([r for r in lines if "submission" in r])
    report = chain.verify()
    assert report.intact, report.faults
    leftovers = [p for p in Path(settings.QUARANTINE_DIR).iterdir() if p.name != "uploads"]
    assert leftovers == []


@pytest.mark.django_db(transaction=True)
def test_jobs_2_matches_jobs_1(tmp_path, operator):
    batch = tmp_path / "batch"
    generate(batch, cases=6, seed=21)
    one = sorted(p for p in batch.iterdir() if p.is_dir())[0]
    broken = tmp_path / "broken"
    shutil.copytree(one, broken)
    (broken / "metadata.xml").write_bytes(b"<not-xml")  # whatever the name, the package is broken now
    for f in broken.rglob("*.xml"):
        f.write_bytes(b"<not-xml")
    args = [str(batch), str(broken), str(one)]  # ``one`` twice: once in the batch, once on its own

    outcomes = []
    for jobs in (1, 2):
        call_command("flush", interactive=False, verbosity=0)
        shutil.rmtree(settings.BLOB_DIR, ignore_errors=True)
        load_demo_catalogue(operator)
        code, lines = _run(["--jobs", str(jobs), *args], operator)
        assert code == 1  # the broken package is rejected
        assert len(lines) == 8
        statuses = Counter(r["status"] for r in lines)
        assert statuses == {"accepted": 6, "duplicate": 1, "rejected": 1}, lines
        _check_database(lines)
        outcomes.append(lines)
    # The same packages end the same way; which copy of ``one`` wins the race may differ.
    norm = [_outcome([r for r in lines if Path(r["package"]).name != one.name]) for lines in outcomes]
    assert norm[0] == norm[1]
    assert [r["package"] for r in outcomes[0]] == [r["package"] for r in outcomes[1]]  # order kept


@pytest.mark.django_db(transaction=True)
def test_jobs_usage(tmp_path):
    res = CliRunner().invoke(main, ["ingest", "--jobs", "0", str(tmp_path)])
    assert res.exit_code == 2


@pytest.mark.django_db(transaction=True)
def test_a_failing_worker_is_one_rejected_line_not_the_end_of_the_batch(tmp_path, operator):
    from types import SimpleNamespace

    from dangan.ingest import workers

    # The second package cannot even be handed to a worker (its batch entry does not pickle): that
    # package gets a WORKER_FAILED line and the others are still reported.
    good = SimpleNamespace(path=tmp_path / "missing-a", batch="", entry=None)
    bad = SimpleNamespace(path=tmp_path / "missing-b", batch="", entry=lambda: None)
    lines = dict(workers._run_pool(operator, [good, bad], 2))
    assert lines[1]["status"] == "rejected" and lines[1]["errors"][0]["code"] == "WORKER_FAILED"
    assert lines[0]["package"].endswith("missing-a")
