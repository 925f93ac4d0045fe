"""Formal-library API: list records, read one, confirm or return pre-archived cases."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dangan.accounts.roles import Perm
from dangan.accounts.roles import PermissionDenied as RolePermissionDenied
from dangan.archive import services
from dangan.archive.models import Record
from dangan.core.errors import DanganError
from dangan.ingest.api import request_actor


class RecordSerializer(serializers.ModelSerializer[Record]):
    fonds = serializers.CharField(source="fonds.code")
    service_item = serializers.CharField(source="service_item.code")

    class Meta:
        model = Record
        fields = [
            "id", "file_number", "archival_code", "status", "title", "fonds", "service_item", "year",
            "retention", "applicant_name", "completed_at", "file_count", "byte_total", "created_at",
            "archived_at", "archived_by", "returned_reason",
        ]  # fmt: skip


class RecordFileSerializer(serializers.Serializer[dict[str, object]]):
    path = serializers.CharField()
    size = serializers.IntegerField()
    sm3 = serializers.CharField()
    category = serializers.CharField()
    name = serializers.CharField()


class RecordDetailSerializer(RecordSerializer):
    files = serializers.SerializerMethodField()

    class Meta(RecordSerializer.Meta):
        fields = [*RecordSerializer.Meta.fields, "metadata", "check_report", "files"]

    @extend_schema_field(RecordFileSerializer(many=True))
    def get_files(self, obj: Record) -> list[dict[str, object]]:
        return [
            {"path": f.path, "size": f.size, "sm3": f.sm3, "category": f.category, "name": f.name}
            for f in obj.files.all()
        ]


class RecordListView(ListAPIView[Record]):
    serializer_class = RecordSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if not request_actor(self.request).can(Perm.VIEW_RECORDS):
            raise PermissionDenied()
        qs = Record.objects.select_related("fonds", "service_item").order_by("-created_at")
        params = self.request.query_params
        for name in ("status", "year", "retention"):
            if params.get(name):
                qs = qs.filter(**{name: params[name]})
        if params.get("fonds"):
            qs = qs.filter(fonds__code=params["fonds"])
        if params.get("service_item"):
            qs = qs.filter(service_item__code=params["service_item"])
        return qs


class RecordDetailView(APIView):
    @extend_schema(responses={200: RecordDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        if not request_actor(request).can(Perm.VIEW_RECORDS):
            raise PermissionDenied()
        record = Record.objects.select_related("fonds", "service_item").filter(pk=pk).first()
        if record is None:
            raise NotFound()
        return Response(RecordDetailSerializer(record).data)


class ConfirmView(APIView):
    @extend_schema(
        request=None, responses={200: RecordSerializer}, summary="Confirm archiving: assign 档号, write AIP"
    )
    def post(self, request: Request, pk: int) -> Response:
        try:
            record = services.confirm(request_actor(request), pk)
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
        responses={200: RecordSerializer},
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
        except Record.DoesNotExist as exc:
            raise NotFound() from exc
        except DanganError as exc:
            raise ValidationError({"code": exc.code, "message": exc.message}) from exc
        return Response(RecordSerializer(record).data)
