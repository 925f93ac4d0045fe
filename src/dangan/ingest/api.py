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

from dangan.accounts.roles import Actor, Perm
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
}


def request_actor(request: Request) -> Actor:
    ip = request.META.get("REMOTE_ADDR", "")
    if isinstance(request.user, SourceSystemPrincipal):
        system = request.user.system
        return Actor.source_system(system.pk, system.code, ip)
    return Actor.from_user(request.user, ip)


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
        if not actor.can(Perm.INGEST):
            raise PermissionDenied("this account may not send cases")
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
        if not actor.can(Perm.INGEST):
            raise PermissionDenied("this account may not send cases")
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
        sub = Submission.objects.select_related("record").filter(pk=pk).first()
        if sub is None:
            raise NotFound("no such submission")
        # A source system sees only its own submissions; staff need the view permission.
        if actor.kind == "source_system":
            if sub.source_system_id != actor.source_system_id:
                raise NotFound("no such submission")
        elif not actor.can(Perm.VIEW_SUBMISSIONS):
            raise PermissionDenied()
        return Response(SubmissionSerializer(sub, context={"request": request}).data)
