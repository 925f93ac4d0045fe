"""Names of the EEP (DA/T 48-2009 电子文件封装包) and THE mapping table to DA/T 46-2009 metadata elements.

Everything that needs an element name (writer, verifier, the XSD test, docs/eep.md) takes it from here,
so a name that turns out to differ from the normative texts is corrected in one place.

DOMAIN.md §6 gives the package skeleton and the DA/T 46 numbers M1, M2, M7, M8, M9, M11, M12, M13 and
M22. Every other element name or number below is marked ``verified=False``: it follows the usual reading
of DA/T 46/48 but was not checked against the normative text.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Namespace of DA/T 48-2009 (DOMAIN.md §6).
NS = "http://www.saac.gov.cn/standards/ERM/encapsulation"
#: dangan's extension namespace: per-file SM3 digests and the AIP reference, which DA/T 48 has no element for.
EXT_NS = "urn:dangan:eep-extension:1.0"
EXT_PREFIX = "dg"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

EEP_VERSION = "2009"
#: The canonicalisation the signature covers (DA/T 48 defines none; we choose and document this one).
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
#: SM2-with-SM3 (GM/T 0006); the same OID as ``dangan.core.sm.SM2_SIGN_WITH_SM3_OID``.
SIGNATURE_ALGORITHM = "1.2.156.10197.1.501"
DIGEST_ALGORITHM = "SM3"

FORMAT_DESCRIPTION = "本EEP根据中华人民共和国档案行业标准DA/T 48-2009《基于XML的电子文件封装规范》生成"
PACKAGE_TYPE_ORIGINAL = "原始型"
PACKAGE_TYPE_MODIFIED = "修改型"
PACKAGE_TYPE_DESCRIPTION = "本封装包包含电子文件数据及其元数据，原始封装，未经修改"
ENCODING_DESCRIPTION = (
    "本封装包中“编码数据”元素存储的是计算机文件二进制流的Base64编码（RFC 4648，不分行）；"
    "提取文件时对其进行Base64反编码，并依据“反编码关键字”还原文件扩展名。"
    "dg:数字摘要为原始二进制流的SM3摘要。"
)
SIGNATURE_RULE = (
    f"签名对象：被签名对象元素的排他型XML规范化形式（Exclusive XML Canonicalization 1.0，不含注释，"
    f"{EXC_C14N}）的UTF-8字节；签名算法：SM2/SM3（GB/T 32918，GM/T 0009，"
    f"用户标识1234567812345678，e = SM3(Z_A ‖ M)）；签名结果：DER编码SEQUENCE{{r, s}}的Base64。"
)


class E:
    """Element and attribute names in the DA/T 48 namespace (``NS``)."""

    ROOT = "电子文件封装包"
    FORMAT_DESCRIPTION = "封装包格式描述"
    VERSION = "版本"
    SIGNED = "被签名对象"
    SIGNED_VERSION_ATTR = "eep版本"
    TYPE = "封装包类型"
    TYPE_DESCRIPTION = "封装包类型描述"
    CREATED = "封装包创建时间"
    CREATOR = "封装包创建单位"
    CONTENT = "封装内容"
    FILE_BLOCK = "文件实体块"
    FILE_ENTITY = "文件实体"
    BUSINESS_BLOCK = "业务实体块"  # names inside: unverified
    BUSINESS = "业务实体"
    AGENT_BLOCK = "机构人员实体块"
    AGENT = "机构人员实体"
    FILE_DATA = "文件数据"
    DOCUMENT = "文档"
    DOC_ID = "文档标识符"  # unverified
    DOC_SEQUENCE = "文档序号"  # unverified
    DOC_ROLE = "文档主从声明"  # unverified; values 主件 | 附件
    DOC_TITLE = "题名"
    DOC_DATA = "文档数据"
    ENCODING = "编码"
    PROPERTIES = "电子属性"
    FORMAT = "格式信息"
    FILENAME = "计算机文件名"
    FILESIZE = "计算机文件大小"
    CREATOR_APP = "文档创建程序"
    ENCODING_DESCRIPTION = "编码描述"  # unverified
    DECODE_KEY = "反编码关键字"  # unverified
    ENCODED_DATA = "编码数据"
    SIGNATURE_BLOCK = "电子签名块"
    SIGNATURE = "电子签名"
    SIG_ID = "签名标识符"
    SIG_RULE = "签名规则"
    SIG_TIME = "签名时间"
    SIGNER = "签名人"
    SIG_VALUE = "签名结果"
    CERT_BLOCK = "证书块"
    CERT = "证书"
    CERT_REF = "证书引证"  # unverified
    SIG_ALGORITHM = "签名算法标识"
    LOCK = "锁定签名"
    LOCKED_SIG_ID = "被锁定签名标识符"  # unverified


class X:
    """Elements of dangan's extension namespace (``EXT_NS``), written with the prefix ``dg``."""

    DIGEST = "数字摘要"  # inside 电子属性: SM3 of the raw file bytes
    DIGEST_ALG_ATTR = "算法"
    AIP = "档案信息包"  # inside 文件实体, before 文件数据: which AIP this EEP was made from


