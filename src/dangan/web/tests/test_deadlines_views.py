"""Deadlines in the web UI: counts per agency and service item (in the database, one query per kind),
the dashboard section, the deadline page with its charts, and the lists behind each count."""

from __future__ import annotations

from datetime import date, datetime, time
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.core import deadlines as D
from dangan.web import deadlines as deadline_data

pytestmark = pytest.mark.django_db

TODAY = date(2025, 6, 20)  # 10 days before 30 June: the 2024 completions are due within 30 days


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(deadline_data, "today", lambda: TODAY)


@pytest.fixture
def catalogue(db):
    """T001 (TEST-ITEM D30, AUTO-ITEM D10, PERM-ITEM Y of another agency) and T002 (COUNTY-ITEM D30)."""
    from dangan.accounts.roles import Actor
    from dangan.catalog import services
    from dangan.catalog.models import ServiceItem

    operator = Actor.system("test")
    fonds = services.upsert_fonds(operator, code="T001", name="示范市行政审批服务局", region_code="330899")
    services.upsert_service_item(operator, fonds, code="TEST-ITEM", name="测试事项", retention="D30")
    services.upsert_service_item(operator, fonds, code="AUTO-ITEM", name="自动归档事项", retention="D10")
    services.upsert_service_item(
        operator, fonds, code="PERM-ITEM", name="永久事项", retention="Y", agency="示范市市场监督管理局"
    )
    other = services.upsert_fonds(operator, code="T002", name="示范县人民政府")
    services.upsert_service_item(operator, other, code="COUNTY-ITEM", name="县级事项", retention="D30")
    return {i.code: i for i in ServiceItem.objects.select_related("fonds")}


_serial = iter(range(1, 10_000))


def make(
    item, *, completed: date | None, archived: date | None = None, retention: str | None = None
) -> Record:
    """A record with the given dates; received (``created_at``, set on creation) on ``TODAY``."""
    n = next(_serial)
    record = Record.objects.create(
        file_number=f"DL-{n:05d}",
        fonds=item.fonds,
        service_item=item,
        status=RecordStatus.ARCHIVED if archived else RecordStatus.PRE_ARCHIVE,
        archival_code=f"{item.fonds.code}-DL-{n:05d}" if archived else None,
        title=f"期限测试办件 {n}",
        year=(completed or TODAY).year,
        retention=retention or item.retention,
        completed_at=at(completed) if completed else None,
        archived_at=at(archived) if archived else None,
        content_digest="0" * 64,
    )
    Record.objects.filter(pk=record.pk).update(created_at=at(TODAY, 9))
    record.refresh_from_db()
    return record


@pytest.fixture
def records(catalogue):
    test, perm, county, auto = (catalogue[c] for c in ("TEST-ITEM", "PERM-ITEM", "COUNTY-ITEM", "AUTO-ITEM"))
    return {
        # archiving: due 30 June 2025 (completed in 2024) → within 30 days; completed in 2023 → overdue
        "due_31dec": make(test, completed=date(2024, 12, 31)),
        "due_leap": make(test, completed=date(2024, 2, 29)),
        "overdue_2023": make(test, completed=date(2023, 12, 31)),
        "overdue_county": make(county, completed=date(2022, 5, 1)),
        "later_2025": make(test, completed=date(2025, 1, 1)),  # due 30 June 2026: not shown
        # completion unknown: counted from reception (today) → due 30 June 2026
        "unknown": make(test, completed=None),
        # transfer (national: 5 years after archiving): archived 2020-02-29 → due 2025-02-28, overdue
        "t_overdue": make(perm, completed=date(2020, 1, 10), archived=date(2020, 2, 29)),
        "t_due_30": make(perm, completed=date(2020, 6, 1), archived=date(2020, 7, 1)),  # due 2025-07-01
        "t_due_90": make(test, completed=date(2020, 8, 1), archived=date(2020, 9, 1)),  # due 2025-09-01
        "t_later": make(perm, completed=date(2024, 1, 2), archived=date(2024, 2, 1)),
        "t_ten_years": make(auto, completed=date(2019, 1, 2), archived=date(2019, 2, 1)),  # D10: no transfer
    }


def counts(summary: deadline_data.KindSummary) -> dict[str, dict[str, int]]:
    return {i.item_code: i.counts for i in summary.items}


def test_archive_counts_per_item_in_one_query(records, django_assert_num_queries):
    with django_assert_num_queries(1):
        summary = deadline_data.summarize(D.Kind.ARCHIVE)
    assert counts(summary) == {
        "COUNTY-ITEM": {"overdue": 1, "due_30": 0, "due_90": 0},
        "TEST-ITEM": {"overdue": 1, "due_30": 2, "due_90": 0},
    }
    assert summary.totals == {"overdue": 2, "due_30": 2, "due_90": 0}
    agencies = {(a.fonds_code, a.label): a.counts["overdue"] for a in summary.agencies}
    assert agencies == {("T001", "示范市行政审批服务局"): 1, ("T002", "示范县人民政府"): 1}


def test_transfer_counts_national_rule(records):
    summary = deadline_data.summarize(D.Kind.TRANSFER)
    assert counts(summary) == {
        "PERM-ITEM": {"overdue": 1, "due_30": 1, "due_90": 0},
        "TEST-ITEM": {"overdue": 0, "due_30": 0, "due_90": 1},
    }
    [perm] = [a for a in summary.agencies if a.agency]
    assert perm.label == "示范市市场监督管理局" and perm.total == 2


