"""The words on the demo documents: what an application form, a notice, a review opinion, a decision,
a contract or a licence of one case says, built from that case's facts and rendered by ``files``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from dangan.demo import files as f
from dangan.demo import people
from dangan.demo.catalog import DemoFonds, DemoMaterial, DemoServiceItem, Doc
from dangan.demo.people import Company, Person, cn_date


@dataclass(frozen=True)
class StepFacts:
    name: str
    handler: str
    opinion: str
    started: datetime
    ended: datetime


@dataclass
class CaseFacts:
    """Everything the documents of one case refer to (kept consistent across all its files)."""

    item: DemoServiceItem
    fonds: DemoFonds
    serial: int
    file_number: str
    case_number: str
    acceptance_number: str
    applicant_name: str
    applicant_kind: str  # 法人 / 自然人
    applicant_id_type: str
    applicant_id_number: str
    applicant_address: str
    applicant_phone: str
    person: Person  # the natural person applying, or the legal representative
    company: Company | None  # the applying company (法人 applicants)
    holder: str  # who the result/licence is for
    credit_code: str | None
    applied_on: date
    accepted_at: datetime
    completed_at: datetime
    steps: list[StepFacts] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # item-specific facts (project, property …)
    license: f.OfdLicense | None = None

    def step(self, name: str) -> StepFacts:
        for s in self.steps:
            if s.name == name:
                return s
        return self.steps[-1]

    @property
    def year(self) -> int:
        return self.accepted_at.year


_AGENCY_ABBR = {
    "示范市行政审批服务局": "示审",
    "示范市社会保险事业管理中心": "示社保",
    "示范市住房公积金管理中心": "示公积金",
    "示范市不动产登记中心": "示不动产",
}


def doc_number(facts: CaseFacts, kind: str) -> str:
    """文号 like 示审受字〔2024〕第000123号 (kind: 受 notice, 决 decision, 审 review)."""
    abbr = _AGENCY_ABBR.get(facts.item.agency, "示")
    return f"{abbr}{kind}字〔{facts.year}〕第{facts.serial:06d}号"


_CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 12 → 十二, 25 → 二十五, 101 → 一百零一 (enough for clause numbers)."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _CN_DIGITS[n // 10] + "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + cn_number(rest) if rest < 10 else cn_number(rest))
    if 10 <= rest < 20:
        tail = "一" + tail
    return _CN_DIGITS[n // 100] + "百" + tail


def _clauses(templates: Sequence[str], values: dict[str, str], scale: float) -> list[str]:
    count = max(len(templates), int(len(templates) * scale))
    out = []
    for i in range(count):
        t = templates[i % len(templates)]
        text = t.format(**values)
        if i >= len(templates):
            text = "（补充）" + text
        out.append(f"第{cn_number(i + 1)}条　{text}")
    return out


_CHARTER = (
    "为规范公司的组织和行为，保护公司、股东和债权人的合法权益，根据《中华人民共和国公司法》和有关法律、"
    "法规的规定，制定本章程。",
    "公司名称：{company}。",
    "公司住所：{address}。",
    "公司注册资本为人民币{capital}万元，股东以货币方式出资，于公司成立之日起五年内缴足。",
    "公司的经营范围：{scope}（依法须经批准的项目，经相关部门批准后方可开展经营活动）。",
    "公司为有限责任公司，股东以其认缴的出资额为限对公司承担责任，公司以其全部财产对公司的债务承担责任。",
    "股东会由全体股东组成，是公司的权力机构，依照《中华人民共和国公司法》行使职权。",
    "股东会会议由股东按照出资比例行使表决权；股东会作出决议，应当经代表过半数表决权的股东通过。",
    "公司不设董事会，设董事一人，由股东会选举产生，任期三年，任期届满可连选连任。",
    "董事为公司的法定代表人。公司法定代表人为{legal}。",
    "公司不设监事会，设监事一人，由股东会选举产生。董事、高级管理人员不得兼任监事。",
    "公司应当依照法律、行政法规和国务院财政部门的规定建立本公司的财务、会计制度。",
    "公司分配当年税后利润时，应当提取利润的百分之十列入公司法定公积金。",
    "公司因本章程规定的解散事由出现或者股东会决议解散的，应当在十五日内成立清算组进行清算。",
    "本章程与法律、行政法规不一致的，以法律、行政法规的规定为准。",
    "本章程自全体股东签署之日起生效，一式三份，公司留存一份，并报登记机关备案一份。",
)

_CONSTRUCTION_CONTRACT = (
    "发包人：{owner}；承包人：{contractor}。根据《中华人民共和国民法典》《中华人民共和国建筑法》及有关法律规定，"
    "遵循平等、自愿、公平和诚实信用的原则，双方就{project}施工及有关事项协商一致，共同达成如下协议。",
    "工程名称：{project}；工程地点：{site}。",
    "工程内容：土建、安装、装饰装修工程，建筑面积约{area}平方米。",
    "承包范围：施工图纸范围内的全部工程内容，具体以工程量清单为准。",
    "合同工期：计划开工日期以施工许可证载明日期为准，总工期{days}日历天。",
    "质量标准：工程质量符合国家现行验收规范，一次验收合格。",
    "签约合同价为人民币{price}万元（含税），其中安全文明施工费按规定单列。",
    "工程款按月支付进度款，支付比例为已完工程价款的百分之七十五；竣工验收合格后支付至百分之九十七。",
    "质量保证金为结算价款的百分之三，缺陷责任期为二十四个月。",
    "承包人应当按照安全生产法律法规组织施工，建立健全安全生产责任制度。",
    "承包人不得将其承包的全部工程转包给第三人，不得将工程肢解后以分包的名义转包。",
    "因一方违约造成对方损失的，违约方应当承担相应的赔偿责任。",
    "双方因本合同发生争议的，应协商解决；协商不成的，向工程所在地人民法院提起诉讼。",
    "本合同一式八份，发包人、承包人各执四份，具有同等法律效力，自双方签字盖章之日起生效。",
)

_HOUSE_CONTRACT = (
    "出卖人：{seller}；买受人：{buyer}。双方根据《中华人民共和国民法典》及相关法律法规，就房屋买卖事项达成如下协议。",
    "房屋坐落：{property}，房屋建筑面积{area}平方米，用途为住宅。",
    "该房屋已取得不动产权证书，权属清晰，无查封、抵押等权利限制。",
    "成交价格为人民币{price}万元（大写：{price_cn}万元整）。",
    "买受人采用一次性付款方式，于签订本合同之日起十五日内将房款存入资金监管账户。",
    "出卖人应当于不动产转移登记完成之日起三十日内将房屋交付买受人。",
    "双方应于本合同签订之日起三十日内共同向不动产登记机构申请办理转移登记。",
    "交易税费按照国家及本市有关规定由双方各自承担。",
    "出卖人逾期交付房屋的，按日向买受人支付已付房款万分之一的违约金。",
    "本合同自双方签字之日起生效，一式四份，双方各执一份，不动产登记机构存档一份，资金监管机构一份。",
)


def _contract_values(facts: CaseFacts) -> dict[str, str]:
    d = facts.details
    price = d.get("price", "100")
    return {
        "owner": facts.applicant_name,
        "contractor": d.get("contractor", ""),
        "project": d.get("project", ""),
        "site": d.get("site", ""),
        "area": d.get("area", ""),
        "days": d.get("days", "365"),
        "price": price,
        "price_cn": "".join(_CN_DIGITS[int(c)] for c in price if c.isdigit()),
        "seller": d.get("seller", ""),
        "buyer": facts.applicant_name,
        "property": d.get("property", ""),
    }


def _applicant_rows(facts: CaseFacts) -> list[tuple[str, str]]:
    p = facts.person
    if facts.company is not None:
        c = facts.company
        rows = [
            ("单位名称", c.name),
            ("住所", c.address),
            ("法定代表人", p.name),
            ("法定代表人身份证号码", p.id_number),
            ("联系电话", c.phone),
        ]
        if facts.item.name == "企业设立登记":
            rows += [("注册资本", f"{c.registered_capital}万元人民币"), ("经营范围", c.business_scope)]
        else:
            rows.insert(1, ("统一社会信用代码", c.credit_code))
        return rows
    return [
        ("姓名", p.name),
        ("性别", "女" if p.female else "男"),
        ("出生日期", cn_date(p.birth)),
        ("公民身份号码", p.id_number),
        ("住址", p.address),
        ("联系电话", p.phone),
    ]


def _detail_rows(facts: CaseFacts) -> list[tuple[str, str]]:
    labels = {
        "shop": "个体工商户名称",
        "business_scope": "经营范围",
        "from_region": "转出地",
        "to_region": "转入地",
        "insured_months": "累计缴费月数",
        "amount": "提取金额（元）",
        "reason": "提取原因",
        "fund_account": "个人公积金账号",
        "project": "工程名称",
        "site": "建设地址",
        "area": "建设规模（平方米）",
        "price": "合同价格（万元）",
        "contractor": "施工单位",
        "property": "不动产坐落",
        "unit_number": "不动产单元号",
        "seller": "原权利人",
    }
    return [(label, facts.details[key]) for key, label in labels.items() if key in facts.details]


def _ascii_lines(facts: CaseFacts, doc: Doc, rng: random.Random) -> list[str]:
    """ASCII text printed on a scan (Pillow has no CJK font here)."""
    p = facts.person
    if doc == Doc.ID_CARD:
        issued = people.same_day_in_year(p.birth, min(p.birth.year + 30, facts.year - 1))
        return [
            f"ID NO. {p.id_number}",
            f"BIRTH {p.birth:%Y.%m.%d}",
            f"SEX {'F' if p.female else 'M'}",
            f"REGION {p.id_number[:6]}",
            "",
            f"ISSUED BY PSB {p.id_number[:6]}",
            f"VALID {issued:%Y.%m.%d}-{people.same_day_in_year(issued, issued.year + 20):%Y.%m.%d}",
            "",
            f"FOR CASE {facts.case_number} ONLY",
            f"{facts.applied_on:%Y.%m.%d}",
        ]
    if doc == Doc.BANK_CARD:
        number = _luhn_card(rng)
        return [
            "UnionPay DEBIT",
            " ".join(number[i : i + 4] for i in range(0, len(number), 4)),
            f"VALID THRU {rng.randint(1, 12):02d}/{(facts.year + rng.randint(2, 8)) % 100:02d}",
            "",
            "",
            "",
            "",
            "",
            f"FOR CASE {facts.case_number} ONLY",
            f"{facts.applied_on:%Y.%m.%d}",
        ]
    if doc == Doc.PAPER_CERT:
        return [
            f"NO. {facts.fonds.region_code}{facts.year - 1}{rng.randint(1, 99999):05d}",
            f"HOLDER ID {facts.credit_code or p.id_number}",
            f"DATE {facts.year - 1}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d}",
            f"AREA {facts.details.get('area', str(rng.randint(60, 180)))} M2",
            f"UNIT {facts.details.get('unit_number', '-')}",
            f"REF {facts.case_number}",
        ]
    return [
        f"FORM {facts.item.code}-{rng.randint(1, 9):02d}",
        f"CASE {facts.case_number}",
        f"ID {facts.applicant_id_number}",
        f"TEL {facts.applicant_phone}",
        f"DATE {facts.applied_on:%Y-%m-%d}",
    ]


def _luhn_card(rng: random.Random) -> str:
    body = "621700" + "".join(rng.choice("0123456789") for _ in range(12))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


def pdf_content(facts: CaseFacts, m: DemoMaterial, rng: random.Random, scale: float) -> f.PdfContent:
    """Title, table, paragraphs and signature block of the PDF that carries material ``m``."""
    item = facts.item
    step = facts.step(m.step)
    subject = f"{item.name} {facts.case_number} {m.name}"
    author = facts.applicant_name
    if m.doc == Doc.APPLICATION:
        rows = [
            ("申请事项", item.name),
            *_applicant_rows(facts),
            *_detail_rows(facts),
            ("申请日期", cn_date(facts.applied_on)),
        ]
        signer = "法定代表人（签字）：" if facts.company else "申请人（签字）："
        return f.PdfContent(
            title=m.name,
            fields=rows,
            paragraphs=[
                "本申请人郑重承诺：所提交的申请材料真实、合法、有效，复印件与原件一致，"
                "所填写的内容与实际情况相符；如有虚假，愿意承担相应的法律责任。",
                f"本申请人同意{facts.fonds.accepting_unit}及{item.agency}在办理本事项过程中依法查询、核验、"
                "共享本申请涉及的信息。",
            ],
            signatures=[signer, *(["申请单位（盖章）："] if facts.company else [])],
            date_text=cn_date(facts.applied_on),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.CHARTER:
        assert facts.company is not None
        c = facts.company
        values = {
            "company": c.name,
            "address": c.address,
            "capital": str(c.registered_capital),
            "scope": c.business_scope,
            "legal": facts.person.name,
        }
        return f.PdfContent(
            title=f"{c.name}章程",
            paragraphs=_clauses(_CHARTER, values, scale),
            signatures=["全体股东（签字、盖章）："],
            date_text=cn_date(facts.applied_on),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.CONTRACT:
        values = _contract_values(facts)
        templates: tuple[str, ...]
        if item.name == "建筑工程施工许可证核发":
            title, templates = "建设工程施工合同", _CONSTRUCTION_CONTRACT
            sig = ["发包人（盖章）：", "承包人（盖章）："]
        elif item.name == "住房公积金提取":
            title, templates = "商品房买卖合同", _HOUSE_CONTRACT
            values["seller"] = facts.details.get("seller", "示范市嘉禾置业有限公司")
            values["property"] = facts.details.get("property", facts.applicant_address)
            values["area"] = facts.details.get("area", "89.36")
            sig = ["出卖人（签字/盖章）：", "买受人（签字）："]
        else:
            title, templates = "存量房买卖合同", _HOUSE_CONTRACT
            sig = ["出卖人（签字）：", "买受人（签字）："]
        return f.PdfContent(
            title=title,
            paragraphs=_clauses(templates, values, scale),
            signatures=sig,
            date_text=cn_date(facts.applied_on),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.STATEMENT:
        if "缴费" in m.name:
            months = []
            start = facts.accepted_at.date().replace(day=1)
            for k in range(max(6, int(6 * scale)), 0, -1):
                y, mo = divmod(start.year * 12 + start.month - 1 - k, 12)
                base = facts.details.get("wage_base", "6000")
                months.append(
                    (
                        f"{y}年{mo + 1:02d}月",
                        f"缴费基数 {base} 元，个人缴纳 {int(base) * 8 // 100} 元，"
                        f"单位缴纳 {int(base) * 16 // 100} 元",
                    )
                )
            return f.PdfContent(
                title="参保缴费凭证",
                fields=[
                    ("姓名", facts.person.name),
                    ("公民身份号码", facts.person.id_number),
                    ("险种", "企业职工基本养老保险"),
                    *months,
                ],
                paragraphs=["本凭证由社会保险经办机构出具，可通过国家社会保险公共服务平台扫码核验。"],
                issuer=item.agency,
                date_text=cn_date(facts.applied_on),
                subject=subject,
                author=author,
            )
        tax = facts.details.get("price", "100")
        return f.PdfContent(
            title="契税完税凭证",
            doc_number=f"（{facts.year}）闽税证 {rng.randint(10**9, 10**10 - 1)}",
            fields=[
                ("纳税人名称", facts.applicant_name),
                ("纳税人识别号", facts.person.id_number),
                ("税种", "契税"),
                ("计税依据", f"{tax}万元"),
                ("税率", "1%"),
                ("实缴金额", f"{int(tax) * 100}元"),
                ("入库日期", cn_date(facts.applied_on)),
            ],
            issuer="国家税务总局示范市税务局",
            date_text=cn_date(facts.applied_on),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.CERTIFICATE:
        return f.PdfContent(
            title="施工图设计文件审查合格书",
            doc_number=f"施审{facts.year}-{rng.randint(1, 9999):04d}",
            fields=[
                ("建设单位", facts.applicant_name),
                ("工程名称", facts.details.get("project", "")),
                ("建设地址", facts.details.get("site", "")),
                ("建设规模", f"{facts.details.get('area', '')}平方米"),
                ("审查结论", "合格"),
            ],
            paragraphs=[
                "经审查，该工程施工图设计文件符合工程建设强制性标准，地基基础和主体结构安全，"
                "符合消防、人防、节能等有关规定，审查合格。"
            ],
            issuer="示范市施工图审查中心",
            date_text=cn_date(facts.applied_on),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.NOTICE:
        return f.PdfContent(
            title="受理通知书",
            doc_number=doc_number(facts, "受"),
            addressee=f"{facts.applicant_name}：",
            fields=[
                ("办件编号", facts.case_number),
                ("受理编号", facts.acceptance_number),
                ("事项名称", item.name),
                ("受理时间", step.ended.strftime("%Y-%m-%d %H:%M")),
            ],
            paragraphs=[
                f"你（单位）于{cn_date(facts.applied_on)}提出的{item.name}申请，经审查，申请材料齐全、符合法定形式。"
                "根据《中华人民共和国行政许可法》第三十二条的规定，决定予以受理。",
                f"本机关将在法定期限内作出决定。可凭办件编号{facts.case_number}通过示范市政务服务网查询办理进度。",
            ],
            issuer=item.agency,
            date_text=cn_date(step.ended.date()),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.RECORD:
        if m.step == "现场勘验":
            other = facts.step("受理").handler
            return f.PdfContent(
                title="现场勘验记录",
                fields=[
                    ("勘验时间", f"{step.started:%Y-%m-%d %H:%M}至{step.ended:%H:%M}"),
                    ("勘验地点", facts.details.get("site", "")),
                    ("勘验人", f"{step.handler}、{other}"),
                    ("建设单位到场人员", facts.person.name),
                    ("工程名称", facts.details.get("project", "")),
                ],
                paragraphs=[
                    "勘验情况：施工现场已完成围挡，场地平整，临时水电已接通，施工图纸齐备；"
                    "施工单位项目负责人、安全员在岗，现场情况与申报材料一致。",
                    "勘验结论：具备施工条件。现场勘验全过程已录像（见现场勘验视频）。",
                ],
                signatures=["勘验人签字：", "建设单位代表签字："],
                date_text=cn_date(step.ended.date()),
                subject=subject,
                author=author,
            )
        qa = [
            f"问：你是否为本次申请的申请人{facts.applicant_name}？答：是。",
            f"问：你申请办理的是什么登记？答：{item.name}，坐落于{facts.details.get('property', '')}。",
            "问：申请登记的不动产是否存在共有人？答：不存在，为单独所有。",
            "问：该不动产是否存在查封、抵押等限制情形？答：不存在。",
            "问：提交的申请材料是否真实有效？答：真实有效，如有虚假愿意承担法律责任。",
            "问：以上记录是否属实？答：属实。",
        ]
        return f.PdfContent(
            title="不动产登记询问笔录",
            fields=[
                ("询问时间", f"{step.started:%Y-%m-%d %H:%M}"),
                ("询问地点", facts.fonds.accepting_unit),
                ("询问人", step.handler),
                ("被询问人", facts.applicant_name),
                ("身份证号码", facts.person.id_number),
            ],
            paragraphs=qa * max(1, int(scale)),
            signatures=["被询问人签字：", "询问人签字："],
            date_text=cn_date(step.started.date()),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.REVIEW:
        return f.PdfContent(
            title=f"{item.name}{m.name}表",
            fields=[
                ("办件编号", facts.case_number),
                ("事项名称", item.name),
                ("申请人", facts.applicant_name),
                ("受理时间", facts.accepted_at.strftime("%Y-%m-%d %H:%M")),
                (f"{step.name}人", step.handler),
                (f"{step.name}时间", step.ended.strftime("%Y-%m-%d %H:%M")),
            ],
            paragraphs=[step.opinion],
            signatures=[f"{step.name}人：", "复核人："],
            date_text=cn_date(step.ended.date()),
            subject=subject,
            author=author,
        )
    if m.doc == Doc.DECISION:
        return f.PdfContent(
            title=m.name,
            doc_number=doc_number(facts, "决"),
            addressee=f"{facts.applicant_name}：",
            fields=[("办件编号", facts.case_number), *_detail_rows(facts)[:4]],
            paragraphs=_decision_text(facts),
            issuer=item.agency,
            date_text=cn_date(step.ended.date()),
            subject=subject,
            author=author,
        )
    raise ValueError(f"{m.doc} is not a PDF document")


def _decision_text(facts: CaseFacts) -> list[str]:
    item = facts.item
    applied = cn_date(facts.applied_on)
    lic = facts.license
    if item.name == "企业设立登记":
        assert lic is not None
        return [
            f"你单位于{applied}提交的{facts.applicant_name}设立登记申请，经审查，符合《中华人民共和国市场主体登记管理条例》"
            f"的规定，准予设立登记。统一社会信用代码：{facts.credit_code}。",
            "请于领取营业执照之日起三十日内，通过国家企业信用信息公示系统公示有关信息。",
        ]
    if item.name == "个体工商户设立登记":
        return [
            f"你于{applied}提交的{facts.holder}设立登记申请，经审查，申请材料齐全，符合法定形式，"
            f"根据《促进个体工商户发展条例》和《中华人民共和国市场主体登记管理条例》的规定，准予登记。",
            f"统一社会信用代码：{facts.credit_code}。",
        ]
    if item.name == "社会保险关系转移":
        return [
            f"参保人员{facts.applicant_name}（公民身份号码：{facts.person.id_number}）申请将基本养老保险关系由"
            f"{facts.details.get('from_region', '')}转移至{facts.details.get('to_region', '')}，经审核，"
            f"符合转移接续条件，同意转移，累计缴费{facts.details.get('insured_months', '')}个月。",
            "请转入地社会保险经办机构在收到本联系函后按规定办理接续手续。",
        ]
    if item.name == "住房公积金提取":
        return [
            f"职工{facts.applicant_name}（个人公积金账号：{facts.details.get('fund_account', '')}）申请提取住房公积金，"
            f"提取原因：{facts.details.get('reason', '')}。经审核，符合提取条件，准予提取"
            f"人民币{facts.details.get('amount', '')}元，转入本人银行账户。",
        ]
    if item.name == "建筑工程施工许可证核发":
        assert lic is not None
        return [
            f"你单位于{applied}提出的{facts.details.get('project', '')}建筑工程施工许可申请，经审查，"
            f"符合《中华人民共和国建筑法》第八条和《建筑工程施工许可管理办法》规定的条件，决定准予行政许可，"
            f"核发建筑工程施工许可证（编号：{lic.number}）。",
            "建设单位应当自领取施工许可证之日起三个月内开工；因故不能按期开工的，应当申请延期。",
            "如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法提起行政诉讼。",
        ]
    assert lic is not None
    return [
        f"申请人{facts.applicant_name}于{applied}申请的不动产转移登记（坐落：{facts.details.get('property', '')}），"
        f"经审核，符合《不动产登记暂行条例》的规定，已记载于不动产登记簿，准予登记。",
        f"不动产权证书号：{lic.number}。",
    ]


def render(facts: CaseFacts, m: DemoMaterial, rng: random.Random, options: f.FileOptions) -> bytes:
    """The bytes of the file that carries material ``m`` in this case."""
    if m.doc in (Doc.ID_CARD, Doc.BANK_CARD, Doc.SIGNED_FORM, Doc.PAPER_CERT):
        kind = {
            Doc.ID_CARD: f.ScanKind.ID_CARD,
            Doc.BANK_CARD: f.ScanKind.BANK_CARD,
            Doc.SIGNED_FORM: f.ScanKind.SIGNED_FORM,
            Doc.PAPER_CERT: f.ScanKind.PAPER_CERT,
        }[m.doc]
        return f.scan_jpeg(rng, kind, _ascii_lines(facts, m.doc, rng), options=options)
    if m.doc == Doc.AUDIO:
        return f.wav_recording(rng, seconds=rng.uniform(3.0, 5.0) * max(1.0, options.scale))
    if m.doc == Doc.VIDEO:
        step = facts.step(m.step)
        return f.mp4_video(
            rng,
            start=step.started,
            caption=f"SITE {facts.case_number}",
            seconds=rng.uniform(2.0, 3.0),
            options=options,
        )
    if m.doc == Doc.LICENSE:
        assert facts.license is not None
        return f.ofd_license(rng, facts.license, created=facts.step(m.step).ended)
    return f.pdf_document(rng, pdf_content(facts, m, rng, options.scale), options=options)
