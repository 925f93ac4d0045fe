"""Typed domain errors. Each has a stable ``code`` that scripts and API clients can rely on."""

from __future__ import annotations


class DanganError(Exception):
    """Base class. ``code`` is stable; ``message`` is for people; ``target`` names the file or field."""

    code = "ERROR"

    def __init__(self, message: str, *, target: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.target:
            out["target"] = self.target
        return out


class PackageError(DanganError):
    """The package cannot be read at all (bad container, unsafe entry, unreadable metadata)."""

    code = "PACKAGE_INVALID"


class UnsafeArchiveError(PackageError):
    """A ZIP entry or folder entry that could escape quarantine or exhaust resources."""

    code = "ZIP_UNSAFE"


class MetadataError(PackageError):
    """The metadata XML is malformed, hostile or does not follow the schema."""

    code = "METADATA_INVALID"


class IntegrityError(DanganError):
    """Stored bytes do not match their recorded digest."""

    code = "FIXITY_MISMATCH"


class SignatureError(DanganError):
    code = "SIGNATURE_INVALID"


class ArchivalCodeError(DanganError):
    code = "ARCHIVAL_CODE_INVALID"
