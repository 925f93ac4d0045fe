"""Test-wide fixtures. The environment (data directory, inline jobs) is set by dangan.testing.pytest_env."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_storage(request, tmp_path_factory):
    """Each test gets its own blob store and quarantine, so "nothing left behind" can be asserted."""
    from django.conf import settings as dj

    root = tmp_path_factory.mktemp("data")
    saved = (dj.BLOB_DIR, dj.QUARANTINE_DIR)
    dj.BLOB_DIR, dj.QUARANTINE_DIR = root / "blobs", root / "quarantine"
    yield
    dj.BLOB_DIR, dj.QUARANTINE_DIR = saved
