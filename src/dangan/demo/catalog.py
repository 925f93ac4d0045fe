"""The demo catalogue: one fonds (全宗) and the service items (政务服务事项) whose cases we generate.

Used by the demo data generator and by the product's quickstart to load a demo catalogue. Everything
here is invented for the fictional city 示范市 (region code 350100); codes follow the real shapes
(事项编码 like ``0100170001``, 保管期限 Y/D30/D10, 机构问题代码 like ``SCJG``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dangan.core.package.model import ScopeItem


@dataclass(frozen=True)
class DemoFonds:
    """全宗: the archiving unit that receives the packages."""

    code: str  # 全宗号
    name: str  # 全宗名称
    region_code: str  # 行政区划编码, 6 digits
    unit: str  # 立档单位名称 (fonds-forming unit)
    accepting_unit: str  # 受理单位 written into cases (the service-centre window)
    system_code: str  # 系统编码 of the sending service system (batch manifest)


DEMO_FONDS = DemoFonds(
    code="A101",
    name="示范市行政审批服务局",
    region_code="350100",
    unit="示范市行政审批服务局",
    accepting_unit="示范市政务服务中心",
    system_code="SFS-ZWFW-01",
)

# Cases are spread over these years (fixed, so the same seed gives the same data on any day).
DEMO_YEARS: tuple[int, ...] = (2023, 2024, 2025)


class Doc(StrEnum):
    """What a material's file is; decides the file generator and the extension."""

    APPLICATION = "申请书"
    CHARTER = "章程"
    CONTRACT = "合同"
    STATEMENT = "凭证"
    CERTIFICATE = "合格书"
    NOTICE = "受理通知书"
    RECORD = "笔录"
    REVIEW = "审查意见"
    DECISION = "决定书"
    ID_CARD = "身份证复印件"
    BANK_CARD = "银行卡复印件"
    SIGNED_FORM = "纸质表单扫描件"
    PAPER_CERT = "纸质证书扫描件"
    AUDIO = "录音"
    VIDEO = "视频"
    LICENSE = "电子证照"


DOC_EXTENSIONS: dict[Doc, str] = {
    Doc.APPLICATION: "pdf",
    Doc.CHARTER: "pdf",
    Doc.CONTRACT: "pdf",
    Doc.STATEMENT: "pdf",
    Doc.CERTIFICATE: "pdf",
    Doc.NOTICE: "pdf",
    Doc.RECORD: "pdf",
    Doc.REVIEW: "pdf",
    Doc.DECISION: "pdf",
    Doc.ID_CARD: "jpg",
    Doc.BANK_CARD: "jpg",
    Doc.SIGNED_FORM: "jpg",
    Doc.PAPER_CERT: "jpg",
    Doc.AUDIO: "wav",
    Doc.VIDEO: "mp4",
    Doc.LICENSE: "ofd",
}

# Material code prefix → category folder (DOMAIN.md §2; schema.CATEGORY_FOLDERS).
CATEGORY_BY_PREFIX: dict[str, str] = {"A": "申报材料", "B": "过程材料", "C": "结果材料", "L": "电子证照"}


@dataclass(frozen=True)
class DemoMaterial:
    """One material of an item's archiving scope and the file that carries it in a case."""

    code: str  # A01 申报材料, B01 过程材料, C01 结果材料, L01 电子证照
    name: str  # standard name (标准名称)
    required: bool
    file_stem: str  # actual file name without extension (实际名称), usually in Chinese
    doc: Doc
    step: str  # process step that produces it (its 创建时间 falls in that step)

    @property
    def extension(self) -> str:
        return DOC_EXTENSIONS[self.doc]

    @property
    def category(self) -> str:
        return CATEGORY_BY_PREFIX[self.code[0]]

    @property
    def file_name(self) -> str:
        return f"{self.file_stem}.{self.extension}"

    @property
    def path(self) -> str:
        return f"{self.category}/{self.file_name}"

    def scope_item(self) -> ScopeItem:
        return ScopeItem(code=self.code, name=self.name, required=self.required)


@dataclass(frozen=True)
class DemoServiceItem:
    """A service item (事项) with its archiving configuration and how its cases run."""

    code: str  # 事项编码
    name: str  # 事项名称
    version: str  # 事项版本
    item_type: str  # 事项类型: 行政许可 / 公共服务 / 行政确认 …
    agency: str  # 实施机构
    retention: str  # 保管期限: Y / D30 / D10
    class_code: str  # 机构(问题)代码 for the archival code
    category_code: str  # 门类代码 (WS = 文书)
    auto_confirm: bool  # packages that pass all checks are confirmed without a person
    scope: tuple[ScopeItem, ...]  # 归档范围
    steps: tuple[str, ...]  # 办理流程 steps in order; the last is 办结
    materials: tuple[DemoMaterial, ...]  # same codes and order as ``scope``
    applicant_kind: str  # 法人 / 自然人
    case_type: str  # 即办件 / 承诺件
    result: str  # 办理结果
    license_type: str | None = None  # 证照类型 of the result licence, if any
    license_years: int | None = None  # validity in years; None = 长期
    duration_days: tuple[int, int] = (0, 3)  # working days from 受理 to 办结 (min, max)
    weight: int = 1  # relative frequency in generated batches

    def material(self, code: str) -> DemoMaterial:
        for m in self.materials:
            if m.code == code:
                return m
        raise KeyError(code)


