"""Demo data through the real pipeline: good cases archive into valid, signed AIPs; every broken
variant is rejected with its specific code naming the file or field, and leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from dangan.accounts.roles import Actor
from dangan.archive import services as archive
from dangan.archive.models import ArchivalCodeCounter, Record
from dangan.archive.states import RecordStatus
from dangan.demo.broken import write_broken_variants
from dangan.demo.generator import generate
from dangan.ingest import services as ingest
from dangan.preservation import services as preservation
from dangan.quickstart import load_demo_catalogue
from tests.independent import bagit_validate, gmssl_verify_bag_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_catalogue(operator):
    return load_demo_catalogue(operator)


def _blob_count() -> int:
    root = Path(settings.BLOB_DIR) / "sm3"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def test_demo_cases_archive_into_valid_signed_aips(tmp_path, demo_catalogue, operator, officer_actor):
    generate(tmp_path / "batch", cases=8, seed=11, as_zip=True)
    sources, errors = ingest.expand_paths([tmp_path / "batch"])
    assert not errors and len(sources) == 8
    for src in sources:
        sub = ingest.ingest_path(operator, src.path, batch=src.batch, batch_entry=src.entry)
        assert sub.status == "accepted", (src.path.name, sub.errors)
    for rid in Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).values_list("id", flat=True):
        archive.confirm(officer_actor, rid)
    records = list(Record.objects.all())
    assert all(r.status == RecordStatus.ARCHIVED for r in records)
    assert len({r.archival_code for r in records}) == 8
    for r in records:
        out = archive.export_aip(officer_actor, r.archival_code, tmp_path / "aips" / str(r.pk))
        bagit_validate(out)
        assert gmssl_verify_bag_signature(out)
    assert preservation.verify_all(officer_actor).intact


def test_every_broken_variant_is_rejected_precisely(tmp_path, demo_catalogue):
    variants = write_broken_variants(tmp_path / "broken", seed=5)
    listed = json.loads((tmp_path / "broken" / "variants.json").read_text(encoding="utf-8"))
    assert {v["name"] for v in listed} == {v.name for v in variants}
    by_name = {v.name: v for v in variants}
    actor = Actor.system("test")

    base = ingest.ingest_path(actor, Path(by_name["base"].path))
    assert base.status == "accepted", base.errors
    blobs, records = _blob_count(), Record.objects.count()

    for v in variants:
        if v.name == "base":
            continue
        sub = ingest.ingest_path(actor, Path(v.path))
        assert sub.status == "rejected", v.name
        codes = [e["code"] for e in sub.errors]
        assert v.expected_code in codes, (v.name, sub.errors)
        named = [e for e in sub.errors if e["code"] == v.expected_code]
        assert any(v.target in e.get("target", "") + e["message"] for e in named), (v.name, v.target, named)
        # nothing half-written: no record, no blob, no archival code, empty quarantine
        assert Record.objects.count() == records and _blob_count() == blobs, v.name
        assert ArchivalCodeCounter.objects.count() == 0
        leftovers = [p for p in Path(settings.QUARANTINE_DIR).iterdir() if p.name != "uploads"]
        assert leftovers == [], v.name


def test_expand_paths_reads_a_variant_listing(tmp_path):
    write_broken_variants(tmp_path / "b", seed=5)
    listed = json.loads((tmp_path / "b" / "variants.json").read_text(encoding="utf-8"))
    assert all((tmp_path / "b" / v["path"]).exists() for v in listed)
