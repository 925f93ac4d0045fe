from typing import Any, NoReturn

from django.db import models

from dangan.core.codes import DEFAULT_PATTERN
from dangan.core.errors import DanganError


class Fonds(models.Model):
    """全宗: the records of one fonds-forming unit (立档单位)."""

    code = models.CharField("全宗号", max_length=32, unique=True)
    name = models.CharField("立档单位名称", max_length=200)
    region_code = models.CharField("行政区划编码", max_length=12, blank=True)
    archival_code_pattern = models.CharField("档号规则", max_length=200, default=DEFAULT_PATTERN)
    # Per-stage adjustments of the four-property check profiles: {"archive": {"3-5": {"blocking": true}}}
    check_profile = models.JSONField("检测方案调整", default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "全宗 fonds"
        verbose_name_plural = "全宗 fonds"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ServiceItem(models.Model):
    """事项: a kind of government service, with its archiving configuration (归档配置信息)."""

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="service_items")
    code = models.CharField("事项编码", max_length=64)
    name = models.CharField("事项名称", max_length=200)
    version = models.CharField("事项版本", max_length=32, blank=True)
    item_type = models.CharField("事项类型", max_length=64, blank=True)
    agency = models.CharField("实施机构", max_length=200, blank=True)
    # The item's retention in force today, kept by the catalogue services from the versioned retention
    # schedule (RetentionRule); confirmation decides from the schedule itself (services.retention_for).
    # Codes: Y, D30, D10 and the installation's RetentionCode rows (validated by the services).
    retention = models.CharField("保管期限", max_length=8, default="D30")
    category_code = models.CharField("门类代码", max_length=8, default="WS")
    # The class of the classification scheme (分类方案) the item belongs to; ``class_code`` is its code,
    # kept equal by the services, and is what the 档号 uses.
    archive_class = models.ForeignKey(
        "ArchiveClass",
        verbose_name="分类",
        on_delete=models.PROTECT,
        related_name="service_items",
        null=True,
        blank=True,
    )
    class_code = models.CharField("机构(问题)代码", max_length=16, default="ZW")
    auto_confirm = models.BooleanField("自动确认归档", default=False)
    # [{"code": "A01", "name": "...", "required": true}, ...]; empty = use the package's own 归档范围.
    scope = models.JSONField("归档范围", default=list, blank=True)
    # Overrides of the metadata scheme (see core/checks/scheme.py) and of the fonds' check profiles.
    metadata_scheme = models.JSONField("元数据方案调整", default=dict, blank=True)
    check_profile = models.JSONField("检测方案调整", default=dict, blank=True)

    class Meta:
        verbose_name = "事项 service item"
        verbose_name_plural = "事项 service item"
        unique_together = [("fonds", "code")]
        ordering = ["fonds__code", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SourceSystem(models.Model):
    """A service system (办理系统) allowed to send cases to its fonds. It calls the API with tokens
    (``accounts.ApiToken``: scopes, expiry, revocation; stored only as hashes)."""

    code = models.CharField("系统编码", max_length=64, unique=True)
    name = models.CharField("系统名称", max_length=200)
    fonds = models.ManyToManyField(Fonds, blank=True, related_name="source_systems")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "来源系统 source system"
        verbose_name_plural = "来源系统 source system"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ImmutableRowError(DanganError):
    code = "IMMUTABLE"


class InsertOnlyQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """Rows of the retention schedule are never changed or removed, not even in bulk."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableRowError("retention rules are never changed: add a new version")

    def delete(self) -> NoReturn:
        raise ImmutableRowError("retention rules are never deleted: add a new version")


class RetentionCode(models.Model):
    """A retention code configured for this installation besides Y, D30 and D10 (e.g. D5 定期5年)."""

    code = models.CharField("保管期限代码", max_length=8, unique=True)
    label = models.CharField("名称", max_length=50)
    label_en = models.CharField("英文名称", max_length=50, blank=True)
    years = models.PositiveSmallIntegerField("年限", null=True, blank=True, help_text="空 = 永久")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InsertOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "保管期限代码 retention code"
        verbose_name_plural = "保管期限代码 retention code"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableRowError("retention codes are never changed (records and 档号 use them)")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableRowError("retention codes are never deleted (records and 档号 use them)")


class ArchiveClass(models.Model):
    """A class of a fonds' classification scheme (分类方案): a tree; its code is the 机构(问题)代码 of 档号."""

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="classes")
    code = models.CharField("分类代码", max_length=16)
    name = models.CharField("分类名称", max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name="上级分类",
        on_delete=models.PROTECT,
        related_name="children",
        null=True,
        blank=True,
    )
    order = models.PositiveIntegerField("排序", default=0)

    class Meta:
        verbose_name = "分类 class"
        verbose_name_plural = "分类 class"
        unique_together = [("fonds", "code")]
        ordering = ["fonds__code", "order", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RetentionRule(models.Model):
    """One version of a retention schedule (保管期限表) entry. Insert-only: a change is a new row.

    The rule in force for a record is the latest version (by effective date, then creation) of its
    service item, and of each of its materials, that started on or before the day it is archived; the
    record takes the longest of them (``dangan.core.retention``).
    """

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="retention_rules")
    service_item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="retention_rules")
    material_code = models.CharField("材料编码", max_length=32, blank=True, help_text="空 = 整个事项")
    material_name = models.CharField("材料名称", max_length=200, blank=True)
    retention = models.CharField("保管期限", max_length=8)
    basis = models.CharField("依据", max_length=500)
    effective_from = models.DateField("生效日期")
    supersedes = models.ForeignKey(
        "self",
        verbose_name="取代",
        on_delete=models.PROTECT,
        related_name="superseded_by",
        null=True,
        blank=True,
    )
    created_by = models.CharField("设定人", max_length=150)
    created_at = models.DateTimeField("设定时间", auto_now_add=True)

    objects = InsertOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "保管期限规则 retention rule"
        verbose_name_plural = "保管期限规则 retention rule"
        ordering = ["service_item", "material_code", "effective_from", "id"]
        indexes = [models.Index(fields=["service_item", "material_code", "effective_from"])]

    def __str__(self) -> str:
        target = (
            f"{self.service_item.code}/{self.material_code}" if self.material_code else self.service_item.code
        )
        return f"{target} {self.retention} from {self.effective_from}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableRowError("retention rules are never changed: add a new version")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableRowError("retention rules are never deleted: add a new version")
