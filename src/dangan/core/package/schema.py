"""The one mapping table between our model's attribute names and the metadata XML's element names.

Everything that needs an element name (reader, writer, required-metadata checks, the XSD test, the
format documentation) takes it from ``ELEMENTS`` or the constants below, so a name that turns out to
differ from the normative text (GB/T 42727-2023 is not available to us; DOMAIN.md §2 marks the
element tables as unverified) is corrected in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

FORMAT_VERSION = "1.0"
METADATA_FILENAME = "基本信息元数据.xml"
BATCH_MANIFEST_FILENAME = "批次清单.xml"

# Root and group elements.
ROOT = "归档信息包"
ROOT_VERSION_ATTR = "版本"
BATCH_ROOT = "批次清单"


class Group(StrEnum):
    """Groups of the metadata XML, in document order. Values are the element names."""

    ARCHIVE_CONFIG = "归档配置信息"
    CASE = "办件基本信息"
    APPLICANT = "申请人"  # nested inside 办件基本信息
    PROCESS = "办理流程信息"
    STEP = "环节"  # repeated inside 办理流程信息
    LICENSES = "电子证照信息"
    LICENSE = "证照"  # repeated inside 电子证照信息
    FILES = "文件信息"
    FILE = "文件"  # repeated inside 文件信息
    SCOPE = "归档范围"  # nested inside 归档配置信息
    SCOPE_ITEM = "材料"  # repeated inside 归档范围


class Kind(StrEnum):
    """Value types; checks (1-3) and the XSD use them."""

    TEXT = "text"
    CODE = "code"  # letters, digits, '-', '_', '.', '·'
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # YYYY-MM-DDTHH:MM:SS, optional zone
    INT = "int"
    RETENTION = "retention"  # Y | D30 | D10 (see codes.RETENTION_CODES)
    DIGEST = "digest"  # lower-case hex


@dataclass(frozen=True)
class Element:
    group: Group
    attr: str
    name: str
    name_en: str
    required: bool = False
    kind: Kind = Kind.TEXT
    max_length: int | None = None


_G = Group
_K = Kind

ELEMENTS: tuple[Element, ...] = (
    # 归档配置信息 — per service item (事项)
    Element(_G.ARCHIVE_CONFIG, "item_code", "事项编码", "Service item code", True, _K.CODE, 64),
    Element(_G.ARCHIVE_CONFIG, "item_name", "事项名称", "Service item name", True, _K.TEXT, 200),
    Element(_G.ARCHIVE_CONFIG, "item_version", "事项版本", "Service item version", False, _K.TEXT, 32),
    Element(_G.ARCHIVE_CONFIG, "item_type", "事项类型", "Service item type", False, _K.TEXT, 64),
    Element(_G.ARCHIVE_CONFIG, "implementing_agency", "实施机构", "Implementing agency", True, _K.TEXT, 200),
    Element(_G.ARCHIVE_CONFIG, "retention", "保管期限", "Retention period", True, _K.RETENTION, 8),
    # 办件基本信息
    Element(_G.CASE, "file_number", "电子文件号", "Electronic file number", True, _K.CODE, 100),
    Element(_G.CASE, "case_number", "办件编号", "Case number", True, _K.CODE, 100),
    Element(_G.CASE, "title", "办件名称", "Case title", True, _K.TEXT, 500),
    Element(_G.CASE, "case_type", "办件类型", "Case type", False, _K.TEXT, 32),
    Element(_G.CASE, "region_code", "行政区划编码", "Administrative region code", True, _K.CODE, 12),
    Element(_G.CASE, "fonds_code", "全宗号", "Fonds code", True, _K.CODE, 32),
    Element(_G.CASE, "fonds_unit", "立档单位名称", "Fonds-forming unit", True, _K.TEXT, 200),
    Element(_G.CASE, "credit_code", "统一社会信用代码", "Unified social credit code", False, _K.CODE, 18),
    Element(_G.CASE, "accepting_unit", "受理单位", "Accepting unit", True, _K.TEXT, 200),
    Element(_G.CASE, "accepted_at", "受理时间", "Accepted at", True, _K.DATETIME, 32),
    Element(_G.CASE, "completed_at", "办结时间", "Completed at", True, _K.DATETIME, 32),
    Element(_G.CASE, "result", "办理结果", "Result", True, _K.TEXT, 200),
    Element(_G.CASE, "result_license_number", "结果证照编号", "Result licence number", False, _K.TEXT, 100),
    Element(_G.CASE, "acceptance_number", "受理编号", "Acceptance number", False, _K.CODE, 100),
    Element(_G.CASE, "security_class", "密级", "Security classification", False, _K.TEXT, 16),
    Element(_G.CASE, "retention", "保管期限", "Retention period", True, _K.RETENTION, 8),
    Element(_G.CASE, "archived_at", "归档时间", "Archived at (sender)", False, _K.DATETIME, 32),
    Element(_G.CASE, "total_pieces", "总件数", "Total pieces", False, _K.INT, 9),
    Element(_G.CASE, "remarks", "备注", "Remarks", False, _K.TEXT, 2000),
    # 申请人 (inside 办件基本信息)
    Element(_G.APPLICANT, "name", "名称", "Applicant name", True, _K.TEXT, 200),
    Element(_G.APPLICANT, "kind", "类型", "Applicant type", True, _K.TEXT, 32),
    Element(_G.APPLICANT, "id_type", "证件类型", "ID document type", False, _K.TEXT, 64),
    Element(_G.APPLICANT, "id_number", "证件号码", "ID document number", False, _K.CODE, 64),
    Element(_G.APPLICANT, "address", "地址", "Address", False, _K.TEXT, 300),
    Element(_G.APPLICANT, "legal_representative", "法定代表人", "Legal representative", False, _K.TEXT, 100),
    Element(_G.APPLICANT, "phone", "联系电话", "Telephone", False, _K.TEXT, 32),
    # 环节 (inside 办理流程信息)
    Element(_G.STEP, "name", "环节名称", "Step", True, _K.TEXT, 64),
    Element(_G.STEP, "handler", "办理人", "Handled by", True, _K.TEXT, 100),
    Element(_G.STEP, "opinion", "办理意见", "Opinion", False, _K.TEXT, 2000),
    Element(_G.STEP, "started_at", "开始时间", "Started at", True, _K.DATETIME, 32),
    Element(_G.STEP, "ended_at", "结束时间", "Ended at", False, _K.DATETIME, 32),
    # 证照 (inside 电子证照信息)
    Element(_G.LICENSE, "license_type", "证照类型", "Licence type", True, _K.TEXT, 100),
    Element(_G.LICENSE, "license_number", "证照编号", "Licence number", True, _K.TEXT, 100),
    Element(_G.LICENSE, "issuer", "颁发机构", "Issued by", True, _K.TEXT, 200),
    Element(_G.LICENSE, "valid_from", "有效期起", "Valid from", False, _K.DATE, 10),
    Element(_G.LICENSE, "valid_to", "有效期止", "Valid to", False, _K.DATE, 10),
    Element(_G.LICENSE, "holder", "持证主体", "Holder", True, _K.TEXT, 200),
    Element(_G.LICENSE, "path", "文件路径", "File path", False, _K.TEXT, 500),
    # 文件 (inside 文件信息)
    Element(_G.FILE, "material_code", "材料编码", "Material code", True, _K.CODE, 32),
    Element(_G.FILE, "category", "材料类别", "Material category", True, _K.TEXT, 16),
    Element(_G.FILE, "standard_name", "标准名称", "Standard name", True, _K.TEXT, 200),
    Element(_G.FILE, "actual_name", "实际名称", "Actual name", True, _K.TEXT, 255),
    Element(_G.FILE, "path", "文件路径", "File path", True, _K.TEXT, 500),
    Element(_G.FILE, "format", "格式", "Format", True, _K.CODE, 16),
    Element(_G.FILE, "size", "大小", "Size (bytes)", True, _K.INT, 15),
    Element(_G.FILE, "digest_algorithm", "摘要算法", "Digest algorithm", True, _K.CODE, 16),
    Element(_G.FILE, "digest", "数字摘要", "Digest", True, _K.DIGEST, 128),
    Element(_G.FILE, "created_at", "创建时间", "Created at", False, _K.DATETIME, 32),
    Element(_G.FILE, "sharing", "共享类型", "Sharing type", False, _K.TEXT, 32),
    # 材料 (inside 归档范围): carried as attributes, see SCOPE_ATTRS
)

# Attributes (not elements) used by the format.
SEQUENCE_ATTR = "序号"  # on 环节 and 文件
FILES_COUNT_ATTR = "文件总数"  # on 文件信息: declared number of files
FILES_BYTES_ATTR = "总字节数"  # on 文件信息: declared byte total
SCOPE_ATTRS = {"code": "编码", "name": "名称", "necessity": "必要性"}
NECESSITY_REQUIRED = "必要"
NECESSITY_OPTIONAL = "非必要"

# Material categories = the package's top-level folders (DOMAIN.md §2).
CATEGORY_FOLDERS: tuple[str, ...] = ("申报材料", "过程材料", "结果材料", "电子证照")

# Batch manifest (批次清单.xml) element names.
BATCH_FIELDS: dict[str, str] = {
    "system_code": "系统编码",
    "batch_number": "批次号",
    "sent_at": "发送时间",
    "package_count": "包数量",
    "byte_total": "总字节数",
    "file_total": "文件总数",
    "standard": "执行标准",
}
BATCH_PACKAGES = "包列表"
BATCH_PACKAGE = "包"
BATCH_PACKAGE_FIELDS: dict[str, str] = {
    "name": "包名",
    "fonds_code": "全宗号",
    "item_code": "事项编码",
    "title": "办件名称",
    "size": "大小",
    "digest_algorithm": "摘要算法",
    "digest": "数字摘要",
    "archived_at": "归档时间",
    "archival_code": "档号",
}


def elements_of(group: Group) -> tuple[Element, ...]:
    return tuple(e for e in ELEMENTS if e.group == group)


def element(group: Group, attr: str) -> Element:
    for e in ELEMENTS:
        if e.group == group and e.attr == attr:
            return e
    raise KeyError(f"{group.value}.{attr}")
