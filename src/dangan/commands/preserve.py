"""Long-term preservation (长期保存) from the command line: ``dangan preserve …``.

Each part adds its commands to the ``preserve`` group from its own module (see ``PRESERVE_MODULES``),
so the modules stay small and independent.
"""

from __future__ import annotations

import importlib

import click

# Modules that add commands to the group when imported (missing ones are skipped while being built).
PRESERVE_MODULES = (
    "dangan.commands.preserve_storage",  # locations, replicate, repair
    "dangan.commands.preserve_audit",  # audit (scheduled fixity)
    "dangan.commands.preserve_migrate",  # migrate (format migration)
    "dangan.commands.preserve_cleanup",  # cleanup (orphan blobs, temporary files)
)


@click.group("preserve")
def preserve() -> None:
    """Storage locations, replicas, repair, fixity audits and format migration (长期保存)."""


def load() -> click.Group:
    for name in PRESERVE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return preserve
