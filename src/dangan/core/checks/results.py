"""Small constructors shared by the check items."""

from __future__ import annotations

from dangan.core.checks.model import CheckResult, Outcome, Stage
from dangan.core.package import schema as s


def result(
    code: str, stage: Stage, outcome: Outcome, target: str, message: str, **evidence: object
) -> CheckResult:
    return CheckResult(
        code=code, stage=stage, outcome=outcome, target=target, message=message, evidence=evidence
    )


def no_metadata(code: str, stage: Stage) -> list[CheckResult]:
    return [
        result(
            code, stage, Outcome.NOT_RUN, s.METADATA_FILENAME, "not run: the metadata XML could not be read"
        )
    ]
