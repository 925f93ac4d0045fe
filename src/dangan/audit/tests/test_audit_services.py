"""The auditor's use-cases: search with every filter, CSV and PDF exports, chain verification, and
that each read, export and verification is itself audited once (and refused to everyone but the
auditor)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import connection

from dangan.accounts.roles import Actor, PermissionDenied, Role
from dangan.accounts.services import create_user
from dangan.audit import events, services
from dangan.audit.models import AuditEvent
from dangan.audit.services import AuditFilters
from dangan.core import auditchain

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PASSWORD = "Long-enough-pw-1"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@contextmanager
def at(when: dt.datetime):
    """Events appended inside get ``when`` as their time (the chain takes the time of appending)."""
    with mock.patch("dangan.audit.chain.timezone.now", return_value=when):
        yield


def user_actor(name: str, role: Role) -> Actor:
    user, _ = create_user(name, [role], password=PASSWORD)
    return Actor.from_user(user, "10.1.2.3")


@pytest.fixture
def auditor(db) -> Actor:
    return user_actor("aud", Role.AUDITOR)


@pytest.fixture
def trail(db):
    """A small trail at known local times (Asia/Shanghai): before the fixture's users are made."""
    clerk = Actor(name="张三", kind="user", ip="10.1.2.7")
    officer = Actor(name="officer", kind="user", ip="192.168.0.5")
    with at(dt.datetime(2026, 3, 1, 23, 30, tzinfo=SHANGHAI)):
        events._log("case.received", clerk, "submission", "s-1", package="办件一.zip", channel="api")
    with at(dt.datetime(2026, 3, 2, 0, 10, tzinfo=SHANGHAI)):
        events._log(
            "record.archived", officer, "record", 7, archival_code="T001-WS·2026-Y-0001", note="营业执照"
        )
    with at(dt.datetime(2026, 3, 2, 18, 0, tzinfo=SHANGHAI)):
        events._log("records.listed", officer, "record", "", filters={"q": "x"}, count=3)
    with at(dt.datetime(2026, 3, 3, 9, 0, tzinfo=SHANGHAI)):
        events._log("case.rejected", clerk, "submission", "s-2", outcome="failure", errors=[{"code": "E1"}])
        events._log("record.returned", officer, "record", 8, reason='缺少"申请表"')
    return {"clerk": clerk, "officer": officer}


def kinds(qs) -> list[str]:
    return [e.kind for e in qs]


def trail_kinds(who: Actor, **filters) -> list[str]:
    """The kinds the filters select among the fixture's events (not the accounts' own events)."""
    qs = services.search_events(who, filters).exclude(kind__in=["user.created", "role.granted"])
    return sorted(kinds(qs))


def new_events(before: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=before).order_by("seq"))


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


