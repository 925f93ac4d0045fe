"""Catalogue administration. Saves go through the catalogue services, so they are validated and audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils import timezone

from dangan.accounts.models import ApiToken
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


class ApiTokenInline(admin.TabularInline):  # type: ignore[type-arg]
    """The system's API tokens, read only: prefix, scopes, dates; never the hash. Issued and revoked on
    the 账户 Accounts pages or with `dangan source add | revoke` (audited)."""

    model = ApiToken
    fields = ("token_prefix", "name", "scopes", "created_at", "created_by", "expires_at", "revoked_at",
              "revoked_by", "last_used_at")  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "接口令牌 API token"
    verbose_name_plural = "接口令牌（只读；在“账户”页面签发、吊销） API tokens (read only; issued and revoked on the Accounts pages)"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("catalog.view_sourcesystem"))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Source systems and their tokens, for inspection. Tokens are issued (shown once) and revoked on the
    账户 Accounts pages (/accounts/sources/) or with `dangan source add | revoke`."""

    list_display = ["code", "name", "active", "active_tokens", "created_at"]
    readonly_fields = ["code", "name", "fonds", "active", "created_at"]
    inlines = [ApiTokenInline]

    @admin.display(description="有效令牌 active tokens")
    def active_tokens(self, obj: SourceSystem) -> int:
        now = timezone.now()
        return obj.tokens.filter(revoked_at__isnull=True).exclude(expires_at__lte=now).count()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SourceSystem | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SourceSystem | None = None) -> bool:
        return False
