"""Response headers and request limits that Django's SecurityMiddleware does not cover.

One middleware, placed right after WhiteNoise (so before sessions, CSRF and every view):

* the Content-Security-Policy of ``settings.CONTENT_SECURITY_POLICY`` (django-csp 4; a response
  that already carries its own policy, such as the sandboxed HTML report downloads, keeps it;
  views may adjust it with django-csp's decorators);
* ``Permissions-Policy`` (``settings.PERMISSIONS_POLICY``): no camera, microphone, location …;
* failed API token attempts per client address (``dangan.conf.throttling``): counted here, and an
  address out of attempts is refused (429) before its token is looked up;
* a request whose ``Content-Length`` exceeds ``settings.MAX_UPLOAD_BYTES`` (DANGAN_MAX_UPLOAD_BYTES)
  is answered 413 at once, before anything reads its body: JSON (``code``, ``message``) under
  ``/api/``, plain text elsewhere.

Referrer-Policy, Cross-Origin-Opener-Policy, X-Content-Type-Options, HSTS and the HTTPS redirect
are Django's own (SecurityMiddleware, configured in settings); X-Frame-Options is Django's
XFrameOptionsMiddleware.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from dangan.conf import throttling

REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def too_large(request: HttpRequest, limit: int) -> HttpResponse:
    message = f"the request body exceeds {limit} bytes (DANGAN_MAX_UPLOAD_BYTES)"
    if request.path_info.startswith("/api/"):
        return JsonResponse({"code": REQUEST_TOO_LARGE, "message": message}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


class HardeningMiddleware(CSPMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:  # type: ignore[override]
        super().process_request(request)
        limit = int(getattr(settings, "MAX_UPLOAD_BYTES", 0) or 0)
        if limit and _content_length(request) > limit:
            return too_large(request, limit)
        return throttling.refuse_guessing(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        throttling.count_failure(request, response)
        response = super().process_response(request, response)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        return response
