"""The archival information package (AIP, 档案信息包) as a BagIt 1.0 bag (RFC 8493).

Layout of a finished bag::

    bagit.txt                  BagIt-Version 1.0, UTF-8
    bag-info.txt               caller's fields + Bagging-Date, Payload-Oxum, Bag-Software-Agent
    manifest-sm3.txt           "<hex>  data/<path>" for every payload file, sorted by path
    manifest-sha256.txt        the same with SHA-256 (so any BagIt tool can check it)
    dangan/...                 caller's tag files (metadata XML, check report, ...)
    dangan/signer.pem          certificate of the instance key that sealed the bag
    tagmanifest-sm3.txt        every tag file above (not the tag manifests themselves)
    tagmanifest-sha256.txt
    tagmanifest-sm3.txt.sig    SM2 signature (DER) over the exact bytes of tagmanifest-sm3.txt
    data/...                   payload

The signature chain: the signature covers ``tagmanifest-sm3.txt``, which pins every tag file,
including both payload manifests, which pin every payload byte. So one signature seals the bag.

Payload bytes live in the content-addressed blob store, so :func:`build_bag` works from digests and
returns only the tag files' bytes; :func:`materialize` writes a bag folder from them, and
:func:`verify_bag_dir` checks a bag folder without trusting anything the builder computed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from dangan import __version__
from dangan.core import sm
from dangan.core.errors import IntegrityError, PackageError, SignatureError
from dangan.core.fsutil import fsync_dir
from dangan.core.sm import InstanceKey

BAGIT_TXT = "bagit.txt"
BAG_INFO_TXT = "bag-info.txt"
MANIFEST_SM3 = "manifest-sm3.txt"
MANIFEST_SHA256 = "manifest-sha256.txt"
TAGMANIFEST_SM3 = "tagmanifest-sm3.txt"
TAGMANIFEST_SHA256 = "tagmanifest-sha256.txt"
SIGNATURE = "tagmanifest-sm3.txt.sig"
SIGNER_PEM = "dangan/signer.pem"
PAYLOAD_DIR = "data"
BAGIT_TXT_CONTENT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"

#: Labels that build_bag computes itself; a caller may not supply them.
COMPUTED_LABELS = ("Bagging-Date", "Payload-Oxum", "Bag-Software-Agent")
#: The algorithms every dangan AIP carries, in both manifest kinds.
ALGORITHMS = ("sm3", "sha256")
CHUNK = 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LABEL = re.compile(r"[^\s:][^:\r\n]*")


@dataclass(frozen=True)
class PayloadFile:
    """One payload file, already hashed. ``path`` is relative to ``data/``, '/'-separated."""

    path: str
    size: int
    sm3: str
    sha256: str


@dataclass(frozen=True)
class BagFile:
    """Any file of a finished bag. ``content`` holds the bytes of tag files; None for payload files."""

    path: str
    size: int
    sm3: str
    sha256: str
    content: bytes | None


@dataclass(frozen=True)
class BagProblem:
    """One thing wrong with a bag on disk (compare bagit-python's FileMissing / ChecksumMismatch)."""

    code: str
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


# ---------------------------------------------------------------------------------------------------------
# paths and manifest lines
# ---------------------------------------------------------------------------------------------------------


def check_relative_path(path: str, *, what: str = "path") -> str:
    """Return ``path`` if it is a safe, relative, '/'-separated path; raise PackageError otherwise.

    Refused: empty, absolute, backslash, NUL, empty / "." / ".." components.
    """
    problem = ""
    if not path:
        problem = "is empty"
    elif "\x00" in path:
        problem = "contains NUL"
    elif "\\" in path:
        problem = "contains a backslash"
    elif path.startswith("/"):
        problem = "is absolute"
    else:
        parts = path.split("/")
        if any(p == "" for p in parts):
            problem = "has an empty component"
        elif any(p in (".", "..") for p in parts):
            problem = "has a '.' or '..' component"
    if problem:
        raise PackageError(f"unsafe {what} {path!r}: {problem}", target=path, code="AIP_PATH_INVALID")
    return path


def encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: percent-encode %, CR and LF in a manifest file path."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


_ENCODED = re.compile(r"%(0[DdAa]|25)")


def decode_path(path: str) -> str:
    """Inverse of :func:`encode_path` (one pass, so "%250A" decodes to "%0A", not to a newline)."""
    return _ENCODED.sub(lambda m: {"0D": "\r", "0A": "\n", "25": "%"}[m.group(1).upper()], path)


def manifest_bytes(entries: Mapping[str, str]) -> bytes:
    """Manifest text: "<hex>  <encoded path>\\n" per entry, sorted by path."""
    return "".join(f"{entries[p]}  {encode_path(p)}\n" for p in sorted(entries)).encode("utf-8")


def parse_manifest(text: bytes) -> dict[str, str]:
    """Parse a (tag) manifest into ``{bag-relative path: lower-case hex}``.

    Accepts LF, CRLF or CR line ends and one or more spaces/tabs between digest and path; decodes
    %0D, %0A and %25 in paths. Raises PackageError (code BAG_MALFORMED) on undecodable text, a line
    that is not "<hex> <path>", an unsafe path or a path listed twice.
    """
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackageError(f"manifest is not UTF-8: {exc}", code="BAG_MALFORMED") from exc
    decoded = decoded.removeprefix("\ufeff")
    out: dict[str, str] = {}
    for number, line in enumerate(re.split(r"\r\n|\r|\n", decoded), start=1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9A-Fa-f]+)[ \t]+(.+)", line)
        if match is None:
            raise PackageError(
                f"manifest line {number} is not '<digest> <path>': {line[:200]!r}",
                target=str(number),
                code="BAG_MALFORMED",
            )
        path = decode_path(match.group(2))
        try:
            check_relative_path(path, what="manifest path")
        except PackageError as exc:
            raise PackageError(exc.message, target=path, code="BAG_MALFORMED") from exc
        if path in out:
            raise PackageError(f"manifest lists {path!r} twice", target=path, code="BAG_MALFORMED")
        out[path] = match.group(1).lower()
    return out


