"""Catalogue administration. Saves go through the catalogue services, so they are validated and audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest

from dangan.accounts.roles import Actor, Perm
from dangan.catalog import services
from dangan.catalog.models import ArchiveClass, Fonds, RetentionCode, RetentionRule, ServiceItem, SourceSystem
from dangan.core.checks.scheme import parse_overrides
from dangan.core.codes import CodePattern
from dangan.core.errors import DanganError


def _validated(validate: Any, value: Any) -> Any:
    try:
        validate(value or {})
    except DanganError as exc:
        raise ValidationError(exc.message) from exc
    return value or {}


def _catalogue_actor(request: HttpRequest) -> Actor:
    """The admin user as an actor; without the catalogue permission the save is refused with 403."""
    actor = Actor.from_user(request.user)
    if not actor.can(Perm.MANAGE_CATALOG):
        raise PermissionDenied("managing the catalogue needs the system administrator role")
    return actor


class FondsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Fonds
        fields = ["code", "name", "region_code", "archival_code_pattern", "check_profile"]

    def clean_check_profile(self) -> Any:
        return _validated(services.validate_check_profile, self.cleaned_data["check_profile"])

    def clean_archival_code_pattern(self) -> str:
        pattern = str(self.cleaned_data["archival_code_pattern"])
        try:
            CodePattern.parse(pattern)
        except DanganError as exc:
            raise ValidationError(exc.message) from exc
        return pattern


@admin.register(Fonds)
class FondsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = FondsForm
    list_display = ["code", "name", "region_code", "archival_code_pattern"]
    search_fields = ["code", "name"]

    def save_model(self, request: HttpRequest, obj: Fonds, form: Any, change: bool) -> None:
        saved = services.upsert_fonds(
            _catalogue_actor(request), code=obj.code, name=obj.name, region_code=obj.region_code,
            pattern=obj.archival_code_pattern, check_profile=obj.check_profile,
        )  # fmt: skip
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Fonds | None = None) -> bool:
        return False  # fonds with records are never deleted


class ServiceItemForm(forms.ModelForm):  # type: ignore[type-arg]
    retention = forms.ChoiceField(label="保管期限", initial="D30")

    class Meta:
        model = ServiceItem
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "retention" in self.fields:
            scale = services.retention_scale()
            self.fields["retention"].choices = [  # type: ignore[attr-defined]
                (p.code, f"{p.code} {p.label}") for p in scale.periods
            ]

    def clean_metadata_scheme(self) -> Any:
        return _validated(parse_overrides, self.cleaned_data["metadata_scheme"])

    def clean_check_profile(self) -> Any:
        return _validated(services.validate_check_profile, self.cleaned_data["check_profile"])


@admin.register(ServiceItem)
class ServiceItemAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Registration of service items (系统管理员). Once registered, their retention, scope and class are
    the records officer's: changed on the 归档配置 pages (/catalog/), as versions of the schedule."""

    form = ServiceItemForm
    list_display = ["code", "name", "fonds", "retention", "category_code", "class_code", "auto_confirm"]
    list_filter = ["fonds", "retention", "auto_confirm"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: ServiceItem | None = None) -> Any:
        return list(services.SCHEDULE_FIELDS) if obj is not None else ["archive_class"]

    def save_model(self, request: HttpRequest, obj: ServiceItem, form: Any, change: bool) -> None:
        fields = {f: getattr(obj, f) for f in form.cleaned_data if f not in ("fonds", "code")}
        saved = services.upsert_service_item(_catalogue_actor(request), obj.fonds, code=obj.code, **fields)
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: ServiceItem | None = None) -> bool:
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Shown for inspection; changed only through the schedule pages and their services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RetentionRule)
class RetentionRuleAdmin(_ReadOnlyAdmin):
    list_display = ["service_item", "material_code", "retention", "effective_from", "basis", "created_by"]
    list_filter = ["fonds", "retention"]
    search_fields = ["service_item__code", "material_code", "basis"]


@admin.register(ArchiveClass)
class ArchiveClassAdmin(_ReadOnlyAdmin):
    list_display = ["fonds", "code", "name", "parent", "order"]
    list_filter = ["fonds"]


@admin.register(RetentionCode)
class RetentionCodeAdmin(_ReadOnlyAdmin):
    list_display = ["code", "label", "label_en", "years", "created_by"]


@admin.register(SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Tokens are issued with `dangan source add` (shown once); here they can only be inspected."""

    list_display = ["code", "name", "token_prefix", "active", "expires_at", "last_used_at"]
    readonly_fields = ["code", "name", "token_prefix", "active", "expires_at", "created_at", "last_used_at"]
    exclude = ["token_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SourceSystem | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SourceSystem | None = None) -> bool:
        return False
