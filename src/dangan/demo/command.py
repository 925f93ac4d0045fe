"""``dangan demo-data``: write a batch of realistic demo packages (and, on request, broken ones)."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dangan.core.package import schema
from dangan.demo.files import FileOptions


def _measure(paths: list[Path]) -> tuple[int, int]:
    """(content files, bytes on disk) over the written packages (folders or ZIPs)."""
    files = 0
    size = 0
    for p in paths:
        if p.is_dir():
            for f in p.rglob("*"):
                if f.is_file():
                    size += f.stat().st_size
                    files += f.name != schema.METADATA_FILENAME
        else:
            size += p.stat().st_size
            with zipfile.ZipFile(p) as zf:
                files += sum(
                    1 for i in zf.infolist() if not i.is_dir() and i.filename != schema.METADATA_FILENAME
                )
    return files, size


@click.command("demo-data")
@click.option("--cases", type=click.IntRange(min=0), default=50, show_default=True, help="Number of cases.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (created; existing packages are not overwritten).",
)
@click.option("--zip", "as_zip", is_flag=True, help="Write each package as a ZIP instead of a folder.")
@click.option("--no-batch", is_flag=True, help="Do not write the batch manifest 批次清单.xml.")
@click.option("--broken", is_flag=True, help="Also write broken variants into OUT/broken/.")
@click.option(
    "--file-scale",
    type=click.FloatRange(min=1.0),
    default=1.0,
    show_default=True,
    help="Make files larger (more pages, higher scan resolution).",
)
@click.option(
    "--min-file-bytes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Pad every PDF and JPEG to at least this many bytes.",
)
def demo_data(
    cases: int,
    seed: int,
    out: Path,
    as_zip: bool,
    no_batch: bool,
    broken: bool,
    file_scale: float,
    min_file_bytes: int,
) -> None:
    """Write realistic demo case packages (政务服务电子文件归档信息包) into OUT."""
    from dangan.demo.broken import write_broken_variants
    from dangan.demo.generator import generate

    console = Console(stderr=True)
    options = FileOptions(scale=file_scale, min_file_bytes=min_file_bytes)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]demo data"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("cases", total=cases)
        try:
            paths = generate(
                out,
                cases=cases,
                seed=seed,
                as_zip=as_zip,
                batch=not no_batch,
                progress=lambda n: bar.update(task, completed=n),
                options=options,
            )
        except FileExistsError as exc:
            raise click.ClickException(f"{exc}; choose an empty --out folder") from exc
    variants = 0
    if broken:
        try:
            variants = len(write_broken_variants(out / "broken", seed=seed))
        except FileExistsError as exc:
            raise click.ClickException(f"{exc}; choose an empty --out folder") from exc
    files, size = _measure(paths)
    seconds = time.perf_counter() - started
    extra = f", {variants} broken variants in {out / 'broken'}" if broken else ""
    click.echo(f"{len(paths)} cases, {files} files, {size:,} bytes in {seconds:.1f} s → {out}{extra}")


__all__ = ["demo_data"]
