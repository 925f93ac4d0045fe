"""Format migration (格式迁移): office documents converted to PDF/A-2b with LibreOffice and Ghostscript.

Pure domain logic apart from running the two programs: no Django. ``find_tools`` looks the programs
up on PATH (``soffice``/``libreoffice``, ``gs``) with their versions; ``convert`` turns one office file
into a PDF/A-2b in a work folder:

1. LibreOffice headless exports PDF/A-2b directly (``SelectPdfVersion`` 2, the PDF export filter of
   Writer or Calc, chosen by the identified format), in a private, throw-away user profile
   (``-env:UserInstallation``) so that concurrent runs and the operator's own profile never meet, with
   a timeout after which the whole process group is killed.
2. When LibreOffice's output is not a valid PDF with a PDF/A claim, Ghostscript (``pdfwrite``,
   ``-dPDFA=2``, an sRGB output intent when its ICC profile is installed) normalises it.
3. The result must pass the project's own PDF validator (pikepdf: opens, structure, no encryption,
   PDF/A claim in the XMP metadata). A derived file that does not is deleted: never kept.

The result names the tools with their versions, the timings of every step and the validator's
findings; when LibreOffice is not installed the result is ``not_run`` with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from dangan.core.formats.limits import DEFAULT_LIMITS, Limits

# Identified format (dangan.core.formats.identify) -> LibreOffice PDF export filter. Kingsoft WPS
# writes .wps/.et in the Microsoft binary formats, so they are identified as DOC/XLS and migrate too.
OFFICE_FILTERS = {
    "DOC": "writer_pdf_Export",
    "DOCX": "writer_pdf_Export",
    "XLS": "calc_pdf_Export",
    "XLSX": "calc_pdf_Export",
}
EXTENSIONS = {"DOC": ".doc", "DOCX": ".docx", "XLS": ".xls", "XLSX": ".xlsx"}
PDFA_PART = 2  # Ghostscript -dPDFA
LO_PDF_VERSION = 2  # LibreOffice SelectPdfVersion: 0 = plain PDF, 1 = PDF/A-1b, 2 = PDF/A-2b
TARGET = "PDF/A-2b"
DEBIAN_PACKAGES = "libreoffice-writer-nogui libreoffice-calc-nogui ghostscript"
DEFAULT_TIMEOUT = 180.0  # seconds per program run
SRGB_PROFILES = (
    "/usr/share/color/icc/ghostscript/srgb.icc",
    "/usr/share/ghostscript/iccprofiles/srgb.icc",
)
STDERR_KEEP = 2000

Status = Literal["converted", "not_run", "failed"]


@dataclass(frozen=True)
class Tool:
    name: str  # "LibreOffice", "Ghostscript"
    path: str
    version: str

    def label(self) -> str:
        return f"{self.name} {self.version}".strip()


@dataclass(frozen=True)
class Toolset:
    libreoffice: Tool | None
    ghostscript: Tool | None

    def missing(self) -> str | None:
        """Why nothing can be converted here, or None."""
        if self.libreoffice is None:
            return (
                "LibreOffice is not installed (no soffice or libreoffice on PATH); "
                f"install it with apt-get install {DEBIAN_PACKAGES}"
            )
        return None

    def agent(self) -> str:
        tools = [t.label() for t in (self.libreoffice, self.ghostscript) if t is not None]
        return "; ".join(tools) or "no conversion tools"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "libreoffice": self.libreoffice.label() if self.libreoffice else None,
            "ghostscript": self.ghostscript.label() if self.ghostscript else None,
        }


_VERSIONS: dict[str, str] = {}


def _version(path: str, args: list[str]) -> str:
    """The first line a program prints for its version (cached per path; "" if it does not answer)."""
    if path not in _VERSIONS:
        try:
            done = subprocess.run(
                [path, *args],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                stdin=subprocess.DEVNULL,
            )
            lines = [line.strip() for line in (done.stdout or done.stderr).splitlines() if line.strip()]
            _VERSIONS[path] = lines[0][:100] if lines else ""
        except (OSError, subprocess.TimeoutExpired):
            _VERSIONS[path] = ""
    return _VERSIONS[path]


def find_tools() -> Toolset:
    """LibreOffice (``soffice`` or ``libreoffice``) and Ghostscript (``gs``) on PATH, with versions."""
    lo = None
    for name in ("soffice", "libreoffice"):
        path = shutil.which(name)
        if path:
            text = _version(path, ["--version"])
            lo = Tool("LibreOffice", path, text.removeprefix("LibreOffice").strip() or "unknown")
            break
    gs = None
    path = shutil.which("gs")
    if path:
        gs = Tool("Ghostscript", path, _version(path, ["--version"]) or "unknown")
    return Toolset(lo, gs)


@dataclass
class Step:
    tool: str
    seconds: float
    returncode: int | None
    stderr: str = ""
    note: str = ""


@dataclass
class Conversion:
    """What converting one file did. ``output`` exists only when ``status`` is "converted"."""

    status: Status
    source_format: str
    reason: str = ""
    output: Path | None = None
    tools: dict[str, str | None] = field(default_factory=dict)
    agent: str = ""
    steps: list[Step] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def converted(self) -> bool:
        return self.status == "converted"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["output"] = str(self.output) if self.output else None
        return out


def is_office(format_name: str) -> bool:
    return format_name in OFFICE_FILTERS


def _run(cmd: list[str], *, timeout: float, env: dict[str, str], cwd: Path) -> tuple[int | None, str, float]:
    """Run ``cmd`` in its own process group; on timeout kill the whole group. (rc or None, stderr, s)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        rc = None
    text = out.decode("utf-8", errors="replace")[-STDERR_KEEP:] if out else ""
    return rc, text, round(time.monotonic() - start, 3)


