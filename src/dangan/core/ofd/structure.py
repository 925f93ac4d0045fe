"""Structure and OFD-A checks of an OFD document (GB/T 33190-2016; GB/T 42133-2022 OFD-A).

``validate_ofd(path)`` never raises for a bad file. Its verdict, for callers:

* ``readable`` is True only when the ZIP opened safely and ``OFD.xml`` parsed with an ``<OFD>`` root.
  When it is False the document was not read: ``problems`` holds at least one error saying why
  (``OFD_NOT_FOUND``, ``OFD_UNREADABLE``, ``OFD_UNSAFE``, ``OFD_NO_ENTRY``, ``OFD_XML_INVALID``, …), it
  is **not** a list of everything wrong with the document, ``details`` is empty, and ``structure_ok``
  and ``ofda_ok`` are False. An unreadable OFD must be treated as invalid, and as not checked for
  OFD-A — never as "no OFD-A problem found".
* ``structure_ok``: readable and no ``OFD_*`` error; ``ofda_ok``: readable and no error at all.

Use :class:`~dangan.core.ofd.container.OfdContainer` directly to get the error raised instead.

Structure rules (``OFD_*``; errors unless noted):

* ``OFD_NO_ENTRY`` OFD.xml is present at the root, parses and its root is ``<OFD>``;
* ``OFD_NO_DOCUMENT`` at least one DocBody with a DocRoot;
* ``OFD_MISSING_PART`` every file referenced exists: DocRoot, Signatures, PublicRes, DocumentRes,
  TemplatePage and Page BaseLoc, PageRes, Font/FontFile, MultiMedia/MediaFile, ColorSpace/@Profile,
  Annotations and the annotation files, Attachments and their FileLoc, CustomTags and their files,
  Extensions, each Signature BaseLoc and its SignedValue and Seal BaseLoc, each Reference FileRef;
  (``OFD_MISSING_ATTACHMENT`` for Attachments.xml and attachment files);
* ``OFD_XML_INVALID`` every referenced XML part parses (xmlsafe: no DTD, bounded size/depth);
* ``OFD_CORRUPT`` every entry of the container (fonts, images, media, attachments, signatures — not
  only the XML walked) is read through to its end, streamed, so that its CRC-32 and compressed data
  are checked: a damaged entry is named;
* ``OFD_BAD_PATH`` an empty or malformed path;
* ``OFD_PATH_CASE`` (warning) a reference found only with different letter case (``DOC_0`` for
  ``Doc_0``: WPS, some invoice platforms), percent-decoded, or from the root instead of the
  referencing folder — viewers on case-sensitive systems may fail.

OFD-A rules implemented (``OFDA_*``, errors):

* ``OFDA_ENCRYPTED`` no encryption: no encrypted ZIP entry, no ``Encryptions`` declaration in
  OFD.xml, no ``Encryptions.xml``/``Encryption.xml`` part;
* ``OFDA_FONT_NOT_EMBEDDED`` every Font of every resource file has a FontFile that exists in the
  container (a font such as 宋体 or Courier New referenced by name only fails, whatever its fame);
* ``OFDA_EXTERNAL_REFERENCE`` no reference (any path-valued element or attribute listed above, and
  any ``BaseLoc``/``Location``/``FileLoc``) points to a URL (http, https, ftp, file, …), a drive
  path, or outside the container with ``..``;
* ``OFDA_ACTION_URI`` no action opening a URI; ``OFDA_ACTION_MULTIMEDIA`` no Sound or Movie action.
  Goto targets a destination or bookmark inside the same document in OFD and is allowed; GotoA
  opens an attachment of the document and is allowed.
* ``OFDA_DOCTYPE`` (warning) OFD.xml DocType is not "OFD-A".

Not implemented (GB/T 42133 goes further): checking the font programs themselves (embedded subsets
covering every glyph used, font licensing flags), colour-space/ICC output-intent requirements,
metadata (DocInfo) completeness, image format whitelists, transparency, version constraints on the
OFD.xml ``Version``, and the standard's "de-technicalising" conversion.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from dangan.core.ofd.container import (
    Located,
    OfdContainer,
    OfdError,
    OfdLimits,
    child,
    child_text,
    children,
    descendants,
    folder_of,
    is_external,
    local,
    resolve,
    text,
)

Severity = Literal["error", "warning"]

#: Element and attribute names whose value is an ST_Loc (a path) somewhere in OFD.
_LOC_ELEMENTS = {
    "DocRoot",
    "Signatures",
    "PublicRes",
    "DocumentRes",
    "PageRes",
    "FontFile",
    "MediaFile",
    "FileLoc",
    "Annotations",
    "Attachments",
    "CustomTags",
    "Extensions",
    "SchemaLoc",
    "BaseLoc",
    "SignedValue",
    "Location",
}
_LOC_ATTRIBUTES = {"BaseLoc", "Profile", "FileRef", "Location", "FileLoc"}


@dataclass
class OfdProblem:
    rule: str
    severity: Severity
    part: str
    message: str


@dataclass
class OfdValidation:
    readable: bool
    encrypted: bool = False
    problems: list[OfdProblem] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[OfdProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def structure_ok(self) -> bool:
        """Readable and no structure error (OFD-A failures aside). False for an unreadable OFD."""
        return self.readable and not any(p.rule.startswith("OFD_") for p in self.errors)

    @property
    def ofda_ok(self) -> bool:
        """Readable, structurally sound and no OFD-A error. False for an unreadable OFD: its problems
        say why it could not be read, they are not an OFD-A assessment."""
        return self.readable and not self.errors

    def rules(self, severity: Severity | None = None) -> set[str]:
        return {p.rule for p in self.problems if severity is None or p.severity == severity}

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["structure_ok"] = self.structure_ok
        out["ofda_ok"] = self.ofda_ok
        return out


class _Validator:
    def __init__(self, container: OfdContainer, result: OfdValidation) -> None:
        self.c = container
        self.v = result
        self.visited: set[str] = set()
        self.fonts: list[dict[str, Any]] = []
        self.pages = 0
        self.documents = 0
        self.signatures = 0
        self.attachments = 0
        self.reported: set[tuple[str, str, str]] = set()
        #: Parts reached as document content (everything the walk reaches outside signature lists and
        #: the files signatures name), for the signatures' coverage step.
        self.content_found: set[str] = set()
        self.in_signatures = 0
        self.corrupt: set[str] = set()

    # --- reporting ------------------------------------------------------------------------------------
    def problem(self, rule: str, severity: Severity, part: str, message: str) -> None:
        key = (rule, part, message)
        if key not in self.reported:
            self.reported.add(key)
            self.v.problems.append(OfdProblem(rule, severity, part, message))

    def ref(
        self,
        value: str,
        base_dir: str,
        referrer: str,
        what: str,
        *,
        missing_rule: str = "OFD_MISSING_PART",
        content: bool = True,
    ) -> str | None:
        """Resolve and locate a reference; report problems; the container name when found."""
        if not value.strip():
            self.problem("OFD_BAD_PATH", "error", referrer, f"empty {what} path")
            return None
        if is_external(value):
            self.problem(
                "OFDA_EXTERNAL_REFERENCE", "error", referrer, f"{what} points outside the container: {value}"
            )
            return None
        try:
            found: Located | None = self.c.find(value, base_dir)
        except OfdError as exc:
            rule = "OFDA_EXTERNAL_REFERENCE" if exc.code == "OFD_EXTERNAL_PATH" else "OFD_BAD_PATH"
            self.problem(rule, "error", referrer, f"{what}: {exc.message}")
            return None
        if found is None:
            shown = resolve(value, base_dir)
            self.problem(missing_rule, "error", referrer, f"{what} {value} → /{shown} is missing")
            return None
        if not found.exact:
            how = {
                "case": "only with different letter case",
                "decoded": "only percent-decoded",
                "root": "only from the container root, not relative to the referencing file",
            }.get(found.how, found.how)
            self.problem("OFD_PATH_CASE", "warning", referrer, f"{what} {value} found as /{found.name} {how}")
        if content and not self.in_signatures:
            self.content_found.add(found.name)
        return found.name

    def xml(self, part: str) -> etree._Element | None:
        try:
            return self.c.read_xml(part)
        except OfdError as exc:
            rule = {"OFD_ENCRYPTED": "OFDA_ENCRYPTED", "OFD_CORRUPT": "OFD_CORRUPT"}.get(
                exc.code, "OFD_XML_INVALID"
            )
            if rule == "OFD_CORRUPT":
                self.corrupt.add(part)
            self.problem(rule, "error", part, exc.message)
            return None

    def check_entries(self) -> None:
        """OFD_CORRUPT: read every entry through (streamed) so the ZIP layer checks its CRC-32."""
        checked = 0
        for name in self.c.names:
            if self.c.entries[name].encrypted or name in self.corrupt:
                continue  # encrypted entries are OFDA_ENCRYPTED; a damaged XML part is already named
            try:
                self.c.check(name)
            except OfdError as exc:
                self.corrupt.add(name)
                self.problem("OFD_CORRUPT", "error", name, exc.message)
            checked += 1
        if self.v.readable:
            self.v.details["entries_read"] = checked

    def first_visit(self, part: str) -> bool:
        if part in self.visited:
            return False
        self.visited.add(part)
        return True

    # --- walk -----------------------------------------------------------------------------------------
    def run(self) -> None:
        c = self.c
        for name in c.encrypted_entries:
            self.v.encrypted = True
            self.problem("OFDA_ENCRYPTED", "error", name, f"{name} is an encrypted ZIP entry")
        for name in c.names:
            if name.rsplit("/", 1)[-1].lower() in ("encryptions.xml", "encryption.xml"):
                self.v.encrypted = True
                self.problem("OFDA_ENCRYPTED", "error", name, f"{name}: the document declares encryption")
        found = c.locate("OFD.xml")
        if found is None:
            self.problem(
                "OFD_NO_ENTRY", "error", "OFD.xml", "not an OFD: OFD.xml is missing from the container root"
            )
            return
        if not found.exact:
            self.problem(
                "OFD_PATH_CASE", "warning", found.name, f"entry file is named {found.name}, not OFD.xml"
            )
        try:
            root = c.read_xml(found.name)
        except OfdError as exc:
            self.problem(
                "OFD_NO_ENTRY" if exc.code != "OFD_XML_INVALID" else "OFD_XML_INVALID",
                "error",
                found.name,
                exc.message,
            )
            if exc.code == "OFD_ENCRYPTED":
                self.v.encrypted = True
            return
        if local(root) != "OFD":
            self.problem("OFD_NO_ENTRY", "error", found.name, f"root element is <{local(root)}>, not <OFD>")
            return
        self.v.readable = True
        self.visited.add(found.name)
        self.content_found.add(found.name)
        d = self.v.details
        d["version"] = root.get("Version")
        d["doc_type"] = root.get("DocType")
        if root.get("DocType") != "OFD-A":
            self.problem(
                "OFDA_DOCTYPE",
                "warning",
                found.name,
                f"DocType is {root.get('DocType')!r}, not declared 'OFD-A'",
            )
        for el in root.iter():
            if local(el) in ("Encryptions", "Encryption"):
                self.v.encrypted = True
                self.problem(
                    "OFDA_ENCRYPTED", "error", found.name, "OFD.xml declares encryption (Encryptions)"
                )
                break
        self.scan_locations(root, found.name)
        bodies = children(root, "DocBody")
        for body in bodies:
            doc_ref = child_text(body, "DocRoot")
            if not doc_ref:
                self.problem("OFD_NO_DOCUMENT", "error", found.name, "DocBody has no DocRoot")
                continue
            doc_part = self.ref(doc_ref, "", found.name, "DocRoot")
            if doc_part is not None:
                self.document(doc_part)
            sig_ref = child_text(body, "Signatures")
            if sig_ref:
                sig_part = self.ref(sig_ref, "", found.name, "Signatures", content=False)
                if sig_part is not None:
                    self.signatures_file(sig_part)
        if not bodies:
            self.problem("OFD_NO_DOCUMENT", "error", found.name, "OFD.xml has no DocBody")
        d["documents"] = self.documents
        d["pages"] = self.pages
        d["fonts"] = self.fonts
        d["fonts_embedded"] = sum(1 for f in self.fonts if f["embedded"])
        d["fonts_not_embedded"] = sum(1 for f in self.fonts if not f["embedded"])
        d["signatures"] = self.signatures
        d["attachments"] = self.attachments
        d["entries"] = len(c.entries)
        d["encrypted_entries"] = list(c.encrypted_entries)

    def scan_locations(self, root: etree._Element, part: str) -> None:
        """OFD-A: no path-valued element or attribute may point outside the container."""
        for el in root.iter():
            name = local(el)
            values: list[tuple[str, str]] = []
            if name in _LOC_ELEMENTS and len(el) == 0:
                values.append((name, text(el)))
            for attr, value in el.attrib.items():
                attr_name = str(attr).rsplit("}", 1)[-1]
                if attr_name in _LOC_ATTRIBUTES:
                    values.append((f"{name}/@{attr_name}", str(value)))
            for what, value in values:
                if value and is_external(value):
                    self.problem(
                        "OFDA_EXTERNAL_REFERENCE",
                        "error",
                        part,
                        f"{what} points outside the container: {value}",
                    )
                elif value and not value.strip().startswith("/"):
                    try:
                        resolve(value, folder_of(part))
                    except OfdError as exc:
                        if exc.code == "OFD_EXTERNAL_PATH":
                            self.problem("OFDA_EXTERNAL_REFERENCE", "error", part, f"{what}: {exc.message}")
        self.scan_actions(root, part)

    def scan_actions(self, root: etree._Element, part: str) -> None:
        for action in root.iter():
            if local(action) != "Action":
                continue
            for kind in action:
                name = local(kind)
                if name == "URI":
                    target = kind.get("URI") or kind.get("Base") or text(kind)
                    self.problem("OFDA_ACTION_URI", "error", part, f"action opens a URI: {target}")
                elif name in ("Sound", "Movie"):
                    self.problem("OFDA_ACTION_MULTIMEDIA", "error", part, f"{name} action (plays multimedia)")

    def load(self, part: str) -> etree._Element | None:
        if not self.first_visit(part):
            return None
        root = self.xml(part)
        if root is not None:
            self.scan_locations(root, part)
        return root

    def document(self, part: str) -> None:
        doc = self.load(part)
        if doc is None:
            return
        self.documents += 1
        base = folder_of(part)
        common = child(doc, "CommonData")
        if common is not None:
            for kind in ("PublicRes", "DocumentRes"):
                for el in children(common, kind):
                    res = self.ref(text(el), base, part, kind)
                    if res is not None:
                        self.resources(res)
            for tpl in children(common, "TemplatePage"):
                loc = tpl.get("BaseLoc")
                if loc is not None:
                    page = self.ref(loc, base, part, "TemplatePage BaseLoc")
                    if page is not None:
                        self.content(page)
        pages = child(doc, "Pages")
        for page_el in descendants(pages, "Page") if pages is not None else []:
            loc = page_el.get("BaseLoc")
            self.pages += 1
            if loc is None:
                continue  # inline page content: already scanned with Document.xml
            page = self.ref(loc, base, part, "Page BaseLoc")
            if page is not None:
                self.content(page)
        for kind, handler in (
            ("Annotations", self.annotations),
            ("Attachments", self.attachments_file),
            ("CustomTags", self.custom_tags),
            ("Extensions", self.plain),
            ("Signatures", self.signatures_file),
        ):
            missing = "OFD_MISSING_ATTACHMENT" if kind == "Attachments" else "OFD_MISSING_PART"
            for el in children(doc, kind):
                target = self.ref(
                    text(el), base, part, kind, missing_rule=missing, content=kind != "Signatures"
                )
                if target is not None:
                    handler(target)

    def plain(self, part: str) -> None:
        self.load(part)

    def content(self, part: str) -> None:
        page = self.load(part)
        if page is None:
            return
        for el in children(page, "PageRes"):
            res = self.ref(text(el), folder_of(part), part, "PageRes")
            if res is not None:
                self.resources(res)

    def resources(self, part: str) -> None:
        res = self.load(part)
        if res is None:
            return
        base = folder_of(part)
        base_loc = res.get("BaseLoc")
        if base_loc:
            with contextlib.suppress(OfdError):  # a bad BaseLoc is reported by scan_locations
                base = resolve(base_loc, base) if not is_external(base_loc) else base
        for font in (f for group in children(res, "Fonts") for f in children(group, "Font")):
            file_ref = child_text(font, "FontFile")
            name = font.get("FontName", "")
            info: dict[str, Any] = {
                "id": font.get("ID"),
                "name": name,
                "family": font.get("FamilyName"),
                "part": part,
                "file": None,
                "embedded": False,
            }
            if not file_ref:
                self.problem(
                    "OFDA_FONT_NOT_EMBEDDED",
                    "error",
                    part,
                    f"font {name!r} (ID {font.get('ID')}) is not embedded: no FontFile",
                )
            else:
                found = self.ref(file_ref, base, part, f"FontFile of {name!r}")
                if found is None:
                    self.problem(
                        "OFDA_FONT_NOT_EMBEDDED",
                        "error",
                        part,
                        f"font {name!r} (ID {font.get('ID')}): FontFile {file_ref} is not in the container",
                    )
                elif self.c.size(found) == 0:
                    self.problem(
                        "OFDA_FONT_NOT_EMBEDDED", "error", found, f"font {name!r}: FontFile is empty"
                    )
                else:
                    info["file"] = found
                    info["embedded"] = True
            self.fonts.append(info)
        for media in (m for group in children(res, "MultiMedias") for m in children(group, "MultiMedia")):
            file_ref = child_text(media, "MediaFile")
            if file_ref:
                self.ref(file_ref, base, part, f"MediaFile of MultiMedia {media.get('ID')}")
        for space in (s for group in children(res, "ColorSpaces") for s in children(group, "ColorSpace")):
            profile = space.get("Profile")
            if profile:
                self.ref(profile, base, part, f"Profile of ColorSpace {space.get('ID')}")

    def annotations(self, part: str) -> None:
        root = self.load(part)
        if root is None:
            return
        for page in children(root, "Page"):
            loc = child_text(page, "FileLoc")
            if loc:
                target = self.ref(loc, folder_of(part), part, "annotation FileLoc")
                if target is not None:
                    self.load(target)

    def attachments_file(self, part: str) -> None:
        root = self.load(part)
        if root is None:
            return
        for att in children(root, "Attachment"):
            self.attachments += 1
            loc = child_text(att, "FileLoc")
            if loc:
                self.ref(
                    loc,
                    folder_of(part),
                    part,
                    f"attachment {att.get('Name', '')!r}",
                    missing_rule="OFD_MISSING_ATTACHMENT",
                )

    def custom_tags(self, part: str) -> None:
        root = self.load(part)
        if root is None:
            return
        for tag in children(root, "CustomTag"):
            for kind in ("FileLoc", "SchemaLoc"):
                loc = child_text(tag, kind)
                if loc:
                    self.ref(loc, folder_of(part), part, f"CustomTag {kind}")

    def signatures_file(self, part: str) -> None:
        self.in_signatures += 1
        try:
            self._signatures_file(part)
        finally:
            self.in_signatures -= 1

    def _signatures_file(self, part: str) -> None:
        root = self.load(part)
        if root is None:
            return
        for sig in children(root, "Signature"):
            self.signatures += 1
            loc = sig.get("BaseLoc", "")
            target = self.ref(loc, folder_of(part), part, f"Signature {sig.get('ID', '')} BaseLoc")
            if target is None:
                continue
            sx = self.load(target)
            if sx is None:
                continue
            signed_value = child_text(sx, "SignedValue")
            if signed_value:
                self.ref(signed_value, folder_of(target), target, "SignedValue")
            else:
                self.problem("OFD_MISSING_PART", "error", target, "Signature.xml names no SignedValue")
            info = child(sx, "SignedInfo")
            if info is None:
                continue
            seal = child(info, "Seal")
            if seal is not None and child_text(seal, "BaseLoc"):
                self.ref(child_text(seal, "BaseLoc"), folder_of(target), target, "Seal BaseLoc")
            refs = child(info, "References")
            for ref in children(refs, "Reference") if refs is not None else []:
                file_ref = ref.get("FileRef", "")
                if not file_ref:
                    self.problem("OFD_BAD_PATH", "error", target, "Reference without FileRef")
                    continue
                try:
                    found = self.c.find(file_ref, "") or self.c.find(file_ref, folder_of(target))
                except OfdError as exc:
                    self.problem("OFDA_EXTERNAL_REFERENCE", "error", target, f"Reference: {exc.message}")
                    continue
                if found is None:
                    self.problem("OFD_MISSING_PART", "error", target, f"signed file {file_ref} is missing")


def validate_ofd(path: str | Path, *, limits: OfdLimits | None = None) -> OfdValidation:
    """Check the structure and the OFD-A rules of the OFD at ``path`` (see the module docstring)."""
    result = OfdValidation(readable=False)
    try:
        container = OfdContainer(path, limits)
    except OfdError as exc:
        result.problems.append(OfdProblem(exc.code, "error", exc.target or str(path), exc.message))
        return result
    with container:
        validator = _Validator(container, result)
        validator.run()
        validator.check_entries()
    if not result.readable and not result.errors:  # never an unreadable verdict without its reason
        result.problems.append(OfdProblem("OFD_UNREADABLE", "error", str(path), "the OFD could not be read"))
    return result


def content_parts(container: OfdContainer) -> set[str]:
    """The parts the container's documents use as content: OFD.xml and everything the structure walk
    reaches from it (Document.xml, pages, templates, resources, fonts, media, annotations, attachments,
    custom tags, extensions) — not the signature lists nor the files signatures name.

    The signature coverage step uses it so that no content file can be passed off as a signature's own
    file. Problems found on the way are ignored here (:func:`validate_ofd` reports them).
    """
    validator = _Validator(container, OfdValidation(readable=False))
    validator.run()
    return validator.content_found


__all__ = ["OfdProblem", "OfdValidation", "content_parts", "validate_ofd"]
