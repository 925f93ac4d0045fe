"""Fixtures for the OFD tests: the real sample documents in shared/fixtures/ofd (read-only)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(os.environ.get("DANGAN_OFD_FIXTURES", REPO.parent / "shared" / "fixtures" / "ofd"))


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"OFD fixture missing: {path}")
        pytest.skip(f"OFD fixture missing: {path} (set DANGAN_OFD_FIXTURES)")
    return path


@pytest.fixture
def fixture():
    """``fixture("v4signed.ofd")`` → path of a read-only sample."""
    return fixture_path


@pytest.fixture
def copy_fixture(tmp_path):
    """``copy_fixture("v4signed.ofd")`` → a private copy in tmp_path that a test may modify."""

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copyfile(fixture_path(name), dst)
        return dst

    return copy
