"""Record lifecycle: pre-archive library (预归档库) → archived in the formal library (正式库), or returned.

Two more explicit machines live here:

* ``GAP`` — 容缺归档: a case whose required materials (归档范围 必要) are missing may be filed with a gap
  (``open``) and archived with the officer's reason; supplying the materials later closes it (``closed``),
  a supplement that supplies only some keeps it ``open``.
* An archived record may get new AIP versions (supplements, corrections, ``VersionKind``); they leave
  its status ARCHIVED (not a transition of ``RECORD``: confirming twice must stay impossible) and
  need records.supplement or records.correct.
"""

from __future__ import annotations

from enum import StrEnum

from dangan.accounts.roles import Perm
from dangan.core.states import StateMachine, Transition


class RecordStatus(StrEnum):
    PRE_ARCHIVE = "pre_archive"
    ARCHIVED = "archived"
    RETURNED = "returned"


LABELS = {
    RecordStatus.PRE_ARCHIVE: "预归档 Pre-archive",
    RecordStatus.ARCHIVED: "已归档 Archived",
    RecordStatus.RETURNED: "已退回 Returned",
}

# (value, label) pairs for model fields and the OpenAPI enum.
CHOICES = [(status.value, label) for status, label in LABELS.items()]

_S = RecordStatus
RECORD = StateMachine(
    "record",
    [
        Transition(_S.PRE_ARCHIVE, _S.ARCHIVED, Perm.CONFIRM.value),
        Transition(_S.PRE_ARCHIVE, _S.RETURNED, Perm.RETURN.value),
    ],
)


class GapStatus(StrEnum):
    """容缺: whether required materials of the archiving scope are missing."""

    NONE = "none"  # nothing required is missing
    OPEN = "open"  # required materials missing (filed / archived with a gap)
    CLOSED = "closed"  # was missing, all supplied in a later AIP version


GAP_LABELS = {
    GapStatus.NONE: "无容缺 No gap",
    GapStatus.OPEN: "容缺 Gap open",
    GapStatus.CLOSED: "容缺已补齐 Gap closed",
}
GAP_CHOICES = [(status.value, label) for status, label in GAP_LABELS.items()]

_G = GapStatus
GAP = StateMachine(
    "gap",
    [
        Transition(_G.NONE, _G.OPEN, None),  # intake: only GD-2-9 failed, and it does not block
        Transition(_G.OPEN, _G.OPEN, Perm.SUPPLEMENT.value),  # some of the missing materials supplied
        Transition(_G.OPEN, _G.CLOSED, Perm.SUPPLEMENT.value),  # all supplied
    ],
)


class VersionKind(StrEnum):
    """Why an AIP version exists."""

    ARCHIVED = "archived"  # version 1, written on confirmation
    SUPPLEMENT = "supplement"  # 补充: missing materials supplied (容缺)
    CORRECTION = "correction"  # 更正: metadata and/or files corrected
    MIGRATION = "migration"  # 格式迁移: derived PDF/A files added beside their office originals


VERSION_LABELS = {
    VersionKind.ARCHIVED: "归档 Archived",
    VersionKind.SUPPLEMENT: "补充材料 Supplement",
    VersionKind.CORRECTION: "更正 Correction",
    VersionKind.MIGRATION: "格式迁移 Format migration",
}
VERSION_CHOICES = [(kind.value, label) for kind, label in VERSION_LABELS.items()]
