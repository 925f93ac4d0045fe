"""The configured database and cache are the ones in use (CI runs this with PostgreSQL and Redis)."""

from __future__ import annotations

import os

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_reports_database_and_cache():
    resp = Client().get("/healthz")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    vendor = "postgresql" if os.environ.get("DANGAN_DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert body["database"] == f"ok ({vendor})"
    expected_cache = "RedisCache" if os.environ.get("DANGAN_REDIS_URL") else "LocMemCache"
    assert body["cache"] == f"ok ({expected_cache})"


@pytest.mark.django_db
def test_healthz_degrades_when_cache_is_down(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # fmt: skip
    resp = Client().get("/healthz")
    assert resp.status_code == 503 and resp.json()["cache"].startswith("error")