def _bag_info_bytes(fields: Mapping[str, str]) -> bytes:
    lines = []
    for label, value in fields.items():
        if not _LABEL.fullmatch(label) or label != label.strip():
            raise PackageError(f"bad bag-info label {label!r}", target=label, code="AIP_BAG_INFO_INVALID")
        if "\r" in value or "\n" in value:
            raise PackageError(
                f"bag-info value of {label!r} contains a line break",
                target=label,
                code="AIP_BAG_INFO_INVALID",
            )
        lines.append(f"{label}: {value}\n")
    return "".join(lines).encode("utf-8")


def _tag_file(path: str, content: bytes) -> BagFile:
    return BagFile(
        path=path,
        size=len(content),
        sm3=sm.sm3_hex(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )


def _is_reserved_tag_path(path: str) -> bool:
    top = path.split("/", 1)[0]
    return (
        path in (BAGIT_TXT, BAG_INFO_TXT, SIGNER_PEM, SIGNATURE)
        or top == PAYLOAD_DIR
        or re.fullmatch(r"(tag)?manifest-[^/]+\.txt", path) is not None
    )


def _check_collisions(paths: Iterable[str]) -> None:
    """Refuse two paths one file system could not hold apart, and a file that is also a folder."""
    seen: dict[str, str] = {}
    for path in paths:
        key = unicodedata.normalize("NFC", path).casefold()
        if key in seen:
            raise PackageError(
                f"paths {seen[key]!r} and {path!r} collide (same name up to case/Unicode normalisation)",
                target=path,
                code="AIP_PATH_INVALID",
            )
        seen[key] = path
    for key, path in seen.items():
        parts = key.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in seen:
                raise PackageError(
                    f"{seen[prefix]!r} is a file but {path!r} needs it to be a folder",
                    target=path,
                    code="AIP_PATH_INVALID",
                )


# ---------------------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------------------


def build_bag(
    payload: Sequence[PayloadFile],
    *,
    bag_info: Mapping[str, str],
    tag_files: Mapping[str, bytes],
    signer: InstanceKey,
    bagging_date: date,
) -> list[BagFile]:
    """All files of the bag: payload entries (``content`` None) first, then the tag files.

    ``tag_files`` maps bag-relative paths (e.g. "dangan/metadata.xml") to bytes; they may not live
    under ``data/`` nor take a BagIt or dangan reserved name. Everything is deterministic for the same
    inputs except the signature bytes (SM2 signatures are randomised).

    ``tagmanifest-sm3.txt.sig`` is deliberately listed in no tag manifest: it signs the exact bytes
    of ``tagmanifest-sm3.txt``, so listing it there would make the signed text depend on its own
    signature; and listing it only in ``tagmanifest-sha256.txt`` would add nothing (a forged
    signature fails verification anyway, and the tag manifests are not themselves manifested either).
    """
    payload_files: list[BagFile] = []
    for item in payload:
        check_relative_path(item.path, what="payload path")
        if item.size < 0:
            raise PackageError(
                f"negative size for {item.path!r}", target=item.path, code="AIP_PAYLOAD_INVALID"
            )
        for name, value in (("sm3", item.sm3), ("sha256", item.sha256)):
            if not _HEX64.fullmatch(value):
                raise PackageError(
                    f"{name} of {item.path!r} is not 64 lower-case hex digits",
                    target=item.path,
                    code="AIP_PAYLOAD_INVALID",
                )
        payload_files.append(BagFile(f"{PAYLOAD_DIR}/{item.path}", item.size, item.sm3, item.sha256, None))
    payload_files.sort(key=lambda f: f.path)

    for path in tag_files:
        check_relative_path(path, what="tag file path")
        if _is_reserved_tag_path(path):
            raise PackageError(
                f"tag file {path!r} uses a reserved name or the payload folder",
                target=path,
                code="AIP_PATH_INVALID",
            )
    _check_collisions([f.path for f in payload_files] + [*tag_files, SIGNER_PEM])

    for label in bag_info:
        if label.casefold() in {c.casefold() for c in COMPUTED_LABELS}:
            raise PackageError(
                f"bag-info label {label!r} is computed by the builder",
                target=label,
                code="AIP_BAG_INFO_INVALID",
            )
    info = {label: bag_info[label] for label in sorted(bag_info)}
    info["Bagging-Date"] = bagging_date.isoformat()
    info["Payload-Oxum"] = f"{sum(f.size for f in payload_files)}.{len(payload_files)}"
    info["Bag-Software-Agent"] = f"dangan {__version__}"

    tags: list[BagFile] = [
        _tag_file(BAGIT_TXT, BAGIT_TXT_CONTENT),
        _tag_file(BAG_INFO_TXT, _bag_info_bytes(info)),
        _tag_file(MANIFEST_SM3, manifest_bytes({f.path: f.sm3 for f in payload_files})),
        _tag_file(MANIFEST_SHA256, manifest_bytes({f.path: f.sha256 for f in payload_files})),
    ]
    tags += [_tag_file(path, tag_files[path]) for path in sorted(tag_files)]
    tags.append(_tag_file(SIGNER_PEM, signer.certificate_pem))
    tagmanifest_sm3 = manifest_bytes({t.path: t.sm3 for t in tags})
    tagmanifest_sha256 = manifest_bytes({t.path: t.sha256 for t in tags})
    tags.append(_tag_file(TAGMANIFEST_SM3, tagmanifest_sm3))
    tags.append(_tag_file(TAGMANIFEST_SHA256, tagmanifest_sha256))
    tags.append(_tag_file(SIGNATURE, signer.sign(tagmanifest_sm3)))
    return payload_files + tags


# ---------------------------------------------------------------------------------------------------------
# writing a bag folder
# ---------------------------------------------------------------------------------------------------------


def materialize(files: Sequence[BagFile], open_payload: Callable[[BagFile], BinaryIO], dest: Path) -> Path:
    """Write the bag to the new folder ``dest`` and return it.

    Everything is written under ``dest.parent/.<name>.partial`` (a stale one from a crash is removed),
    every payload stream is re-hashed while copied (IntegrityError if it does not match its entry),
    files and folders are fsynced, and only then is the folder renamed to ``dest``. A crash or an
    error leaves no ``dest``. Raises PackageError (AIP_DEST_EXISTS) if ``dest`` exists.
    One writer per destination at a time.
    """
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise PackageError(f"destination already exists: {dest}", target=str(dest), code="AIP_DEST_EXISTS")
    for f in files:
        check_relative_path(f.path, what="bag path")
    _check_collisions(f.path for f in files)
    partial = dest.parent / f".{dest.name}.partial"
    if partial.exists() or partial.is_symlink():
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial)
        else:
            partial.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial.mkdir()
    try:
        folders: set[Path] = {partial}
        for f in files:
            target = partial.joinpath(*f.path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.update(p for p in target.parents if p == partial or partial in p.parents)
            with open(target, "xb") as out:
                if f.content is not None:
                    out.write(f.content)
                    written = sm.StreamDigest(len(f.content), f.sm3, f.sha256)
                else:
                    hasher = sm.DualHasher()
                    with open_payload(f) as src:
                        while block := src.read(CHUNK):
                            hasher.update(block)
                            out.write(block)
                    written = hasher.result()
                if (written.size, written.sm3, written.sha256) != (f.size, f.sm3, f.sha256):
                    raise IntegrityError(
                        f"payload stream for {f.path} does not match its manifest entry "
                        f"(size {written.size} vs {f.size}, sm3 {written.sm3} vs {f.sm3})",
                        target=f.path,
                    )
                out.flush()
                os.fsync(out.fileno())
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)
        os.rename(partial, dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------------------------------------------------
# verifying a bag folder (independent of the builder)
# ---------------------------------------------------------------------------------------------------------


def _parse_tag_fields(text: bytes) -> dict[str, str]:
    """'Label: value' lines (continuation lines start with whitespace); the first of a repeated label."""
    fields: dict[str, str] = {}
    last = ""
    for line in text.decode("utf-8").removeprefix("\ufeff").splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and last:
            fields[last] += " " + line.strip()
            continue
        label, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"line is not 'Label: value': {line[:200]!r}")
        last = label.strip()
        fields.setdefault(last, value.strip())
    return fields


