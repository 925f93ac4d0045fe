"""Shared fixtures of the web UI tests: demo cases taken in through the real pipeline, and users."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from dangan.accounts.roles import Actor, Role
from dangan.accounts.services import create_user
from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.ingest import services as ingest_services
from dangan.ingest.models import Submission

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _eager_jobs(settings):
    settings.JOBS_EAGER = True


@pytest.fixture(scope="session")
def demo_batch(tmp_path_factory) -> Path:
    """Three generated demo cases (seed 7) in one batch folder; written once per test session."""
    from dangan.demo.generator import generate

    out = tmp_path_factory.mktemp("demo") / "batch"
    generate(out, cases=3, seed=7)
    return out


@dataclass
class Demo:
    submissions: list[Submission]
    rejected: Submission

    @property
    def pending(self) -> Record:
        return Record.objects.filter(status=RecordStatus.PRE_ARCHIVE).order_by("id").first()

    @property
    def archived(self) -> Record:
        return Record.objects.filter(status=RecordStatus.ARCHIVED).order_by("id").first()


@pytest.fixture
def demo(db, demo_batch, tmp_path) -> Demo:
    """The demo catalogue plus the three demo cases ingested, and one package that is rejected."""
    from dangan.quickstart import load_demo_catalogue

    actor = Actor.system("test")
    load_demo_catalogue(actor)
    sources, errors = ingest_services.expand_paths([demo_batch])
    assert not errors
    subs = [ingest_services.ingest_path(actor, s.path, batch=s.batch, batch_entry=s.entry) for s in sources]
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"this is not a zip file")
    rejected = ingest_services.ingest_path(actor, broken)
    assert rejected.status == "rejected"
    demo = Demo(submissions=subs, rejected=rejected)
    assert demo.pending is not None, "the demo data should leave a case in the pre-archive library"
    assert demo.archived is not None, "the demo data should auto-confirm at least one case"
    return demo


@pytest.fixture
def officer(db):
    user, _ = create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)
    return user


@pytest.fixture
def clerk(db):
    user, _ = create_user("clerk", [Role.SERVICE_CLERK], password=PASSWORD)
    return user


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


@pytest.fixture
def clerk_client(client, clerk):
    client.force_login(clerk)
    return client
