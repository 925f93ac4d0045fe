"""Loaded with ``-p`` before pytest-django reads settings: an isolated data directory and inline jobs."""

import os
import tempfile

os.environ.setdefault("DANGAN_HOME", tempfile.mkdtemp(prefix="dangan-test-"))
os.environ.setdefault("DANGAN_JOBS_EAGER", "1")
os.environ.setdefault("DANGAN_INSTANCE_NAME", "dangan-test")
# The API rate limits stay on, high enough that no test trips them by accident; tests/test_hardening.py
# lowers them to see the 429.
for _scope in ("SOURCE", "USER", "ANON"):
    os.environ.setdefault(f"DANGAN_API_RATE_{_scope}", "100000/min")
