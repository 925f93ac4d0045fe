"""Test helpers for tests that need a system tool (clamscan, ffprobe, a CJK font …).

Locally a missing tool skips the test with the install command; in CI (CI=true) it fails instead,
because CI installs every tool (scripts/test.sh) and a skipped check there would prove nothing.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, *, debian_package: str) -> str:
    """The tool's path, or skip (locally) / fail (CI) with how to install it."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (apt-get install {debian_package})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have {name}: {message}")
    pytest.skip(message)