def _walk(root: Path) -> tuple[set[str], list[BagProblem]]:
    """All regular files under ``root`` as '/'-separated paths; symlinks and specials are problems."""
    found: set[str] = set()
    problems: list[BagProblem] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            full = base / name
            rel = full.relative_to(root).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                problems.append(BagProblem("BAG_MALFORMED", rel, "symbolic links are not allowed in a bag"))
            elif stat.S_ISREG(mode):
                found.add(rel)
            elif not stat.S_ISDIR(mode):
                problems.append(BagProblem("BAG_MALFORMED", rel, "not a regular file"))
    return found, problems


def _hash_file(path: Path, algorithms: Iterable[str]) -> tuple[int, dict[str, str]]:
    hashers = {alg: hashlib.new(alg) for alg in algorithms}
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            size += len(block)
            for h in hashers.values():
                h.update(block)
    return size, {alg: h.hexdigest() for alg, h in hashers.items()}


def _read_manifests(
    root: Path, prefix: str, present: set[str], problems: list[BagProblem]
) -> dict[str, dict[str, str]]:
    """``{algorithm: {path: hex}}`` for every ``<prefix>-<alg>.txt``; sm3 and sha256 are required."""
    manifests: dict[str, dict[str, str]] = {}
    pattern = re.compile(re.escape(prefix) + r"-([a-z0-9]+)\.txt")
    names = sorted(p for p in present if pattern.fullmatch(p))
    for alg in ALGORITHMS:
        name = f"{prefix}-{alg}.txt"
        if name not in present:
            problems.append(BagProblem("BAG_FILE_MISSING", name, f"required {prefix} {name} is missing"))
    for name in names:
        match = pattern.fullmatch(name)
        assert match is not None
        alg = match.group(1)
        try:
            hashlib.new(alg)
        except ValueError:
            problems.append(BagProblem("BAG_MALFORMED", name, f"unsupported digest algorithm {alg!r}"))
            continue
        try:
            manifests[alg] = parse_manifest((root / name).read_bytes())
        except PackageError as exc:
            problems.append(BagProblem("BAG_MALFORMED", name, exc.message))
    return manifests