def _item(materials: tuple[DemoMaterial, ...], **kw: object) -> DemoServiceItem:
    scope = tuple(m.scope_item() for m in materials)
    return DemoServiceItem(scope=scope, materials=materials, **kw)  # type: ignore[arg-type]


_M = DemoMaterial
_D = Doc

COMPANY_REGISTRATION = _item(
    code="0100170001",
    name="企业设立登记",
    version="3.0",
    item_type="行政许可",
    agency="示范市行政审批服务局",
    retention="D30",
    class_code="SCJG",
    category_code="WS",
    auto_confirm=False,
    steps=("收件", "受理", "审查", "决定", "送达", "办结"),
    applicant_kind="法人",
    case_type="即办件",
    result="准予设立登记",
    license_type="营业执照",
    license_years=None,
    duration_days=(0, 2),
    weight=4,
    materials=(
        _M("A01", "公司登记（备案）申请书", True, "公司登记（备案）申请书", _D.APPLICATION, "收件"),
        _M("A02", "公司章程", True, "公司章程", _D.CHARTER, "收件"),
        _M("A03", "法定代表人身份证明", True, "法定代表人身份证复印件", _D.ID_CARD, "收件"),
        _M("A04", "住所使用证明", False, "住所使用证明", _D.SIGNED_FORM, "收件"),
        _M("B01", "受理通知书", True, "受理通知书", _D.NOTICE, "受理"),
        _M("B02", "审查意见", True, "审查意见表", _D.REVIEW, "审查"),
        _M("C01", "准予设立登记通知书", True, "准予设立登记通知书", _D.DECISION, "决定"),
        _M("L01", "营业执照", True, "营业执照", _D.LICENSE, "决定"),
    ),
)

INDIVIDUAL_BUSINESS = _item(
    code="0100170011",
    name="个体工商户设立登记",
    version="2.1",
    item_type="行政许可",
    agency="示范市行政审批服务局",
    retention="D30",
    class_code="SCJG",
    category_code="WS",
    auto_confirm=True,
    steps=("收件", "受理", "审查", "决定", "办结"),
    applicant_kind="自然人",
    case_type="即办件",
    result="准予登记",
    license_type="营业执照",
    license_years=None,
    duration_days=(0, 1),
    weight=2,
    materials=(
        _M("A01", "个体工商户登记（备案）申请书", True, "个体工商户登记申请书", _D.APPLICATION, "收件"),
        _M("A02", "经营者身份证明", True, "经营者身份证复印件", _D.ID_CARD, "收件"),
        _M("A03", "经营场所使用证明", False, "经营场所租赁协议", _D.SIGNED_FORM, "收件"),
        _M("B01", "审查意见", True, "审查意见表", _D.REVIEW, "审查"),
        _M("C01", "准予个体工商户登记通知书", True, "准予登记通知书", _D.DECISION, "决定"),
        _M("L01", "营业执照", True, "营业执照", _D.LICENSE, "决定"),
    ),
)

SOCIAL_SECURITY_TRANSFER = _item(
    code="2000190003",
    name="社会保险关系转移",
    version="1.2",
    item_type="公共服务",
    agency="示范市社会保险事业管理中心",
    retention="D30",
    class_code="SBZX",
    category_code="WS",
    auto_confirm=True,
    steps=("收件", "受理", "审核", "办结"),
    applicant_kind="自然人",
    case_type="承诺件",
    result="同意转移",
    duration_days=(2, 15),
    weight=3,
    materials=(
        _M("A01", "社会保险关系转移申请表", True, "基本养老保险关系转移接续申请表", _D.APPLICATION, "收件"),
        _M("A02", "居民身份证", True, "居民身份证复印件", _D.ID_CARD, "收件"),
        _M("A03", "参保缴费凭证", False, "参保缴费凭证", _D.STATEMENT, "收件"),
        _M("B01", "受理通知书", True, "受理通知书", _D.NOTICE, "受理"),
        _M("B02", "询问笔录录音", False, "询问笔录录音", _D.AUDIO, "审核"),
        _M("B03", "审核意见", True, "审核意见表", _D.REVIEW, "审核"),
        _M("C01", "社会保险关系转移接续联系函", True, "基本养老保险关系转移接续联系函", _D.DECISION, "办结"),
    ),
)

