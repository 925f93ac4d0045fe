"""``dangan preserve cleanup``: list (default) or remove orphan blobs and stale temporary files that
interrupted ingests left in the primary store (``dangan.preservation.cleanup``). Exit 0 when nothing
is left over (or everything found was removed), 1 when leftovers were found and not removed::

    dangan preserve cleanup                 # report only
    dangan preserve cleanup --remove --json
"""

from __future__ import annotations

import json
import sys

import click

from dangan.commands.preserve import preserve


@preserve.command("cleanup")
@click.option("--remove", is_flag=True, help="Delete what is found (default: only report it).")
@click.option(
    "--older-than-hours", default=24.0, show_default=True, type=click.FloatRange(min=1),
    help="Only blobs and temporary files untouched for this long (at least 1: an ingest in progress "
    "may hold blobs it has stored but not yet recorded).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--as", "as_user", help="Act as this user (default: the local operator).")
def cleanup_cmd(remove: bool, older_than_hours: float, as_json: bool, as_user: str | None) -> None:
    """Orphan blobs (no record or AIP refers to them) and temporary files left by interrupted work."""
    from dangan import cli

    cli._setup()
    from dangan.accounts.roles import PermissionDenied
    from dangan.core.errors import DanganError
    from dangan.preservation.cleanup import find_leftovers, remove_leftovers

    actor = cli._actor(as_user)
    seconds = older_than_hours * 3600
    try:
        result = (remove_leftovers if remove else find_leftovers)(actor, older_than=seconds)
    except (PermissionDenied, DanganError) as exc:
        cli._fail(exc)
    if as_json:
        cli.out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        verb = "removed" if remove else "found"
        cli.out.print(
            f"orphan blobs {verb}: {len(result.orphan_blobs)} ({result.orphan_bytes} bytes); "
            f"temporary files {verb}: {len(result.temp_files)} ({result.temp_bytes} bytes)"
        )
        if not remove and not result.empty:
            cli.out.print("run again with --remove to delete them")
    sys.exit(0 if result.empty or remove else 1)
