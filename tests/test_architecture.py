"""Architecture rules that a reviewer should not have to check by eye."""

from __future__ import annotations

import ast
from pathlib import Path

import dangan

SRC = Path(dangan.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_is_pure():
    """core/ is domain logic: no Django, and nothing from the Django apps."""
    apps = ("dangan.accounts", "dangan.archive", "dangan.audit", "dangan.catalog", "dangan.ingest",
            "dangan.preservation", "dangan.storage", "dangan.web", "dangan.conf", "dangan.jobs")  # fmt: skip
    offenders = []
    for path in (SRC / "core").rglob("*.py"):
        for name in _imports(path):
            if name == "django" or name.startswith(("django.", "rest_framework", *apps)):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, offenders


def test_views_and_api_do_not_save_models():
    """State changes go through services: views and API modules never call .save()/.create()/.delete()."""
    offenders = []
    for path in [*SRC.glob("*/api.py"), *SRC.glob("*/views.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"save", "delete", "create", "update", "bulk_create", "get_or_create"}
            ):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} .{node.func.attr}()")
    assert not offenders, offenders
