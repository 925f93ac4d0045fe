"""Counts of the catalogue for the dashboard and the list pages, without counting a million rows per page.

One grouped aggregate per fonds scope — how many records per (status, fonds, year, service item,
retention) — answers the dashboard's cards and charts, the formal library's year choices and the total
of any filter on those fields. It is kept in the default cache (Redis when configured, shared by all
processes) and stamped with the catalogue's *generation* — a number every save or delete of a record
increases (``bump``, connected in ``ArchiveConfig.ready``; again when its transaction commits, so a
recount that raced with the change is not kept) — and with the highest record id. A different stamp
means recount: the counts are exact. ``settings.CATALOGUE_COUNTS_MAX_LAG`` (seconds, default 0) lets a
busy installation keep counts that old instead of recounting on every page view during heavy intake;
``CATALOGUE_COUNTS_TTL`` (default 300 s) bounds the life of an entry, and so the lag of bulk updates
that send no signal and of other processes when the cache is per process (local memory).

Lists use ``bounded_count`` first: an exact count when the filter selects at most ``COUNT_CAP`` rows
(cheap: at most that many index entries are read), the aggregate's total above it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max, QuerySet

from dangan.archive.models import Record

T = TypeVar("T")
COUNT_CAP = 10_000
GENERATION_KEY = "dangan:catalogue:generation"
FIELDS = ("status", "fonds_id", "year", "service_item_id", "retention")


def bump(**_: Any) -> None:
    """A record was saved or deleted: the cached counts are out of date (now, and when it commits)."""
    _incr()
    transaction.on_commit(_incr)


def _incr() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not there yet (or evicted): any new value differs from every stamp
        cache.set(GENERATION_KEY, time.time_ns(), None)


def _generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        value = time.time_ns()
        cache.add(GENERATION_KEY, value, None)
        value = cache.get(GENERATION_KEY, value)
    return int(value)


@dataclass(frozen=True)
class Counts:
    """Records per (status, fonds id, year, service item id, retention)."""

    rows: tuple[tuple[str, int, int, int, str, int], ...]

    def total(self, **where: Any) -> int:
        """How many records match every given field (``status``, ``fonds_id``, ``year``,
        ``service_item_id``, ``retention``); values may be model instances or ids."""
        wanted = {FIELDS.index(k): getattr(v, "pk", v) for k, v in where.items() if v not in (None, "")}
        return sum(r[5] for r in self.rows if all(r[i] == v for i, v in wanted.items()))

    def by(self, field: str, **where: Any) -> dict[Any, int]:
        """``field``'s value → count, among the records matching ``where``."""
        wanted = {FIELDS.index(k): getattr(v, "pk", v) for k, v in where.items() if v not in (None, "")}
        i = FIELDS.index(field)
        out: dict[Any, int] = {}
        for r in self.rows:
            if all(r[j] == v for j, v in wanted.items()):
                out[r[i]] = out.get(r[i], 0) + r[5]
        return out


def catalogue_counts(fonds_ids: Iterable[int] | None) -> Counts:
    """The counts of the records in ``fonds_ids`` (None: all fonds), from the cache when fresh enough."""
    scope = "all" if fonds_ids is None else ",".join(str(i) for i in sorted(fonds_ids))
    key = f"dangan:catalogue:counts:{scope}"
    stamp = record_stamp()
    max_lag = float(getattr(settings, "CATALOGUE_COUNTS_MAX_LAG", 0))
    ttl = int(getattr(settings, "CATALOGUE_COUNTS_TTL", 300))
    entry = cache.get(key)
    now = time.time()
    if entry is not None and (entry["stamp"] == stamp or now - entry["at"] < max_lag):
        return Counts(entry["rows"])
    qs: QuerySet[Record] = Record.objects.order_by()
    if fonds_ids is not None:
        qs = qs.filter(fonds_id__in=list(fonds_ids))
    rows = tuple(
        (r["status"], r["fonds_id"], r["year"], r["service_item_id"], r["retention"], r["n"])
        for r in qs.values(*FIELDS).annotate(n=Count("id"))
    )
    cache.set(key, {"stamp": stamp, "at": now, "rows": rows}, ttl)
    return Counts(rows)


def bounded_count(qs: QuerySet[Any], cap: int = COUNT_CAP) -> int:
    """``qs.count()`` when it is at most ``cap``, else ``cap + 1`` (reads at most cap + 1 rows)."""
    return qs.order_by().values("pk")[: cap + 1].count()


# --- Other dashboard figures over large tables, cached the same way: recomputed when their stamp changes.

SUBMISSIONS_GENERATION_KEY = "dangan:submissions:generation"


def bump_submissions(**_: Any) -> None:
    """A submission was saved or deleted (now, and when it commits)."""
    _incr_key(SUBMISSIONS_GENERATION_KEY)
    transaction.on_commit(lambda: _incr_key(SUBMISSIONS_GENERATION_KEY))


def _incr_key(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, time.time_ns(), None)


def _generation_of(key: str) -> int:
    value = cache.get(key)
    if value is None:
        cache.add(key, time.time_ns(), None)
        value = cache.get(key, 0)
    return int(value)


def record_stamp() -> tuple[Any, ...]:
    """Changes whenever a record is saved, deleted or added (see the module's docstring)."""
    return (_generation(), Record.objects.aggregate(m=Max("id"))["m"])


def submission_stamp() -> tuple[Any, ...]:
    from dangan.ingest.models import Submission

    return (
        _generation_of(SUBMISSIONS_GENERATION_KEY),
        Submission.objects.aggregate(m=Max("received_at"))["m"],
    )


def remember(key: str, stamp: tuple[Any, ...], compute: Callable[[], T], *, ttl: int | None = None) -> T:
    """``compute()``'s value, from the cache while ``stamp`` is the one it was computed under."""
    full = f"dangan:cached:{key}"
    entry = cache.get(full)
    if entry is not None and entry["stamp"] == stamp:
        return entry["value"]  # type: ignore[no-any-return]
    value = compute()
    cache.set(
        full, {"stamp": stamp, "value": value}, ttl or int(getattr(settings, "CATALOGUE_COUNTS_TTL", 300))
    )
    return value
