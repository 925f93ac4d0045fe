"""How much work validating one file may cost: time, decoded bytes, pixels, frames.

A file that would need more than these limits is refused as ``invalid`` with a message naming the
limit (a hostile file is built to need far more; a genuine record needs far less). The limits are
checked *before* the work they bound wherever the cost is known in advance (image dimensions,
declared sizes); the time budget is checked between steps (frames, streams, ZIP chunks, content
tokens), so one step that is already bounded by the other limits may overrun it. A hard wall-clock
limit on a single library call (one JPEG decode inside Pillow or qpdf) needs a subprocess.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MIB = 1024 * 1024
GIB = 1024 * MIB


class BudgetExceeded(Exception):
    """A validator reached one of its limits; ``validate`` reports it as an invalid file."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Resource limits for validating one file (defaults suit scanned government records).

    ``time_budget``: seconds of work per file (also ffprobe's timeout).
    ``max_image_pixels``: one image or frame (the full canvas for GIF/APNG/WEBP frames). A4 at
    600 dpi is about 35 Mpx; decoding 40 Mpx in RGB needs about 160 MB.
    ``max_total_pixels`` / ``max_frames``: every frame or page of one image file together.
    ``max_stream_bytes``: one PDF stream decoded (qpdf's Flate/RunLength/DCT/predictor memory
    limits, which are process-wide: the smallest value any validation asked for stays in force).
    ``max_decoded_bytes`` / ``decoded_ratio``: all PDF stream data the structure check decodes,
    at most the larger of the two (``decoded_ratio`` × the file size).
    ``max_zip_bytes``: uncompressed bytes streamed through the ZIP CRC check.
    """

    time_budget: float = 120.0
    max_image_pixels: int = 40_000_000
    max_total_pixels: int = 1_000_000_000
    max_frames: int = 1000
    max_stream_bytes: int = 256 * MIB
    max_decoded_bytes: int = 2 * GIB
    decoded_ratio: int = 32
    max_zip_bytes: int = 8 * GIB

    def deadline(self) -> Deadline:
        return Deadline(self.time_budget)


DEFAULT_LIMITS = Limits()


class Deadline:
    """The end of a time budget, started when created."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() > self._end

    def check(self, doing: str) -> None:
        """Raise BudgetExceeded if the budget is spent; ``doing`` says where the work stopped."""
        if self.expired():
            raise BudgetExceeded(
                f"not checked completely within the {self.seconds:g}-second time budget "
                f"(stopped while {doing}); refused as a possible denial-of-service file"
            )


def size_text(n: int) -> str:
    """Bytes as a short human-readable figure (``256 MiB``, ``3.9 GiB``, ``812 bytes``)."""
    if n >= GIB:
        return f"{n / GIB:.1f} GiB".replace(".0 ", " ")
    if n >= MIB:
        return f"{n / MIB:.1f} MiB".replace(".0 ", " ")
    return f"{n} bytes"
