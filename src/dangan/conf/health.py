"""/healthz for load balancers and operators: is the database reachable, does the cache answer."""

from __future__ import annotations

import uuid

from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = f"ok ({connection.vendor})"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        cache = caches["default"]
        probe = uuid.uuid4().hex
        cache.set(f"healthz:{probe}", probe, 10)
        ok = cache.get(f"healthz:{probe}") == probe
        cache.delete(f"healthz:{probe}")
        checks["cache"] = f"ok ({type(cache).__name__})" if ok else "error: value not returned"
    except Exception as exc:
        checks["cache"] = f"error: {type(exc).__name__}"
    healthy = all(v.startswith("ok") for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)
