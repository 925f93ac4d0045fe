"""A small, bounded reader for OLE2 compound files (MS-CFB), enough to name a file's streams.

Reads the 512-byte header, the FAT sectors it needs (lazily, one at a time), the directory chain
and, on request, the first bytes of a stream. Every chain walk is bounded by the file size and
guarded against loops, so a hostile file costs at most a few reads and ends in ``OleError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_MAXREGSECT = 0xFFFFFFFA
_ENDOFCHAIN = 0xFFFFFFFE
_FREESECT = 0xFFFFFFFF
_NOSTREAM = 0xFFFFFFFF
MAX_DIRECTORY_ENTRIES = 65536


class OleError(ValueError):
    """The compound file's structure is broken."""


@dataclass(frozen=True)
class DirEntry:
    index: int
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    left: int
    right: int
    child: int
    start: int
    size: int

    @property
    def is_stream(self) -> bool:
        return self.kind == 2


class CompoundFile:
    """An open compound file. ``f`` must be seekable and stay open while this object is used."""

    def __init__(self, f: BinaryIO, file_size: int) -> None:
        self._f = f
        self._size = file_size
        f.seek(0)
        header = f.read(512)
        if len(header) < 512 or header[:8] != SIGNATURE:
            raise OleError("not a compound file (signature missing or header short)")
        major, byte_order, shift, mini_shift = struct.unpack_from("<HHHH", header, 26)
        if byte_order != 0xFFFE:
            raise OleError(f"byte-order mark is {byte_order:#06x}, not 0xfffe")
        if (major, shift) not in ((3, 9), (4, 12)):
            raise OleError(f"version {major} with sector shift {shift} is not a valid combination")
        if mini_shift != 6:
            raise OleError(f"mini sector shift is {mini_shift}, not 6")
        self.version = major
        self.sector_size = 1 << shift
        self.mini_sector_size = 1 << mini_shift
        (
            self._n_fat,
            self._dir_start,
            _txn,
            self._mini_cutoff,
            self._minifat_start,
            self._n_minifat,
            self._difat_start,
            self._n_difat,
        ) = struct.unpack_from("<IIIIIIII", header, 44)
        self._max_sector = max(0, (file_size - 1) // self.sector_size)  # sectors (partly) present
        if self._n_fat > self._max_sector + 1:
            raise OleError(f"header claims {self._n_fat} FAT sectors, more than the file holds")
        self._fat_locations = self._read_difat(header)
        self._fat_cache: dict[int, tuple[int, ...]] = {}
        self.entries = self._read_directory()
        if not self.entries or self.entries[0].kind != 5:
            raise OleError("the first directory entry is not the root entry")

    # --- sectors and chains ---------------------------------------------------------------

    def _sector(self, n: int) -> bytes:
        if n > _MAXREGSECT or n >= self._max_sector:
            raise OleError(f"sector {n} lies outside the file")
        self._f.seek((n + 1) * self.sector_size)
        data = self._f.read(self.sector_size)
        if len(data) < self.sector_size:
            # the last sector may be short in files written by some tools; pad it
            data = data + b"\0" * (self.sector_size - len(data))
        return data

    def _read_difat(self, header: bytes) -> list[int]:
        locations = [v for v in struct.unpack_from("<109I", header, 76) if v <= _MAXREGSECT]
        per = self.sector_size // 4 - 1
        sector, seen = self._difat_start, set()
        for _ in range(self._n_difat):
            if sector > _MAXREGSECT or sector in seen:
                break
            seen.add(sector)
            values = struct.unpack(f"<{per + 1}I", self._sector(sector))
            locations.extend(v for v in values[:per] if v <= _MAXREGSECT)
            sector = values[per]
        return locations[: self._n_fat] if self._n_fat else locations

    def _next(self, sector: int) -> int:
        per = self.sector_size // 4
        fat_index, slot = divmod(sector, per)
        if fat_index >= len(self._fat_locations):
            raise OleError(f"sector {sector} has no FAT entry")
        table = self._fat_cache.get(fat_index)
        if table is None:
            table = struct.unpack(f"<{per}I", self._sector(self._fat_locations[fat_index]))
            if len(self._fat_cache) < 4096:
                self._fat_cache[fat_index] = table
        return int(table[slot])

    def _chain(self, start: int, limit_sectors: int) -> list[int]:
        """Sectors of the chain from ``start``, at most ``limit_sectors`` of them."""
        out: list[int] = []
        seen: set[int] = set()
        sector = start
        while sector != _ENDOFCHAIN and len(out) < limit_sectors:
            if sector > _MAXREGSECT:
                if sector == _FREESECT and out:
                    break  # tolerated: some writers end chains with a free marker
                raise OleError(f"chain from sector {start} hits special value {sector:#x}")
            if sector in seen:
                raise OleError(f"chain from sector {start} loops at sector {sector}")
            seen.add(sector)
            out.append(sector)
            sector = self._next(sector)
        return out

    # --- directory ------------------------------------------------------------------------

    def _read_directory(self) -> list[DirEntry]:
        per = self.sector_size // 128
        limit = min(self._max_sector + 1, MAX_DIRECTORY_ENTRIES // per)
        entries: list[DirEntry] = []
        for sector in self._chain(self._dir_start, limit):
            data = self._sector(sector)
            for i in range(per):
                raw = data[i * 128 : (i + 1) * 128]
                name_len = struct.unpack_from("<H", raw, 64)[0]
                kind = raw[66]
                left, right, child = struct.unpack_from("<III", raw, 68)
                start = struct.unpack_from("<I", raw, 116)[0]
                size = struct.unpack_from("<Q", raw, 120)[0]
                if self.version == 3:
                    size &= 0xFFFFFFFF
                name = ""
                if 2 <= name_len <= 64 and name_len % 2 == 0:
                    name = raw[: name_len - 2].decode("utf-16-le", errors="replace")
                entries.append(DirEntry(len(entries), name, kind, left, right, child, start, size))
        return entries

    def children(self, storage: DirEntry) -> list[DirEntry]:
        """The entries directly inside ``storage`` (walks its red-black tree, loop-safe)."""
        out: list[DirEntry] = []
        stack = [storage.child]
        seen: set[int] = set()
        while stack:
            i = stack.pop()
            if i == _NOSTREAM or i >= len(self.entries) or i in seen:
                continue
            seen.add(i)
            entry = self.entries[i]
            if entry.kind not in (1, 2):
                continue
            out.append(entry)
            stack.extend((entry.left, entry.right))
        return sorted(out, key=lambda e: e.index)

    @property
    def root(self) -> DirEntry:
        return self.entries[0]

    def root_names(self) -> list[str]:
        return [e.name for e in self.children(self.root)]

    def find(self, name: str) -> DirEntry | None:
        """A stream or storage directly under the root, by name (case-insensitive, as in CFB)."""
        lower = name.lower()
        for entry in self.children(self.root):
            if entry.name.lower() == lower:
                return entry
        return None

    # --- streams --------------------------------------------------------------------------

    def read_stream(self, entry: DirEntry, max_bytes: int = 4096) -> bytes:
        """The first ``max_bytes`` bytes of stream ``entry`` (fewer if the stream is shorter)."""
        if not entry.is_stream:
            raise OleError(f"{entry.name!r} is not a stream")
        want = min(entry.size, max_bytes)
        if want <= 0:
            return b""
        if entry.size < self._mini_cutoff:
            return self._read_mini(entry.start, want)
        n = -(-want // self.sector_size)
        return b"".join(self._sector(s) for s in self._chain(entry.start, n))[:want]

    def verify(self, max_problems: int = 10) -> list[str]:
        """Every stream's sector chain is as long as its size and lies inside the file."""
        problems: list[str] = []
        for entry in self.entries:
            if not entry.is_stream or entry.size == 0:
                continue
            try:
                if entry.size < self._mini_cutoff:
                    got = len(self._read_mini(entry.start, entry.size))
                    if got < entry.size:
                        raise OleError(f"mini-stream chain holds {got} of its {entry.size} bytes")
                else:
                    n = -(-entry.size // self.sector_size)
                    chain = self._chain(entry.start, n)
                    if len(chain) < n:
                        raise OleError(f"chain has {len(chain)} of the {n} sectors its size needs")
                    last_bytes = entry.size - (n - 1) * self.sector_size
                    for i, s in enumerate(chain):
                        need = last_bytes if i == n - 1 else self.sector_size
                        if (s + 1) * self.sector_size + need > self._size:
                            raise OleError(f"sector {s} lies past the end of the file (truncated)")
            except (OleError, struct.error) as exc:
                problems.append(f"stream {entry.name!r}: {exc}")
                if len(problems) >= max_problems:
                    break
        return problems

    def _read_mini(self, start: int, want: int) -> bytes:
        root = self.root
        mini_per_sector = self.sector_size // self.mini_sector_size
        minifat: list[int] = []
        per = self.sector_size // 4
        needed_minifat = 0
        out = bytearray()
        mini = start
        seen: set[int] = set()
        root_sectors: list[int] = []
        while len(out) < want:
            if mini > _MAXREGSECT or mini in seen:
                raise OleError(f"mini stream chain from {start} is broken at {mini:#x}")
            seen.add(mini)
            if mini >= self._n_minifat * per:
                raise OleError(f"mini sector {mini} is beyond the {self._n_minifat} mini FAT sectors")
            # load the mini FAT up to this entry
            while len(minifat) <= mini:
                needed_minifat += 1
                chain = self._chain(self._minifat_start, needed_minifat)
                if len(chain) < needed_minifat:
                    raise OleError(f"mini sector {mini} has no mini FAT entry")
                minifat.extend(struct.unpack(f"<{per}I", self._sector(chain[-1])))
            big_index, offset = divmod(mini, mini_per_sector)
            if len(root_sectors) <= big_index:
                root_sectors = self._chain(root.start, big_index + 1)
                if len(root_sectors) <= big_index:
                    raise OleError(f"mini sector {mini} lies past the end of the mini stream")
            data = self._sector(root_sectors[big_index])
            out += data[offset * self.mini_sector_size : (offset + 1) * self.mini_sector_size]
            mini = minifat[mini]
            if mini == _ENDOFCHAIN:
                break
        return bytes(out[:want])
