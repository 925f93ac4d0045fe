"""Template context shared by every page."""

from __future__ import annotations

from django.http import HttpRequest


def current_url(request: HttpRequest) -> dict[str, str]:
    """The matched URL's name for the navigation; "" on pages no URL matched (404)."""
    match = getattr(request, "resolver_match", None)
    return {"current_url_name": match.url_name or "" if match is not None else ""}
