"""Storage locations (存储位置): which blob stores this instance writes to, and the role of each.

Configured by ``DANGAN_STORAGE_LOCATIONS`` (a JSON list) or ``DANGAN_STORAGE_LOCATIONS_FILE`` (a file
holding that list); unset, there is one location: the local store under the data directory (the
zero-configuration default). Each entry::

    {"name": "local", "role": "primary", "type": "file"}                    # path defaults to BLOB_DIR
    {"name": "nas", "role": "replica", "type": "file", "path": "/mnt/nas/dangan-blobs"}
    {"name": "oss", "role": "offsite", "type": "s3", "endpoint_url": "https://s3.example.cn",
     "bucket": "dangan", "prefix": "city-a", "region": "cn-east-1",
     "access_key_file": "/run/secrets/s3-ak", "secret_key_file": "/run/secrets/s3-sk"}
     # or "access_key_env"/"secret_key_env": names of environment variables holding them

Roles: exactly one ``primary`` (where the archive writes and reads; ``default_store()``), any number of
``replica`` (near copies) and ``offsite`` (异地备份) locations, which replication keeps complete. If no
entry is the primary, the local default is. The primary must be a file location: the version writer
links payload blobs from the primary's folder (an S3 primary is future work).

The configuration is checked as a whole the first time it is used (``configured()``; the CLI and the
start-up check call it) and every problem stops with ``ImproperlyConfigured`` naming the entry and key.
Secrets are read from files only the account may read (as every ``*_FILE`` secret), are registered with
the log filter, and never appear in a description, repr or error message.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from dangan.storage.base import BlobStore
from dangan.storage.blobstore import FileBlobStore

ENV = "DANGAN_STORAGE_LOCATIONS"
ENV_FILE = "DANGAN_STORAGE_LOCATIONS_FILE"
ROLES = ("primary", "replica", "offsite")
TYPES = ("file", "s3")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
COMMON_KEYS = {"name", "role", "type"}
KEYS = {
    "file": COMMON_KEYS | {"path"},
    "s3": COMMON_KEYS
    | {
        "endpoint_url",
        "bucket",
        "prefix",
        "region",
        "access_key_file",
        "secret_key_file",
        "access_key_env",
        "secret_key_env",
        "connect_timeout",
        "read_timeout",
    },
}


@dataclass(frozen=True)
class Location:
    name: str
    role: str  # primary | replica | offsite
    type: str  # file | s3
    store: BlobStore

    @property
    def where(self) -> str:
        return self.store.describe()

    @property
    def is_primary(self) -> bool:
        return self.role == "primary"


_cache: dict[str, list[Location]] = {}
_lock = threading.Lock()


def _raw() -> tuple[str, Any]:
    """(cache key, the configured list or None) from settings.STORAGE_LOCATIONS or the environment."""
    from django.conf import settings

    value = getattr(settings, "STORAGE_LOCATIONS", None)
    blob_dir = str(settings.BLOB_DIR)
    if value is not None:
        if isinstance(value, str):
            return f"{blob_dir}\0s\0{value}", _parse_json(value, "STORAGE_LOCATIONS")
        return f"{blob_dir}\0o\0{json.dumps(value, sort_keys=True, default=str)}", value
    text, path = os.environ.get(ENV, ""), os.environ.get(ENV_FILE, "")
    if text and path:
        raise ImproperlyConfigured(f"both {ENV} and {ENV_FILE} are set: set only one of them")
    if text:
        key = f"{blob_dir}\0e\0{text}"
        return key, None if key in _cache else _parse_json(text, ENV)
    if path:
        key = f"{blob_dir}\0f\0{path}"
        if key in _cache:
            return key, None
        try:
            content = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(f"{ENV_FILE}: cannot read {path}: {exc}") from exc
        return key, _parse_json(content, f"{ENV_FILE} ({path})")
    return f"{blob_dir}\0default", None


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc


def configured() -> list[Location]:
    """The configured locations, primary first (checked and built once per configuration)."""
    key, raw = _raw()
    found = _cache.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _cache:
            from django.conf import settings

            _cache[key] = build(raw if raw is not None else [], blob_dir=Path(settings.BLOB_DIR))
        return _cache[key]


def validate() -> None:
    """Check the configuration now (start-up: ``AppConfig.ready``, ``dangan preserve locations``)."""
    configured()


def primary() -> Location:
    return configured()[0]


def primary_store() -> FileBlobStore:
    store = primary().store
    assert isinstance(store, FileBlobStore)  # build() guarantees it
    return store


def copies() -> list[Location]:
    """The locations replication keeps complete: every replica and off-site location."""
    return [loc for loc in configured() if not loc.is_primary]


def has_copies() -> bool:
    return bool(copies())


def by_name(name: str) -> Location:
    for loc in configured():
        if loc.name == name:
            return loc
    raise KeyError(name)


# --- checking and building


def build(raw: Any, *, blob_dir: Path) -> list[Location]:
    if not isinstance(raw, list):
        raise ImproperlyConfigured(f"{ENV} must be a JSON list of locations, not {type(raw).__name__}")
    locations: list[Location] = []
    names: set[str] = set()
    folders: dict[str, str] = {}
    for i, entry in enumerate(raw):
        loc = _build_one(i, entry, blob_dir)
        if loc.name in names:
            raise ImproperlyConfigured(f"{ENV}[{i}]: the name {loc.name!r} is used twice")
        names.add(loc.name)
        if isinstance(loc.store, FileBlobStore):
            folder = str(loc.store.root.resolve())
            if folder in folders:
                raise ImproperlyConfigured(
                    f"{ENV}[{i}] ({loc.name}): same folder as {folders[folder]!r}; a copy in the same "
                    "place is no copy"
                )
            folders[folder] = loc.name
        locations.append(loc)
    primaries = [loc for loc in locations if loc.is_primary]
    if len(primaries) > 1:
        raise ImproperlyConfigured(
            f"{ENV}: {len(primaries)} primary locations ({', '.join(p.name for p in primaries)}); "
            "exactly one may be the primary"
        )
    if not primaries:
        default = Location("local", "primary", "file", FileBlobStore(blob_dir))
        if "local" in names:
            raise ImproperlyConfigured(f"{ENV}: no primary location, and 'local' is taken by another one")
        if str(blob_dir.resolve()) in folders:
            raise ImproperlyConfigured(
                f"{ENV}: no primary location, and {folders[str(blob_dir.resolve())]!r} uses its folder"
            )
        primaries = [default]
        locations.insert(0, default)
    return [primaries[0]] + [loc for loc in locations if loc is not primaries[0]]


def _build_one(i: int, entry: Any, blob_dir: Path) -> Location:
    where = f"{ENV}[{i}]"
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"{where}: each location is a JSON object, not {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ImproperlyConfigured(
            f"{where}: 'name' must be 1-64 letters, digits, '.', '_' or '-' (got {name!r})"
        )
    where = f"{ENV}[{i}] ({name})"
    role, kind = entry.get("role"), entry.get("type")
    if role not in ROLES:
        raise ImproperlyConfigured(f"{where}: 'role' must be one of {', '.join(ROLES)} (got {role!r})")
    if kind not in TYPES:
        raise ImproperlyConfigured(f"{where}: 'type' must be one of {', '.join(TYPES)} (got {kind!r})")
    unknown = sorted(set(entry) - KEYS[kind])
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown key(s) {', '.join(unknown)} for a {kind} location")
    if kind == "file":
        path = entry.get("path")
        if path is None and role == "primary":
            return Location(name, role, kind, FileBlobStore(blob_dir))
        if not isinstance(path, str) or not path or not os.path.isabs(path):
            raise ImproperlyConfigured(f"{where}: 'path' must be an absolute folder path (got {path!r})")
        if Path(path).exists() and not Path(path).is_dir():
            raise ImproperlyConfigured(f"{where}: {path} exists and is not a folder")
        return Location(name, role, kind, FileBlobStore(Path(path)))
    if role == "primary":
        raise ImproperlyConfigured(
            f"{where}: the primary must be a file location for now (new versions link payload blobs "
            "from its folder); use the S3 store as a replica or off-site location"
        )
    return Location(name, role, kind, _s3(where, entry))


def _s3(where: str, entry: dict[str, Any]) -> BlobStore:
    from dangan.conf.secrets import read_secret_file, remember
    from dangan.storage.s3 import S3BlobStore

    bucket = entry.get("bucket")
    if not isinstance(bucket, str) or not BUCKET.match(bucket):
        raise ImproperlyConfigured(
            f"{where}: 'bucket' must be an S3 bucket name (3-63 lower-case letters, digits, '.', '-'); "
            f"got {bucket!r}"
        )
    endpoint = entry.get("endpoint_url")
    if endpoint is not None and (
        not isinstance(endpoint, str) or not re.match(r"^https?://[^/\s]+", endpoint) or "@" in endpoint
    ):
        raise ImproperlyConfigured(
            f"{where}: 'endpoint_url' must be an http(s) URL without credentials in it"
        )
    for key in ("prefix", "region"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise ImproperlyConfigured(f"{where}: {key!r} must be a string")
    timeouts: dict[str, float] = {}
    for key in ("connect_timeout", "read_timeout"):
        if key in entry:
            value = entry[key]
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 3600:
                raise ImproperlyConfigured(f"{where}: {key!r} must be a number of seconds (0-3600)")
            timeouts[key] = float(value)
    files = [entry.get("access_key_file"), entry.get("secret_key_file")]
    envs = [entry.get("access_key_env"), entry.get("secret_key_env")]
    if any(files) and any(envs):
        raise ImproperlyConfigured(f"{where}: give the keys as files or as environment variables, not both")
    keys: list[str | None] = [None, None]
    if any(files):
        if not all(isinstance(f, str) and f for f in files):
            raise ImproperlyConfigured(f"{where}: give both 'access_key_file' and 'secret_key_file'")
        keys = [
            remember(read_secret_file(Path(str(f)), what=f"{where} {label}"))
            for f, label in zip(files, ("access_key_file", "secret_key_file"), strict=True)
        ]
    elif any(envs):
        if not all(isinstance(e, str) and e for e in envs):
            raise ImproperlyConfigured(f"{where}: give both 'access_key_env' and 'secret_key_env'")
        for label, var in zip(("access_key_env", "secret_key_env"), envs, strict=True):
            if not os.environ.get(str(var)):
                raise ImproperlyConfigured(f"{where}: {label} names {var}, which is not set or empty")
        keys = [remember(os.environ[str(e)]) for e in envs]
    # else: boto3's own chain (instance role, ~/.aws) supplies them
    return S3BlobStore(
        bucket=bucket,
        prefix=str(entry.get("prefix") or ""),
        endpoint_url=endpoint,
        region=entry.get("region"),
        access_key=keys[0],
        secret_key=keys[1],
        **timeouts,
    )


def describe(loc: Location) -> dict[str, Any]:
    """A location for tables and JSON: name, role, type, where (never a secret)."""
    return {"name": loc.name, "role": loc.role, "type": loc.type, "where": loc.where}
