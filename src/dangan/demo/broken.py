"""Packages that are broken on purpose, one defect each, for testing the checker and the ingest path.

``write_broken_variants`` writes ``<out>/<variant>/<电子文件号>`` (a folder) or ``….zip`` per variant and
``<out>/variants.json``. Each variant starts from a valid company-registration case and changes one
thing; ``expected_code`` is the error the product's checker must report and ``target`` the file or
metadata element that error must name. Variant "base" is the unmodified case (it must be accepted);
"conflict" re-sends base's 电子文件号 with one file re-scanned (different bytes, correctly digested).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import stat
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dangan.core import sm
from dangan.core.package import schema
from dangan.core.package.metadata import metadata_xml
from dangan.core.package.model import CasePackage, FileEntry
from dangan.core.package.writer import complete, package_name, write_folder
from dangan.demo.catalog import COMPANY_REGISTRATION, DEMO_FONDS, DemoFonds
from dangan.demo.documents import render
from dangan.demo.files import DEFAULT_OPTIONS, zip_info
from dangan.demo.generator import BuiltCase, archived_moment, build_case, write_zip_package
from dangan.demo.people import seeded

VARIANTS_FILENAME = "variants.json"
BOMB_BYTES = 200 * 1024 * 1024
ZIP_PASSWORD = b"demo"  # the zip-encrypted entry is real ZipCrypto; this opens it

# The base case's materials the variants touch (company registration, all optional materials in).
_OPTIONAL_FILE = "申报材料/住所使用证明.jpg"  # A04, optional: removing it leaves the scope complete
_CHARTER = "申报材料/公司章程.pdf"  # A02, required
_ID_COPY = "申报材料/法定代表人身份证复印件.jpg"  # A03
_DECISION = "结果材料/准予设立登记通知书.pdf"  # C01


@dataclass(frozen=True)
class BrokenVariant:
    name: str
    path: Path  # the package folder or ZIP
    expected_code: str  # "" = must be accepted
    target: str  # the file path, entry name or metadata element the error must mention


# name, expected code, written as ZIP (zip-* variants are always ZIPs)
VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("base", "", False),
    ("conflict", "CONFLICT", False),
    ("missing-file", "GD-2-11", False),
    ("extra-file", "GD-2-11", False),
    ("wrong-digest", "GD-1-1", False),
    ("wrong-size", "GD-1-10", True),
    ("malformed-xml", "GD-3-1", True),
    ("xxe", "GD-3-1", False),
    ("billion-laughs", "GD-3-1", False),
    ("missing-required-metadata", "GD-2-3", False),
    ("empty-required-metadata", "GD-2-4", False),
    ("wrong-file-count", "GD-2-1", False),
    ("wrong-byte-total", "GD-2-2", True),
    ("missing-scope-material", "GD-2-9", False),
    ("outside-category-folder", "GD-1-13", False),
    ("no-metadata", "GD-1-12", True),
    ("zip-slip", "ZIP_PATH_TRAVERSAL", True),
    ("zip-absolute", "ZIP_ABSOLUTE_PATH", True),
    ("zip-symlink", "ZIP_LINK", True),
    ("zip-encrypted", "ZIP_ENCRYPTED", True),
    ("zip-bomb", "ZIP_BOMB", True),
    ("zip-corrupt", "ZIP_CORRUPT", True),
)

_BASE_INDEX = 990_000  # serials 990001… keep variants apart from any normal demo batch (000001…)


def _case(seed: int, index: int, fonds: DemoFonds) -> BuiltCase:
    rng = seeded("dangan-demo-broken", seed, index)
    return build_case(rng, COMPANY_REGISTRATION, index, fonds, include_optional=True)


def _renumber(pkg: CasePackage) -> None:
    for i, e in enumerate(pkg.files, 1):
        e.sequence = str(i)


def _with_doctype(metadata: bytes, doctype: str, marker: bytes, reference: bytes) -> bytes:
    head, sep, rest = metadata.partition(b"?>\n")
    assert sep, "metadata XML starts with a declaration"
    return head + sep + doctype.encode("utf-8") + b"\n" + rest.replace(marker, reference)


_XXE_DOCTYPE = f'<!DOCTYPE {schema.ROOT} [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>'


def _billion_laughs_doctype() -> str:
    lines = [f"<!DOCTYPE {schema.ROOT} [", '  <!ENTITY lol "lol">']
    prev = "lol"
    for i in range(1, 10):
        name = f"lol{i}"
        lines.append(f'  <!ENTITY {name} "{("&" + prev + ";") * 10}">')
        prev = name
    lines.append("]>")
    return "\n".join(lines)


# --- hostile ZIP entries -------------------------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def zipcrypto_encrypt(data: bytes, password: bytes, crc: int, rng: random.Random) -> bytes:
    """Traditional PKWARE encryption (ZipCrypto, APPNOTE 6.1): 12-byte header + encrypted data."""
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(byte: int) -> None:
        keys[0] = (keys[0] >> 8) ^ _CRC_TABLE[(keys[0] ^ byte) & 0xFF]
        keys[1] = (keys[1] + (keys[0] & 0xFF)) & 0xFFFFFFFF
        keys[1] = (keys[1] * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = (keys[2] >> 8) ^ _CRC_TABLE[(keys[2] ^ (keys[1] >> 24)) & 0xFF]

    for b in password:
        update(b)
    header = bytes(rng.randrange(256) for _ in range(11)) + bytes([(crc >> 24) & 0xFF])
    out = bytearray()
    for b in header + data:
        temp = (keys[2] | 2) & 0xFFFF
        out.append(b ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        update(b)
    return bytes(out)


def _patch_encrypted(zip_data: bytes, name: str, crc: int, plain_size: int) -> bytes:
    """Mark entry ``name`` encrypted (flag bit 0) with the plaintext's CRC and size, in both headers."""
    buf = bytearray(zip_data)
    with zipfile.ZipFile(io.BytesIO(zip_data)) as zf:
        info = zf.getinfo(name)
        local = info.header_offset
    assert buf[local : local + 4] == b"PK\x03\x04"
    flag = int.from_bytes(buf[local + 6 : local + 8], "little") | 0x1
    buf[local + 6 : local + 8] = flag.to_bytes(2, "little")
    buf[local + 14 : local + 18] = crc.to_bytes(4, "little")
    buf[local + 22 : local + 26] = plain_size.to_bytes(4, "little")
    eocd = buf.rfind(b"PK\x05\x06")
    pos = int.from_bytes(buf[eocd + 16 : eocd + 20], "little")
    encoded = name.encode("utf-8")
    while buf[pos : pos + 4] == b"PK\x01\x02":
        n_len = int.from_bytes(buf[pos + 28 : pos + 30], "little")
        x_len = int.from_bytes(buf[pos + 30 : pos + 32], "little")
        c_len = int.from_bytes(buf[pos + 32 : pos + 34], "little")
        if bytes(buf[pos + 46 : pos + 46 + n_len]) == encoded:
            flag = int.from_bytes(buf[pos + 8 : pos + 10], "little") | 0x1
            buf[pos + 8 : pos + 10] = flag.to_bytes(2, "little")
            buf[pos + 16 : pos + 20] = crc.to_bytes(4, "little")
            buf[pos + 24 : pos + 28] = plain_size.to_bytes(4, "little")
            return bytes(buf)
        pos += 46 + n_len + x_len + c_len
    raise KeyError(name)