# --- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.RECORDS_OFFICER, Role.APPROVER]
)
def test_only_the_auditor_reads_the_trail(db, role):
    actor = user_actor("someone", role)
    before = last_seq()
    for call in (
        lambda: services.search_events(actor),
        lambda: services.read_events(actor),
        lambda: services.export_csv(actor),
        lambda: services.export_pdf(actor),
        lambda: services.chain_status(actor),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert new_events(before) == []


# --- filters ----------------------------------------------------------------------------------------


def test_time_filter_takes_local_days_inclusive(trail, auditor):
    # 2026-03-01 23:30 +08:00 is still March 1st locally although it is 15:30 UTC.
    assert trail_kinds(auditor, date_from="2026-03-01", date_to="2026-03-01") == ["case.received"]
    assert trail_kinds(auditor, date_from="2026-03-02", date_to="2026-03-02") == [
        "record.archived",
        "records.listed",
    ]
    assert trail_kinds(auditor, date_to=dt.date(2026, 3, 2)) == [
        "case.received",
        "record.archived",
        "records.listed",
    ]
    assert trail_kinds(auditor, date_from="2026-03-03") == ["case.rejected", "record.returned"]


def test_filters_by_actor_role_kind_object_outcome_ip(trail, auditor):
    assert trail_kinds(auditor, actor="张三") == ["case.received", "case.rejected"]
    assert trail_kinds(auditor, actor="张") == []  # the actor filter is exact; free text finds parts
    assert trail_kinds(auditor, kind="record.") == ["record.archived", "record.returned"]
    assert trail_kinds(auditor, kind="record") == ["record.archived", "record.returned"]
    assert trail_kinds(auditor, kind="records") == ["records.listed"]
    assert trail_kinds(auditor, kind="record*") == ["record.archived", "record.returned", "records.listed"]
    assert trail_kinds(auditor, kind="case.rejected") == ["case.rejected"]
    assert trail_kinds(auditor, outcome="failure") == ["case.rejected"]
    assert trail_kinds(auditor, object_type="record", object_id="8") == ["record.returned"]
    assert trail_kinds(auditor, source_ip="10.1.2.7") == ["case.received", "case.rejected"]
    assert trail_kinds(auditor, source_ip="192.168.") == [
        "record.archived",
        "record.returned",
        "records.listed",
    ]
    assert trail_kinds(auditor, source_ip="10.1.2.") == ["case.received", "case.rejected"]  # aud's own: none
    # Roles: the column holds the sorted roles joined with commas, or the actor's kind.
    assert kinds(services.search_events(auditor, {"role": "auditor"})) == []
    assert len(trail_kinds(auditor, role="user")) == 5  # actors without roles: their kind
    assert set(kinds(services.search_events(auditor, {"role": "system"}))) == {"user.created", "role.granted"}


def test_role_filter_matches_one_of_several_roles(db, auditor):
    events._log("x.multi", Actor(name="m", roles=frozenset({Role.APPROVER, Role.RECORDS_OFFICER})), "t", 1)
    for role in ("approver", "records_officer"):
        assert kinds(services.search_events(auditor, {"role": role})) == ["x.multi"]
    assert kinds(services.search_events(auditor, {"role": "officer"})) == []


def test_free_text_finds_chinese_and_quotes_inside_the_detail(trail, auditor):
    assert trail_kinds(auditor, q="营业执照") == [
        "record.archived"
    ]  # detail, Chinese (\\u-escaped on SQLite)
    assert trail_kinds(auditor, q="办件一") == ["case.received"]
    assert trail_kinds(auditor, q='"申请表"') == ["record.returned"]  # quotes, escaped in JSON
    assert trail_kinds(auditor, q="T001-WS·2026") == ["record.archived"]
    assert trail_kinds(auditor, q="s-2") == ["case.rejected"]  # object id
    assert trail_kinds(auditor, q="张") == ["case.received", "case.rejected"]  # actor, part of it
    assert trail_kinds(auditor, q="LISTED") == ["records.listed"]  # kind, any case
    assert trail_kinds(auditor, q="nothing-like-this") == []


def test_seq_range_and_newest_first(trail, auditor):
    qs = services.search_events(auditor, {"seq_from": 2, "seq_to": 4})
    assert [e.seq for e in qs] == [4, 3, 2]


def test_filters_from_a_mapping_are_checked():
    assert AuditFilters.of(
        {"date_from": "2026-01-02", "seq_to": "9", "actor": " a ", "q": ""}
    ) == AuditFilters(date_from=dt.date(2026, 1, 2), seq_to=9, actor="a")
    with pytest.raises(ValueError):
        AuditFilters.of({"colour": "red"})
    with pytest.raises(ValueError):
        AuditFilters.of({"date_from": "31.01.2026"})
    assert AuditFilters(kind="record.", date_to=dt.date(2026, 1, 2)).as_params() == {
        "date_to": "2026-01-02",
        "kind": "record.",
    }


# --- reading is audited -----------------------------------------------------------------------------


def test_a_page_read_appends_exactly_one_event(trail, auditor):
    for i in range(60):
        events._log("bulk.item", Actor.system("bulk"), "thing", i)
    before = last_seq()
    result = services.read_events(auditor, {"kind": "bulk."}, page=2, per_page=50)
    assert [e.object_id for e in result.page.object_list] == [str(i) for i in range(9, -1, -1)]
    logged = new_events(before)
    assert len(logged) == 1
    e = logged[0]
    assert (e.kind, e.actor, e.role, e.source_ip, e.outcome) == (
        "audit.read",
        "aud",
        "auditor",
        "10.1.2.3",
        "success",
    )
    assert e.detail == {"filters": {"kind": "bulk."}, "count": 60, "page": 2}
    assert services.search_events(auditor).first().kind == "audit.read"  # the read is in the trail


def test_activity_counts_per_local_day(trail, auditor):
    result = services.read_events(auditor, {"date_from": "2026-03-01", "date_to": "2026-03-04"})
    act = result.activity
    assert act.unit == "day"
    assert [(b.start.isoformat(), b.count) for b in act.buckets] == [
        ("2026-03-01", 1),
        ("2026-03-02", 2),
        ("2026-03-03", 2),
        ("2026-03-04", 0),
    ]
    long = services.read_events(auditor, {"date_from": "2025-01-01", "date_to": "2026-03-31"}).activity
    assert (
        long.unit == "month" and long.buckets[-1].count == 5 and long.buckets[0].start == dt.date(2025, 1, 1)
    )


# --- exports ----------------------------------------------------------------------------------------


def parse_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM, so that Excel reads Chinese correctly"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_export_parses_back_with_chinese_intact(trail, auditor):
    events._log("x.formula", Actor(name="=HYPERLINK(1)", kind="user"), "t", "-1", text="多行\n文本")
    before = last_seq()
    rows = parse_csv(b"".join(services.export_csv(auditor, {"date_from": "2026-03-01"})))
    logged = new_events(before)
    assert [e.kind for e in logged] == ["audit.exported"]
    assert list(rows[0]) == list(services.CSV_COLUMNS)
    assert logged[0].detail["format"] == "csv" and logged[0].detail["rows"] == len(rows)
    assert logged[0].detail["filters"] == {"date_from": "2026-03-01"}
    assert all(r["kind"] != "audit.exported" for r in rows), "the export's own event is not in it"
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)  # chain order
    by_kind = {r["kind"]: r for r in rows}
    first = by_kind["case.received"]
    assert first["actor"] == "张三" and first["time"] == "2026-03-01T23:30:00.000000+08:00"
    assert json.loads(first["detail"]) == {"package": "办件一.zip", "channel": "api"}
    stored = AuditEvent.objects.get(seq=int(first["seq"]))
    assert first["hash"] == stored.hash == auditchain.event_hash(
        auditchain.EventContent(
            stored.seq, stored.prev_hash, dt.datetime.fromisoformat(first["time"]), first["kind"], first["actor"],
            first["role"], first["object_type"], first["object_id"], first["outcome"], first["source_ip"],
            json.loads(first["detail"]),
        )
    )  # fmt: skip
    assert by_kind["record.returned"]["detail"] == '{"reason":"缺少\\"申请表\\""}'
    formula = by_kind["x.formula"]
    assert formula["actor"] == "'=HYPERLINK(1)" and formula["object_id"] == "'-1"  # not a formula in Excel
    assert json.loads(formula["detail"]) == {"text": "多行\n文本"}


