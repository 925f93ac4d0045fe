"""Audio and video validation: our own container walk, then FFmpeg (or mutagen without it).

The container walk (ISO BMFF boxes, RIFF chunks, MP3 frames) catches truncation that the tools
let through: FFmpeg reads a cut MP4 whose ``moov`` comes first without complaint unless packets
are read, and mutagen reads only headers.

FFmpeg runs in this process through PyAV (the ``av`` package, FFmpeg's libraries): every packet is
demuxed, audio is also decoded, and any message FFmpeg logs at error level makes the file invalid —
what ``ffprobe -v error -count_packets`` (video) / ``-count_frames`` (audio) does, without starting
a process per file (≈60 ms each, most of the cost of checking a small case). Where PyAV cannot be
imported, the ``ffprobe`` program is used the same way.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
import subprocess
import time
import wave
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from dangan.core.formats.identify import mp3_frame
from dangan.core.formats.result import Validation, describe_error, invalid, not_run

FFPROBE_TIMEOUT = 120.0
MAX_BOXES = 100_000
MAX_MP3_FRAMES = 2_000_000

ISO_FORMATS = {"MP4", "MOV", "M4A", "3GP"}
RIFF_FORMATS = {"WAV", "AVI"}
AUDIO_FORMATS = {"MP3", "WAV", "FLAC", "M4A", "OGG", "AIFF", "AMR"}
MEDIA_FORMATS = (
    ISO_FORMATS | RIFF_FORMATS | {"MP3", "FLAC", "OGG", "MKV", "WEBM", "ASF", "MPEG", "AIFF", "AMR"}
)
# The demuxer name ffprobe must report for each format (a substring of format.format_name).
_FFPROBE_DEMUXER = {
    "MP4": "mp4", "MOV": "mov", "M4A": "m4a", "3GP": "3gp", "WAV": "wav", "AVI": "avi", "MP3": "mp3",
    "FLAC": "flac", "OGG": "ogg", "MKV": "matroska", "WEBM": "webm", "ASF": "asf", "MPEG": "mpeg",
    "AIFF": "aiff", "AMR": "amr",
}  # fmt: skip


@cache
def ffprobe_path() -> str | None:
    return shutil.which("ffprobe")


@cache
def ffprobe_version(path: str) -> str:
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "ffprobe"
    words = out.split()
    return f"ffprobe {words[2]}" if len(words) > 2 and words[0] == "ffprobe" else "ffprobe"


def validate_media(
    path: Path, name: str, *, use_ffprobe: bool = True, timeout: float = FFPROBE_TIMEOUT
) -> Validation:
    structural: list[str] = []
    details: dict[str, Any] = {}
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if name in ISO_FORMATS:
                structural = _walk_boxes(f, size, details)
            elif name in RIFF_FORMATS:
                structural = _walk_riff(f, size, name, details)
            elif name == "MP3":
                structural = _walk_mp3(f, size, details)
    except (OSError, struct.error, ValueError) as exc:
        structural = [f"container cannot be read: {describe_error(exc)}"]
    if use_ffprobe and pyav_available():
        result = _pyav(path, name, timeout)
    else:
        probe = ffprobe_path() if use_ffprobe else None
        result = _ffprobe(probe, path, name, timeout) if probe is not None else _mutagen(path, name)
    if name == "WAV" and result.status != "not_run":
        _wave_details(path, result)
    result.details = {**details, **result.details}
    if structural:
        result.problems[:0] = structural
        if result.status == "valid" or result.status == "not_run":
            result.status = "invalid"
            result.reason = None
    return result


# --- container walks ---------------------------------------------------------------------------


def _walk_boxes(f: BinaryIO, size: int, details: dict[str, Any]) -> list[str]:
    pos, boxes = 0, list[str]()
    while pos < size and len(boxes) < MAX_BOXES:
        f.seek(pos)
        header = f.read(16)
        if len(header) < 8:
            return [f"truncated: {len(header)} stray bytes at offset {pos} where a box header should be"]
        box_size, kind = struct.unpack_from(">I4s", header)
        name = kind.decode("latin-1")
        if box_size == 1:
            if len(header) < 16:
                return [f"truncated: box {name!r} at offset {pos} lacks its 64-bit size"]
            box_size = struct.unpack_from(">Q", header, 8)[0]
        elif box_size == 0:
            box_size = size - pos
        if box_size < 8:
            return [f"box {name!r} at offset {pos} has an impossible size {box_size}"]
        boxes.append(name)
        if pos + box_size > size:
            return [
                f"truncated: box {name!r} at offset {pos} needs {box_size} bytes, only {size - pos} remain"
            ]
        pos += box_size
    details["boxes"] = boxes[:20]
    if "moov" not in boxes:
        return ["no 'moov' box: the movie header is missing"]
    return []


def _walk_riff(f: BinaryIO, size: int, name: str, details: dict[str, Any]) -> list[str]:
    f.seek(0)
    header = f.read(12)
    if len(header) < 12:
        return ["truncated RIFF header"]
    little = header[:4] != b"RIFX"
    fmt = "<I" if little else ">I"
    declared = struct.unpack_from(fmt, header, 4)[0]
    problems: list[str] = []
    if header[:4] != b"RF64" and declared + 8 > size:
        problems.append(f"truncated: the RIFF header declares {declared + 8} bytes, the file has {size}")
    pos, chunks = 12, list[str]()
    end = size if header[:4] == b"RF64" else min(size, declared + 8)
    while pos + 8 <= end and len(chunks) < MAX_BOXES:
        f.seek(pos)
        ch = f.read(8)
        cid = ch[:4].decode("latin-1")
        csize = struct.unpack_from(fmt, ch, 4)[0]
        chunks.append(cid)
        if cid == "data" and csize == 0xFFFFFFFF and header[:4] == b"RF64":
            csize = size - pos - 8
        if pos + 8 + csize > size:
            problems.append(
                f"truncated: chunk {cid!r} at offset {pos} needs {csize} bytes, {size - pos - 8} remain"
            )
            break
        pos += 8 + csize + (csize & 1)
    details["chunks"] = chunks[:20]
    if name == "WAV":
        missing = [c for c in ("fmt ", "data") if c not in chunks]
        if missing and not problems:
            problems.append(f"WAVE without its {' and '.join(repr(m) for m in missing)} chunk")
    if name == "AVI" and "LIST" not in chunks and not problems:
        problems.append("AVI without a LIST chunk (no header list)")
    if declared + 8 < size and header[:4] != b"RF64":
        details["trailing_bytes"] = size - declared - 8
    return problems


def _walk_mp3(f: BinaryIO, size: int, details: dict[str, Any]) -> list[str]:
    f.seek(0)
    head = f.read(10)
    pos = 0
    if head[:3] == b"ID3" and len(head) == 10:
        pos = (
            10
            + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
            + (10 if head[5] & 0x10 else 0)
        )
    end = size
    f.seek(max(0, size - 128))
    if f.read(3) == b"TAG":
        end = size - 128  # ID3v1 tag
    # skip padding before the first frame
    f.seek(pos)
    lead = f.read(4096)
    skip = next((i for i in range(len(lead)) if mp3_frame(lead[i : i + 4])), None)
    if skip is None:
        return [f"no MPEG Layer III frame found at offset {pos}"]
    pos += skip
    frames = 0
    while pos < end and frames < MAX_MP3_FRAMES:
        f.seek(pos)
        header = f.read(4)
        frame = mp3_frame(header)
        if frame is None:
            if header[:3] in (b"TAG", b"APE", b"LYR") or header[:4] == b"ID3\x04":
                break  # trailing tags
            return [f"MPEG frame sync lost at offset {pos} after {frames} frames"]
        if pos + frame[0] > end:
            return [f"truncated: the last frame at offset {pos} needs {frame[0]} bytes, {end - pos} remain"]
        frames += 1
        pos += frame[0]
    details["mpeg_frames"] = frames
    return []


# --- tools ------------------------------------------------------------------------------------


@cache
def pyav_available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:  # pragma: no cover - av is a dependency
        return False
    return True


@cache
def pyav_tool() -> str:
    import av

    major, minor, micro = av.library_versions.get("libavformat", (0, 0, 0))
    return f"PyAV {av.__version__} (libavformat {major}.{minor}.{micro})"


_PACKETS_BETWEEN_CHECKS = 256


def _pyav(path: Path, name: str, timeout: float) -> Validation:
    """ffprobe's check in-process: open, read every packet (audio: decode every frame), collect
    FFmpeg's error-level messages."""
    import av
    import av.logging

    tool = pyav_tool()
    deadline = time.monotonic() + timeout
    decode = name in AUDIO_FORMATS  # audio is decoded (cheap; catches corrupt frames), video demuxed
    fatal: str | None = None
    timed_out = False
    details: dict[str, Any] = {}
    streams: list[dict[str, Any]] = []
    counts: dict[int, int] = {}
    av_streams: list[int] = []
    level = av.logging.get_level()
    if level is None or level < av.logging.ERROR:
        av.logging.set_level(av.logging.ERROR)  # FFmpeg's messages reach Python from error level up
    with av.logging.Capture(local=True) as logs:
        try:
            # "file:" so that a name with ':' is never read as a protocol; no other protocol either.
            container = av.open(
                f"file:{path.resolve()}", options={"protocol_whitelist": "file"}, metadata_errors="replace"
            )
        except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
            container = None
            fatal = f"FFmpeg cannot open it: {describe_error(exc)}"
        if container is not None:
            with container:
                details["container"] = container.format.name
                if container.duration is not None and container.duration > 0:
                    details["duration"] = round(container.duration / 1_000_000, 3)
                if container.bit_rate:
                    details["bit_rate"] = int(container.bit_rate)
                for stream in container.streams:
                    streams.append(_pyav_stream(stream))
                    if stream.type in ("audio", "video"):
                        av_streams.append(stream.index)
                        counts[stream.index] = 0
                try:
                    for n, packet in enumerate(container.demux(), 1):
                        if n % _PACKETS_BETWEEN_CHECKS == 0 and time.monotonic() > deadline:
                            timed_out = True
                            break
                        index = packet.stream.index
                        if decode and index in counts:
                            counts[index] += len(packet.decode())
                        elif packet.size and index in counts:
                            counts[index] += 1
                except (av.FFmpegError, OSError, ValueError, MemoryError) as exc:
                    fatal = f"FFmpeg failed while reading it: {describe_error(exc)}"
    if timed_out:
        return invalid(tool, f"FFmpeg did not finish within {timeout:.0f} s")
    errors = [
        f"[{log[1]}] {_first_line(log[2])}" if log[1] else _first_line(log[2])
        for log in logs
        if log[0] is not None and log[0] <= av.logging.ERROR
    ]
    for st in streams:
        if st.get("index") in counts:
            st["nb_read_frames" if decode else "nb_read_packets"] = counts[st["index"]]
        st.pop("index", None)
    details["streams"] = streams
    problems: list[str] = []
    if fatal is not None:
        problems.append(fatal)
    elif errors:
        problems.append(f"FFmpeg reported {len(errors)} error(s), first: {errors[0][:300]}")
    if fatal is None and not av_streams:
        problems.append("no audio or video stream")
    if av_streams and all(not counts[i] for i in av_streams):
        problems.append("no audio or video data could be read (0 frames)")
    demuxer = _FFPROBE_DEMUXER.get(name)
    if demuxer and details.get("container") and demuxer not in str(details["container"]).split(","):
        problems.append(f"FFmpeg reads it as {details['container']}, not {name}")
    return Validation("invalid" if problems else "valid", tool, problems=problems, details=details)


