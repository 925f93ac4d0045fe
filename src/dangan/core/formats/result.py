"""The outcome of validating one file against its identified format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["valid", "invalid", "not_run"]

DECRYPT_RULE = "the archiving rules require files to be decrypted before they are archived"


@dataclass
class Validation:
    """What a validator found.

    ``status`` says whether the file decodes as its format: "valid" (the validator opened and read
    it completely), "invalid" (it could not: corrupt, truncated, hostile, password-protected) or
    "not_run" (no validator for this format here; ``reason`` says why). ``problems`` lists every
    finding a check should report, including findings on a valid file (encryption, JavaScript, a
    repaired cross-reference table); ``details`` holds what was measured (pages, dimensions, codecs,
    duration, PDF/A claim …). ``tool`` names the library or program and its version.

    ``encrypted`` is True when encryption was found. ``encryption_unknown`` is True when the
    validator looked for encryption and could not tell (e.g. a DOC whose Word FIB cannot be read):
    then ``encrypted`` is False, ``problems`` says why, and a check must say "could not be
    determined" rather than "not encrypted".
    """

    status: Status
    tool: str
    encrypted: bool = False
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    encryption_unknown: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "valid"


def not_run(
    reason: str,
    *,
    tool: str = "",
    encrypted: bool = False,
    problems: list[str] | None = None,
    encryption_unknown: bool = False,
) -> Validation:
    return Validation(
        "not_run",
        tool,
        encrypted=encrypted,
        problems=problems or [],
        reason=reason,
        encryption_unknown=encryption_unknown,
    )


def invalid(tool: str, *problems: str, **details: Any) -> Validation:
    return Validation("invalid", tool, problems=list(problems), details=dict(details))


def describe_error(exc: BaseException) -> str:
    """A one-line description of an exception raised by a library on bad input."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text[:300]}" if text else name
