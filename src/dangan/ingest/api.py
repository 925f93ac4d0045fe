"""Intake API: a source system uploads a package ZIP and later reads the outcome at the status URL."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangan.accounts.roles import TOKEN_SCOPES, Actor, Perm
from dangan.audit import events
from dangan.catalog.auth import SourceSystemPrincipal
from dangan.core.checks.model import Stage
from dangan.core.errors import DanganError
from dangan.ingest import services
from dangan.ingest.models import Submission


@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """A multipart file part, documented as binary (drf-spectacular's default ``format: uri`` is for
    responses)."""


def error(description: str) -> OpenApiResponse:
    """An error answer: a JSON object (``detail``, or field errors, or ``code`` and ``message``)."""
    return OpenApiResponse(OpenApiTypes.OBJECT, description=description)


# The answers every API operation may give before its own logic runs.
AUTH_ERRORS = {
    401: error("no or invalid credentials"),
    403: error("this account may not do this (or the CSRF token of a session is missing)"),
    429: error("rate limit reached (dangan.conf.throttling): try again after Retry-After seconds"),
}


def request_actor(request: Request) -> Actor:
    """The caller as an actor: a source system holds only its token's scopes (in its fonds)."""
    ip = request.META.get("REMOTE_ADDR", "")
    if isinstance(request.user, SourceSystemPrincipal):
        system = request.user.system
        return Actor.source_system(system.pk, system.code, ip, token_scopes=request.user.scopes)
    return Actor.from_user(request.user, ip)


def require_api(actor: Actor, perm: Perm, what: str) -> None:
    """403 unless ``actor`` holds ``perm``; a token is told which scope it lacks."""
    if actor.can(perm):
        return
    if actor.kind == "source_system":
        scope = next((s for s, p in TOKEN_SCOPES.items() if p == perm), perm.value)
        raise PermissionDenied(f"this token does not have the scope {scope!r} ({what})")
    raise PermissionDenied(f"this account may not {what}")


class SubmissionSerializer(serializers.ModelSerializer[Submission]):
    status_url = serializers.SerializerMethodField()
    record = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id", "status", "package_name", "file_number", "content_digest", "errors",
            "received_at", "finished_at", "status_url", "record", "report",
        ]  # fmt: skip

    def get_status_url(self, obj: Submission) -> str:
        request = self.context.get("request")
        path = f"/api/v1/submissions/{obj.id}"
        return request.build_absolute_uri(path) if request else path

    def get_record(self, obj: Submission) -> dict[str, Any] | None:
        if obj.record is None:
            return None
        return {
            "id": obj.record.pk,
            "status": obj.record.status,
            "archival_code": obj.record.archival_code,
            "returned_reason": obj.record.returned_reason or None,
        }


class CaseUploadView(APIView):
    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        request=inline_serializer("CaseUpload", {"package": UploadField()}),
        responses={
            202: SubmissionSerializer,
            400: error("no package file"),
            **AUTH_ERRORS,
            413: error("package too large"),
        },
        summary="Send a case package (ZIP); answered 202 with a status URL",
    )
    def post(self, request: Request) -> Response:
        actor = request_actor(request)
        require_api(actor, Perm.INGEST, "send cases")
        upload = request.FILES.get("package")
        if upload is None:
            raise ValidationError({"package": "attach the package ZIP as multipart field 'package'"})
        if upload.size is not None and upload.size > settings.MAX_PACKAGE_BYTES:
            return Response(
                {
                    "code": "PACKAGE_TOO_LARGE",
                    "message": f"package exceeds {settings.MAX_PACKAGE_BYTES} bytes",
                },
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        source = request.user.system if isinstance(request.user, SourceSystemPrincipal) else None
        sub = services.receive_upload(actor, upload, filename=upload.name or "package.zip", source=source)
        data = SubmissionSerializer(sub, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["status_url"]})


class PrecheckView(APIView):
    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        request=inline_serializer(
            "CheckUpload",
            {
                "package": UploadField(),
                "stage": serializers.ChoiceField(choices=[s.value for s in Stage], required=False),
            },
        ),
        responses={
            200: inline_serializer(
                "CheckResult",
                {
                    "passed": serializers.BooleanField(),
                    "facts": serializers.DictField(),
                    "report": serializers.DictField(),
                },
            ),
            400: error("no package file, or the package cannot be read"),
            **AUTH_ERRORS,
            413: error("package too large"),
        },
        summary="Pre-check a case package (ZIP) without sending it: the four-property check report",
    )
    def post(self, request: Request) -> Response:
        actor = request_actor(request)
        require_api(actor, Perm.PRECHECK, "pre-check packages")
        upload = request.FILES.get("package")
        if upload is None:
            raise ValidationError({"package": "attach the package ZIP as multipart field 'package'"})
        stage_value = request.POST.get("stage") or Stage.ARCHIVE.value
        if stage_value not in {s.value for s in Stage}:
            raise ValidationError({"stage": f"one of {', '.join(s.value for s in Stage)}"})
        if upload.size is not None and upload.size > settings.MAX_PACKAGE_BYTES:
            return Response(
                {
                    "code": "PACKAGE_TOO_LARGE",
                    "message": f"package exceeds {settings.MAX_PACKAGE_BYTES} bytes",
                },
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        try:
            report, facts = services.precheck_upload(
                actor, upload, filename=upload.name or "package.zip", stage=Stage(stage_value)
            )
        except DanganError as exc:
            return Response({"passed": False, **exc.as_dict()}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"passed": report.passed, "facts": facts, "report": report.to_dict()})


class SubmissionView(APIView):
    @extend_schema(
        responses={
            200: SubmissionSerializer,
            **AUTH_ERRORS,
            404: error("no such submission (of this system)"),
        },
        summary="Outcome and check report of a submission",
    )
    def get(self, request: Request, pk: str) -> Response:
        actor = request_actor(request)
        require_api(actor, Perm.VIEW_SUBMISSIONS, "read submissions")
        # A source system sees only its own submissions; a person those of his fonds and his own.
        sub = services.visible_submissions(actor).select_related("record").filter(pk=pk).first()
        if sub is None:
            raise NotFound("no such submission")
        if actor.kind != "source_system":  # a sender polling its own submission's status is not a read
            events.submission_viewed(actor, sub.pk, channel="api")
        return Response(SubmissionSerializer(sub, context={"request": request}).data)
