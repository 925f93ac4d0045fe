"""The CLI contract scripts rely on: exit codes and --json output."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from dangan.archive.models import Record
from dangan.cli import main
from tests.factories import write_case

pytestmark = pytest.mark.django_db


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_ingest_json_and_exit_codes(tmp_path, test_catalogue):
    runner = CliRunner()
    good = write_case(tmp_path / "good")
    res = runner.invoke(main, ["ingest", "--json", str(good)])
    assert res.exit_code == 0, res.output
    [obj] = _lines(res.stdout)
    assert obj["status"] == "accepted" and obj["errors"] == [] and obj["package"] == str(good)

    res = runner.invoke(main, ["ingest", "--json", str(good)])
    assert res.exit_code == 0 and _lines(res.stdout)[0]["status"] == "duplicate"

    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../evil", b"x")
    res = runner.invoke(main, ["ingest", "--json", str(slip), str(good)])
    assert res.exit_code == 1
    objs = {o["package"]: o for o in _lines(res.stdout)}
    assert objs[str(slip)]["status"] == "rejected"
    assert objs[str(slip)]["errors"][0]["code"] == "ZIP_PATH_TRAVERSAL"


def test_ingest_usage_errors_exit_2(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["ingest"]).exit_code == 2
    assert runner.invoke(main, ["ingest", str(tmp_path / "missing")]).exit_code == 2


def test_confirm_verify_export(tmp_path, test_catalogue):
    runner = CliRunner()
    runner.invoke(main, ["ingest", str(write_case(tmp_path / "a"))])
    res = runner.invoke(main, ["archive", "confirm", "--all-pending", "--json"])
    assert res.exit_code == 0, res.output
    code = _lines(res.stdout)[0]["archival_code"]
    assert Record.objects.get().archival_code == code

    res = runner.invoke(main, ["verify", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["intact"] is True

    res = runner.invoke(main, ["export-aip", code, "--out", str(tmp_path / "aip")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "aip" / "bagit.txt").exists()
    assert runner.invoke(main, ["export-aip", "NOPE", "--out", str(tmp_path / "x")]).exit_code == 1

    from dangan.storage.blobstore import default_store

    blob = default_store().path(Record.objects.get().files.first().sm3)
    blob.chmod(0o644)
    blob.write_bytes(b"rot")
    res = runner.invoke(main, ["verify", "--json"])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["problems"][0]["code"] == "DIGEST_MISMATCH"


def test_refusals_are_one_line_errors_not_tracebacks(tmp_path, test_catalogue):
    runner = CliRunner()
    runner.invoke(main, ["ingest", str(write_case(tmp_path / "a"))])
    ref = Record.objects.get().file_number
    res = runner.invoke(main, ["archive", "return", ref, "--reason", "  "])
    assert res.exit_code == 1 and "REASON_REQUIRED" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["archive", "confirm", ref, "--json"])
    assert res.exit_code == 0
    res = runner.invoke(main, ["archive", "confirm", ref])
    assert res.exit_code == 1 and "already archived as" in res.output
    res = runner.invoke(main, ["archive", "return", ref, "--reason", "x"])
    assert res.exit_code == 1 and "INVALID_TRANSITION" in res.output
    assert runner.invoke(main, ["user", "create", "u1", "--role", "records_officer"]).exit_code == 0
    res = runner.invoke(main, ["user", "create", "u1", "--role", "records_officer"])
    assert res.exit_code == 1 and "USER_EXISTS" in res.output


def test_permission_refusal_under_as_user_is_one_line(tmp_path, test_catalogue):
    runner = CliRunner()
    assert runner.invoke(main, ["user", "create", "clerk", "--role", "service_clerk"]).exit_code == 0
    runner.invoke(main, ["ingest", str(write_case(tmp_path / "a"))])
    res = runner.invoke(main, ["archive", "confirm", "--all-pending", "--as", "clerk"])
    assert res.exit_code == 1 and "PERMISSION_DENIED" in res.output and "Traceback" not in res.output


def test_system_admin_user_sees_the_catalogue_screens(db):
    from django.test import Client

    from dangan.accounts.roles import Role
    from dangan.accounts.services import create_user

    create_user("sysadmin", [Role.SYSTEM_ADMIN], password="Long-enough-pw-3")
    client = Client()
    assert client.login(username="sysadmin", password="Long-enough-pw-3")
    assert client.get("/admin/catalog/fonds/").status_code == 200
    assert client.get("/admin/archive/record/").status_code == 404  # records have their own pages


def test_init_sets_up_an_empty_instance(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DANGAN_HOME": str(tmp_path / "home")}
    env.pop("DANGAN_DATABASE_URL", None)
    res = subprocess.run(
        [sys.executable, "-m", "dangan.cli", "init"], env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert "initial password" in res.stderr
    assert (tmp_path / "home" / "dangan.sqlite3").exists() and (
        tmp_path / "home" / "keys" / "instance-sm2.key"
    ).exists()
    assert not (tmp_path / "home" / "demo-inbox").exists()