def _check_signature(root: Path, present: set[str], trusted_cert_der: bytes | None) -> list[BagProblem]:
    if SIGNATURE not in present:
        return [
            BagProblem("BAG_SIGNATURE_INVALID", SIGNATURE, "the bag is not signed (signature file missing)")
        ]
    if SIGNER_PEM not in present:
        return [BagProblem("BAG_SIGNATURE_INVALID", SIGNER_PEM, "signer certificate missing")]
    if TAGMANIFEST_SM3 not in present:
        return [BagProblem("BAG_SIGNATURE_INVALID", TAGMANIFEST_SM3, "signed tag manifest missing")]
    problems: list[BagProblem] = []
    try:
        cert_der = sm.certificate_der_from_pem((root / SIGNER_PEM).read_bytes())
        public_key = sm.public_key_from_certificate(cert_der)
    except SignatureError as exc:
        return [
            BagProblem("BAG_SIGNATURE_INVALID", SIGNER_PEM, f"signer certificate unusable: {exc.message}")
        ]
    if trusted_cert_der is not None and cert_der != trusted_cert_der:
        problems.append(
            BagProblem(
                "BAG_SIGNER_UNTRUSTED",
                SIGNER_PEM,
                f"signer certificate (SM3 {sm.sm3_hex(cert_der)}) is not the trusted one "
                f"(SM3 {sm.sm3_hex(trusted_cert_der)})",
            )
        )
    signed = (root / TAGMANIFEST_SM3).read_bytes()
    signature = (root / SIGNATURE).read_bytes()
    if not sm.verify(public_key, signed, signature):
        problems.append(
            BagProblem(
                "BAG_SIGNATURE_INVALID",
                SIGNATURE,
                f"SM2 signature does not verify over {TAGMANIFEST_SM3} with the key of {SIGNER_PEM}",
            )
        )
    return problems