def _zip_with_extras(
    case: BuiltCase, dest: Path, extras: Sequence[tuple[zipfile.ZipInfo, bytes]], *, skip: Sequence[str] = ()
) -> Path:
    """The package ZIP with extra raw entries appended (names not sanitised)."""
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / f"{package_name(case.pkg)}.zip"
    when = archived_moment(case.pkg)
    with zipfile.ZipFile(final, "w") as zf:
        zf.writestr(zip_info(schema.METADATA_FILENAME, when), metadata_xml(case.pkg))
        for rel, data in case.files.items():
            if rel not in skip:
                zf.writestr(zip_info(rel, when), data)
        for info, data in extras:
            zf.writestr(info, data)
    return final


def _write_bomb(case: BuiltCase, dest: Path, size: int) -> tuple[Path, str]:
    """Package ZIP with one declared entry of ``size`` zero bytes, deflated by streaming (ratio ~1000:1)."""
    name = "过程材料/附件数据.bin"
    chunk = bytes(1024 * 1024)
    digest = hashlib.new("sm3")
    remaining = size
    while remaining > 0:
        digest.update(chunk[: min(len(chunk), remaining)])
        remaining -= len(chunk)
    pkg = case.pkg
    pkg.files.append(
        FileEntry(
            material_code="B09",
            category="过程材料",
            standard_name="附件数据",
            actual_name="附件数据.bin",
            path=name,
            format="BIN",
            size=str(size),
            digest_algorithm="SM3",
            digest=digest.hexdigest(),
            created_at=pkg.case.completed_at,
            sharing="不予共享",
        )
    )
    _renumber(pkg)
    pkg.declared_file_count = str(len(pkg.files))
    pkg.declared_byte_total = str(sum(len(d) for d in case.files.values()) + size)
    pkg.case.total_pieces = str(len(pkg.files))
    final = write_zip_package(pkg, case.files, dest)
    when = archived_moment(pkg)
    with zipfile.ZipFile(final, "a") as zf:
        info = zip_info(name, when)
        with zf.open(info, "w", force_zip64=size >= 0xFFFFFFFF) as out:
            remaining = size
            while remaining > 0:
                out.write(chunk[: min(len(chunk), remaining)])
                remaining -= len(chunk)
    return final, name


