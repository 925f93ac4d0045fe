"""OpenAPI description of the source-system token (so /api/schema/ documents how to authenticate)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SourceSystemTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "dangan.catalog.auth.SourceSystemTokenAuthentication"
    name = "SourceSystemToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>` — issued per service system with `dangan source add`.",
        }