def verify_bag_dir(path: Path, *, trusted_cert_der: bytes | None = None) -> list[BagProblem]:
    """Check a bag folder completely; an empty list means intact.

    Re-hashes every file (1 MiB chunks), compares with every payload and tag manifest present
    (``manifest-sm3/sha256.txt`` and ``tagmanifest-sm3/sha256.txt`` are required), reports files
    missing, files present but not manifested (under ``data/``, and tag files missing from the tag
    manifests), the Payload-Oxum, and the SM2 signature over ``tagmanifest-sm3.txt``.

    Without ``trusted_cert_der`` the signature only proves the bag is internally consistent (anyone
    can re-sign a rebuilt bag with their own key); pass the instance's certificate to prove origin.
    """
    root = Path(path)
    problems: list[BagProblem] = []
    if not root.is_dir():
        return [BagProblem("BAG_MALFORMED", "", f"not a folder: {root}")]
    present, walk_problems = _walk(root)
    problems += walk_problems

    # bagit.txt
    if BAGIT_TXT not in present:
        problems.append(BagProblem("BAG_FILE_MISSING", BAGIT_TXT, "bagit.txt is missing"))
    else:
        try:
            declaration = _parse_tag_fields((root / BAGIT_TXT).read_bytes())
            version = declaration.get("BagIt-Version")
            encoding = declaration.get("Tag-File-Character-Encoding", "")
            if version not in ("1.0", "0.97"):
                problems.append(
                    BagProblem("BAG_MALFORMED", BAGIT_TXT, f"unsupported BagIt-Version {version!r}")
                )
            if encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
                problems.append(
                    BagProblem(
                        "BAG_MALFORMED", BAGIT_TXT, f"Tag-File-Character-Encoding {encoding!r} is not UTF-8"
                    )
                )
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(BagProblem("BAG_MALFORMED", BAGIT_TXT, str(exc)))
    if not (root / PAYLOAD_DIR).is_dir() or (root / PAYLOAD_DIR).is_symlink():
        problems.append(BagProblem("BAG_MALFORMED", PAYLOAD_DIR, "payload folder data/ is missing"))

    payload_present = {p for p in present if p.startswith(PAYLOAD_DIR + "/")}
    tags_present = present - payload_present
    manifests = _read_manifests(root, "manifest", present, problems)
    tagmanifests = _read_manifests(root, "tagmanifest", present, problems)
    for alg, entries in manifests.items():
        for p in entries:
            if not p.startswith(PAYLOAD_DIR + "/"):
                problems.append(
                    BagProblem("BAG_MALFORMED", p, f"manifest-{alg}.txt lists a file outside data/")
                )
    for alg, entries in tagmanifests.items():
        for p in entries:
            if p.startswith(PAYLOAD_DIR + "/") or re.fullmatch(r"tagmanifest-[^/]+\.txt", p):
                problems.append(
                    BagProblem("BAG_MALFORMED", p, f"tagmanifest-{alg}.txt lists {p}, not a tag file")
                )

    # completeness: every manifest lists every file of its kind; every listed file exists
    unlisted_tags = {p for p in tags_present if re.fullmatch(r"tagmanifest-[^/]+\.txt", p)} | {SIGNATURE}
    for kind, group, files_present, exempt in (
        ("manifest", manifests, payload_present, set()),
        ("tagmanifest", tagmanifests, tags_present, unlisted_tags),
    ):
        listed = set().union(*group.values()) if group else set()
        for p in sorted(listed - files_present):
            problems.append(BagProblem("BAG_FILE_MISSING", p, f"listed in a {kind} but missing"))
        for p in sorted(files_present - exempt):
            missing_from = sorted(alg for alg, entries in group.items() if p not in entries)
            if missing_from:
                names = ", ".join(f"{kind}-{alg}.txt" for alg in missing_from)
                problems.append(BagProblem("BAG_UNEXPECTED_FILE", p, f"present but not listed in {names}"))

    # fixity
    payload_bytes = 0
    for p in sorted(present):
        group = manifests if p in payload_present else tagmanifests
        expected = {alg: entries[p] for alg, entries in group.items() if p in entries}
        if not expected:
            if p in payload_present:
                payload_bytes += (root / p).lstat().st_size
            continue
        try:
            size, actual = _hash_file(root / p, sorted({*expected, *ALGORITHMS}))
        except OSError as exc:
            problems.append(BagProblem("BAG_FILE_UNREADABLE", p, str(exc)))
            continue
        if p in payload_present:
            payload_bytes += size
        for alg in sorted(expected):
            if actual[alg] != expected[alg]:
                problems.append(
                    BagProblem(
                        "BAG_DIGEST_MISMATCH", p, f"{alg} expected {expected[alg]}, found {actual[alg]}"
                    )
                )

    # Payload-Oxum
    if BAG_INFO_TXT not in present:
        problems.append(BagProblem("BAG_FILE_MISSING", BAG_INFO_TXT, "bag-info.txt is missing"))
    else:
        try:
            oxum = _parse_tag_fields((root / BAG_INFO_TXT).read_bytes()).get("Payload-Oxum")
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(BagProblem("BAG_MALFORMED", BAG_INFO_TXT, str(exc)))
        else:
            actual_oxum = f"{payload_bytes}.{len(payload_present)}"
            if oxum is None:
                problems.append(BagProblem("BAG_MALFORMED", BAG_INFO_TXT, "Payload-Oxum is missing"))
            elif not re.fullmatch(r"\d+\.\d+", oxum):
                problems.append(
                    BagProblem("BAG_MALFORMED", BAG_INFO_TXT, f"Payload-Oxum {oxum!r} is malformed")
                )
            elif oxum != actual_oxum:
                problems.append(
                    BagProblem("BAG_OXUM_MISMATCH", BAG_INFO_TXT, f"Payload-Oxum {oxum}, found {actual_oxum}")
                )

    problems += _check_signature(root, present, trusted_cert_der)
    return problems