def _check(path: Path, limits: Limits) -> dict[str, Any]:
    """The project's PDF validator on ``path``; ``accepted`` says whether it is a usable PDF/A."""
    from dangan.core.formats.pdf import validate_pdf

    v = validate_pdf(path, limits)
    claim = v.details.get("pdfa")
    accepted = v.ok and not v.encrypted and v.details.get("pdfa_status") == "claimed"
    return {
        "status": v.status,
        "tool": v.tool,
        "pdfa": claim,
        "pdfa_status": v.details.get("pdfa_status"),
        "pages": v.details.get("pages"),
        "problems": v.problems[:20],
        "accepted": bool(accepted),
    }


def _env(work: Path) -> dict[str, str]:
    home = work / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(work),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "SAL_USE_VCLPLUGIN": "svp",  # headless rendering, no display
    }


def _libreoffice(tool: Tool, source: Path, fmt: str, work: Path, timeout: float) -> tuple[Path, Step]:
    out_dir = work / "lo-out"
    out_dir.mkdir()
    profile = (work / "lo-profile").resolve().as_uri()
    option = json.dumps(
        {"SelectPdfVersion": {"type": "long", "value": str(LO_PDF_VERSION)}}, separators=(",", ":")
    )
    cmd = [
        tool.path,
        f"-env:UserInstallation={profile}",
        "--headless",
        "--invisible",
        "--nologo",
        "--nodefault",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        f"pdf:{OFFICE_FILTERS[fmt]}:{option}",
        "--outdir",
        str(out_dir),
        str(source),
    ]
    rc, text, seconds = _run(cmd, timeout=timeout, env=_env(work), cwd=work)
    note = "" if rc is not None else f"killed after the {timeout:.0f} s timeout"
    return out_dir / (source.stem + ".pdf"), Step(tool.label(), seconds, rc, text, note)


def _pdfa_def(work: Path) -> tuple[Path, str] | None:
    """A PostScript prologue that gives Ghostscript's PDF/A output an sRGB output intent."""
    icc = next((p for p in SRGB_PROFILES if Path(p).is_file()), None)
    if icc is None:
        return None
    ps = work / "pdfa_def.ps"
    ps.write_text(
        "%!\n"
        f"/ICCProfile ({icc}) def\n"
        "[/_objdef {icc_PDFA} /type /stream /OBJ pdfmark\n"
        "[{icc_PDFA} <</N 3>> /PUT pdfmark\n"
        "[{icc_PDFA} ICCProfile (r) file /PUT pdfmark\n"
        "[/_objdef {OutputIntent_PDFA} /type /dict /OBJ pdfmark\n"
        "[{OutputIntent_PDFA} <</Type /OutputIntent /S /GTS_PDFA1 /DestOutputProfile {icc_PDFA} "
        "/OutputConditionIdentifier (sRGB)>> /PUT pdfmark\n"
        "[{Catalog} <</OutputIntents [{OutputIntent_PDFA}]>> /PUT pdfmark\n",
        encoding="ascii",
    )
    return ps, icc