def test_transfer_counts_yunnan_rule(records, settings):
    settings.TRANSFER_RULE = "yunnan"
    summary = deadline_data.summarize(D.Kind.TRANSFER)
    # Yunnan: 30 June of the year after archiving → everything archived before 2024 is overdue,
    # archived in 2024 → due 30 June 2025 (within 30 days).
    assert counts(summary) == {
        "PERM-ITEM": {"overdue": 2, "due_30": 1, "due_90": 0},
        "TEST-ITEM": {"overdue": 1, "due_30": 0, "due_90": 0},
    }


def test_a_record_that_became_archived_leaves_the_archiving_counts(records):
    Record.objects.filter(pk=records["overdue_2023"].pk).update(
        status=RecordStatus.ARCHIVED, archived_at=at(TODAY), archival_code="T001-X-1"
    )
    assert deadline_data.summarize(D.Kind.ARCHIVE).totals["overdue"] == 1


def test_dashboard_shows_deadline_cards_and_charts(officer_client, records):
    body = officer_client.get(reverse("web:dashboard")).content.decode()
    assert "归档期限" in body and "移交期限" in body
    assert "已逾期" in body and "30 天内到期" in body
    assert 'class="bar-chart stacked-chart"' in body
    assert "办结次年6月30日前归档" in body and "归档之日起5年内移交" in body
    url = deadline_data.list_url(deadline_data.ListFilter(D.Kind.ARCHIVE, "overdue"))
    assert url.replace("&", "&amp;") in body
    assert reverse("web:deadlines") in body and reverse("web:catalogue") in body


def test_dashboard_in_english(officer_client, records, settings):
    officer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = officer_client.get(reverse("web:dashboard")).content.decode()
    assert "Archiving deadlines" in body and "Due within 30 days" in body
    assert "archive by 30 June of the year after completion" in body


def test_deadline_page_per_agency_and_item(officer_client, records):
    body = officer_client.get(reverse("web:deadlines")).content.decode()
    for text in (
        "示范市行政审批服务局",
        "示范县人民政府",
        "示范市市场监督管理局",
        "测试事项",
        "县级事项",
        "永久事项",
    ):
        assert text in body, text
    assert body.count('class="bar-chart stacked-chart"') == 4  # per agency and per item, both kinds
    assert "国办发〔2023〕26号" in body  # the rule's source
    item = Record.objects.get(pk=records["due_leap"].pk).service_item
    link = deadline_data.list_url(deadline_data.ListFilter(D.Kind.ARCHIVE, "due_30", service_item=item.pk))
    assert link.replace("&", "&amp;") in body


def test_deadline_list_filters_and_statuses(officer_client, records):
    item = records["due_leap"].service_item
    url = deadline_data.list_url(deadline_data.ListFilter(D.Kind.ARCHIVE, "due_30", service_item=item.pk))
    body = officer_client.get(url).content.decode()
    assert records["due_leap"].file_number in body and records["due_31dec"].file_number in body
    assert records["overdue_2023"].file_number not in body and records["later_2025"].file_number not in body
    assert "还有 10 天到期" in body and "2025-06-30" in body

    overdue = officer_client.get(
        deadline_data.list_url(deadline_data.ListFilter(D.Kind.ARCHIVE, "overdue"))
    ).content.decode()
    assert records["overdue_2023"].file_number in overdue and records["overdue_county"].file_number in overdue
    assert "逾期 355 天" in overdue  # due 2024-06-30, today 2025-06-20

    by_agency = deadline_data.list_url(
        deadline_data.ListFilter(D.Kind.TRANSFER, fonds="T001", agency="示范市市场监督管理局")
    )
    body = officer_client.get(by_agency).content.decode()
    assert records["t_overdue"].archival_code in body and records["t_due_30"].archival_code in body
    assert records["t_due_90"].archival_code not in body  # another agency
    assert "2025-02-28" in body  # archived on 29 Feb 2020: due 28 Feb 2025
    assert records["t_ten_years"].archival_code not in body


def test_list_orders_most_urgent_first_and_ignores_bad_parameters(officer_client, records):
    response = officer_client.get(
        reverse("web:deadline-records"), {"kind": "nope", "band": "x", "service_item": "a"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    shown = [r.file_number for r in Record.objects.order_by("completed_at") if r.file_number in body]
    assert shown[0] == records["overdue_county"].file_number
    positions = [body.index(records[k].file_number) for k in ("overdue_county", "overdue_2023", "due_leap")]
    assert positions == sorted(positions)


def test_list_urls_round_trip():
    f = deadline_data.ListFilter(D.Kind.TRANSFER, "due_90", "T001", "", 7)
    query = {
        k: v[0]
        for k, v in parse_qs(urlparse(deadline_data.list_url(f)).query, keep_blank_values=True).items()
    }
    assert deadline_data.parse_filter(query) == f


def test_pages_need_the_right_to_view_records(clerk_client, records):
    for name in ("web:deadlines", "web:deadline-records"):
        assert clerk_client.get(reverse(name)).status_code == 403
        anonymous = Client().get(reverse(name))
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert "归档期限" not in clerk_client.get(reverse("web:dashboard")).content.decode()


def test_record_status_helper_matches_the_counts(records):
    status = deadline_data.record_status(records["unknown"], D.Kind.ARCHIVE)
    assert status.state == D.State.DUE and status.due == date(TODAY.year + 1, 6, 30)
    transfer = deadline_data.record_status(records["t_overdue"], D.Kind.TRANSFER)
    assert transfer.state == D.State.OVERDUE and transfer.due == date(2025, 2, 28)
    assert deadline_data.record_status(records["due_leap"], D.Kind.TRANSFER).state == D.State.NOT_APPLICABLE
