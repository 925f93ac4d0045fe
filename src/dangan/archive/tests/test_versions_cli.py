"""The ``archive`` commands for 容缺归档 and AIP versions (dangan.commands.versions)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dangan import cli
from dangan.archive.models import Record
from dangan.archive.tests.conftest import pdf
from dangan.commands.versions import COMMANDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive_group() -> cli._Main:
    """The commands in a group like ``dangan archive`` (same refusal handling: one line, exit 1)."""
    return cli._Main(name="archive", commands={c.name: c for c in COMMANDS})


def test_confirm_gap_supplement_correct_and_list_versions(archive_group, ingest_case, tmp_path):
    runner = CliRunner()
    sub = ingest_case("T-CLI-1", omit=("申报材料/申请书.pdf",))
    ref = sub.record.file_number
    res = runner.invoke(archive_group, ["confirm-gap", ref, "--reason", "承诺补交"])
    assert res.exit_code == 0, res.output
    record = Record.objects.get(pk=sub.record.pk)
    assert record.status == "archived" and record.gap_reason == "承诺补交"

    wrong = tmp_path / "wrong.pdf"
    wrong.write_bytes(pdf("x"))
    res = runner.invoke(
        archive_group, ["supplement", ref, "--material", "Z99", str(wrong), "--reason", "补交"]
    )
    assert res.exit_code == 1 and "UNKNOWN_MATERIAL" in res.output and "Traceback" not in res.output

    good = tmp_path / "申请书.pdf"
    good.write_bytes(pdf("cli supplied"))
    res = runner.invoke(
        archive_group,
        ["supplement", record.archival_code, "--material", "A01", str(good), "--reason", "补交"],
    )
    assert res.exit_code == 0, res.output
    assert "version 2" in res.output and "closed" in res.output

    decision = tmp_path / "决定书.pdf"
    decision.write_bytes(pdf("cli decision"))
    res = runner.invoke(
        archive_group,
        ["correct", ref, "--set", "办件基本信息/办件名称=命令行更正", "--replace", "结果材料/决定书.pdf", str(decision),
         "--reason", "更正"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(archive_group, ["correct", ref, "--set", "no-equals", "--reason", "x"])
    assert res.exit_code == 2

    res = runner.invoke(archive_group, ["versions", ref, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [v["version"] for v in doc["versions"]] == [3, 2, 1]
    assert [v["kind"] for v in doc["versions"]] == ["correction", "supplement", "archived"]
    assert doc["gap_status"] == "closed" and doc["versions"][0]["reason"] == "更正"
    res = runner.invoke(archive_group, ["versions", ref])
    assert res.exit_code == 0 and res.output.splitlines()[0].startswith("v3 correction")

    out = tmp_path / "v1"
    res = runner.invoke(archive_group, ["export-version", record.archival_code, "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "bag-info.txt").read_text(encoding="utf-8").count("Dangan-AIP-Version: 1") == 1
    assert not (out / "data" / "申报材料" / "申请书.pdf").exists()