def _first_line(message: Any) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else ""


def _pyav_stream(st: Any) -> dict[str, Any]:
    """The same fields ``_stream`` keeps from ffprobe's JSON."""
    out: dict[str, Any] = {"index": st.index, "codec_type": st.type}
    ctx = st.codec_context
    codec = getattr(ctx, "codec", None)
    name = getattr(codec, "canonical_name", None) or getattr(ctx, "name", None)  # "mp3", not "mp3float"
    if name:
        out["codec_name"] = name
    if st.type == "video" and ctx is not None:
        for k in ("width", "height"):
            value = _int(getattr(ctx, k, None))
            if value:
                out[k] = value
    if st.type == "audio" and ctx is not None:
        rate = _int(getattr(ctx, "sample_rate", None))
        if rate:
            out["sample_rate"] = rate
        layout = getattr(ctx, "layout", None)
        channels = _int(getattr(layout, "nb_channels", None) or getattr(ctx, "channels", None))
        if channels:
            out["channels"] = channels
    if st.duration is not None and st.time_base is not None:
        duration = _decimal(float(st.duration * st.time_base))
        if duration is not None:
            out["duration"] = round(duration, 3)
    return out


def _ffprobe(probe: str, path: Path, name: str, timeout: float) -> Validation:
    tool = ffprobe_version(probe)
    # Audio is decoded (cheap; catches corrupt frames), video only demuxed (every packet read).
    count = "-count_frames" if name in AUDIO_FORMATS else "-count_packets"
    target = f"file:{path.resolve()}"  # never let a name with ':' be read as a protocol
    cmd = [probe, "-v", "error", count, "-show_format", "-show_streams", "-of", "json", target]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return invalid(tool, f"ffprobe did not finish within {timeout:.0f} s")
    except OSError as exc:
        return not_run(f"ffprobe could not be started: {exc}", tool=tool)
    errors = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
    try:
        report: dict[str, Any] = json.loads(done.stdout.decode("utf-8", errors="replace") or "{}")
    except ValueError:
        report = {}
    fmt: dict[str, Any] = report.get("format") or {}
    streams: list[dict[str, Any]] = report.get("streams") or []
    details: dict[str, Any] = {"container": fmt.get("format_name")}
    duration = _decimal(fmt.get("duration"))
    if duration:
        details["duration"] = round(duration, 3)
    bit_rate = _int(fmt.get("bit_rate"))
    if bit_rate:
        details["bit_rate"] = bit_rate
    details["streams"] = [_stream(s) for s in streams]
    problems: list[str] = []
    if done.returncode != 0:
        problems.append(f"ffprobe failed (exit {done.returncode}): {errors[-1] if errors else 'no message'}")
    elif errors:
        problems.append(f"ffprobe reported {len(errors)} error(s), first: {errors[0][:300]}")
    if done.returncode == 0 and not any(st.get("codec_type") in ("audio", "video") for st in streams):
        problems.append("no audio or video stream")
    av_streams = [st for st in streams if st.get("codec_type") in ("audio", "video")]
    read = [_int(st.get("nb_read_frames", st.get("nb_read_packets"))) for st in av_streams]
    if av_streams and all(not n for n in read):  # ffprobe omits the count when nothing was read
        problems.append("no audio or video data could be read (0 frames)")
    demuxer = _FFPROBE_DEMUXER.get(name)
    if demuxer and fmt.get("format_name") and demuxer not in str(fmt["format_name"]).split(","):
        problems.append(f"ffprobe reads it as {fmt['format_name']}, not {name}")
    return Validation("invalid" if problems else "valid", tool, problems=problems, details=details)


