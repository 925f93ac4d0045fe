"""Image validation with Pillow: every frame fully decoded, decompression bombs refused."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

import PIL
from PIL import Image

from dangan.core.formats.result import Validation, describe_error, invalid

TOOL = f"Pillow {PIL.__version__}"
HARD_PIXEL_LIMIT = 1_000_000_000  # used when Image.MAX_IMAGE_PIXELS has been switched off
MAX_FRAMES = 1000
_PIL_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "GIF": "GIF", "BMP": "BMP", "WEBP": "WEBP",
              "JP2": "JPEG2000"}  # fmt: skip


def pixel_limit() -> int:
    """Pillow refuses images over 2 × MAX_IMAGE_PIXELS; we refuse the same (or HARD_PIXEL_LIMIT if unset)."""
    limit = Image.MAX_IMAGE_PIXELS
    return HARD_PIXEL_LIMIT if limit is None else 2 * int(limit)


# Pillow reports some damage (truncated TIFF tags, corrupt EXIF) only as a warning. Recording
# warnings swaps process-wide state, so image validations take turns while they record.
_WARNINGS_LOCK = threading.Lock()


def validate_image(path: Path, name: str) -> Validation:
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _decode(path, name)
    except Image.DecompressionBombError as exc:
        return invalid(TOOL, f"refused as a possible decompression bomb: {exc}")
    except MemoryError:
        return invalid(TOOL, "decoding ran out of memory (image too large or hostile)")
    except Exception as exc:  # OSError (truncated, broken data), SyntaxError, ValueError, struct.error …
        return invalid(TOOL, f"cannot be decoded as {name}: {describe_error(exc)}")
    for w in caught:
        if issubclass(w.category, Image.DecompressionBombWarning):
            continue  # recorded as details["large_image"]
        message = str(w.message)
        result.problems.append(f"Pillow warns: {message}")
        if any(word in message.lower() for word in ("truncat", "corrupt", "broken", "invalid")):
            result.status = "invalid"
    return result


def _decode(path: Path, name: str) -> Validation:
    details: dict[str, Any] = {}
    problems: list[str] = []
    with Image.open(path) as img:
        details.update(pillow_format=img.format, width=img.width, height=img.height, mode=img.mode)
        expected = _PIL_NAMES.get(name)
        if expected is not None and img.format != expected:
            problems.append(f"Pillow reads it as {img.format}, not {expected}")
        pixels = img.width * img.height
        if pixels > pixel_limit():
            return invalid(TOOL, f"{img.width}×{img.height} = {pixels} pixels is over the {pixel_limit()}-pixel "
                           "limit (possible decompression bomb); not decoded", **details)  # fmt: skip
        warn_at = Image.MAX_IMAGE_PIXELS
        if warn_at is not None and pixels > warn_at:
            details["large_image"] = f"{pixels} pixels, over Pillow's {warn_at}-pixel warning threshold"
        if img.width <= 0 or img.height <= 0:
            return invalid(TOOL, f"image has no pixels ({img.width}×{img.height})", **details)
        dpi = img.info.get("dpi")
        if dpi:
            details["dpi"] = [round(float(v), 2) for v in dpi][:2]
        if img.info.get("icc_profile"):
            details["icc_profile"] = True
        frames = 0
        while True:
            img.load()
            frames += 1
            if frames >= MAX_FRAMES:
                details["frames_checked"] = f"first {MAX_FRAMES}"
                break
            try:
                img.seek(img.tell() + 1)
            except EOFError:
                break
        details["frames"] = frames
    if name == "PNG":
        with Image.open(path) as again:
            again.verify()  # chunk CRCs and structure, which load() does not check everywhere
    if name == "JPEG":
        trailing = _jpeg_tail(path)
        if trailing is None:
            return invalid(TOOL, "no JPEG end-of-image marker (FF D9) near the end: truncated", **details)
        if trailing:
            problems.append(f"{trailing} bytes of data after the JPEG end-of-image marker")
    misread = any("Pillow reads it as" in p for p in problems)
    return Validation("invalid" if misread else "valid", TOOL, problems=problems, details=details)


def _jpeg_tail(path: Path, window: int = 65536) -> int | None:
    """Bytes after the last FF D9 (ignoring zero padding), or None if no FF D9 in the last ``window`` bytes."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - window))
        tail = f.read()
    stripped = tail.rstrip(b"\0")
    if stripped.endswith(b"\xff\xd9"):
        return 0
    at = stripped.rfind(b"\xff\xd9")
    if at < 0:
        return None
    return len(stripped) - at - 2
