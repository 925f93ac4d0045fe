"""Image validation with Pillow: every frame fully decoded within a pixel, frame and time budget
(JPEG: every scan entropy-decoded, the inverse DCT done at 1/8 scale — see ``_scaled_jpeg_decode``).

Before a frame is decoded its pixel count is checked against ``Limits.max_image_pixels`` (for
GIF/APNG/WEBP the full canvas, which Pillow composites every frame onto) and the running total
against ``Limits.max_total_pixels``; more than ``Limits.max_frames`` frames is refused. A frame is
decoded in one go, so the time budget is checked between frames: one frame costs at most what its
pixel limit allows (a hostile progressive JPEG can still be slow; a hard limit needs a subprocess).
"""

from __future__ import annotations

import math
import threading
import warnings
from pathlib import Path
from typing import Any

import PIL
from PIL import Image

from dangan.core.formats.limits import DEFAULT_LIMITS, BudgetExceeded, Limits
from dangan.core.formats.result import Validation, describe_error, invalid

TOOL = f"Pillow {PIL.__version__}"
_PIL_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "GIF": "GIF", "BMP": "BMP", "WEBP": "WEBP",
              "JP2": "JPEG2000"}  # fmt: skip


# Pillow reports some damage (truncated TIFF tags, corrupt EXIF) only as a warning. Recording
# warnings swaps process-wide state, so image validations take turns while they record.
_WARNINGS_LOCK = threading.Lock()


def validate_image(path: Path, name: str, limits: Limits = DEFAULT_LIMITS) -> Validation:
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _decode(path, name, limits)
    except BudgetExceeded as exc:
        return invalid(TOOL, exc.message)
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


def _decode(path: Path, name: str, limits: Limits) -> Validation:
    deadline = limits.deadline()
    details: dict[str, Any] = {}
    problems: list[str] = []
    with Image.open(path) as img:
        details.update(pillow_format=img.format, width=img.width, height=img.height, mode=img.mode)
        expected = _PIL_NAMES.get(name)
        if expected is not None and img.format != expected:
            problems.append(f"Pillow reads it as {img.format}, not {expected}")
        if img.width <= 0 or img.height <= 0:
            return invalid(TOOL, f"image has no pixels ({img.width}×{img.height})", **details)
        warn_at = Image.MAX_IMAGE_PIXELS
        if warn_at is not None and img.width * img.height > warn_at:
            details["large_image"] = (
                f"{img.width * img.height} pixels, over Pillow's {warn_at}-pixel warning threshold"
            )
        dpi = _dpi(img.info.get("dpi"))
        if dpi:
            details["dpi"] = dpi
        if img.info.get("icc_profile"):
            details["icc_profile"] = True
        frames, total = 0, 0
        while True:
            pixels = _frame_budget(img, frames, total, limits)
            if img.format == "JPEG" and frames == 0:
                _scaled_jpeg_decode(img, details)
            img.load()
            frames += 1
            total += pixels
            try:
                img.seek(img.tell() + 1)
            except EOFError:
                break
            if frames >= limits.max_frames:
                raise BudgetExceeded(
                    f"more than {limits.max_frames} frames (the frame limit); the rest were not decoded "
                    "(possible decompression bomb)"
                )
            deadline.check(f"decoding frame {frames + 1}")
        details["frames"] = frames
        details["pixels_decoded"] = total
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


def _scaled_jpeg_decode(img: Image.Image, details: dict[str, Any]) -> None:
    """Decode a JPEG at 1/8 scale: libjpeg still reads every scan and entropy-decodes every DCT
    coefficient (so a corrupt or truncated stream fails exactly as in a full decode) but computes
    only the DC term of each block instead of the full inverse DCT, colour upsampling and
    conversion — about three times faster on scans. Those skipped steps cannot fail on data that
    entropy-decoded."""
    width, height = img.size
    img.draft(img.mode, (max(1, -(-width // 8)), max(1, -(-height // 8))))
    if img.size != (width, height):
        details["decoded_scale"] = f"1/{round(width / img.size[0])}"


def _frame_budget(img: Image.Image, frame: int, total: int, limits: Limits) -> int:
    """The pixels the next frame costs; BudgetExceeded before decoding it if over a limit."""
    width, height = img.size
    pixels = width * height
    where = "the image" if frame == 0 else f"frame {frame + 1}"
    if pixels > limits.max_image_pixels:
        raise BudgetExceeded(
            f"{where} is {width}×{height} = {pixels} pixels, over the {limits.max_image_pixels}-pixel "
            "limit per image (possible decompression bomb); not decoded"
        )
    if total + pixels > limits.max_total_pixels:
        raise BudgetExceeded(
            f"{where} would bring the pixels decoded to {total + pixels}, over the "
            f"{limits.max_total_pixels}-pixel limit for all frames together (after {frame} frames; "
            "possible decompression bomb); not decoded"
        )
    return pixels


def _dpi(value: Any) -> list[float] | None:
    """The resolution Pillow read, if it is two finite positive numbers (never NaN or infinity)."""
    if not isinstance(value, tuple | list) or len(value) < 2:
        return None
    try:
        out = [round(float(v), 2) for v in value[:2]]
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return out if all(math.isfinite(v) and v > 0 for v in out) else None


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
