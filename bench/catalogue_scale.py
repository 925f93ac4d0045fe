"""The catalogue at scale: 1,000,000 records in PostgreSQL, and the latency of the pages users open.

    .venv/bin/python bench/catalogue_scale.py --db bench_catalogue --records 1000000   # generate + measure
    .venv/bin/python bench/catalogue_scale.py --db bench_catalogue --reuse             # measure again
    .venv/bin/python bench/catalogue_scale.py --db bench_catalogue --reuse --explain   # slowest SQL per page

Generation: a fresh database (dropped and created on the local server, ``--server``), migrated, with the
demo catalogue and a few real demo cases ingested and confirmed through the pipeline (their metadata and
check report are the template of the generated rows); then six fonds, 200 service items and
``--records`` cases generated directly in SQL (``generate_series``): years 2017–2026 skewed to recent
ones, service items Zipf-popular, retention from the item, 94 % archived / 4 % pre-archived / 2 %
returned, 档号 consecutive per group in the fonds' pattern (counters set to match), plus per record its
files, AIP version 1 and its files, the submission, an audit event and a preservation event.

Measurement: the real Django views through ``django.test.Client`` logged in as a records officer of
all fonds (sessions, middleware, templates, the audit event every read writes): the formal library
list with each filter, first and a deep page, the pre-archive list (status), a record page, 档号
lookup and the dashboard. Warm (a few requests first), ``--samples`` requests each; p50/p95/max ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

SERVER = "postgres://postgres@127.0.0.1:5432"

# 25 kinds of service × 8 actions = 200 service items.
SERVICES = [
    "食品经营许可", "药品零售企业许可", "建设工程规划许可", "建筑工程施工许可", "排污许可",
    "道路运输经营许可", "出版物经营许可", "人力资源服务许可", "劳务派遣经营许可", "医疗机构执业登记",
    "民办学校办学许可", "公共场所卫生许可", "危险化学品经营许可", "烟草专卖零售许可", "户外广告设施设置",
    "城市道路占用挖掘", "林木采伐许可", "取水许可", "养犬登记", "社会团体登记",
    "民办非企业单位登记", "医疗器械经营备案", "二手车交易登记", "不动产抵押登记", "住房公积金贷款",
]  # fmt: skip
ACTIONS = ["新办", "变更", "延续", "注销", "补证", "迁移", "备案", "年检"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
]
FONDS = [  # code, unit, region
    ("A102", "示范市市场监督管理局", "350100"),
    ("A103", "示范市自然资源和规划局", "350100"),
    ("A104", "示范市住房和城乡建设局", "350100"),
    ("A105", "示范市人力资源和社会保障局", "350100"),
    ("A106", "示范市卫生健康委员会", "350100"),
]
CLASSES = [f"K{n:02d}" for n in range(1, 41)]
PATTERN = "{fonds}-{category}·{year}-{retention}-{class}-{piece:6}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def setup_django(db: str, home: Path, redis: str) -> None:
    os.environ["DANGAN_HOME"] = str(home)
    os.environ["DANGAN_DATABASE_URL"] = f"{SERVER}/{db}"
    os.environ["DANGAN_JOBS_EAGER"] = "1"
    if redis:
        os.environ["DANGAN_REDIS_URL"] = redis
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangan.conf.settings")
    import django

    django.setup()


def recreate_database(db: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')


def seed_demo(home: Path, cases: int) -> None:
    """The demo catalogue and a few real cases through ingest + confirm: real metadata and reports."""
    from dangan.accounts.roles import Actor
    from dangan.archive import services as archive
    from dangan.archive.models import Record
    from dangan.catalog.models import Fonds
    from dangan.demo.generator import generate
    from dangan.ingest import services as ingest
    from dangan.quickstart import load_demo_catalogue

    actor = Actor.system("bench")
    load_demo_catalogue(actor)
    # Popular items see tens of thousands of cases a year: six-digit 件号 (the pattern is per fonds).
    Fonds.objects.update(archival_code_pattern=PATTERN)
    archive.instance_key()
    src = home / "demo-in"
    generate(src, cases=cases, seed=7)
    sources, _ = ingest.expand_paths([src])
    for s in sources:
        ingest.ingest_path(actor, s.path, batch=s.batch, batch_entry=s.entry)
    for rid in Record.objects.filter(status="pre_archive").values_list("id", flat=True):
        archive.confirm(actor, rid)


def seed_catalogue() -> None:
    from dangan.catalog.models import Fonds, ServiceItem

    rng = random.Random(11)
    fonds = list(Fonds.objects.all())
    for code, unit, region in FONDS:
        fonds.append(
            Fonds.objects.create(code=code, name=unit, region_code=region, archival_code_pattern=PATTERN)
        )
    items = []
    existing = ServiceItem.objects.count()
    for n in range(200 - existing):
        svc, act = SERVICES[n % len(SERVICES)], ACTIONS[(n // len(SERVICES)) % len(ACTIONS)]
        f = fonds[n % len(fonds)]
        items.append(
            ServiceItem(
                fonds=f,
                code=f"{11 + n % 89:02d}00{n:06d}",
                name=f"{svc}（{act}）",
                version="1",
                item_type="行政许可",
                agency=f.name,
                retention=rng.choices(["Y", "D30", "D10"], weights=[2, 5, 3])[0],
                class_code=CLASSES[n % len(CLASSES)],
                category_code="WS",
            )
        )
    ServiceItem.objects.bulk_create(items)


def generate_rows(n: int, files: int) -> None:
    from django.db import connection

    from dangan.archive.models import Record

    demo_max = Record.objects.order_by("-id").values_list("id", flat=True).first() or 0
    template = Record.objects.filter(status="archived").order_by("id").first()
    assert template is not None, "the demo cases were not archived"
    metadata = json.dumps(template.metadata, ensure_ascii=False)
    report = dict(template.check_report)
    report_json = json.dumps(report, ensure_ascii=False)
    log(f"template metadata {len(metadata)} B, check report {len(report_json)} B")
    arr = lambda xs: "(ARRAY[" + ",".join("'" + x + "'" for x in xs) + "])"  # noqa: E731
    steps = [
        "SET synchronous_commit = off",
        "SET work_mem = '256MB'",
        """CREATE TEMP TABLE items AS
           SELECT si.id, si.fonds_id, f.code AS fonds_code, si.class_code, si.retention, si.category_code,
                  si.name, si.code, row_number() OVER (ORDER BY random()) AS rank
           FROM catalog_serviceitem si JOIN catalog_fonds f ON f.id = si.fonds_id""",
        """CREATE TEMP TABLE items_cum AS
           SELECT *, sum(1.0 / rank) OVER (ORDER BY rank) / sum(1.0 / rank) OVER () AS cum FROM items""",
        f"""CREATE TEMP TABLE gen0 AS
           SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
                  random() AS r6
           FROM generate_series(1, {n}) AS g""",
        f"""CREATE TEMP TABLE gen AS
           SELECT g0.g, it.id AS item_id, it.fonds_id, it.fonds_code, it.class_code, it.retention,
                  it.category_code, it.name AS item_name, it.code AS item_code,
                  CASE WHEN g0.r3 < 0.94 THEN 'archived' WHEN g0.r3 < 0.98 THEN 'pre_archive'
                       ELSE 'returned' END AS status,
                  CASE WHEN g0.r3 < 0.94 THEN 2017 + floor(10 * sqrt(g0.r2))::int ELSE 2026 END AS year,
                  {arr(SURNAMES)}[1 + floor(g0.r5 * {len(SURNAMES)})::int]
                    || {arr(GIVEN)}[1 + floor(g0.r6 * {len(GIVEN)})::int] AS applicant,
                  g0.r4, g0.r5, g0.r6
           FROM gen0 g0, LATERAL (SELECT * FROM items_cum WHERE cum >= g0.r1 ORDER BY cum LIMIT 1) it""",
        """ALTER TABLE gen ADD COLUMN completed_at timestamptz, ADD COLUMN created_at timestamptz,
           ADD COLUMN archived_at timestamptz""",
        """UPDATE gen SET completed_at = CASE WHEN status = 'archived'
              THEN least(make_timestamptz(year, 1, 1, 8, 0, 0, 'Asia/Shanghai') + r4 * interval '364 days',
                         now() - interval '20 days')
              ELSE now() - r4 * interval '60 days' END""",
        """UPDATE gen SET created_at = completed_at + r5 * interval '3 days',
                          archived_at = CASE WHEN status = 'archived'
                              THEN completed_at + interval '3 days' + r6 * interval '14 days' END""",
        f"""INSERT INTO archive_record (file_number, fonds_id, service_item_id, status, archival_code, title,
               case_number, applicant_name, year, retention, retention_basis, accepted_at, completed_at,
               content_digest, metadata, check_report, file_count, byte_total, created_at, archived_at,
               archived_by, returned_reason, gap_status, gap_materials, gap_reason, archive_class_id)
           SELECT '350100-' || to_char(completed_at, 'YYYYMMDD') || '-' || lpad(g::text, 8, '0'),
                  fonds_id, item_id, status,
                  CASE WHEN status = 'archived' THEN
                    fonds_code || '-' || category_code || '·' || year || '-' || retention || '-' || class_code
                    || '-' || lpad((coalesce(c.last_piece, 0) + row_number() OVER (
                         PARTITION BY status, fonds_code, category_code, year, retention, class_code
                         ORDER BY archived_at, g))::text, 6, '0') END,
                  item_name || '（' || applicant || '）',
                  item_code || '-' || year || '-' || lpad(g::text, 7, '0'), applicant, year, retention,
                  CASE WHEN status = 'archived' THEN '事项保管期限 ' || retention ELSE '' END,
                  completed_at - interval '5 days', completed_at,
                  md5(g::text) || md5(g::text || 'c'),
                  jsonb_set(%s::jsonb, '{{case,title}}', to_jsonb(item_name || '（' || applicant || '）')),
                  %s::jsonb, {files}, {files} * 1400000, created_at, archived_at,
                  CASE WHEN status = 'archived' THEN 'officer' ELSE '' END,
                  CASE WHEN status = 'returned' THEN '材料不全，请补正后重新归档' ELSE '' END,
                  'none', '[]'::jsonb, '', NULL
           FROM gen LEFT JOIN archive_archivalcodecounter c
             ON c.group_key = fonds_code || '-' || category_code || '·' || year || '-' || retention
                              || '-' || class_code || '-*'
           ORDER BY created_at""",
        f"""INSERT INTO archive_archivalcodecounter (group_key, last_piece)
           SELECT regexp_replace(archival_code, '-[0-9]+$', '-*'),
                  max(substring(archival_code from '([0-9]+)$')::int)
           FROM archive_record WHERE id > {demo_max} AND archival_code IS NOT NULL GROUP BY 1
           ON CONFLICT (group_key) DO UPDATE SET last_piece = EXCLUDED.last_piece""",
        f"""INSERT INTO archive_recordfile (record_id, path, size, sm3, sha256, material_code, category, name,
               format)
           SELECT r.id, 'content/A' || lpad(k::text, 2, '0') || '-材料' || k || '.pdf', 1000000 + k * 1000,
                  md5(r.id || '-' || k) || md5(k || '-' || r.id), md5(r.id || 's' || k) || md5(k || 's'),
                  'A' || lpad(k::text, 2, '0'), 'content', '材料' || k, 'pdf'
           FROM archive_record r, generate_series(1, {files}) k WHERE r.id > {demo_max}""",
        f"""INSERT INTO archive_aip (record_id, version, kind, previous_id, reason, created_by, changes,
               tagmanifest_sm3, signer_fingerprint, file_count, byte_total, created_at)
           SELECT id, 1, 'archived', NULL, '', 'officer', '{{}}'::jsonb, md5(id || 't') || md5(id || 'u'),
                  repeat('f', 64), file_count + 6, byte_total + 20000, archived_at
           FROM archive_record WHERE id > {demo_max} AND status = 'archived'""",
        f"""INSERT INTO archive_aipfile (aip_id, path, size, sm3, sha256)
           SELECT a.id, 'data/' || f.path, f.size, f.sm3, f.sha256
           FROM archive_aip a JOIN archive_recordfile f ON f.record_id = a.record_id
           WHERE a.record_id > {demo_max}""",
        f"""INSERT INTO ingest_submission (id, channel, submitted_by, fonds_id, package_name, batch, status,
               file_number, content_digest, container_sm3, errors, report, record_id, received_at,
               finished_at, source_system_id, allowed_fonds)
           SELECT gen_random_uuid(), 'api', 'sfs-zwfw', fonds_id, file_number || '.zip', '', 'accepted',
                  file_number, content_digest, '', '[]'::jsonb, NULL, id, created_at,
                  created_at + interval '2 seconds', NULL, NULL
           FROM archive_record WHERE id > {demo_max}""",
        f"""INSERT INTO ingest_submission (id, channel, submitted_by, fonds_id, package_name, batch, status,
               file_number, content_digest, container_sm3, errors, report, record_id, received_at,
               finished_at, source_system_id, allowed_fonds)
           SELECT gen_random_uuid(), 'api', 'sfs-zwfw', fonds_id, file_number || '-r.zip', '', 'rejected',
                  file_number, '', '', '[{{"code": "1-1", "message": "元数据不完整"}}]'::jsonb, NULL, NULL,
                  created_at - interval '1 day', created_at - interval '1 day', NULL, NULL
           FROM archive_record WHERE id > {demo_max} AND id % 30 = 0""",
        f"""INSERT INTO audit_auditevent (seq, prev_hash, hash, at, kind, actor, role, object_type, object_id,
               outcome, source_ip, detail)
           SELECT (SELECT coalesce(max(seq), 0) FROM audit_auditevent) + row_number() OVER (ORDER BY id),
                  repeat('0', 64), md5(id || 'h') || md5(id || 'i'), coalesce(archived_at, created_at),
                  CASE status WHEN 'archived' THEN 'record.archived' WHEN 'returned' THEN 'record.returned'
                       ELSE 'record.filed' END,
                  'officer', 'records_officer', 'record', id::text, 'success', '127.0.0.1',
                  CASE WHEN status = 'returned' THEN '{{"reason": "材料不全，请补正后重新归档"}}'::jsonb
                       ELSE jsonb_build_object('archival_code', archival_code) END
           FROM archive_record WHERE id > {demo_max}""",
        f"""INSERT INTO preservation_preservationevent (event_type, at, agent, outcome, record_id, aip_id,
               blob_sm3, location, detail)
           SELECT 'ingest', a.created_at, 'dangan', 'success', a.record_id, a.id, '', '', '{{}}'::jsonb
           FROM archive_aip a WHERE a.record_id > {demo_max}""",
    ]
    with connection.cursor() as cur:
        for sql in steps:
            t = time.perf_counter()
            params = [metadata, report_json] if "%s" in sql else None
            cur.execute(sql, params)
            log(f"{time.perf_counter() - t:7.1f} s  {' '.join(sql.split())[:90]}")
    connection.close()
    import psycopg

    with psycopg.connect(connection.settings_dict_url, autocommit=True) as conn:  # type: ignore[attr-defined]
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        log(f"{time.perf_counter() - t:7.1f} s  VACUUM ANALYZE")


def officer():  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    from dangan.accounts.models import RoleGrant
    from dangan.accounts.roles import Role

    user, created = get_user_model().objects.get_or_create(username="bench-officer")
    if created:
        RoleGrant.objects.create(user=user, role=Role.RECORDS_OFFICER, fonds=None, granted_by="bench")
    return user


def cases() -> list[tuple[str, list[str]]]:
    """(name, URLs to cycle through) for every page measured."""
    from django.db.models import Count

    from dangan.archive.models import Record
    from dangan.catalog.models import Fonds

    rng = random.Random(5)
    archived = Record.objects.filter(status="archived")
    top_fonds = Fonds.objects.annotate(n=Count("records")).order_by("-n").values_list("code", flat=True)[0]
    items = list(
        archived.values("service_item")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("service_item", "n")
    )
    popular, rare = items[0][0], items[len(items) // 2][0]
    max_id = Record.objects.order_by("-id").values_list("id", flat=True).first() or 1
    ids = [
        r for r in archived.filter(id__in=rng.sample(range(1, max_id + 1), 2000)).values_list("id", flat=True)
    ]
    codes = list(archived.filter(id__in=ids[:300]).values_list("archival_code", flat=True))
    ids = ids[:300]
    base = "/records/"
    return [
        ("list: no filter, page 1", [base]),
        ("list: no filter, page 2000 (deep)", [base + "?page=2000"]),
        ("list: fonds", [base + f"?fonds={top_fonds}"]),
        ("list: year 2025", [base + "?year=2025"]),
        ("list: service item (popular)", [base + f"?service_item={popular}"]),
        ("list: service item (median)", [base + f"?service_item={rare}"]),
        ("list: retention Y", [base + "?retention=Y"]),
        ("list: fonds+year+retention", [base + f"?fonds={top_fonds}&year=2024&retention=D30"]),
        (
            "list: fonds+year+retention, page 20",
            [base + f"?fonds={top_fonds}&year=2024&retention=D30&page=20"],
        ),
        ("list: sorted by 档号 desc, page 500", [base + "?sort=-code&page=500"]),
        ("list: status pre-archive (/prearchive/)", ["/prearchive/"]),
        ("list: status pre-archive, page 100", ["/prearchive/?page=100"]),
        ("record page", [f"/records/{i}/" for i in ids]),
        ("档号 lookup (?q=<full 档号>)", [base + "?q=" + c for c in codes]),
        ("title search (?q=<applicant>)", [base + "?q=" + n for n in ("王伟", "刘秀英", "陈静")]),
        ("dashboard", ["/"]),
        ("dashboard, cold (a record changed before each view)", ["/"]),
    ]


def measure(samples: int, only: str, explain: bool) -> list[dict[str, object]]:
    from django.db import connection
    from django.test import Client

    try:
        from dangan.archive.counts import bump
    except ImportError:  # before issue 7's counts: nothing is cached

        def bump() -> None:
            pass

    client = Client(HTTP_HOST="localhost")
    client.force_login(officer())
    out = []
    for name, urls in cases():
        if only and only not in name:
            continue
        for url in urls[:3]:  # warm: plans, caches
            r = client.get(url)
            assert r.status_code == 200, (url, r.status_code)
        captured: list[dict[str, object]] = []

        def record_sql(execute, sql, params, many, context, captured=captured):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                captured.append({"sql": sql, "params": params, "time": time.perf_counter() - t})

        with connection.execute_wrapper(record_sql):
            r = client.get(urls[0])
        body = r.content.decode()
        if "lookup" in name:
            code = urls[0].split("=", 1)[1]
            assert code in body, f"{code} not found by the lookup"
        times = []
        cold = "cold" in name
        for i in range(min(samples, 30) if cold else samples):
            url = urls[i % len(urls)]
            if cold:
                bump()  # what every save of a record does: the cached counts are recomputed
            t = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (url, r.status_code)
        times.sort()
        row = {
            "page": name,
            "samples": len(times),
            "queries": len(captured),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1),
        }
        out.append(row)
        log(json.dumps(row, ensure_ascii=False))
        if explain:
            slow = sorted(captured, key=lambda q: -float(q["time"]))[:3]  # type: ignore[arg-type]
            for q in slow:
                sql = str(q["sql"])
                print(f"--- {name}: {float(q['time']) * 1000:.1f} ms\n{sql[:700]}", file=sys.stderr)
                if sql.lstrip().upper().startswith("SELECT"):
                    with connection.cursor() as cur:
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, q["params"])
                        print("\n".join(row[0] for row in cur.fetchall()[:25]), file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="bench_catalogue")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=3, help="files per generated record")
    ap.add_argument("--demo-cases", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="measure the existing database (migrated first)")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--only", default="", help="measure only pages whose name contains this")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest queries per page")
    ap.add_argument("--redis", default="", help="Redis URL for the cache (e.g. redis://127.0.0.1:6379/12)")
    ap.add_argument("--drop", action="store_true", help="drop the database and exit")
    args = ap.parse_args()

    home = Path(f"/tmp/dangan-{args.db}")
    if not args.reuse and not args.drop:
        shutil.rmtree(home, ignore_errors=True)
    home.mkdir(exist_ok=True)
    if args.drop:
        import psycopg

        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        return
    if not args.reuse:
        recreate_database(args.db)
    setup_django(args.db, home, args.redis)
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection

    connection.settings_dict_url = f"{SERVER}/{args.db}"  # type: ignore[attr-defined]
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    log(f"migrate {time.perf_counter() - t:.1f} s")
    if not args.reuse:
        t0 = time.perf_counter()
        seed_demo(home, args.demo_cases)
        seed_catalogue()
        generate_rows(args.records - args.demo_cases, args.files)
        log(f"generated in {time.perf_counter() - t0:.0f} s")
    cache.clear()
    with connection.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM archive_record GROUP BY 1 ORDER BY 1")
        counts = dict(cur.fetchall())
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cur.fetchone()[0]
    log(f"records {counts}, database {size}")
    if args.samples <= 0:
        return
    rows = measure(args.samples, args.only, args.explain)
    print(json.dumps({"records": counts, "database_size": size, "results": rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
