"""The check catalogue and stage profiles, as data.

The foundation implements the archiving-stage items below; the full DA/T 70 catalogue with all four
stages is added by the four-property-checks work. An item listed here is implemented for real or
reports "not run" with the reason; nothing passes without having checked.
"""

from __future__ import annotations

from dangan.core.checks.model import CheckItem, Property, Stage

_A = (Stage.ARCHIVE,)
_P = Property

ITEMS: tuple[CheckItem, ...] = (
    CheckItem("1-1", _P.AUTHENTICITY, "固化信息有效性检测", "Fixity information valid",
              "Each file's declared SM3 digest equals the digest of the bytes received.", _A),
    CheckItem("1-3", _P.AUTHENTICITY, "元数据项数据类型、格式检测", "Metadata types and formats",
              "Metadata values follow the XML Schema: dates, integers, codes, retention, lengths.", _A),
    CheckItem("1-5", _P.AUTHENTICITY, "元数据项数据值合理性检测", "Metadata values plausible",
              "Completion not before acceptance, steps end after they start; retention as configured.", _A),
    CheckItem("1-10", _P.AUTHENTICITY, "内容数据的电子属性一致性检测", "Electronic properties match metadata",
              "Declared size and format of each file match the file received.", _A),
    CheckItem("1-12", _P.AUTHENTICITY, "归档信息包元数据文件检测", "Package description file present",
              "The package holds its metadata XML (基本信息元数据.xml).", _A),
    CheckItem("1-13", _P.AUTHENTICITY, "归档信息包目录结构规范性检测", "Package folder structure",
              "Content files sit under 申报材料/, 过程材料/, 结果材料/ or 电子证照/ and match their category.", _A),
    CheckItem("1-14", _P.AUTHENTICITY, "归档信息包一致性检测", "Package identical to what was sent",
              "The package digest equals the digest the sender declared in the batch manifest.", _A),
    CheckItem("2-1", _P.INTEGRITY, "总件数相符性检测", "File count matches the registration",
              "Number of content files equals 文件信息/@文件总数.", _A),
    CheckItem("2-2", _P.INTEGRITY, "总字节数相符性检测", "Byte total matches the registration",
              "Sum of content file sizes equals 文件信息/@总字节数.", _A),
    CheckItem("2-3", _P.INTEGRITY, "元数据项完整性检测", "All metadata items present",
              "Every group and every required element of the scheme is present.", _A),
    CheckItem("2-4", _P.INTEGRITY, "元数据必填著录项检测", "Mandatory metadata not empty",
              "Required elements are not empty.", _A),
    CheckItem("2-9", _P.INTEGRITY, "归档范围完整性检测", "Archiving scope complete",
              "Every material marked 必要 in the archiving scope is present.", _A),
    CheckItem("2-11", _P.INTEGRITY, "信息包内容数据完整性检测", "Declared files equal files present",
              "Every file declared in 文件信息 is in the package and every file in the package is declared.", _A),
    CheckItem("3-1", _P.USABILITY, "信息包元数据可读性检测", "Package metadata readable",
              "The metadata XML parses safely and has the expected root element.", _A),
    CheckItem("4-1", _P.SECURITY, "系统环境中是否安装杀毒软件检测", "Antivirus present",
              "A virus scanner is configured in the environment.", _A, blocking=False),
    CheckItem("4-2", _P.SECURITY, "病毒感染检测", "No virus infection",
              "Every file is scanned by the configured virus scanner.", _A),
)  # fmt: skip

BY_NUMBER: dict[str, CheckItem] = {item.number: item for item in ITEMS}

# Which items run at each stage, in report order.
PROFILES: dict[Stage, tuple[str, ...]] = {
    Stage.ARCHIVE: (
        "3-1", "1-12", "1-13", "2-11", "1-1", "1-10", "1-3", "1-5", "2-3", "2-4", "2-1", "2-2", "2-9", "1-14", "4-1", "4-2",
    ),
}  # fmt: skip


def item_for_code(code: str) -> CheckItem | None:
    """'GD-1-1' -> the 1-1 item."""
    parts = code.split("-", 1)
    return BY_NUMBER.get(parts[1]) if len(parts) == 2 else None
