"""Read and write the metadata XML (基本信息元数据.xml) and the batch manifest (批次清单.xml).

Element names come only from ``schema``; this module knows the nesting, not the names.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from dangan.core import xmlsafe
from dangan.core.errors import MetadataError
from dangan.core.package import schema as s
from dangan.core.package.model import (
    Applicant,
    ArchiveConfig,
    BatchManifest,
    BatchPackageEntry,
    CaseInfo,
    CasePackage,
    FileEntry,
    License,
    ProcessStep,
    ScopeItem,
)


def _read_fields(parent: etree._Element, group: s.Group, target: Any) -> None:
    for e in s.elements_of(group):
        setattr(target, e.attr, xmlsafe.text_of(parent, e.name))


def _write_fields(parent: etree._Element, group: s.Group, source: Any) -> None:
    for e in s.elements_of(group):
        value = getattr(source, e.attr)
        if value is not None:
            etree.SubElement(parent, e.name).text = str(value)


def parse_metadata(data: bytes, *, name: str = s.METADATA_FILENAME) -> CasePackage:
    """Parse the metadata XML. Raises MetadataError when it is not XML or not our root."""
    root = xmlsafe.parse(data, name=name)
    if root.tag != s.ROOT:
        raise MetadataError(f"{name}: root element is <{root.tag}>, expected <{s.ROOT}>", target=name)
    pkg = CasePackage(version=root.get(s.ROOT_VERSION_ATTR))
    pkg.groups_present = {child.tag for child in root if isinstance(child.tag, str)}

    cfg = root.find(s.Group.ARCHIVE_CONFIG)
    if cfg is not None:
        pkg.config = ArchiveConfig()
        _read_fields(cfg, s.Group.ARCHIVE_CONFIG, pkg.config)
        scope = cfg.find(s.Group.SCOPE)
        if scope is not None:
            for m in scope.findall(s.Group.SCOPE_ITEM):
                pkg.config.scope.append(
                    ScopeItem(
                        code=(m.get(s.SCOPE_ATTRS["code"]) or "").strip(),
                        name=(m.get(s.SCOPE_ATTRS["name"]) or "").strip(),
                        required=(m.get(s.SCOPE_ATTRS["necessity"]) or "").strip() == s.NECESSITY_REQUIRED,
                    )
                )

    case = root.find(s.Group.CASE)
    if case is not None:
        pkg.case = CaseInfo()
        _read_fields(case, s.Group.CASE, pkg.case)
        applicant = case.find(s.Group.APPLICANT)
        if applicant is not None:
            pkg.case.applicant = Applicant()
            _read_fields(applicant, s.Group.APPLICANT, pkg.case.applicant)

    process = root.find(s.Group.PROCESS)
    if process is not None:
        for el in process.findall(s.Group.STEP):
            step = ProcessStep(sequence=el.get(s.SEQUENCE_ATTR))
            _read_fields(el, s.Group.STEP, step)
            pkg.steps.append(step)

    licenses = root.find(s.Group.LICENSES)
    if licenses is not None:
        for el in licenses.findall(s.Group.LICENSE):
            lic = License()
            _read_fields(el, s.Group.LICENSE, lic)
            pkg.licenses.append(lic)

    files = root.find(s.Group.FILES)
    if files is not None:
        pkg.declared_file_count = files.get(s.FILES_COUNT_ATTR)
        pkg.declared_byte_total = files.get(s.FILES_BYTES_ATTR)
        for el in files.findall(s.Group.FILE):
            entry = FileEntry(sequence=el.get(s.SEQUENCE_ATTR))
            _read_fields(el, s.Group.FILE, entry)
            pkg.files.append(entry)
    return pkg


def metadata_xml(pkg: CasePackage) -> bytes:
    """Serialise ``pkg`` as metadata XML (UTF-8, with declaration)."""
    root = etree.Element(s.ROOT)
    root.set(s.ROOT_VERSION_ATTR, pkg.version or s.FORMAT_VERSION)

    cfg = etree.SubElement(root, s.Group.ARCHIVE_CONFIG)
    _write_fields(cfg, s.Group.ARCHIVE_CONFIG, pkg.config)
    if pkg.config.scope:
        scope = etree.SubElement(cfg, s.Group.SCOPE)
        for item in pkg.config.scope:
            m = etree.SubElement(scope, s.Group.SCOPE_ITEM)
            m.set(s.SCOPE_ATTRS["code"], item.code)
            m.set(s.SCOPE_ATTRS["name"], item.name)
            m.set(s.SCOPE_ATTRS["necessity"], s.NECESSITY_REQUIRED if item.required else s.NECESSITY_OPTIONAL)

    case = etree.SubElement(root, s.Group.CASE)
    _write_fields(case, s.Group.CASE, pkg.case)
    if pkg.case.applicant is not None:
        # 申请人 sits after 统一社会信用代码 in document order; the XSD uses xs:all so order is free.
        applicant = etree.SubElement(case, s.Group.APPLICANT)
        _write_fields(applicant, s.Group.APPLICANT, pkg.case.applicant)

    process = etree.SubElement(root, s.Group.PROCESS)
    for i, step in enumerate(pkg.steps, 1):
        el = etree.SubElement(process, s.Group.STEP)
        el.set(s.SEQUENCE_ATTR, step.sequence or str(i))
        _write_fields(el, s.Group.STEP, step)

    licenses = etree.SubElement(root, s.Group.LICENSES)
    for lic in pkg.licenses:
        _write_fields(etree.SubElement(licenses, s.Group.LICENSE), s.Group.LICENSE, lic)

    files = etree.SubElement(root, s.Group.FILES)
    if pkg.declared_file_count is not None:
        files.set(s.FILES_COUNT_ATTR, pkg.declared_file_count)
    if pkg.declared_byte_total is not None:
        files.set(s.FILES_BYTES_ATTR, pkg.declared_byte_total)
    for i, entry in enumerate(pkg.files, 1):
        el = etree.SubElement(files, s.Group.FILE)
        el.set(s.SEQUENCE_ATTR, entry.sequence or str(i))
        _write_fields(el, s.Group.FILE, entry)
    return xmlsafe.serialize(root)


def parse_batch_manifest(data: bytes, *, name: str = s.BATCH_MANIFEST_FILENAME) -> BatchManifest:
    root = xmlsafe.parse(data, name=name)
    if root.tag != s.BATCH_ROOT:
        raise MetadataError(f"{name}: root element is <{root.tag}>, expected <{s.BATCH_ROOT}>", target=name)
    manifest = BatchManifest()
    for attr, tag in s.BATCH_FIELDS.items():
        setattr(manifest, attr, xmlsafe.text_of(root, tag))
    packages = root.find(s.BATCH_PACKAGES)
    if packages is not None:
        for el in packages.findall(s.BATCH_PACKAGE):
            entry = BatchPackageEntry()
            for attr, tag in s.BATCH_PACKAGE_FIELDS.items():
                setattr(entry, attr, xmlsafe.text_of(el, tag))
            manifest.packages.append(entry)
    return manifest


def batch_manifest_xml(manifest: BatchManifest) -> bytes:
    root = etree.Element(s.BATCH_ROOT)
    for attr, tag in s.BATCH_FIELDS.items():
        value = getattr(manifest, attr)
        if value is not None:
            etree.SubElement(root, tag).text = value
    packages = etree.SubElement(root, s.BATCH_PACKAGES)
    for entry in manifest.packages:
        el = etree.SubElement(packages, s.BATCH_PACKAGE)
        for attr, tag in s.BATCH_PACKAGE_FIELDS.items():
            value = getattr(entry, attr)
            if value is not None:
                etree.SubElement(el, tag).text = value
    return xmlsafe.serialize(root)
