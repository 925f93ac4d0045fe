"""Formal-library API: list records, read one, confirm or return pre-archived cases; AIP versions
(list, supplement missing materials, correct)."""

from __future__ import annotations

import json
from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangan.accounts.roles import Perm
from dangan.accounts.roles import PermissionDenied as RolePermissionDenied
from dangan.archive import services
from dangan.archive.models import Record
from dangan.archive.states import CHOICES
from dangan.audit import events
from dangan.core.errors import DanganError
from dangan.ingest.api import AUTH_ERRORS, UploadField, error, request_actor

# The id in the path: the URL pattern matches digits only.
RECORD_ID = OpenApiParameter("id", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH)
NOT_FOUND = {404: error("no such record")}
REFUSED = {400: error("refused: ``code`` and ``message`` say why"), **AUTH_ERRORS, **NOT_FOUND}


class RecordSerializer(serializers.ModelSerializer[Record]):
    fonds = serializers.CharField(source="fonds.code")
    service_item = serializers.CharField(source="service_item.code")

    class Meta:
        model = Record
        fields = [
            "id", "file_number", "archival_code", "status", "title", "fonds", "service_item", "year",
            "retention", "applicant_name", "completed_at", "file_count", "byte_total", "created_at",
            "archived_at", "archived_by", "returned_reason", "gap_status", "gap_materials", "gap_reason",
        ]  # fmt: skip


class RecordFileSerializer(serializers.Serializer[dict[str, object]]):
    path = serializers.CharField()
    size = serializers.IntegerField()
    sm3 = serializers.CharField()
    category = serializers.CharField()
    name = serializers.CharField()


class AipVersionSerializer(serializers.Serializer[dict[str, object]]):
    version = serializers.IntegerField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()
    reason = serializers.CharField()
    changes = serializers.DictField()
    tagmanifest_sm3 = serializers.CharField()
    previous_tagmanifest_sm3 = serializers.CharField()
    file_count = serializers.IntegerField()
    byte_total = serializers.IntegerField()


def _versions(record: Record) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k != "aip"} for row in services.version_summaries(record)]


class RecordDetailSerializer(RecordSerializer):
    files = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    class Meta(RecordSerializer.Meta):
        fields = [*RecordSerializer.Meta.fields, "metadata", "check_report", "files", "versions"]

    @extend_schema_field(AipVersionSerializer(many=True))
    def get_versions(self, obj: Record) -> list[dict[str, object]]:
        return list(AipVersionSerializer(cast(Any, _versions(obj)), many=True).data)

    @extend_schema_field(RecordFileSerializer(many=True))
    def get_files(self, obj: Record) -> list[dict[str, object]]:
        return [
            {"path": f.path, "size": f.size, "sm3": f.sm3, "category": f.category, "name": f.name}
            for f in obj.files.all()
        ]


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=[value for value, _ in CHOICES]),
            OpenApiParameter("year", OpenApiTypes.INT),
            OpenApiParameter("retention", OpenApiTypes.STR),
            OpenApiParameter("fonds", OpenApiTypes.STR, description="全宗号"),
            OpenApiParameter("service_item", OpenApiTypes.STR, description="事项编码"),
        ],
        responses={200: RecordSerializer(many=True), 400: error("year is not a number"), **AUTH_ERRORS},
    )
)
class RecordListView(ListAPIView[Record]):
    serializer_class = RecordSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        data = response.data if isinstance(response.data, dict) else {}
        rows = data.get("results", [])
        filters = {k: v[:100] for k, v in request.query_params.items()}
        events.records_listed(request_actor(request), channel="api", filters=filters, count=len(rows))
        return response

    def get_queryset(self):  # type: ignore[no-untyped-def]
        actor = request_actor(self.request)
        if not actor.can(Perm.VIEW_RECORDS):
            raise PermissionDenied()
        qs = services.visible_records(actor).select_related("fonds", "service_item").order_by("-created_at")
        params = self.request.query_params
        if params.get("year") and not params["year"].isdecimal():
            raise ValidationError({"year": "a year, e.g. 2025"})
        for name in ("status", "year", "retention"):
            if params.get(name):
                qs = qs.filter(**{name: params[name]})
        if params.get("fonds"):
            qs = qs.filter(fonds__code=params["fonds"])
        if params.get("service_item"):
            qs = qs.filter(service_item__code=params["service_item"])
        return qs


class RecordDetailView(APIView):
    @extend_schema(
        parameters=[RECORD_ID], responses={200: RecordDetailSerializer, **AUTH_ERRORS, **NOT_FOUND}
    )
    def get(self, request: Request, pk: int) -> Response:
        actor = request_actor(request)
        if not actor.can(Perm.VIEW_RECORDS):
            raise PermissionDenied()
        try:
            record = services.read_record(actor, pk, channel="api")
        except services.RecordNotFound as exc:
            raise NotFound() from exc
        return Response(RecordDetailSerializer(record).data)


def _field(request: Request, name: str) -> str:
    data = request.data
    value = data.get(name, "") if hasattr(data, "get") else ""
    return value if isinstance(value, str) else ""