def write_broken_variants(
    out_dir: Path, *, seed: int, fonds: DemoFonds = DEMO_FONDS, bomb_bytes: int = BOMB_BYTES
) -> list[BrokenVariant]:
    """Write every variant of ``VARIANTS`` under ``out_dir`` and ``variants.json``; return them in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[BrokenVariant] = []
    meta = schema.METADATA_FILENAME

    for position, (name, code, as_zip) in enumerate(VARIANTS):
        dest = out_dir / name
        index = _BASE_INDEX if name in ("base", "conflict") else _BASE_INDEX + position
        case = _case(seed, index, fonds)
        pkg, files = case.pkg, case.files
        target = ""
        metadata: bytes | None = None
        path: Path | None = None

        if name == "base":
            pass  # the unmodified case: it must be accepted (and "conflict" then clashes with it)
        elif name == "conflict":
            rescan = seeded("dangan-demo-broken", seed, "rescan")
            files[_ID_COPY] = render(
                case.facts, COMPANY_REGISTRATION.material("A03"), rescan, DEFAULT_OPTIONS
            )
            complete(pkg, files)
            target = pkg.file_number
        elif name == "missing-file":
            del files[_OPTIONAL_FILE]
            target = _OPTIONAL_FILE
        elif name == "extra-file":
            target = "申报材料/补充材料.pdf"
            files[target] = files[_DECISION]
        elif name == "wrong-digest":
            entry = _entry(pkg, _DECISION)
            entry.digest = sm.sm3_hex(files[_DECISION] + b"\n")
            target = _DECISION
        elif name == "wrong-size":
            entry = _entry(pkg, _CHARTER)
            entry.size = str(int(entry.size or 0) + 137)
            target = _CHARTER
        elif name == "malformed-xml":
            full = metadata_xml(pkg)
            metadata = full[: len(full) * 3 // 5]
            target = meta
        elif name == "xxe":
            pkg.case.remarks = "@ENTITY@"
            metadata = _with_doctype(metadata_xml(pkg), _XXE_DOCTYPE, b"@ENTITY@", b"&xxe;")
            target = meta
        elif name == "billion-laughs":
            pkg.case.remarks = "@ENTITY@"
            metadata = _with_doctype(metadata_xml(pkg), _billion_laughs_doctype(), b"@ENTITY@", b"&lol9;")
            target = meta
        elif name == "missing-required-metadata":
            pkg.case.title = None
            target = schema.element(schema.Group.CASE, "title").name
        elif name == "empty-required-metadata":
            pkg.case.accepting_unit = ""
            target = schema.element(schema.Group.CASE, "accepting_unit").name
        elif name == "wrong-file-count":
            pkg.declared_file_count = str(len(pkg.files) + 1)
            target = schema.FILES_COUNT_ATTR
        elif name == "wrong-byte-total":
            pkg.declared_byte_total = str(int(pkg.declared_byte_total or 0) + 1)
            target = schema.FILES_BYTES_ATTR
        elif name == "missing-scope-material":
            del files[_CHARTER]
            pkg.files = [e for e in pkg.files if e.path != _CHARTER]
            _renumber(pkg)
            pkg.case.total_pieces = None
            complete(pkg, files)
            target = "A02"
        elif name == "outside-category-folder":
            target = "其他/补充说明.pdf"
            files[target] = files[_DECISION]
            pkg.files.append(
                FileEntry(
                    material_code="Z01",
                    category="其他",
                    standard_name="补充说明",
                    actual_name="补充说明.pdf",
                    path=target,
                    created_at=pkg.case.completed_at,
                    sharing="不予共享",
                )
            )
            _renumber(pkg)
            pkg.case.total_pieces = None
            complete(pkg, files)
        elif name == "no-metadata":
            dest.mkdir(parents=True, exist_ok=True)
            path = dest / f"{package_name(pkg)}.zip"
            when = archived_moment(pkg)
            with zipfile.ZipFile(path, "w") as zf:
                for rel, data in files.items():
                    zf.writestr(zip_info(rel, when), data)
            target = meta
        elif name in ("zip-slip", "zip-absolute"):
            target = "../../evil.txt" if name == "zip-slip" else "/tmp/evil.txt"  # noqa: S108 - hostile entry name
            path = _zip_with_extras(
                case, dest, [(zip_info(target, archived_moment(pkg)), b"written outside\n")]
            )
        elif name == "zip-symlink":
            target = "申报材料/passwd.pdf"
            link = zip_info(target, archived_moment(pkg), compress=False)
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            path = _zip_with_extras(case, dest, [(link, b"/etc/passwd")])
        elif name == "zip-encrypted":
            target = _CHARTER
            plain = files[_CHARTER]
            crc = zlib.crc32(plain)
            cipher = zipcrypto_encrypt(plain, ZIP_PASSWORD, crc, seeded("zipcrypto", seed))
            info = zip_info(target, archived_moment(pkg), compress=False)
            path = _zip_with_extras(case, dest, [(info, cipher)], skip=[_CHARTER])
            path.write_bytes(_patch_encrypted(path.read_bytes(), target, crc, len(plain)))
        elif name == "zip-bomb":
            path, target = _write_bomb(case, dest, bomb_bytes)
        elif name == "zip-corrupt":
            whole = write_zip_package(pkg, files, dest)
            data = whole.read_bytes()
            whole.write_bytes(data[: len(data) * 3 // 5])
            path, target = whole, whole.name

        if path is None:
            if as_zip:
                path = write_zip_package(pkg, files, dest, metadata=metadata)
            else:
                path = write_folder(pkg, files, dest, metadata=metadata)
        results.append(BrokenVariant(name=name, path=path, expected_code=code, target=target))

    listing = [
        {
            "name": v.name,
            "path": v.path.relative_to(out_dir).as_posix(),
            "expected_code": v.expected_code,
            "target": v.target,
        }
        for v in results
    ]
    (out_dir / VARIANTS_FILENAME).write_text(
        json.dumps(listing, ensure_ascii=False, indent=2) + "\n", "utf-8"
    )
    return results


def _entry(pkg: CasePackage, path: str) -> FileEntry:
    for e in pkg.files:
        if e.path == path:
            return e
    raise KeyError(path)


def read_variants(out_dir: Path) -> list[BrokenVariant]:
    """Load ``variants.json`` written by ``write_broken_variants`` (paths made absolute)."""
    out_dir = Path(out_dir)
    data = json.loads((out_dir / VARIANTS_FILENAME).read_text("utf-8"))
    return [
        BrokenVariant(
            name=d["name"], path=out_dir / d["path"], expected_code=d["expected_code"], target=d["target"]
        )
        for d in data
    ]


__all__ = [
    "BOMB_BYTES",
    "VARIANTS",
    "ZIP_PASSWORD",
    "BrokenVariant",
    "read_variants",
    "write_broken_variants",
]
