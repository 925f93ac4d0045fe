"""Generate consistent, realistic demo cases (办件) and write them as archival information packages.

``build_case`` builds one case: applicant, process steps with handlers and opinions, the
electronic licence, and every file of the item's archiving scope as real content (PDF, JPEG scan,
WAV, MP4, OFD). ``generate`` writes a batch of cases as folders or ZIPs plus the batch manifest.
Everything comes from the seed: the same seed gives byte-identical output on any day.
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from dangan.core import sm
from dangan.core.package import schema
from dangan.core.package.metadata import batch_manifest_xml, metadata_xml
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
from dangan.core.package.writer import complete, package_name, write_folder
from dangan.demo import people
from dangan.demo.catalog import (
    DEMO_FONDS,
    DEMO_YEARS,
    SERVICE_ITEMS,
    DemoFonds,
    DemoMaterial,
    DemoServiceItem,
)
from dangan.demo.documents import CaseFacts, StepFacts, render
from dangan.demo.files import DEFAULT_OPTIONS, FileOptions, OfdLicense, zip_info

BATCH_STANDARD = "GB/T 42727-2023"

# --- one case ----------------------------------------------------------------------------------

_STEP_MINUTES: dict[str, tuple[int, int]] = {  # duration of the fixed steps (working minutes)
    "收件": (3, 15),
    "受理": (2, 12),
    "送达": (5, 40),
    "办结": (1, 5),
}
_WINDOW_STEPS = ("收件", "受理", "送达", "办结")

_FROM_REGIONS = (
    "福建省厦门市",
    "广东省深圳市",
    "浙江省杭州市",
    "江苏省苏州市",
    "上海市",
    "江西省南昌市",
    "湖南省长沙市",
)
_FUND_REASONS = ("购买自住住房", "租赁自住住房", "偿还自住住房贷款本息", "离休、退休")
_SHOP_SCOPES = (
    "食品销售；日用百货零售",
    "餐饮服务",
    "理发及美容服务",
    "五金产品零售",
    "水果零售",
    "家用电器修理",
)
_PROJECTS = ("花园", "府", "学校教学楼", "产业园", "商业综合体", "安置房", "医院门诊楼", "人才公寓")


def _opinion(step: str, item: DemoServiceItem, facts: dict[str, str], n_files: int) -> str:
    result = item.result
    if step == "收件":
        return f"申请材料已收取，共{n_files}项，材料齐全。"
    if step == "受理":
        return "申请材料齐全、符合法定形式，予以受理。"
    if step == "现场勘验":
        return "经现场勘验，施工场地已具备施工条件，现场情况与申报材料一致。"
    if step in ("审查", "审核"):
        basis = {
            "企业设立登记": "《中华人民共和国市场主体登记管理条例》",
            "个体工商户设立登记": "《促进个体工商户发展条例》",
            "社会保险关系转移": "《城镇企业职工基本养老保险关系转移接续暂行办法》",
            "住房公积金提取": "《住房公积金管理条例》第二十四条",
            "建筑工程施工许可证核发": "《建筑工程施工许可管理办法》第四条",
            "不动产登记": "《不动产登记暂行条例》",
        }.get(item.name, "有关规定")
        return f"经{step}，申请材料齐全、真实，符合{basis}规定的条件，建议{result}。"
    if step == "决定":
        return f"同意，{result}。"
    if step == "登簿":
        return "经审核无误，已记载于不动产登记簿。"
    if step == "缮证":
        return f"已缮制不动产权证书，证书号{facts.get('license_number', '')}。"
    if step == "送达":
        if facts.get("waybill"):
            return f"已通过EMS邮寄送达，运单号{facts['waybill']}。"
        return "申请人已在窗口现场领取办理结果。"
    if step == "办结":
        return f"已办结，办理结果：{result}。"
    return "同意。"


def _timeline(
    rng: random.Random, item: DemoServiceItem, accepted_at: datetime
) -> list[tuple[str, datetime, datetime]]:
    budget = rng.randint(*item.duration_days) * 540 + rng.randint(20, 240)
    middle = [s for s in item.steps if s not in _STEP_MINUTES]
    weights = [rng.uniform(0.5, 2.0) for _ in middle]
    total_w = sum(weights) or 1.0
    out: list[tuple[str, datetime, datetime]] = []
    cursor = accepted_at
    for name in item.steps:
        if name in _STEP_MINUTES:
            lo, hi = _STEP_MINUTES[name]
            gap = 0 if name == "收件" else rng.randint(0, 8)
            start = people.add_work_minutes(cursor, gap) if gap else cursor
            end = people.add_work_minutes(start, rng.randint(lo, hi))
        else:
            share = max(10, int(budget * weights[middle.index(name)] / total_w))
            gap = int(share * rng.uniform(0.2, 0.7))
            start = people.add_work_minutes(cursor, gap)
            end = people.add_work_minutes(start, max(5, share - gap))
        start = start.replace(microsecond=0)
        end = end.replace(microsecond=0)
        out.append((name, start, end))
        cursor = end
    return out


def _unit_number(rng: random.Random, region: str) -> str:
    """不动产单元号 (28 characters): 6 region + 6 cadastral zone + GB + 5 parcel + F + 8 building/unit."""
    return (
        f"{region}{rng.randint(1, 20):03d}{rng.randint(1, 30):03d}GB{rng.randint(1, 99999):05d}"
        f"F{rng.randint(1, 999):04d}{rng.randint(1, 9999):04d}"
    )


@dataclass
class BuiltCase:
    pkg: CasePackage
    files: dict[str, bytes]
    facts: CaseFacts  # what the documents say; lets callers re-render a material (e.g. a re-scan)


def build_case(
    rng: random.Random,
    item: DemoServiceItem,
    index: int,
    fonds: DemoFonds = DEMO_FONDS,
    *,
    options: FileOptions = DEFAULT_OPTIONS,
    include_optional: bool | None = None,
    years: tuple[int, ...] = DEMO_YEARS,
) -> BuiltCase:
    """One complete, consistent case of ``item``; ``index`` (0-based) gives the serial.

    Optional materials are included at random unless ``include_optional`` says otherwise. Returns the
    package (sizes, SM3 digests and totals filled by ``writer.complete``), its files by path, and the
    facts the documents state (so a caller can re-render one material, e.g. a re-scan).
    """
    serial = index + 1
    region = fonds.region_code
    year = rng.choice(years)
    accepted_day = people.random_workday(rng, year, last=(11, 30))
    accepted_at = people.work_time(rng, accepted_day)
    if accepted_at.time() > time(16, 30):
        accepted_at = accepted_at.replace(hour=16, minute=rng.randint(0, 29))
    applied_on = accepted_day if rng.random() < 0.7 else accepted_day - timedelta(days=rng.randint(1, 3))

    # applicant
    details: dict[str, str] = {}
    company = None
    credit_code: str | None = None
    if item.applicant_kind == "法人":
        industry = "置业" if item.name == "建筑工程施工许可证核发" else None
        company = people.company(rng, region=people.district(rng)[1], on=accepted_day, industry=industry)
        person = company.legal_representative
        credit_code = company.credit_code
        applicant = Applicant(
            name=company.name,
            kind="法人",
            id_type="统一社会信用代码",
            id_number=company.credit_code,
            address=company.address,
            legal_representative=person.name,
            phone=company.phone,
        )
        holder = company.name
    else:
        person = people.person(rng, on=accepted_day)
        applicant = Applicant(
            name=person.name,
            kind="自然人",
            id_type="居民身份证",
            id_number=person.id_number,
            address=person.address,
            phone=person.phone,
        )
        holder = person.name

    # item-specific facts
    if item.name == "个体工商户设立登记":
        holder = people.shop_name(rng, person.name)
        credit_code = people.credit_code(rng, region=people.district(rng)[1], kind="2")
        details["shop"] = holder
        details["business_scope"] = rng.choice(_SHOP_SCOPES)
    elif item.name == "社会保险关系转移":
        details["from_region"] = rng.choice(_FROM_REGIONS)
        details["to_region"] = "福建省示范市"
        details["insured_months"] = str(rng.randint(12, 300))
        details["wage_base"] = str(rng.choice((4000, 5000, 6000, 7500, 9000, 12000)))
    elif item.name == "住房公积金提取":
        details["fund_account"] = "".join(rng.choice("0123456789") for _ in range(12))
        details["reason"] = rng.choice(_FUND_REASONS)
        details["amount"] = f"{rng.randint(50, 1200) * 100}.00"
        details["seller"] = people.company(rng, region=region, industry="置业").name
        details["property"] = people.address(rng)
        details["area"] = f"{rng.uniform(60, 150):.2f}"
        details["price"] = str(rng.randint(80, 400))
    elif item.name == "建筑工程施工许可证核发":
        d, _ = people.district(rng)
        details["project"] = f"{rng.choice(people.TRADE_NAMES)}{rng.choice(_PROJECTS)}{rng.randint(1, 12)}#楼"
        details["site"] = (
            f"{people.CITY}{d}{rng.choice(people.ROADS)}以{rng.choice('东南西北')}、规划路以{rng.choice('东南西北')}"
        )
        details["area"] = f"{rng.uniform(3000, 60000):.2f}"
        details["price"] = str(rng.randint(800, 30000))
        details["days"] = str(rng.randint(180, 900))
        details["contractor"] = people.company(rng, region=region, industry="建筑工程").name
    elif item.name == "不动产登记":
        details["property"] = people.address(rng)
        details["unit_number"] = _unit_number(rng, people.district(rng)[1])
        details["seller"] = people.person_name(rng)
        details["area"] = f"{rng.uniform(45, 180):.2f}"
        details["price"] = str(rng.randint(60, 600))

    # licence number (needed by step opinions)
    license_number: str | None = None
    if item.license_type == "营业执照":
        license_number = credit_code
    elif item.license_type == "建筑工程施工许可证":
        license_number = f"{region}{accepted_day:%Y%m%d}{rng.randint(1, 99):02d}01"
    elif item.license_type == "不动产权证书":
        license_number = f"{people.PROVINCE_ABBR}（{year}）示范市不动产权第{rng.randint(1, 99999):07d}号"
    details_for_opinion = {"license_number": license_number} if license_number else {}
    if rng.random() < 0.3:
        details_for_opinion["waybill"] = f"11{rng.randint(10**10, 10**11 - 1)}"

    # materials in this case
    materials: list[DemoMaterial] = [
        m
        for m in item.materials
        if m.required or (include_optional if include_optional is not None else rng.random() < 0.6)
    ]

    # process steps
    window = people.staff_names(fonds.accepting_unit, 8)
    staff = people.staff_names(item.agency, 6)
    leaders = people.staff_names(item.agency + "（领导）", 2)
    case_window = rng.choice(window)
    steps: list[StepFacts] = []
    for name, start, end in _timeline(rng, item, accepted_at):
        if name in ("收件", "受理"):
            handler = case_window
        elif name in _WINDOW_STEPS:
            handler = rng.choice(window)
        elif name == "决定":
            handler = rng.choice(leaders)
        else:
            handler = rng.choice(staff)
        steps.append(
            StepFacts(name, handler, _opinion(name, item, details_for_opinion, len(materials)), start, end)
        )
    completed_at = steps[-1].ended

    # licence
    lic: OfdLicense | None = None
    if item.license_type and license_number:
        issue_step = next((s for s in steps if s.name in ("缮证", "决定")), steps[-1])
        issued = issue_step.ended.date()
        valid_to = (
            people.same_day_in_year(issued, issued.year + item.license_years) if item.license_years else None
        )
        rows: list[tuple[str, str]]
        if item.name == "企业设立登记":
            assert company is not None
            rows = [
                ("类型", "有限责任公司（自然人投资或控股）"),
                ("法定代表人", person.name),
                ("注册资本", f"{company.registered_capital}万元整"),
                ("成立日期", people.cn_date(issued)),
                ("住所", company.address),
                ("经营范围", company.business_scope),
            ]
        elif item.name == "个体工商户设立登记":
            rows = [
                ("类型", "个体工商户"),
                ("经营者", person.name),
                ("组成形式", "个人经营"),
                ("注册日期", people.cn_date(issued)),
                ("经营场所", person.address),
                ("经营范围", details["business_scope"]),
            ]
        elif item.name == "建筑工程施工许可证核发":
            rows = [
                ("工程名称", details["project"]),
                ("建设地址", details["site"]),
                ("建设规模", f"{details['area']}平方米"),
                ("合同价格", f"{details['price']}万元"),
                ("施工单位", details["contractor"]),
                ("合同工期", f"{details['days']}天"),
            ]
        else:
            rows = [
                ("共有情况", "单独所有"),
                ("坐落", details["property"]),
                ("不动产单元号", details["unit_number"]),
                ("权利类型", "国有建设用地使用权/房屋所有权"),
                ("权利性质", "出让/市场化商品房"),
                ("用途", "城镇住宅用地/住宅"),
                ("面积", f"房屋建筑面积{details['area']}平方米"),
            ]
        lic = OfdLicense(
            title=item.license_type,
            number=license_number,
            holder=holder,
            issuer=item.agency,
            issued=issued,
            valid_from=issued,
            valid_to=valid_to,
            fields=tuple(rows),
        )

    file_number = f"{region}-{fonds.code}-{item.code}-{completed_at.year}-{item.retention}-{serial:06d}"
    case_number = f"{region}{accepted_day:%Y%m%d}{item.code[-4:]}{serial:06d}"
    acceptance_number = f"SL-{accepted_day:%Y%m%d}-{serial:06d}"
    facts = CaseFacts(
        item=item,
        fonds=fonds,
        serial=serial,
        file_number=file_number,
        case_number=case_number,
        acceptance_number=acceptance_number,
        applicant_name=applicant.name or "",
        applicant_kind=applicant.kind or "",
        applicant_id_type=applicant.id_type or "",
        applicant_id_number=applicant.id_number or "",
        applicant_address=applicant.address or "",
        applicant_phone=applicant.phone or "",
        person=person,
        company=company,
        holder=holder,
        credit_code=credit_code,
        applied_on=applied_on,
        accepted_at=accepted_at,
        completed_at=completed_at,
        steps=steps,
        details=details,
        license=lic,
    )

    files: dict[str, bytes] = {}
    entries: list[FileEntry] = []
    for i, m in enumerate(materials, 1):
        data = render(facts, m, rng, options)
        files[m.path] = data
        step = facts.step(m.step)
        span = int((step.ended - step.started).total_seconds())
        # saved shortly before the step ended (within its last 20 minutes)
        created = step.ended - timedelta(seconds=rng.randint(0, min(span, 1200)))
        entries.append(
            FileEntry(
                sequence=str(i),
                material_code=m.code,
                category=m.category,
                standard_name=m.name,
                actual_name=m.file_name,
                path=m.path,
                created_at=people.iso(created),
                sharing=_sharing(m),
            )
        )

    archived = people.work_time(
        rng, people.next_workday(completed_at.date() + timedelta(days=rng.randint(1, 10)))
    )
    pkg = CasePackage(
        version=schema.FORMAT_VERSION,
        config=ArchiveConfig(
            item_code=item.code,
            item_name=item.name,
            item_version=item.version,
            item_type=item.item_type,
            implementing_agency=item.agency,
            retention=item.retention,
            scope=[ScopeItem(s.code, s.name, s.required) for s in item.scope],
        ),
        case=CaseInfo(
            file_number=file_number,
            case_number=case_number,
            title=f"关于{holder}{item.name}的办件",
            case_type=item.case_type,
            region_code=region,
            fonds_code=fonds.code,
            fonds_unit=fonds.unit,
            credit_code=credit_code,
            accepting_unit=fonds.accepting_unit,
            accepted_at=people.iso(accepted_at),
            completed_at=people.iso(completed_at),
            result=item.result,
            result_license_number=license_number,
            acceptance_number=acceptance_number,
            security_class="内部" if item.applicant_kind == "自然人" else "公开",
            retention=item.retention,
            archived_at=people.iso(archived),
            remarks=rng.choice((None, "网上申报", "窗口申报", "全程网办", "帮办代办")),
            applicant=applicant,
        ),
        steps=[
            ProcessStep(
                sequence=str(i),
                name=s.name,
                handler=s.handler,
                opinion=s.opinion,
                started_at=people.iso(s.started),
                ended_at=people.iso(s.ended),
            )
            for i, s in enumerate(steps, 1)
        ],
        licenses=(
            [
                License(
                    license_type=lic.title,
                    license_number=lic.number,
                    issuer=lic.issuer,
                    valid_from=lic.valid_from.isoformat(),
                    valid_to=lic.valid_to.isoformat() if lic.valid_to else None,
                    holder=lic.holder,
                    path=next(m.path for m in materials if m.code.startswith("L")),
                )
            ]
            if lic is not None
            else []
        ),
        files=entries,
    )
    complete(pkg, files)
    return BuiltCase(pkg, files, facts)


def _sharing(m: DemoMaterial) -> str:
    if m.category == "电子证照":
        return "无条件共享"
    if m.category == "结果材料":
        return "有条件共享"
    if m.category == "过程材料":
        return "不予共享"
    return "有条件共享"


# --- writing packages --------------------------------------------------------------------------


def archived_moment(pkg: CasePackage) -> datetime:
    """The package's 归档时间 as a datetime (used for ZIP entry dates); a fixed date if absent."""
    try:
        return datetime.fromisoformat(pkg.case.archived_at or "")
    except ValueError:
        return datetime(2024, 1, 1, 9, 0, 0)


