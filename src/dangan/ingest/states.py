"""Submission lifecycle: received → checking → rejected | duplicate | accepted (into the pre-archive library)."""

from __future__ import annotations

from enum import StrEnum

from dangan.core.states import StateMachine, Transition


class SubmissionStatus(StrEnum):
    RECEIVED = "received"
    CHECKING = "checking"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    ACCEPTED = "accepted"


LABELS = {
    SubmissionStatus.RECEIVED: "已接收 Received",
    SubmissionStatus.CHECKING: "检测中 Checking",
    SubmissionStatus.REJECTED: "已拒收 Rejected",
    SubmissionStatus.DUPLICATE: "重复 Duplicate",
    SubmissionStatus.ACCEPTED: "已入预归档库 Accepted",
}

# (value, label) pairs for model fields and the OpenAPI enum.
CHOICES = [(status.value, label) for status, label in LABELS.items()]

_S = SubmissionStatus
SUBMISSION = StateMachine(
    "submission",
    [
        Transition(_S.RECEIVED, _S.CHECKING, None),
        Transition(_S.RECEIVED, _S.REJECTED, None),  # unreadable or unsafe container
        Transition(_S.CHECKING, _S.REJECTED, None),
        Transition(_S.CHECKING, _S.DUPLICATE, None),
        Transition(_S.CHECKING, _S.ACCEPTED, None),
        Transition(_S.CHECKING, _S.RECEIVED, None),  # resumed after a crash mid-check
    ],
)
FINAL = {_S.REJECTED, _S.DUPLICATE, _S.ACCEPTED}
