from django.db import models

from dangan.core.codes import DEFAULT_PATTERN, RETENTION_CODES


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
    retention = models.CharField(
        "保管期限", max_length=8, choices=list(RETENTION_CODES.items()), default="D30"
    )
    category_code = models.CharField("门类代码", max_length=8, default="WS")
    class_code = models.CharField("机构(问题)代码", max_length=16, default="ZW")
    auto_confirm = models.BooleanField("自动确认归档", default=False)
    # [{"code": "A01", "name": "...", "required": true}, ...]; empty = use the package's own 归档范围.
    scope = models.JSONField("归档范围", default=list, blank=True)
    # Overrides of the metadata scheme (see core/checks/scheme.py) and of the fonds' check profiles.
    metadata_scheme = models.JSONField("元数据方案调整", default=dict, blank=True)
    check_profile = models.JSONField("检测方案调整", default=dict, blank=True)

    class Meta:
        verbose_name = "事项 service item"
        unique_together = [("fonds", "code")]
        ordering = ["fonds__code", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SourceSystem(models.Model):
    """A service system (办理系统) allowed to send cases. Its API token is stored only as a hash."""

    code = models.CharField("系统编码", max_length=64, unique=True)
    name = models.CharField("系统名称", max_length=200)
    fonds = models.ManyToManyField(Fonds, blank=True, related_name="source_systems")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)
    active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "来源系统 source system"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
