"""Check results and reports. A result says what was checked, on what, with what outcome and evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    ARCHIVE = "archive"  # 归档 (GD)
    TRANSFER = "transfer"  # 移交 (YJ)
    RECEIVE = "receive"  # 接收 (YJ, archive side)
    PRESERVE = "preserve"  # 长期保存 (CQ)


STAGE_PREFIX = {Stage.ARCHIVE: "GD", Stage.TRANSFER: "YJ", Stage.RECEIVE: "YJ", Stage.PRESERVE: "CQ"}


class Property(StrEnum):
    AUTHENTICITY = "authenticity"  # 真实性
    INTEGRITY = "integrity"  # 完整性
    USABILITY = "usability"  # 可用性
    SECURITY = "security"  # 安全性


PROPERTY_ZH = {
    Property.AUTHENTICITY: "真实性",
    Property.INTEGRITY: "完整性",
    Property.USABILITY: "可用性",
    Property.SECURITY: "安全性",
}


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARNING = "warning"
    NOT_APPLICABLE = "not_applicable"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class CheckItem:
    """One entry of the catalogue (DA/T 70 numbering, DOMAIN.md §3)."""

    number: str  # "1-1"
    prop: Property
    name_zh: str
    name_en: str
    description: str
    stages: tuple[Stage, ...]
    blocking: bool = True
    verified: bool = True  # False: our number for an item DOMAIN.md's table does not list

    def code(self, stage: Stage) -> str:
        return f"{STAGE_PREFIX[stage]}-{self.number}"


@dataclass
class CheckResult:
    code: str
    stage: Stage
    outcome: Outcome
    target: str
    message: str
    blocking: bool = True
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def is_blocking_failure(self) -> bool:
        return self.outcome == Outcome.FAIL and self.blocking


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class CheckReport:
    stage: Stage
    subject: str
    results: list[CheckResult] = field(default_factory=list)
    started_at: str = field(default_factory=_now)
    finished_at: str = ""
    checker: str = "dangan"

    @property
    def passed(self) -> bool:
        return not any(r.is_blocking_failure for r in self.results)

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.is_blocking_failure]

    def errors(self) -> list[dict[str, str]]:
        """Blocking failures as the ``{"code", "message", "target"}`` list scripts and senders read."""
        return [{"code": r.code, "message": r.message, "target": r.target} for r in self.failures()]

    def counts(self) -> dict[str, int]:
        out = {o.value: 0 for o in Outcome}
        for r in self.results:
            out[r.outcome.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "subject": self.subject,
            "checker": self.checker,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "passed": self.passed,
            "counts": self.counts(),
            "results": [
                {**asdict(r), "stage": r.stage.value, "outcome": r.outcome.value} for r in self.results
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckReport:
        report = cls(
            stage=Stage(data["stage"]),
            subject=data.get("subject", ""),
            started_at=data.get("started_at", ""),
            finished_at=data.get("finished_at", ""),
            checker=data.get("checker", "dangan"),
        )
        for r in data.get("results", []):
            report.results.append(
                CheckResult(
                    code=r["code"],
                    stage=Stage(r["stage"]),
                    outcome=Outcome(r["outcome"]),
                    target=r.get("target", ""),
                    message=r.get("message", ""),
                    blocking=r.get("blocking", True),
                    evidence=r.get("evidence", {}),
                )
            )
        return report
