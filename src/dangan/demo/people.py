"""Deterministic, realistic-looking people, companies, addresses, numbers and dates (pure stdlib).

Every function takes a seeded ``random.Random`` so the same seed gives the same data. The check
characters are computed, not faked:

* resident ID number (居民身份证号码), GB 11643-1999: ISO 7064 MOD 11-2;
* organisation code (组织机构代码), GB 11714-1997: MOD 11;
* unified social credit code (统一社会信用代码), GB 32100-2015: MOD 31 over the 31-character set.

The names and places are invented (the demo city is 示范市); nothing refers to a real person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

# The check characters live in core (check 1-5 uses them too); the generator and tests use them from here.
from dangan.core.identifiers import (  # noqa: F401
    CREDIT_CHARSET,
    credit_code_check,
    id_check_digit,
    is_valid_credit_code,
    is_valid_id_number,
    org_code_check,
)


def seeded(*parts: object) -> random.Random:
    """A reproducible random source for demo data keyed by ``parts`` (not for anything secret)."""
    return random.Random(":".join(str(p) for p in parts))


# --- places -----------------------------------------------------------------------------------

CITY = "示范市"
PROVINCE_ABBR = "闽"  # used in real-estate certificate numbers; matches the demo region code 3501xx
# Districts of the demo city with plausible 6-digit division codes (the demo region is 350100).
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("鼓楼区", "350102"),
    ("台江区", "350103"),
    ("仓山区", "350104"),
    ("晋安区", "350111"),
    ("长乐区", "350112"),
    ("高新区", "350121"),
)
ROADS = (
    "人民路",
    "解放大道",
    "建设路",
    "中山路",
    "滨江路",
    "学府路",
    "科技园路",
    "光明街",
    "和平路",
    "新华路",
    "朝阳路",
    "长安街",
    "幸福路",
    "工业路",
    "湖东路",
    "五一路",
    "金山大道",
    "东二环路",
)
_COMMUNITIES = ("阳光花园", "锦绣家园", "江南名城", "翠湖苑", "金色港湾", "龙湖小区", "书香门第", "碧水湾")

# --- names ------------------------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏"
    "苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
_GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林峰建国志文博晨阳"
_GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪慧莹颖琳洁梅倩晶妍丹璐欣悦佳怡萍红兰月秀"
_GIVEN_ANY = "子思嘉雨晓一欣梓诗可安若书恒家"
TRADE_NAMES = (
    "恒信",
    "瑞丰",
    "鼎盛",
    "华创",
    "宏达",
    "新锐",
    "博远",
    "汇通",
    "启航",
    "锦程",
    "中诚",
    "天禾",
    "海纳",
    "明德",
    "星辰",
    "泰和",
    "嘉禾",
    "永安",
    "聚力",
    "卓越",
    "同创",
    "润泽",
    "亿联",
    "凯旋",
)
_INDUSTRIES = (
    ("科技", "软件开发；信息技术咨询服务"),
    ("商贸", "日用百货、五金产品批发零售"),
    ("建筑工程", "房屋建筑工程施工；市政工程施工"),
    ("餐饮管理", "餐饮服务；餐饮管理"),
    ("物流", "普通货物道路运输；仓储服务"),
    ("文化传媒", "广告设计、制作、代理；文化艺术交流活动策划"),
    ("医疗器械", "第一类、第二类医疗器械销售"),
    ("新能源", "太阳能发电技术服务；储能技术服务"),
    ("置业", "房地产开发经营；物业管理"),
)
_SHOP_KINDS = ("便利店", "餐馆", "理发店", "五金店", "水果店", "茶叶店", "服装店", "家电维修部")


def person_name(rng: random.Random, *, female: bool | None = None) -> str:
    """A Chinese personal name: one-character surname and a one- or two-character given name."""
    if female is None:
        female = rng.random() < 0.5
    pool = _GIVEN_FEMALE if female else _GIVEN_MALE
    surname = rng.choice(_SURNAMES)
    if rng.random() < 0.35:
        return surname + rng.choice(pool)
    return surname + rng.choice(_GIVEN_ANY + pool) + rng.choice(pool)


def staff_names(unit: str, count: int = 6) -> tuple[str, ...]:
    """A fixed pool of staff names for ``unit`` (the same people recur in every case of that unit)."""
    rng = seeded("staff", unit)
    names: list[str] = []
    while len(names) < count:
        n = person_name(rng)
        if n not in names:
            names.append(n)
    return tuple(names)


def district(rng: random.Random) -> tuple[str, str]:
    """(district name, 6-digit division code) of the demo city."""
    return rng.choice(DISTRICTS)


def address(rng: random.Random, *, residential: bool = True) -> str:
    d, _ = district(rng)
    road = rng.choice(ROADS)
    number = rng.randint(1, 388)
    if residential:
        return (
            f"{CITY}{d}{road}{number}号{rng.choice(_COMMUNITIES)}"
            f"{rng.randint(1, 28)}栋{rng.randint(1, 3)}单元{rng.randint(1, 32)}{rng.randint(1, 4):02d}室"
        )
    return f"{CITY}{d}{road}{number}号{rng.randint(1, 30)}层{rng.randint(1, 20):02d}单元"


def phone(rng: random.Random) -> str:
    """A mainland mobile number (11 digits)."""
    prefix = rng.choice(
        (
            "130",
            "131",
            "133",
            "135",
            "136",
            "137",
            "138",
            "139",
            "150",
            "152",
            "158",
            "159",
            "177",
            "180",
            "186",
            "187",
            "189",
            "191",
            "199",
        )
    )
    return prefix + "".join(rng.choice("0123456789") for _ in range(8))


@dataclass(frozen=True)
class Person:
    name: str
    female: bool
    birth: date
    id_number: str
    address: str
    phone: str


def id_number(rng: random.Random, *, birth: date, female: bool, region: str | None = None) -> str:
    """An 18-digit resident ID number with a correct GB 11643 check character."""
    region = region or district(rng)[1]
    seq = rng.randint(0, 499) * 2 + (0 if female else 1)  # 17th digit: odd = male, even = female
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


def person(rng: random.Random, *, on: date | None = None) -> Person:
    """A natural person aged 20–65 at ``on`` (default 2024-01-01)."""
    ref = on or date(2024, 1, 1)
    female = rng.random() < 0.5
    birth = ref - timedelta(days=rng.randint(20 * 365, 65 * 365))
    return Person(
        name=person_name(rng, female=female),
        female=female,
        birth=birth,
        id_number=id_number(rng, birth=birth, female=female),
        address=address(rng),
        phone=phone(rng),
    )


def credit_code(rng: random.Random, *, region: str, authority: str = "9", kind: str = "1") -> str:
    """An 18-character unified social credit code with correct GB 11714 and GB 32100 check characters.

    ``authority`` 9 = market regulation (工商), ``kind`` 1 = enterprise, 2 = individual business.
    """
    body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = f"{authority}{kind}{region}{body}{org_code_check(body)}"
    return first17 + credit_code_check(first17)


@dataclass(frozen=True)
class Company:
    name: str
    credit_code: str
    legal_representative: Person
    address: str
    phone: str
    business_scope: str
    registered_capital: int  # 万元


def company(
    rng: random.Random, *, region: str, on: date | None = None, industry: str | None = None
) -> Company:
    """A limited company of the demo city (名称 = 示范市 + 字号 + 行业 + 有限公司)."""
    choices = [i for i in _INDUSTRIES if industry is None or i[0] == industry] or list(_INDUSTRIES)
    ind, scope = rng.choice(choices)
    trade = rng.choice(TRADE_NAMES)
    if rng.random() < 0.15:
        trade += rng.choice([t for t in TRADE_NAMES if t != trade])
    return Company(
        name=f"{CITY}{trade}{ind}有限公司",
        credit_code=credit_code(rng, region=region),
        legal_representative=person(rng, on=on),
        address=address(rng, residential=False),
        phone=phone(rng),
        business_scope=scope,
        registered_capital=rng.choice((10, 30, 50, 100, 200, 500, 1000, 3000)),
    )


def shop_name(rng: random.Random, owner: str) -> str:
    d, _ = district(rng)
    return f"{CITY}{d}{owner}{rng.choice(_SHOP_KINDS)}"


# --- dates ------------------------------------------------------------------------------------

WORK_START = time(8, 30)
WORK_END = time(17, 30)
_WORK_MINUTES = 9 * 60


def same_day_in_year(d: date, year: int) -> date:
    """``d`` moved to ``year``; 29 February becomes 28 February in a common year."""
    if d.month == 2 and d.day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        return date(year, 2, 28)
    return d.replace(year=year)


def is_workday(d: date) -> bool:
    return d.weekday() < 5


def next_workday(d: date) -> date:
    while not is_workday(d):
        d += timedelta(days=1)
    return d


def random_workday(rng: random.Random, year: int, *, last: tuple[int, int] = (12, 10)) -> date:
    """A working day between 2 January and ``last`` (month, day) of ``year``."""
    start = date(year, 1, 2)
    end = date(year, *last)
    return next_workday(start + timedelta(days=rng.randint(0, (end - start).days)))


def work_time(rng: random.Random, d: date) -> datetime:
    """A moment during office hours on ``d``."""
    minute = rng.randint(0, _WORK_MINUTES - 60)
    return datetime.combine(d, WORK_START) + timedelta(minutes=minute, seconds=rng.randint(0, 59))


def add_work_minutes(moment: datetime, minutes: int) -> datetime:
    """Advance by ``minutes`` of office time (08:30–17:30, Monday–Friday)."""
    current = moment
    day_start = datetime.combine(current.date(), WORK_START)
    day_end = datetime.combine(current.date(), WORK_END)
    if not is_workday(current.date()) or current >= day_end:
        current = datetime.combine(next_workday(current.date() + timedelta(days=1)), WORK_START)
    elif current < day_start:
        current = day_start
    remaining = timedelta(minutes=minutes)
    while True:
        day_end = datetime.combine(current.date(), WORK_END)
        if current + remaining <= day_end:
            return current + remaining
        remaining -= day_end - current
        current = datetime.combine(next_workday(current.date() + timedelta(days=1)), WORK_START)


def iso(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` (no zone, no microseconds)."""
    return moment.replace(microsecond=0).isoformat()


def cn_date(d: date) -> str:
    """2024年3月5日."""
    return f"{d.year}年{d.month}月{d.day}日"
