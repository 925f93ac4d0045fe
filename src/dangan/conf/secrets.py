"""Secrets come from the environment or from files only this account can read.

``secret("SECRET_KEY")`` returns ``DANGAN_SECRET_KEY``, or the contents of the file named by
``DANGAN_SECRET_KEY_FILE`` (Docker/systemd credentials style). Start-up stops with
``ImproperlyConfigured`` when

* both ``DANGAN_<NAME>`` and ``DANGAN_<NAME>_FILE`` are set (which one wins would be a guess);
* the file is not a regular file, is empty, is readable or writable by group or others, or is not
  owned by the account running dangan.

Every value read here is remembered (:func:`known_secrets`) so that the log filter
(``dangan.conf.logfilter``) can blank it out of log records.

Imported by the settings module, so: no Django settings access here, only the standard library and
``ImproperlyConfigured``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

PREFIX = "DANGAN_"
#: Values shorter than this are not treated as secrets by the log filter (would blank ordinary words).
MIN_REDACT_LENGTH = 6

_known: set[str] = set()


def remember(value: str) -> str:
    """Record ``value`` as a secret for the log filter; returns it."""
    if value and len(value) >= MIN_REDACT_LENGTH:
        _known.add(value)
        if "://" in value:  # a service URL: its password may also appear on its own
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password and len(password) >= MIN_REDACT_LENGTH:
                _known.update({password, unquote(password)})
    return value


def known_secrets() -> frozenset[str]:
    return frozenset(_known)


def _check(path: Path, info: os.stat_result, *, what: str) -> None:
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        raise ImproperlyConfigured(f"{what}: {path} is not a regular file")
    if mode & 0o077:
        raise ImproperlyConfigured(
            f"{what}: {path} has mode {mode:04o}, so group or others may read or change it; "
            f"a secret file must be readable by its owner only: chmod 600 {path}"
        )
    euid = os.geteuid() if hasattr(os, "geteuid") else None
    if euid is not None and info.st_uid != euid:
        raise ImproperlyConfigured(
            f"{what}: {path} (mode {mode:04o}) is owned by uid {info.st_uid}, not by uid {euid} "
            f"that runs dangan: chown it to that account (and keep mode 600)"
        )


def check_private_file(path: Path, *, what: str) -> None:
    """Refuse (ImproperlyConfigured) a key file that others may read or that another account owns."""
    _check(path, os.stat(path), what=what)


def read_secret_file(path: Path, *, what: str) -> str:
    """The contents of ``path`` (one trailing newline removed), after checking who may read it.

    ``what`` names the file in the error messages (e.g. ``DANGAN_SECRET_KEY_FILE``).
    The checks are made on the opened file (``fstat``), so the file cannot be swapped in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang start-up
    except OSError as exc:
        raise ImproperlyConfigured(f"{what}: cannot open {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as f:
        _check(path, os.fstat(f.fileno()), what=what)
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImproperlyConfigured(f"{what}: {path} is not UTF-8 text") from exc
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    if not text:
        raise ImproperlyConfigured(f"{what}: {path} is empty")
    return text


def secret(name: str, default: str = "") -> str:
    """``DANGAN_<name>``, else the contents of ``DANGAN_<name>_FILE``, else ``default``."""
    var = f"{PREFIX}{name}"
    file_var = f"{var}_FILE"
    value = os.environ.get(var, "")
    path = os.environ.get(file_var, "")
    if value and path:
        raise ImproperlyConfigured(f"both {var} and {file_var} are set: set only one of them")
    if path:
        return remember(read_secret_file(Path(path), what=file_var))
    return remember(value) if value else default