# Numbers in ffprobe's JSON (strings such as "44100" or "12.345000"): plain ASCII digits only, so
# that full-width digits, signs, underscores, "N/A", NaN or infinity are never taken as numbers.
_INT = re.compile(r"[0-9]{1,18}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?", re.ASCII)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    return None


def _decimal(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    return None


def _stream(s: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "codec_type",
        "codec_name",
        "width",
        "height",
        "sample_rate",
        "channels",
        "duration",
        "nb_read_packets",
        "nb_read_frames",
    )
    out = {k: s[k] for k in keep if k in s}
    for k in ("width", "height", "sample_rate", "channels", "nb_read_packets", "nb_read_frames"):
        if k in out:
            number = _int(out.pop(k))
            if number is not None:
                out[k] = number
    if "duration" in out:
        duration = _decimal(out.pop("duration"))
        if duration is not None:
            out["duration"] = round(duration, 3)
    return out


def _mutagen(path: Path, name: str) -> Validation:
    try:
        import mutagen
    except ImportError:  # pragma: no cover - mutagen is a dependency
        return not_run("neither ffprobe nor mutagen is installed")
    tool = f"mutagen {mutagen.version_string}"
    if name in {"AVI", "MKV", "WEBM", "MPEG", "AMR"}:
        return not_run(
            f"mutagen cannot read {name} and ffprobe is not installed (apt-get install ffmpeg)", tool=tool
        )
    try:
        media = mutagen.File(path)
    except Exception as exc:  # mutagen.MutagenError and parser errors on hostile input
        return invalid(tool, f"cannot be read as {name}: {describe_error(exc)}")
    if media is None or media.info is None:
        return invalid(tool, f"mutagen does not recognise it as {name}")
    info = media.info
    details: dict[str, Any] = {"mutagen_type": type(media).__name__}
    for attr in ("length", "sample_rate", "channels", "bitrate", "bits_per_sample"):
        value = getattr(info, attr, None)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            details["duration" if attr == "length" else attr] = round(value, 3) if attr == "length" else value
    return Validation("valid", tool, details=details)


def _wave_details(path: Path, result: Validation) -> None:
    """The stdlib wave module cross-checks PCM WAVE headers (it cannot read other codecs)."""
    try:
        with wave.open(str(path), "rb") as w:
            result.details["pcm"] = {
                "channels": w.getnchannels(),
                "sample_width": w.getsampwidth(),
                "frame_rate": w.getframerate(),
                "frames": w.getnframes(),
            }
    except (wave.Error, EOFError) as exc:
        result.details["pcm"] = f"not read by the wave module: {exc}"
    except Exception as exc:  # struct errors on hostile headers
        result.details["pcm"] = f"not read by the wave module: {describe_error(exc)}"
