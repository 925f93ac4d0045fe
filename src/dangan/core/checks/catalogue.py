"""The four-property check catalogue (DA/T 70-2018) and the stage profiles, as data.

Item numbers follow DOMAIN.md §3 (numbering as used by vendor systems). The standard's own text is
not available to us, so numbers not in that table — 3-9 and 4-8 for long-term preservation — are
ours and marked ``verified=False``; rename them here if the normative numbering differs.

Each stage has a default profile: which items run, in report order, and whether a failure blocks.
An administrator narrows or widens a profile per fonds or per service item (``apply_overrides``);
an item that cannot run in an environment says "not run" and why. Nothing passes without checking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from dangan.core.checks.model import CheckItem, Property, Stage
from dangan.core.errors import DanganError

_A, _T, _R, _P = Stage.ARCHIVE, Stage.TRANSFER, Stage.RECEIVE, Stage.PRESERVE
_ALL = (_A, _T, _R, _P)
_ATR = (_A, _T, _R)
_TRP = (_T, _R, _P)
_AU, _IN, _US, _SE = Property.AUTHENTICITY, Property.INTEGRITY, Property.USABILITY, Property.SECURITY


def _item(number: str, prop: Property, zh: str, en: str, what: str, stages: tuple[Stage, ...],
          blocking: bool = True, verified: bool = True) -> CheckItem:  # fmt: skip
    return CheckItem(number, prop, zh, en, what, stages, blocking=blocking, verified=verified)


ITEMS: tuple[CheckItem, ...] = (
    # 1 真实性 authenticity
    _item("1-1", _AU, "固化信息有效性检测", "Fixity information valid",
          "Declared SM3 digests equal the bytes; OFD signatures and e-seals verify; for an AIP the BagIt "
          "manifests and the SM2 seal over the tag manifest verify.", _ALL),
    _item("1-2", _AU, "元数据项数据长度检测", "Metadata value lengths",
          "No metadata value is longer than the scheme allows.", _ATR),
    _item("1-3", _AU, "元数据项数据类型、格式检测", "Metadata types and formats",
          "Dates, date-times, integers, codes, digests and patterns as the scheme defines; real calendar dates.",
          _ATR),
    _item("1-4", _AU, "元数据项数据值域符合度检测", "Metadata values within their enumerations",
          "Values of enumerated items (办件类型, 申请人类型, 密级, 保管期限, 材料类别 …) are from the scheme's list.",
          _ATR),
    _item("1-5", _AU, "元数据项数据值合理性检测", "Metadata values plausible",
          "Completion not before acceptance, steps end after they start, licences valid from before valid to, "
          "ID and credit-code check characters right, retention as the schedule says.", _ATR),
    _item("1-6", _AU, "元数据项数据包含特殊字符检测", "No illegal characters in metadata",
          "No control characters, bidirectional overrides, private-use or replacement characters in values; "
          "no characters in file names that some systems cannot store.", _ATR),
    _item("1-7", _AU, "档号规范性检测", "Archival code follows the rule",
          "The archival code (档号) matches the fonds' pattern, and its year and retention match the record.",
          _ALL),
    _item("1-8", _AU, "元数据项数据重复性检测", "No duplicate keys",
          "No other record has the same key values (办件编号 and the scheme's keys).", _ATR, blocking=False),
    _item("1-10", _AU, "内容数据的电子属性一致性检测", "Electronic properties match metadata",
          "Size of each file equals the metadata; the format identified from the content matches the declared "
          "format and the file name's extension.", _ALL),
    _item("1-11", _AU, "元数据是否关联内容数据检测", "Metadata linked to content",
          "Every file the archival description records is in the package at the recorded location, with the "
          "recorded digest.", _TRP),
    _item("1-12", _AU, "说明文件和目录文件规范性检测", "Description and catalogue files follow the rules",
          "The metadata XML is present and follows the format's XML Schema; an AIP has its BagIt tag files, "
          "archival description and signature.", _ALL),
    _item("1-13", _AU, "信息包目录结构规范性检测", "Package folder structure",
          "Content files sit under 申报材料/, 过程材料/, 结果材料/ or 电子证照/ and match their category; an AIP "
          "keeps the case under data/.", _ALL),
    _item("1-14", _AU, "信息包一致性检测", "Package identical to what was sent",
          "The package digest equals the digest the sender declared in the batch or transfer manifest.",
          (_A, _R)),
    # 2 完整性 integrity
    _item("2-1", _IN, "总件数相符性检测", "File count matches the registration",
          "Number of content files equals 文件信息/@文件总数 (and an AIP's Payload-Oxum).", _ALL),
    _item("2-2", _IN, "总字节数相符性检测", "Byte total matches the registration",
          "Sum of content file sizes equals 文件信息/@总字节数 (and an AIP's Payload-Oxum).", _ALL),
    _item("2-3", _IN, "元数据项完整性检测", "All metadata items present",
          "Every group and every item the scheme requires is present.", _ATR),
    _item("2-4", _IN, "元数据必填著录项目检测", "Mandatory metadata not empty",
          "Items the scheme requires are not empty.", _ATR),
    _item("2-5", _IN, "过程信息完整性检测", "Process information complete",
          "The process (办理流程) has steps, each with handler and start time, and the steps the service item "
          "requires.", _ATR),
    _item("2-6", _IN, "连续性元数据项检测", "Sequential items consecutive",
          "Step and file sequence numbers (序号) run without gaps or repeats from the configured start.", _ATR),
    _item("2-7", _IN, "内容数据完整性检测", "Content and attachments complete",
          "No content file is empty; licence files and OFD attachments that are referenced are present.", _ALL),
    _item("2-9", _IN, "归档范围完整性检测", "Archiving scope complete",
          "Every material the archiving scope marks 必要 is present.", (_A,)),
    _item("2-10", _IN, "信息包元数据完整性检测", "Package metadata complete",
          "The package's own metadata is complete: format version and registration totals; a batch entry's "
          "fields; an AIP's bag-info fields.", _ALL),
    _item("2-11", _IN, "信息包内容数据完整性检测", "Declared files equal files present",
          "Every file declared in 文件信息 is in the package and every file in the package is declared.", _ALL),
    # 3 可用性 usability
    _item("3-1", _US, "信息包元数据可读性检测", "Package metadata readable",
          "The metadata XML parses safely (no DTD, no entities) and has the expected root element.", _ALL),
    _item("3-2", _US, "元数据库可访问性检测", "Metadata database accessible",
          "The archive's metadata database answers a query.", _ALL),
    _item("3-3", _US, "内容数据格式检测", "Accepted archival formats",
          "Each file's format, identified from its content, is on the list of accepted archival formats.",
          _ALL),
    _item("3-4", _US, "内容数据可读性检测", "Content opens",
          "Each file opens and decodes completely with a validator for its format (pikepdf, the OFD reader, "
          "Pillow, FFmpeg through PyAV or mutagen, lxml).", _ALL),
    _item("3-5", _US, "长期保存格式符合性检测", "Long-term preservation profile",
          "PDFs claim PDF/A; OFDs follow the OFD-A rules (GB/T 42133): fonts embedded, no external resources, "
          "no actions.", _ALL, blocking=False),
    _item("3-6", _US, "软件环境合规性检测", "Software environment",
          "A validator for every format in the package is available in this installation.", _ALL),
    _item("3-7", _US, "硬件环境合规性检测", "Hardware environment",
          "The storage the archive writes to is writable and has room for the package.", _ALL),
    _item("3-8", _US, "信息包中包含的内容数据格式合规性检测", "No encryption or proprietary compression",
          "No encrypted PDF, OFD, ZIP or office file and no RAR/7z or other compressed container: the rules "
          "require decrypting and unpacking before archiving.", _ALL),
    _item("3-9", _US, "备份数据可恢复性检测", "Backup recoverable",
          "The latest backup holds this record and its copy verifies.", (_P,), verified=False),
    # 4 安全性 security
    _item("4-1", _SE, "系统环境中是否安装杀毒软件检测", "Antivirus present",
          "A virus scanner is configured and answers.", _ALL),
    _item("4-2", _SE, "病毒感染检测", "No virus infection",
          "Every file is scanned by the configured virus scanner and none is infected.", _ALL),
    _item("4-3", _SE, "载体中多余文件检测", "No extra files on the carrier",
          "An offline carrier holds only the packages and their description files.", _ALL),
    _item("4-4", _SE, "载体读取检测", "Carrier readable",
          "Every byte on the offline carrier could be read (measured while hashing).", _ALL),
    _item("4-5", _SE, "载体外观检测", "Carrier appearance",
          "The carrier has no visible damage (a person inspects it; recorded in the registration form).", _ALL),
    _item("4-6", _SE, "载体合规性检测", "Carrier type meets DA/T 38",
          "The carrier is an archival-grade medium (CD-R, DVD-R, BD-R or hard disk), not a flash drive.", _ALL),
    _item("4-7", _SE, "归档过程安全性检测", "Archiving process secure and controlled",
          "The package came through an authenticated channel, and carries no state-secret classification "
          "(classified records must not enter this system).", _ATR),
    _item("4-8", _SE, "存储位置健康检测", "Storage location healthy",
          "The stored copies of the AIP are present and readable in every configured location.", (_P,),
          verified=False),
)  # fmt: skip

BY_NUMBER: dict[str, CheckItem] = {item.number: item for item in ITEMS}


@dataclass(frozen=True)
class ProfileEntry:
    number: str
    blocking: bool


@dataclass(frozen=True)
class StageProfile:
    """Which items run at a stage, in report order, and whether their failures block."""

    stage: Stage
    entries: tuple[ProfileEntry, ...]

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(e.number for e in self.entries)

    def blocking_of(self, number: str) -> bool | None:
        """Whether a failure of the item blocks; None when the item does not run."""
        return next((e.blocking for e in self.entries if e.number == number), None)

    def apply_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> StageProfile:
        """Overrides keyed by item number: ``{"enabled": bool, "blocking": bool}`` (validated)."""
        if not overrides:
            return self
        parse_profile_overrides(self.stage, overrides)
        entries = {e.number: e for e in self.entries}
        for number, change in overrides.items():
            if change.get("enabled") is False:
                entries.pop(number, None)
                continue
            current = entries.get(number) or ProfileEntry(number, BY_NUMBER[number].blocking)
            if "blocking" in change:
                current = replace(current, blocking=bool(change["blocking"]))
            entries[number] = current
        order = {n: i for i, n in enumerate(_ORDER)}
        return StageProfile(self.stage, tuple(sorted(entries.values(), key=lambda e: order[e.number])))


class ProfileError(DanganError):
    code = "BAD_CHECK_PROFILE"


def parse_profile_overrides(stage: Stage, overrides: Mapping[str, Any]) -> None:
    """Refuse overrides that name unknown items, items not defined for the stage, or unknown options."""
    if not isinstance(overrides, Mapping):
        raise ProfileError("a profile override must be an object keyed by item number")
    for number, change in overrides.items():
        item = BY_NUMBER.get(number)
        if item is None:
            raise ProfileError(f"{number!r} is not a check item", target=number)
        if stage not in item.stages:
            raise ProfileError(f"item {number} is not defined for the {stage.value} stage", target=number)
        if not isinstance(change, Mapping) or not set(change) <= {"enabled", "blocking"}:
            raise ProfileError(f"item {number}: options are enabled and blocking", target=number)
        for key, value in change.items():
            if not isinstance(value, bool):
                raise ProfileError(f"item {number}: {key} must be true or false", target=number)


# Report order: readability and structure first (later items depend on them), then content, then security.
_ORDER: tuple[str, ...] = (
    "3-1", "1-12", "1-13", "2-11", "1-1", "1-10", "1-11", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-8",
    "2-3", "2-4", "2-5", "2-6", "2-7", "2-1", "2-2", "2-9", "2-10", "1-14", "3-2", "3-3", "3-4", "3-5",
    "3-6", "3-7", "3-8", "3-9", "4-1", "4-2", "4-3", "4-4", "4-5", "4-6", "4-7", "4-8",
)  # fmt: skip


def default_profile(stage: Stage) -> StageProfile:
    return StageProfile(
        stage,
        tuple(ProfileEntry(n, BY_NUMBER[n].blocking) for n in _ORDER if stage in BY_NUMBER[n].stages),
    )


PROFILES: dict[Stage, tuple[str, ...]] = {stage: default_profile(stage).numbers for stage in Stage}


def item_for_code(code: str) -> CheckItem | None:
    """'GD-1-1' -> the 1-1 item."""
    parts = code.split("-", 1)
    return BY_NUMBER.get(parts[1]) if len(parts) == 2 else None