def _ghostscript(tool: Tool, pdf: Path, work: Path, timeout: float) -> tuple[Path, Step]:
    out = work / "gs-out.pdf"
    cmd = [
        tool.path,
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dQUIET",
        f"-dPDFA={PDFA_PART}",
        "-dPDFACompatibilityPolicy=1",
        "-sColorConversionStrategy=RGB",
        "-sDEVICE=pdfwrite",
        f"-sOutputFile={out}",
    ]
    intent = _pdfa_def(work)
    if intent is not None:
        ps, icc = intent
        cmd += [f"--permit-file-read={icc}", str(ps)]
    cmd.append(str(pdf))
    rc, text, seconds = _run(cmd, timeout=timeout, env=_env(work), cwd=work)
    note = "" if intent is not None else "no sRGB ICC profile found: written without an output intent"
    if rc is None:
        note = f"killed after the {timeout:.0f} s timeout"
    return out, Step(tool.label(), seconds, rc, text, note)


def convert(
    source: Path,
    fmt: str,
    work: Path,
    *,
    tools: Toolset | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    limits: Limits = DEFAULT_LIMITS,
) -> Conversion:
    """Convert ``source`` (identified as ``fmt``, one of ``OFFICE_FILTERS``) into a PDF/A-2b under
    ``work`` (an empty folder the caller owns and removes). See the module docstring."""
    started = time.monotonic()
    tools = tools if tools is not None else find_tools()
    result = Conversion("not_run", fmt, tools=tools.as_dict(), agent=tools.agent())
    if fmt not in OFFICE_FILTERS:
        result.reason = f"{fmt} is not an office format this migration converts ({', '.join(OFFICE_FILTERS)})"
        return result
    missing = tools.missing()
    if missing or tools.libreoffice is None:
        result.reason = missing or "LibreOffice is not installed"
        return result
    work.mkdir(parents=True, exist_ok=True)
    # LibreOffice picks the import filter partly by extension; blobs have none, so name the copy.
    staged = work / f"source{EXTENSIONS[fmt]}"
    shutil.copyfile(source, staged)
    pdf, step = _libreoffice(tools.libreoffice, staged, fmt, work, timeout)
    result.steps.append(step)
    check: dict[str, Any] = {}
    if step.returncode == 0 and pdf.is_file() and pdf.stat().st_size > 0:
        check = _check(pdf, limits)
        step.note = step.note or f"validator: {check['status']}, PDF/A claim {check['pdfa'] or 'none'}"
    if not check.get("accepted"):
        if tools.ghostscript is not None and pdf.is_file() and pdf.stat().st_size > 0:
            normalised, gs_step = _ghostscript(tools.ghostscript, pdf, work, timeout)
            result.steps.append(gs_step)
            pdf.unlink()
            pdf = normalised
            check = _check(pdf, limits) if gs_step.returncode == 0 and pdf.is_file() else {}
        elif tools.ghostscript is None:
            step.note += "; Ghostscript is not installed, so the output could not be normalised"
    result.validation = check
    result.seconds = round(time.monotonic() - started, 3)
    if check.get("accepted"):
        result.status = "converted"
        result.output = pdf
        return result
    if pdf.exists():
        pdf.unlink()  # a derived file that does not validate is never kept
    result.status = "failed"
    last = result.steps[-1]
    if last.returncode is None:
        result.reason = f"{last.tool}: {last.note}"
    elif last.returncode != 0:
        result.reason = f"{last.tool} exited with {last.returncode}: {last.stderr.strip()[-300:]}"
    elif not check:
        result.reason = f"{last.tool} wrote no output"
    else:
        problems = "; ".join(check.get("problems") or []) or f"PDF/A claim {check.get('pdfa_status')}"
        result.reason = f"the derived PDF does not pass the PDF/A check ({check.get('status')}): {problems}"
    return result
