"""Format identification (by content) and one validator per format family.

fmt = identify(path)                      # FormatId(name="PDF", version="1.7", puid="fmt/276", basis=…)
extension_matches(fmt, "申请书.pdf")      # check 1-10: extension vs content
result = validate(path, fmt)              # Validation(status="valid", tool="pikepdf …", details=…)
validate(path, fmt, limits=Limits(time_budget=30, max_image_pixels=70_000_000))   # resource limits
is_archival(fmt), is_container_or_compressed(fmt)   # checks 3-3 and 3-8
"""

from dangan.core.formats.classify import (
    ARCHIVAL_FORMATS,
    COMPRESSED_ARCHIVES,
    CONTAINERS,
    PROPRIETARY_COMPRESSION,
    is_archival,
    is_compressed_archive,
    is_container_or_compressed,
    is_executable,
    is_proprietary_compression,
)
from dangan.core.formats.identify import FormatId, identify
from dangan.core.formats.limits import DEFAULT_LIMITS, Limits
from dangan.core.formats.registry import FORMAT_NAMES, FORMATS, UNKNOWN, FormatInfo, extension_matches
from dangan.core.formats.result import Validation
from dangan.core.formats.validate import validate

__all__ = [
    "ARCHIVAL_FORMATS",
    "COMPRESSED_ARCHIVES",
    "CONTAINERS",
    "DEFAULT_LIMITS",
    "FORMATS",
    "FORMAT_NAMES",
    "PROPRIETARY_COMPRESSION",
    "UNKNOWN",
    "FormatId",
    "FormatInfo",
    "Limits",
    "Validation",
    "extension_matches",
    "identify",
    "is_archival",
    "is_compressed_archive",
    "is_container_or_compressed",
    "is_executable",
    "is_proprietary_compression",
    "validate",
]