def q(name: str) -> str:
    """Clark name ``{NS}name`` of a DA/T 48 element."""
    return f"{{{NS}}}{name}"


def qx(name: str) -> str:
    """Clark name ``{EXT_NS}name`` of an extension element."""
    return f"{{{EXT_NS}}}{name}"


# ---------------------------------------------------------------------------------------------------------
# DA/T 46-2009 metadata of 文件实体: THE mapping table
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dat46:
    """One DA/T 46 element written in 文件实体: its number, its path below 文件实体, and which
    :class:`~dangan.core.package.eep.writer.RecordDescription` attribute fills it."""

    number: str
    path: tuple[str, ...]
    field: str
    source: str  # where dangan takes the value from (for docs/eep.md)
    verified: bool = False

    @property
    def name(self) -> str:
        return self.path[-1]


#: Containers (composite elements) of DA/T 46 used below, with their numbers.
DAT46_GROUPS: dict[str, tuple[str, bool]] = {
    "来源": ("M2", True),
    "档号": ("M8", True),
    "内容描述": ("M21", False),
    "形式特征": ("M40", False),
    "存储位置": ("M46", False),
}

#: In document order. Elements whose value is empty are left out (and so are empty containers).
DAT46: tuple[Dat46, ...] = (
    Dat46("M1", ("聚合层次",), "aggregation", "always 文件 (one case = one piece, 件)", verified=True),
    Dat46("M5", ("来源", "全宗名称"), "fonds_name", "Fonds.name"),
    Dat46("M6", ("来源", "立档单位名称"), "fonds_unit", "package 立档单位名称, else Fonds.name"),
    Dat46("M7", ("电子文件号",), "file_number", "Record.file_number", verified=True),
    Dat46("M9", ("档号", "全宗号"), "fonds_code", "Fonds.code", verified=True),
    Dat46("M11", ("档号", "年度"), "year", "Record.year", verified=True),
    Dat46(
        "M12", ("档号", "保管期限"), "retention", "Record.retention as 永久/定期30年/定期10年", verified=True
    ),
    Dat46("M13", ("档号", "机构或问题"), "class_code", "ServiceItem.class_code", verified=True),
    Dat46("M17", ("档号", "室编件号"), "piece_number", "件号 parsed from 档号 by the fonds' pattern"),
    Dat46("M22", ("内容描述", "题名"), "title", "Record.title", verified=True),
    Dat46("M31", ("内容描述", "文件编号"), "case_number", "Record.case_number (办件编号)"),
    Dat46(
        "M32",
        ("内容描述", "责任者"),
        "responsible",
        "package 实施机构, else ServiceItem.agency, else Fonds.name",
    ),
    Dat46("M33", ("内容描述", "日期"), "date", "Record.completed_at (办结时间), YYYY-MM-DD"),
    Dat46("M38", ("内容描述", "密级"), "security_class", "package 密级"),
    Dat46(
        "M41",
        ("形式特征", "文件组合类型"),
        "composition",
        "组合文件 when the case has several files, else 单件",
    ),
    Dat46("M47", ("存储位置", "当前位置"), "location", "dangan AIP <档号> v<version>"),
    Dat46("M56", ("信息系统描述",), "system", "dangan <version>"),
    Dat46("M57", ("附注",), "remarks", "package 备注"),
)

#: Children of dg:档案信息包 (extension), in order: (element name, RecordDescription attribute, meaning).
AIP_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("档号", "archival_code", "the full archival code (DA/T 46 splits it into M9…M17)"),
    ("事项编码", "item_code", "ServiceItem.code"),
    ("事项名称", "item_name", "ServiceItem.name"),
    ("内容摘要", "content_digest", "SM3 over the sorted 'sm3  path' lines of the case as received"),
    ("版本", "aip_version", "Aip.version"),
    ("标签清单摘要", "aip_tagmanifest_sm3", "SM3 of the AIP's signed tagmanifest-sm3.txt"),
    ("签名证书指纹", "aip_signer_fingerprint", "SM3 of the DER certificate that signed the AIP"),
)

#: 业务实体 children (unverified names), in order: (element name, Action attribute).
BUSINESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("业务标识符", "id"),
    ("机构人员标识符", "agent_id"),
    ("文件标识符", "file_id"),
    ("业务状态", "status"),
    ("业务行为", "action"),
    ("行为时间", "time"),
    ("行为依据", "basis"),
    ("行为描述", "description"),
)

#: 机构人员实体 children (unverified names), in order: (element name, Agent attribute).
AGENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("机构人员标识符", "id"),
    ("机构人员类型", "kind"),
    ("机构人员名称", "name"),
    ("组织机构代码", "org_code"),
    ("个人职位", "position"),
)

XSD_NAME = "dangan-eep-2009.xsd"
XSD_EXT_NAME = "dangan-eep-ext-1.0.xsd"