def write_zip_package(
    pkg: CasePackage,
    files: Mapping[str, bytes],
    dest: Path,
    *,
    metadata: bytes | None = None,
    moment: datetime | None = None,
    name: str | None = None,
) -> Path:
    """Write ``dest/<电子文件号>.zip`` like ``writer.write_zip`` but byte-reproducible (entry dates fixed)."""
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / (name or f"{package_name(pkg)}.zip")
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    when = moment or archived_moment(pkg)
    with zipfile.ZipFile(final, "w") as zf:
        zf.writestr(
            zip_info(schema.METADATA_FILENAME, when), metadata if metadata is not None else metadata_xml(pkg)
        )
        for rel, data in files.items():
            zf.writestr(zip_info(rel, when), data)
    return final


@dataclass(frozen=True)
class WrittenPackage:
    path: Path
    pkg: CasePackage
    size: int  # bytes of the ZIP, or of all files in the folder
    digest: str  # SM3 of the ZIP, or of the folder's metadata XML
    file_count: int


def write_package(
    pkg: CasePackage, files: Mapping[str, bytes], dest: Path, *, as_zip: bool
) -> WrittenPackage:
    """Write one package (folder or reproducible ZIP) and measure it for the batch manifest."""
    metadata = metadata_xml(pkg)
    if as_zip:
        path = write_zip_package(pkg, files, dest, metadata=metadata)
        data = path.read_bytes()
        return WrittenPackage(path, pkg, len(data), sm.sm3_hex(data), len(files))
    path = write_folder(pkg, files, dest, metadata=metadata)
    size = len(metadata) + sum(len(d) for d in files.values())
    return WrittenPackage(path, pkg, size, sm.sm3_hex(metadata), len(files))


