"""Backup and restore (dangan.preservation.backup, `dangan backup …`): full and incremental backups,
signed SM3 manifests, volumes, and the fault test: backup → wipe → restore on a fresh data directory
(in a subprocess, on SQLite in both CI runs) gives byte-identical AIPs that pass `dangan verify` and
`dangan audit verify`."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dangan.accounts.roles import Actor
from dangan.archive import services as archive
from dangan.archive.models import Aip
from dangan.audit import chain
from dangan.audit.models import AuditEvent
from dangan.cli import main
from dangan.core.errors import DanganError
from dangan.ingest import services as ingest
from dangan.preservation import backup
from dangan.preservation.models import EventType, PreservationEvent
from dangan.storage.blobstore import default_store
from tests.factories import write_case

pytestmark = pytest.mark.django_db
BIG = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(6400))  # 200 KiB, deterministic


@pytest.fixture
def home(settings, tmp_path):
    """A private data directory for the source instance (its own blobs, keys and secret key)."""
    root = tmp_path / "source-home"
    root.mkdir(mode=0o700)
    settings.DATA_DIR = root
    settings.BLOB_DIR = root / "blobs"
    settings.KEY_DIR = root / "keys"
    settings.QUARANTINE_DIR = root / "quarantine"
    (root / "secret_key").write_text("backup-test-secret-key-0123456789-abcdefghijklmnop")
    os.chmod(root / "secret_key", 0o600)
    archive.instance_key.cache_clear()
    yield root
    archive.instance_key.cache_clear()


def _ingest(tmp_path: Path, actor: Actor, numbers: range) -> list:
    records = []
    for i in numbers:
        path = write_case(
            tmp_path / f"case{i}",
            file_number=f"330899-A101-TEST-2025-D30-{i:06d}",
            extra=i.to_bytes(3, "big"),
        )
        sub = ingest.ingest_path(actor, path)
        assert sub.status == "accepted", sub.errors
        records.append(archive.confirm(actor, sub.record.pk))
    return records


@pytest.fixture
def instance(home, tmp_path, test_catalogue, operator):
    records = _ingest(tmp_path, operator, range(1, 4))
    default_store().put_bytes(BIG)  # larger than a 64 KiB volume: split into parts
    assert chain.checkpoint() is not None
    return records


def _sm3(path: Path) -> str:
    return hashlib.new("sm3", path.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _sm3(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_full_backup_verifies_and_a_flipped_byte_is_named(instance, operator, tmp_path):
    dest = tmp_path / "bak"
    result = backup.create(operator, dest)
    assert result.kind == "full" and result.volumes == 1 and result.blobs_held == result.blobs_total >= 4
    assert {"backup.json", "manifest-sm3.txt", "manifest-sm3.txt.sig", "signer.pem", "说明.txt"} <= {
        p.name for p in dest.iterdir()
    }
    readme = (dest / "说明.txt").read_text()
    assert "第 1 卷，共 1 卷" in readme and "0600" in readme and "dangan backup restore" in readme
    assert (dest / "keys" / "instance-sm2.key").is_file() and (dest / "secret" / "secret_key").is_file()
    for path in dest.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert PreservationEvent.objects.filter(event_type=EventType.BACKUP).count() == 1
    assert AuditEvent.objects.filter(kind="backup.created", object_id=result.backup_id).exists()

    report = backup.verify(dest)
    assert report.ok, report.problems
    assert report.files == result.files and report.signer_fingerprint == archive.instance_key().fingerprint

    aip_blob = Aip.objects.first().files.first().sm3
    victim = dest / f"blobs/sm3/{aip_blob[:2]}/{aip_blob[2:4]}/{aip_blob}"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    bad = backup.verify(dest)
    assert not bad.ok
    assert bad.problems[0].code == "DIGEST_MISMATCH"
    assert bad.problems[0].path == f"blobs/sm3/{aip_blob[:2]}/{aip_blob[2:4]}/{aip_blob}"

    res = CliRunner().invoke(main, ["backup", "verify", str(dest), "--json"])
    assert res.exit_code == 1
    assert json.loads(res.output)["first_bad"]["path"].endswith(aip_blob)


def test_a_forged_manifest_fails_the_signature(instance, operator, tmp_path):
    dest = tmp_path / "bak"
    backup.create(operator, dest)
    manifest = dest / "manifest-sm3.txt"
    manifest.write_bytes(manifest.read_bytes() + b"0" * 64 + b"\t1\tF\textra\n")
    report = backup.verify(dest)
    assert not report.ok and report.problems[0].code == "SIGNATURE_INVALID"


def test_incremental_backup_holds_only_new_blobs(instance, operator, tmp_path):
    full = tmp_path / "full"
    first = backup.create(operator, full)
    before = set(default_store().digests())
    _ingest(tmp_path, operator, range(10, 12))
    new = set(default_store().digests()) - before
    assert new
    inc = tmp_path / "inc"
    second = backup.create(operator, inc, incremental_from=full)
    assert second.kind == "incremental" and second.blobs_held == len(new)
    held = {p.name for p in (inc / "blobs").rglob("*") if p.is_file()}
    assert held == new
    assert backup.verify(inc).ok
    info = json.loads((inc / "backup.json").read_text())
    assert info["base"]["id"] == first.backup_id
    # From the base's manifest alone (the base's volumes may be offline) as well.
    again = backup.create(operator, tmp_path / "inc2", incremental_from=full / "manifest-sm3.txt")
    assert again.blobs_held == len(new)


def test_volumes_split_and_reassemble(instance, operator, tmp_path):
    dest = tmp_path / "vols"
    size = 64 * 1024
    result = backup.create(operator, dest, volume_size=size)
    volumes = sorted(dest.iterdir())
    assert [v.name for v in volumes] == [f"vol-{n:03d}" for n in range(1, result.volumes + 1)]
    assert result.volumes >= 4
    for n, vol in enumerate(volumes, start=1):
        assert sum(p.stat().st_size for p in vol.rglob("*") if p.is_file()) <= size
        assert f"第 {n} 卷，共 {result.volumes} 卷" in (vol / "说明.txt").read_text()
        assert (vol / "manifest-sm3.txt").read_bytes() == (volumes[0] / "manifest-sm3.txt").read_bytes()
    big = hashlib.new("sm3", BIG).hexdigest()
    parts = sorted(p for p in dest.rglob(f"{big}.part-*"))
    assert len(parts) >= 4 and len({p.parts[-6] for p in parts}) >= 3  # across volumes
    assert b"".join(p.read_bytes() for p in sorted(parts, key=lambda p: p.name)) == BIG
    assert backup.verify(dest).ok
    parts[1].unlink()
    report = backup.verify(dest)
    assert not report.ok and report.problems[0].path.endswith(big)
    with pytest.raises(DanganError, match="too small"):
        backup.create(operator, tmp_path / "tiny", volume_size=8 * 1024)


def test_restore_refused_on_a_non_empty_instance(instance, operator, tmp_path):
    dest = tmp_path / "bak"
    backup.create(operator, dest)
    with pytest.raises(DanganError) as exc:
        backup.restore(operator, dest)
    assert exc.value.code == "RESTORE_REFUSED" and "fresh, empty instance" in exc.value.message


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dangan.cli", *args], env=env, capture_output=True, text=True, timeout=240
    )


def test_backup_wipe_restore_on_a_fresh_data_directory(instance, home, operator, tmp_path):
    """The fault test: the restored instance has byte-identical AIPs and verifies, in a new process."""
    full = tmp_path / "full"
    backup.create(operator, full, volume_size=64 * 1024)
    _ingest(tmp_path, operator, range(20, 22))
    inc = tmp_path / "inc"
    backup.create(operator, inc, incremental_from=full)
    events = AuditEvent.objects.count()  # those in the dump, and `backup.created` (as `backup.restored`)
    head = AuditEvent.objects.get(seq=events - 1).hash
    source_blobs = _tree(Path(default_store().root) / "sm3")
    exports = {}
    for record in archive.Record.objects.exclude(archival_code=""):
        out = tmp_path / "export-src" / record.archival_code
        archive.export_aip(operator, record.archival_code, out)
        exports[record.archival_code] = _tree(out)
    assert len(exports) == 5

    target = tmp_path / "fresh-home"  # "wipe": a new, empty data directory
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env.update(DANGAN_HOME=str(target), DJANGO_SETTINGS_MODULE="dangan.conf.settings",
               DANGAN_INSTANCE_NAME="dangan-test")  # fmt: skip
    res = _run(env, "backup", "restore", str(inc), "--base", str(full), "--json")
    assert res.returncode == 0, res.stderr
    restored = json.loads(res.stdout)
    assert restored["blobs"] == len(source_blobs)

    res = _run(env, "verify", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["intact"] and json.loads(res.stdout)["aips"] == 5
    res = _run(env, "audit", "verify", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    audit = json.loads(res.stdout)
    assert (
        audit["intact"] and audit["checkpoints"] >= 1 and audit["events"] == events + 1
    )  # and `dangan verify`

    assert _tree(target / "blobs" / "sm3") == source_blobs
    for code, tree in exports.items():
        res = _run(env, "export-aip", code, "--out", str(tmp_path / "export-dst" / code))
        assert res.returncode == 0, res.stderr
        assert _tree(tmp_path / "export-dst" / code) == tree
    assert stat.S_IMODE((target / "keys" / "instance-sm2.key").stat().st_mode) == 0o600
    assert (target / "secret_key").read_bytes() == (home / "secret_key").read_bytes()
    res = _run(
        env,
        "manage",
        "shell",
        "-c",
        f"from dangan.audit.models import AuditEvent as A; print(A.objects.get(seq={events - 1}).hash)",
    )
    assert res.stdout.strip().splitlines()[-1] == head, (
        res.stderr
    )  # the restored rows keep their seq and hash

    # A second restore onto the now-populated instance is refused and changes nothing.
    res = _run(env, "backup", "restore", str(full), "--json")
    assert res.returncode == 1 and "fresh, empty instance" in res.stderr
    # An incremental backup without its base cannot be restored (and leaves the instance empty).
    empty = tmp_path / "empty-home"
    env2 = {**env, "DANGAN_HOME": str(empty)}
    res = _run(env2, "backup", "restore", str(inc), "--json")
    assert res.returncode == 1 and "--base" in res.stderr
    assert not any((empty / "blobs").rglob("*")) if (empty / "blobs").exists() else True
    assert not (empty / "keys").exists() or not any((empty / "keys").iterdir())


def test_restore_onto_a_fresh_postgresql_database(instance, operator, tmp_path):
    """On the PostgreSQL run: the round trip onto a new, empty PostgreSQL database too."""
    from django.db import connection

    url = os.environ.get("DANGAN_DATABASE_URL", "")
    if connection.vendor != "postgresql" or not url:
        pytest.skip("PostgreSQL only (DANGAN_DATABASE_URL=postgres://…)")
    import dj_database_url
    import psycopg

    full = tmp_path / "full"
    backup.create(operator, full)
    events = AuditEvent.objects.count()
    source_blobs = _tree(Path(default_store().root) / "sm3")
    cfg = dj_database_url.parse(url)
    name = f"dangan_restore_{os.getpid()}_{os.urandom(3).hex()}"
    params = {"host": cfg["HOST"] or None, "port": cfg["PORT"] or None, "user": cfg["USER"] or None,
              "password": cfg["PASSWORD"] or None}  # fmt: skip
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        target = tmp_path / "fresh-pg-home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
        env.update(DANGAN_HOME=str(target), DJANGO_SETTINGS_MODULE="dangan.conf.settings",
                   DANGAN_INSTANCE_NAME="dangan-test", DANGAN_DATABASE_URL=url.rsplit("/", 1)[0] + "/" + name)  # fmt: skip
        res = _run(env, "backup", "restore", str(full), "--json")
        assert res.returncode == 0, res.stderr
        res = _run(env, "verify", "--json")
        assert res.returncode == 0 and json.loads(res.stdout)["aips"] == 3, res.stdout + res.stderr
        res = _run(env, "audit", "verify", "--json")
        assert res.returncode == 0 and json.loads(res.stdout)["events"] == events + 1, res.stdout + res.stderr
        assert _tree(target / "blobs" / "sm3") == source_blobs
        # Sequences were moved past the restored ids: new rows get new ids.
        res = _run(env, "audit", "checkpoint", "--json")
        assert res.returncode == 0, res.stderr
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_failed_restore_leaves_the_instance_empty_then_a_restore_succeeds(home, db, tmp_path, monkeypatch):
    """In this process, onto the (empty) test database: a backup made by another instance (`dangan init`,
    SQLite) — restored across engines on the PostgreSQL run."""
    from django.contrib.auth.models import User

    from dangan.audit import events as audit_events

    source = tmp_path / "other-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env.update(DANGAN_HOME=str(source), DJANGO_SETTINGS_MODULE="dangan.conf.settings")
    assert _run(env, "init").returncode == 0
    dest = tmp_path / "bak"
    res = _run(env, "backup", "create", "--to", str(dest), "--json")
    assert res.returncode == 0, res.stderr
    secret_before = (home / "secret_key").read_bytes()
    operator = Actor.system("restorer")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as m:  # this code knows fewer migrations than the backup's
        m.setattr(backup, "_applied_migrations", lambda: ["accounts.0001_initial"])
        with pytest.raises(DanganError, match="newer dangan"):
            backup.restore(operator, dest)
    monkeypatch.setattr(audit_events, "backup_restored", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        backup.restore(operator, dest)
    assert not User.objects.exists() and not AuditEvent.objects.exists()
    assert next(iter(default_store().digests()), None) is None
    assert not (home / "keys").exists() or not any((home / "keys").iterdir())
    assert (home / "secret_key").read_bytes() == secret_before
    assert not list(home.glob(".restore-*"))

    monkeypatch.undo()
    result = backup.restore(operator, dest)
    assert result.rows > 0 and User.objects.count() == 1
    assert (home / "secret_key").read_bytes() == (source / "secret_key").read_bytes()
    archive.instance_key.cache_clear()
    report = chain.verify()
    assert report.first is None and report.events == AuditEvent.objects.count()
    assert AuditEvent.objects.order_by("-seq").first().kind == "backup.restored"
    assert PreservationEvent.objects.filter(event_type=EventType.RESTORE).count() == 1


def test_sizes_and_hostile_manifests():
    assert backup.parse_size("4G") == 4 * 1024**3 and backup.parse_size("64K") == 65536
    assert backup.parse_size("650MiB") == 650 * 1024**2 and backup.parse_size("1000") == 1000
    with pytest.raises(DanganError):
        backup.parse_size("lots")
    head = f"{backup.FORMAT}\t{'0' * 64}\n".encode()
    for line in (f"{'a' * 64}\t1\tF\t../../etc/passwd", f"{'a' * 64}\t1\tF\t/abs", f"{'a' * 64}\t1\tF\tblobs/x",
                 f"{'g' * 64}\t1\tF\tdb/x", f"{'a' * 64}\t-1\tF\tdb/x"):  # fmt: skip
        with pytest.raises(DanganError):
            backup.Manifest.parse(head + line.encode(), "m")
