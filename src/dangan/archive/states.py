"""Record lifecycle: pre-archive library (预归档库) → archived in the formal library (正式库), or returned."""

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