def batch_manifest(written: list[WrittenPackage], fonds: DemoFonds, seed: int) -> BatchManifest:
    """批次清单 over the written packages; 发送时间 is the next working day after the last 归档时间."""
    last = max((archived_moment(w.pkg) for w in written), default=datetime(2024, 1, 1))
    sent = datetime.combine(people.next_workday(last.date() + timedelta(days=1)), time(9, 0))
    return BatchManifest(
        system_code=fonds.system_code,
        batch_number=f"{fonds.code}-{sent:%Y%m%d}-{seed % 1_000_000:06d}",
        sent_at=people.iso(sent),
        package_count=str(len(written)),
        byte_total=str(sum(w.size for w in written)),
        file_total=str(sum(w.file_count for w in written)),
        standard=BATCH_STANDARD,
        packages=[
            BatchPackageEntry(
                name=w.path.name,
                fonds_code=w.pkg.case.fonds_code,
                item_code=w.pkg.config.item_code,
                title=w.pkg.case.title,
                size=str(w.size),
                digest_algorithm="SM3",
                digest=w.digest,
            )
            for w in written
        ],
    )


def case_rng(seed: int, index: int) -> random.Random:
    """The random source of case ``index`` of a batch with ``seed`` (independent of other cases)."""
    return people.seeded("dangan-demo", seed, index)