class ConfirmView(APIView):
    @extend_schema(
        request=inline_serializer("ConfirmRequest", {"gap_reason": serializers.CharField(required=False)}),
        parameters=[RECORD_ID],
        responses={200: RecordSerializer, **REFUSED},
        summary="Confirm archiving: assign 档号, write AIP (a case with a gap needs gap_reason)",
    )
    def post(self, request: Request, pk: int) -> Response:
        try:
            record = services.confirm(request_actor(request), pk, gap_reason=_field(request, "gap_reason"))
        except RolePermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.RecordNotFound as exc:
            raise NotFound(exc.message) from exc
        except DanganError as exc:
            raise ValidationError({"code": exc.code, "message": exc.message}) from exc
        return Response(RecordSerializer(record).data)


class ReturnView(APIView):
    @extend_schema(
        request=inline_serializer("ReturnRequest", {"reason": serializers.CharField()}),
        parameters=[RECORD_ID],
        responses={200: RecordSerializer, **REFUSED},
        summary="Return a pre-archived case with a reason",
    )
    def post(self, request: Request, pk: int) -> Response:
        try:
            record = services.return_record(
                request_actor(request),
                pk,
                reason=str(request.data.get("reason", "") if isinstance(request.data, dict) else ""),
            )
        except RolePermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.RecordNotFound as exc:
            raise NotFound() from exc
        except DanganError as exc:
            raise ValidationError({"code": exc.code, "message": exc.message}) from exc
        return Response(RecordSerializer(record).data)


def _refusal(exc: Exception) -> Exception:
    """A service refusal as the API's error (403, 404, or 400 with the stable code)."""
    if isinstance(exc, RolePermissionDenied):
        return PermissionDenied(str(exc))
    if isinstance(exc, services.RecordNotFound):
        return NotFound(exc.message)
    if isinstance(exc, services.ChecksFailed):
        return ValidationError({"code": exc.code, "message": exc.message, "errors": exc.errors})
    assert isinstance(exc, DanganError)
    return ValidationError({"code": exc.code, "message": exc.message, "target": exc.target})


class VersionsView(APIView):
    @extend_schema(
        parameters=[RECORD_ID],
        responses={200: AipVersionSerializer(many=True), **AUTH_ERRORS, **NOT_FOUND},
        summary="AIP versions, newest first",
    )
    def get(self, request: Request, pk: int) -> Response:
        actor = request_actor(request)
        if not actor.can(Perm.VIEW_RECORDS):
            raise PermissionDenied()
        try:
            record = services.read_record(actor, pk, channel="api", what="versions")
        except services.RecordNotFound as exc:
            raise NotFound() from exc
        return Response(AipVersionSerializer(cast(Any, _versions(record)), many=True).data)


class SupplementView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "SupplementRequest",
                {
                    "material_code": serializers.CharField(),
                    "category": serializers.CharField(required=False),
                    "reason": serializers.CharField(),
                    "files": serializers.ListField(child=UploadField()),
                },
            )
        },
        parameters=[RECORD_ID],
        responses={200: AipVersionSerializer, **REFUSED},
        summary="Supply missing materials (容缺): writes a new AIP version",
    )
    def post(self, request: Request, pk: int) -> Response:
        code = _field(request, "material_code")
        category = _field(request, "category")
        uploads = [
            services.Upload(filename=f.name or "", stream=f, material_code=code, category=category)
            for f in request.FILES.getlist("files")
        ]
        try:
            aip = services.supplement(
                request_actor(request), pk, uploads=uploads, reason=_field(request, "reason")
            )
        except (DanganError, RolePermissionDenied) as exc:
            raise _refusal(exc) from exc
        return Response(AipVersionSerializer(_versions(aip.record)[0]).data)


class CorrectView(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "CorrectionRequest",
                {
                    "reason": serializers.CharField(),
                    "changes": serializers.CharField(
                        required=False, help_text='JSON object {"<group>/<element>": "new value"}'
                    ),
                    "replace_path": serializers.CharField(required=False),
                    "replace_file": UploadField(required=False),
                },
            )
        },
        parameters=[RECORD_ID],
        responses={200: AipVersionSerializer, **REFUSED},
        summary="Correct an archived record (更正): writes a new AIP version",
    )
    def post(self, request: Request, pk: int) -> Response:
        raw = request.data.get("changes") if hasattr(request.data, "get") else None
        changes: object = raw or {}
        if isinstance(raw, str):
            try:
                changes = json.loads(raw)
            except ValueError:
                changes = None
        if not isinstance(changes, dict) or not all(isinstance(v, str) for v in changes.values()):
            raise ValidationError(
                {"code": "BAD_CHANGES", "message": "changes must be a JSON object of strings"}
            )
        uploads = [
            services.Upload(filename=f.name or "", stream=f, replaces=_field(request, "replace_path"))
            for f in request.FILES.getlist("replace_file")
        ]
        try:
            aip = services.correct(
                request_actor(request), pk, changes=changes, uploads=uploads, reason=_field(request, "reason")
            )
        except (DanganError, RolePermissionDenied) as exc:
            raise _refusal(exc) from exc
        return Response(AipVersionSerializer(_versions(aip.record)[0]).data)
