"""Loaded with ``-p`` before pytest-django reads settings: an isolated data directory and inline jobs."""

import os
import tempfile

os.environ.setdefault("DANGAN_HOME", tempfile.mkdtemp(prefix="dangan-test-"))
os.environ.setdefault("DANGAN_JOBS_EAGER", "1")
os.environ.setdefault("DANGAN_INSTANCE_NAME", "dangan-test")