def pick_item(
    rng: random.Random, index: int, items: tuple[DemoServiceItem, ...] = SERVICE_ITEMS
) -> DemoServiceItem:
    """The first cases cover every item once; after that items come by their weights."""
    if index < len(items):
        return items[index]
    return rng.choices(items, weights=[i.weight for i in items])[0]


def serial_base(seed: int) -> int:
    """Serials start at a seed-dependent 10,000 block, so batches made with different seeds can be
    ingested into one archive without 电子文件号 clashes (seeds 98 apart share a block)."""
    return (seed % 98 + 1) * 10_000


def generate(
    out_dir: Path,
    *,
    cases: int,
    seed: int,
    as_zip: bool = False,
    batch: bool = True,
    progress: Callable[[int], None] | None = None,
    options: FileOptions = DEFAULT_OPTIONS,
    fonds: DemoFonds = DEMO_FONDS,
    items: tuple[DemoServiceItem, ...] = SERVICE_ITEMS,
) -> list[Path]:
    """Write ``cases`` packages into ``out_dir`` (folders, or ZIPs with ``as_zip``) and, with ``batch``,
    the batch manifest ``批次清单.xml``. ``progress`` is called with the number of cases written so far.
    Returns the package paths in order. Raises FileExistsError if a package (or, with ``batch``, the
    manifest) is already there; nothing is overwritten.
    """
    out_dir = Path(out_dir)
    manifest_path = out_dir / schema.BATCH_MANIFEST_FILENAME
    if batch and manifest_path.exists():
        raise FileExistsError(f"{manifest_path} already exists")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[WrittenPackage] = []
    for index in range(cases):
        rng = case_rng(seed, index)
        item = pick_item(rng, index, items)
        built = build_case(rng, item, serial_base(seed) + index, fonds, options=options)
        written.append(write_package(built.pkg, built.files, out_dir, as_zip=as_zip))
        if progress is not None:
            progress(index + 1)
    if batch:
        manifest = batch_manifest(written, fonds, seed)
        manifest_path.write_bytes(batch_manifest_xml(manifest))
    return [w.path for w in written]
