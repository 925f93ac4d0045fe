"""``dangan check``: the four-property checks on packages on disk, without ingesting them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

STAGES = ("archive", "transfer", "receive", "preserve")


def _printable(text: str) -> str:
    """Package names and messages come from outside: no terminal control sequences reach the screen."""
    return "".join(c if c.isprintable() or c in "\t" else "\ufffd" for c in text)


OUTCOME_STYLE = {
    "pass": "green",
    "fail": "red",
    "warning": "yellow",
    "not_applicable": "dim",
    "not_run": "cyan",
}


def _packages(paths: tuple[Path, ...]) -> tuple[list[Any], list[dict[str, str]]]:
    """Packages to check: AIP bag folders as they are; everything else as ingest expands it (batches)."""
    from dangan.core.package.aip import BAGIT_TXT
    from dangan.ingest.services import expand_paths

    bags = [p for p in paths if p.is_dir() and (p / BAGIT_TXT).is_file()]
    rest = [p for p in paths if p not in bags]
    found, errors = expand_paths(rest) if rest else ([], [])
    from dangan.core.package.batch import BatchPackage

    return [BatchPackage(p) for p in bags] + list(found), errors


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--stage",
    type=click.Choice(STAGES),
    default="archive",
    show_default=True,
    help="archive 归档 (GD), transfer 移交 / receive 接收 (YJ), preserve 长期保存 (CQ).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document with every report on stdout.")
@click.option(
    "--report",
    "report_file",
    type=click.Path(path_type=Path),
    help="Also write the reports for people: .html, .pdf or .json.",
)
@click.option("--lang", type=click.Choice(["zh-hans", "en"]), default="zh-hans", show_default=True)
@click.option(
    "--medium",
    help="The packages are read from an offline carrier of this type (CD-R, DVD-R, BD-R, "
    "HDD, USB …): runs the carrier checks 4-3…4-6.",
)
def check(paths: tuple[Path, ...], stage: str, as_json: bool, report_file: Path | None, lang: str,
          medium: str | None) -> None:  # fmt: skip
    """Check packages (folders, ZIPs, batch folders, AIP bags) without ingesting them.

    Exit 0 when every package passes, 1 when any has a blocking failure or cannot be read, 2 on usage errors.
    """
    from dangan import cli

    cli._setup()
    from dangan.core.checks.model import Stage
    from dangan.core.errors import DanganError
    from dangan.ingest import checking

    if report_file is not None and report_file.suffix.lower() not in (".html", ".htm", ".pdf", ".json"):
        raise click.UsageError("--report must end in .html, .pdf or .json")
    packages, path_errors = _packages(paths)
    if path_errors and not packages:
        for e in path_errors:
            cli.console.print(f"[red]{escape(e['message'])}")
        sys.exit(2)
    carrier = _scan_carrier(paths, [p.path for p in packages], medium) if medium is not None else None
    results: list[dict[str, Any]] = []
    with cli._progress() if not as_json else cli._Quiet() as progress:
        task = progress.add_task("检测 Checking", total=len(packages))
        for pkg in packages:
            try:
                report, facts = checking.check_path(
                    pkg.path, Stage(stage), carrier=carrier, batch_entry=pkg.entry
                )
                results.append({"package": str(pkg.path), "passed": report.passed, "facts": facts,
                                "report": report.to_dict()})  # fmt: skip
            except DanganError as exc:
                results.append({"package": str(pkg.path), "passed": False, "error": exc.as_dict()})
            progress.advance(task)
    for e in path_errors:
        results.append({"package": e.get("target", ""), "passed": False, "error": e})
    if report_file is not None:
        _write_report(report_file, results, lang)
    if as_json:
        cli.out.print_json(json.dumps({"stage": stage, "packages": results}, ensure_ascii=False), indent=None)
    else:
        _print(results, cli.out)
        if report_file is not None:
            cli.console.print(f"报告 Report: {report_file}")
    sys.exit(0 if all(r["passed"] for r in results) else 1)


# Files a carrier may hold besides the packages: the batch manifest and the transfer description files.
CARRIER_DESCRIPTION_FILES = {"批次清单.xml", "说明文件.txt", "说明文件.TXT", "目录文件.xml", "目录文件.XML"}


def _scan_carrier(roots: tuple[Path, ...], packages: list[Path], medium: str) -> Any:
    """Read every file on the carrier that belongs to no package (4-3 lists them, 4-4 reads them)."""
    import time

    from dangan.core.checks.context import Carrier

    inside = [p.resolve() for p in packages]
    extra: list[str] = []
    errors: list[str] = []
    read = 0
    started = time.perf_counter()
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_dir() or any(path.resolve() == p or p in path.resolve().parents for p in inside):
                continue
            if path.name in CARRIER_DESCRIPTION_FILES:
                continue
            extra.append(str(path.relative_to(root)))
            try:
                with open(path, "rb") as f:
                    while chunk := f.read(1024 * 1024):
                        read += len(chunk)
            except OSError as exc:
                errors.append(f"{path.relative_to(root)}: {exc.strerror or exc}")
    return Carrier(medium=medium or None, extra_files=tuple(extra), bytes_read=read,
                   seconds=time.perf_counter() - started, read_errors=tuple(errors))  # fmt: skip


def _write_report(path: Path, results: list[dict[str, Any]], lang: str) -> None:
    reports = [r["report"] for r in results if "report" in r]
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
        return
    from dangan import reports as rendering

    if suffix == ".pdf":
        path.write_bytes(rendering.render_pdf(reports, lang=lang))
    else:
        path.write_text(rendering.render_html(reports, lang=lang), encoding="utf-8")


def _print(results: list[dict[str, Any]], console: Any) -> None:
    from dangan.core.checks.catalogue import item_for_code

    for r in results:
        name = escape(_printable(Path(r["package"]).name))
        if "error" in r:
            console.print(
                f"[red]✗ {name}: {escape(r['error']['code'])}: {escape(_printable(r['error']['message']))}"
            )
            continue
        report = r["report"]
        verdict = "[green]✓ 通过 passed" if r["passed"] else "[red]✗ 未通过 failed"
        counts = " · ".join(f"{k} {v}" for k, v in report["counts"].items() if v)
        console.print(f"{verdict}[/] {name}  ({escape(_printable(report['subject']))}; {counts})")
        shown = [x for x in report["results"] if x["outcome"] in ("fail", "warning", "not_run")]
        if not shown:
            continue
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        table.add_column("项 Item", no_wrap=True)
        table.add_column("结果 Outcome", no_wrap=True)
        table.add_column("对象 Target", overflow="fold", max_width=40)
        table.add_column("说明 Message", overflow="fold")
        for x in shown:
            item = item_for_code(x["code"])
            label = f"{x['code']} {item.name_zh}" if item else x["code"]
            outcome = x["outcome"] + ("" if x["blocking"] or x["outcome"] != "fail" else " (non-blocking)")
            table.add_row(
                escape(label),
                f"[{OUTCOME_STYLE[x['outcome']]}]{outcome}",
                escape(_printable(x["target"])),
                escape(_printable(x["message"])),
            )
        console.print(table)
    passed = sum(1 for r in results if r["passed"])
    console.print(f"{passed} of {len(results)} packages passed")
