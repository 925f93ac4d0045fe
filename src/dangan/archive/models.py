from django.db import models

from dangan.archive.states import (
    CHOICES,
    GAP_CHOICES,
    VERSION_CHOICES,
    GapStatus,
    RecordStatus,
    VersionKind,
)
from dangan.core.codes import RETENTION_CODES

ARCHIVED = models.Q(status="archived")  # RecordStatus.ARCHIVED (plain, for the migration)


class Record(models.Model):
    """One case (办件) in the pre-archive library and, once confirmed, the formal library."""

    file_number = models.CharField("电子文件号", max_length=100, db_index=True)
    fonds = models.ForeignKey("catalog.Fonds", on_delete=models.PROTECT, related_name="records")
    service_item = models.ForeignKey("catalog.ServiceItem", on_delete=models.PROTECT, related_name="records")
    status = models.CharField(max_length=16, choices=CHOICES, default=RecordStatus.PRE_ARCHIVE)
    archival_code = models.CharField("档号", max_length=100, unique=True, null=True, blank=True)
    title = models.CharField("题名", max_length=500)
    case_number = models.CharField("办件编号", max_length=100, blank=True)
    applicant_name = models.CharField("申请人", max_length=200, blank=True)
    year = models.PositiveIntegerField("年度", db_index=True)
    retention = models.CharField("保管期限", max_length=8, choices=list(RETENTION_CODES.items()))
    # The retention schedule rule that decided 保管期限 when the record was archived (kept for every version).
    retention_basis = models.CharField("保管期限依据", max_length=500, blank=True)
    accepted_at = models.DateTimeField("受理时间", null=True, blank=True)
    completed_at = models.DateTimeField("办结时间", null=True, blank=True)
    content_digest = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict)
    check_report = models.JSONField(default=dict)
    file_count = models.PositiveIntegerField(default=0)
    byte_total = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.CharField(max_length=150, blank=True)
    returned_reason = models.TextField(blank=True)
    # 容缺归档: required materials (归档范围 必要) still missing, [{"code": "A02", "name": "公司章程"}],
    # and the officer's reason given when archiving with the gap. The AIP versions keep the history.
    gap_status = models.CharField("容缺状态", max_length=8, choices=GAP_CHOICES, default=GapStatus.NONE)
    gap_materials = models.JSONField("缺少的必要材料", default=list, blank=True)
    gap_reason = models.TextField("容缺原因", blank=True)
    # 重新分类: the class a pre-archived case was put in (archive.services.reclassify); empty = its
    # service item's class. Its code is the 机构(问题)代码 of the 档号 assigned on confirmation.
    archive_class = models.ForeignKey(
        "catalog.ArchiveClass",
        verbose_name="分类",
        on_delete=models.PROTECT,
        related_name="records",
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["fonds", "year", "status"]),
            # deadline lists (transfer: by archiving date; archiving: by completion date)
            models.Index(fields=["status", "archived_at"]),
            models.Index(fields=["status", "completed_at"]),
            # The formal library's list (archived, by 档号) alone and per filter: a page's ids are read
            # from the index only, however deep the page (issue 7, a million records).
            *(
                models.Index(fields=[*lead, "archival_code", "id"], condition=ARCHIVED, name=name)
                for lead, name in (
                    ((), "rec_arch_code_idx"),
                    (("fonds",), "rec_arch_fonds_code_idx"),
                    (("service_item",), "rec_arch_item_code_idx"),
                    (("year",), "rec_arch_year_code_idx"),
                    (("retention",), "rec_arch_ret_code_idx"),
                )
            ),
            # 全宗 + 年度 (the usual way through a library), with 保管期限 beside it for that filter too.
            models.Index(
                fields=["fonds", "year", "archival_code", "id"],
                include=["retention"],
                condition=ARCHIVED,
                name="rec_arch_fonds_year_code_idx",
            ),
        ]
        constraints = [
            # One live record per 电子文件号; a returned (退回) case may be sent again, corrected.
            models.UniqueConstraint(
                fields=["file_number"],
                condition=~models.Q(status="returned"),
                name="record_file_number_live_unique",
            )
        ]

    def __str__(self) -> str:
        return self.archival_code or self.file_number


class RecordFile(models.Model):
    """A file of the case's current version (content files and the metadata XML); bytes live in the blob
    store. Earlier versions' file lists stay readable through their AipFile rows."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=500)
    size = models.BigIntegerField()
    sm3 = models.CharField(max_length=64, db_index=True)
    sha256 = models.CharField(max_length=64)
    material_code = models.CharField(max_length=32, blank=True)
    category = models.CharField(max_length=16, blank=True)
    name = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=16, blank=True)

    class Meta:
        unique_together = [("record", "path")]
        ordering = ["path"]


class ArchivalCodeCounter(models.Model):
    """Last piece number (件号) used per archival-code group. Incremented under a row lock, never reused."""

    group_key = models.CharField(max_length=150, unique=True)
    last_piece = models.PositiveIntegerField(default=0)


class Aip(models.Model):
    """An archival information package (BagIt bag) as stored. Never changes; corrections add a version.

    Version 1 is written on confirmation; each later version (supplement, correction) is a complete new
    bag whose archival description names the previous version (number and tag-manifest SM3). The
    record's current version is the highest number; (record, version) is unique, so two officers
    revising at once cannot both write "version 2".
    """

    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="aips")
    version = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=16, choices=VERSION_CHOICES, default=VersionKind.ARCHIVED)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_versions"
    )
    reason = models.TextField(blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    # What this version changed: {"supplied": [...], "replaced": [...], "metadata": [...], "gap": [...]}
    changes = models.JSONField(default=dict, blank=True)
    tagmanifest_sm3 = models.CharField(max_length=64)
    signer_fingerprint = models.CharField(max_length=64)
    file_count = models.PositiveIntegerField()
    byte_total = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("record", "version")]
        ordering = ["record", "version"]


class AipFile(models.Model):
    aip = models.ForeignKey(Aip, on_delete=models.PROTECT, related_name="files")
    path = models.CharField(max_length=520)
    size = models.BigIntegerField()
    sm3 = models.CharField(max_length=64, db_index=True)
    sha256 = models.CharField(max_length=64)

    class Meta:
        unique_together = [("aip", "path")]
        ordering = ["path"]