def test_csv_export_is_streamed_in_chunks(db, auditor, monkeypatch):
    monkeypatch.setattr(services, "CSV_CHUNK_ROWS", 100)
    for i in range(250):
        events._log("bulk.item", Actor.system("bulk"), "thing", i)
    chunks = services.export_csv(auditor, {"kind": "bulk."})
    assert not isinstance(chunks, (list, bytes))
    chunks = list(chunks)
    assert len(chunks) == 4  # header, 100, 100, 50
    assert len(parse_csv(b"".join(chunks))) == 250


def require_font():
    from tests.test_reports import require_cjk_font

    return require_cjk_font()


def pdf_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def test_pdf_export_has_header_rows_and_one_event(trail, auditor):
    require_font()
    before = last_seq()
    head = AuditEvent.objects.get(seq=before)
    data = services.export_pdf(auditor, {"date_from": "2026-03-01", "date_to": "2026-03-03"})
    assert data.startswith(b"%PDF")
    logged = new_events(before)
    assert [e.kind for e in logged] == ["audit.exported"]
    detail = logged[0].detail
    assert detail["format"] == "pdf" and detail["rows"] == 5 and detail["matched"] == 5
    assert detail["intact"] is True and detail["first_bad"] is None and detail["head_hash"] == head.hash
    pages = pdf_pages(data)
    assert len(pages) == 1
    text = pages[0]
    for expected in ("审计日志", "起始日期", "2026-03-01", "共 5 条", head.hash[:32], "完好", "张三", "拒收办件",
                     "营业执照", "第 1 / 1 页"):  # fmt: skip
        assert expected in text.replace("\r\n", "").replace("\n", ""), expected


def test_pdf_export_is_capped_with_a_note(db, auditor):
    require_font()
    for i in range(130):
        events._log("bulk.item", Actor.system("bulk"), "thing", i, note=f"第 {i} 件")
    data = services.export_pdf(auditor, {"kind": "bulk."}, limit=100, lang="en")
    pages = pdf_pages(data)
    assert 2 <= len(pages) <= 8
    text = "".join(pages).replace("\r\n", " ").replace("\n", " ")
    assert "first 100 of 130" in text and "CSV" in text
    assert "Intact" in text
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.kind == "audit.exported" and event.detail["rows"] == 100 and event.detail["matched"] == 130


# --- verification -----------------------------------------------------------------------------------


def tamper(sql: str, params: list) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cur.execute(sql, params)
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def test_chain_status_intact_then_tampered(trail, auditor):
    before = last_seq()
    status = services.chain_status(auditor)
    assert (
        status.intact and status.first_bad is None and status.events == before and status.head_seq == before
    )
    assert status.last_checkpoint is None and status.uncovered == before
    logged = new_events(before)
    assert [(e.kind, e.outcome) for e in logged] == [("audit.verified", "success")]
    assert logged[0].detail["intact"] is True and logged[0].detail["events"] == before

    tamper("UPDATE audit_auditevent SET detail = %s WHERE seq = 3", [json.dumps({"note": "改过"})])
    before = last_seq()
    status = services.chain_status(auditor)
    assert not status.intact
    assert (status.first_bad.position, status.first_bad.kind) == (3, auditchain.CHANGED)
    assert status.last_seq == 2
    logged = new_events(before)
    assert [(e.kind, e.outcome) for e in logged] == [("audit.verified", "failure")]
    assert logged[0].detail["first_bad"]["position"] == 3


def test_chain_status_reports_the_last_checkpoint(trail, auditor):
    from dangan.audit import chain

    cp = chain.checkpoint()
    events._log("after.checkpoint", Actor.system("x"), "t", 1)
    status = services.chain_status(auditor)
    assert status.intact and status.checkpoints == 1
    assert status.last_checkpoint.seq == cp.seq and status.last_checkpoint.signature_ok
    assert status.uncovered == 1