HOUSING_FUND_WITHDRAWAL = _item(
    code="2000210005",
    name="住房公积金提取",
    version="2.0",
    item_type="公共服务",
    agency="示范市住房公积金管理中心",
    retention="D10",
    class_code="GJJ",
    category_code="WS",
    auto_confirm=True,
    steps=("收件", "受理", "审核", "办结"),
    applicant_kind="自然人",
    case_type="即办件",
    result="准予提取",
    duration_days=(0, 2),
    weight=4,
    materials=(
        _M("A01", "住房公积金提取申请书", True, "住房公积金提取申请书", _D.APPLICATION, "收件"),
        _M("A02", "居民身份证", True, "居民身份证复印件", _D.ID_CARD, "收件"),
        _M("A03", "购房合同或租赁合同", False, "购房合同", _D.CONTRACT, "收件"),
        _M("A04", "本人银行卡", False, "银行卡复印件", _D.BANK_CARD, "收件"),
        _M("B01", "审核意见", True, "审核意见表", _D.REVIEW, "审核"),
        _M("C01", "住房公积金提取审批表", True, "住房公积金提取审批表", _D.DECISION, "办结"),
    ),
)

CONSTRUCTION_PERMIT = _item(
    code="0100110007",
    name="建筑工程施工许可证核发",
    version="4.0",
    item_type="行政许可",
    agency="示范市行政审批服务局",
    retention="Y",
    class_code="JSXK",
    category_code="WS",
    auto_confirm=False,
    steps=("收件", "受理", "现场勘验", "审查", "决定", "送达", "办结"),
    applicant_kind="法人",
    case_type="承诺件",
    result="准予许可",
    license_type="建筑工程施工许可证",
    license_years=None,
    duration_days=(3, 15),
    weight=2,
    materials=(
        _M("A01", "建筑工程施工许可申请表", True, "建筑工程施工许可申请表", _D.APPLICATION, "收件"),
        _M("A02", "建设工程规划许可证", True, "建设工程规划许可证", _D.PAPER_CERT, "收件"),
        _M("A03", "施工合同", True, "建设工程施工合同", _D.CONTRACT, "收件"),
        _M("A04", "施工图设计文件审查合格书", False, "施工图审查合格书", _D.CERTIFICATE, "收件"),
        _M("B01", "受理通知书", True, "受理通知书", _D.NOTICE, "受理"),
        _M("B02", "现场勘验视频", True, "现场勘验视频", _D.VIDEO, "现场勘验"),
        _M("B03", "现场勘验记录", True, "现场勘验记录", _D.RECORD, "现场勘验"),
        _M("B04", "审查意见", True, "审查意见表", _D.REVIEW, "审查"),
        _M("C01", "准予行政许可决定书", True, "准予行政许可决定书", _D.DECISION, "决定"),
        _M("L01", "建筑工程施工许可证", True, "建筑工程施工许可证", _D.LICENSE, "决定"),
    ),
)

REAL_ESTATE_REGISTRATION = _item(
    code="0700230012",
    name="不动产登记",
    version="2.3",
    item_type="行政确认",
    agency="示范市不动产登记中心",
    retention="Y",
    class_code="BDC",
    category_code="WS",
    auto_confirm=False,
    steps=("收件", "受理", "审核", "登簿", "缮证", "送达", "办结"),
    applicant_kind="自然人",
    case_type="承诺件",
    result="准予登记",
    license_type="不动产权证书",
    license_years=None,
    duration_days=(1, 10),
    weight=3,
    materials=(
        _M("A01", "不动产登记申请书", True, "不动产登记申请书", _D.APPLICATION, "收件"),
        _M("A02", "申请人身份证明", True, "申请人身份证复印件", _D.ID_CARD, "收件"),
        _M("A03", "不动产权属证书", True, "原不动产权属证书", _D.PAPER_CERT, "收件"),
        _M("A04", "不动产买卖合同", True, "存量房买卖合同", _D.CONTRACT, "收件"),
        _M("A05", "完税凭证", False, "契税完税凭证", _D.STATEMENT, "收件"),
        _M("B01", "受理通知书", True, "受理通知书", _D.NOTICE, "受理"),
        _M("B02", "询问笔录", True, "不动产登记询问笔录", _D.RECORD, "受理"),
        _M("B03", "询问笔录录音", False, "询问笔录录音", _D.AUDIO, "受理"),
        _M("B04", "审核意见", True, "审核意见表", _D.REVIEW, "审核"),
        _M("C01", "不动产登记结果通知书", True, "不动产登记结果通知书", _D.DECISION, "登簿"),
        _M("L01", "不动产权证书", True, "不动产权证书", _D.LICENSE, "缮证"),
    ),
)

SERVICE_ITEMS: tuple[DemoServiceItem, ...] = (
    COMPANY_REGISTRATION,
    SOCIAL_SECURITY_TRANSFER,
    HOUSING_FUND_WITHDRAWAL,
    CONSTRUCTION_PERMIT,
    REAL_ESTATE_REGISTRATION,
    INDIVIDUAL_BUSINESS,
)


def service_item(code: str) -> DemoServiceItem:
    """The demo item with 事项编码 ``code``."""
    for item in SERVICE_ITEMS:
        if item.code == code:
            return item
    raise KeyError(code)
