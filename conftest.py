"""Test-wide set-up: an isolated data directory and inline jobs, before Django reads its settings."""

import os
import tempfile

_home = tempfile.mkdtemp(prefix="dangan-test-")
os.environ.setdefault("DANGAN_HOME", _home)
os.environ.setdefault("DANGAN_JOBS_EAGER", "1")
os.environ.setdefault("DANGAN_INSTANCE_NAME", "dangan-test")
