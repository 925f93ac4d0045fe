"""The formal library and the dashboard at scale (issue 7): counts from the cached aggregate are exact
and follow changes; pages read ids first; a search's few matches come sorted as the list's order."""

from __future__ import annotations

import itertools

import pytest
from django.test import Client

from dangan.accounts.roles import Actor
from dangan.archive import services as archive_services
from dangan.archive.models import Record
from dangan.archive.states import RecordStatus
from dangan.web import views

from .conftest import PASSWORD

_serial = itertools.count()


def _clone_archived(template: Record, n: int, *, year: int | None = None) -> list[Record]:
    """``n`` archived copies of ``template`` with their own file numbers and 档号."""
    fields = {
        f.attname: getattr(template, f.attname) for f in Record._meta.concrete_fields if not f.primary_key
    }
    out = []
    for _ in range(n):
        i = next(_serial)
        r = Record(**fields)
        r.file_number = f"{template.file_number}-T{i:04d}"
        r.archival_code = f"{template.archival_code}-T{i:04d}"
        r.year = year or template.year
        r.save()
        out.append(r)
    return out


def _login(client: Client, user) -> Client:  # type: ignore[no-untyped-def]
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _shown_count(client: Client, url: str) -> int:
    r = client.get(url)
    assert r.status_code == 200
    count = r.context["page"].paginator.count
    assert str(count) in r.content.decode()  # the page states it
    return int(count)


@pytest.mark.django_db
def test_list_counts_beyond_the_cap_come_from_the_aggregate_and_are_exact(demo, officer, client, monkeypatch):
    monkeypatch.setattr(views, "COUNT_CAP", 2)  # every list below selects more than "the cap"
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    template = demo.archived
    _clone_archived(template, 5)
    _clone_archived(template, 4, year=template.year - 1)
    _login(client, officer)
    archived = Record.objects.filter(status=RecordStatus.ARCHIVED)
    assert _shown_count(client, "/records/") == archived.count()
    assert _shown_count(client, f"/records/?year={template.year - 1}") == 4
    url = f"/records/?fonds={template.fonds.code}&year={template.year}"
    assert _shown_count(client, url) == archived.filter(year=template.year).count()
    # A page deep in the list holds exactly the records of that slice, in 档号 order.
    ordered = list(archived.order_by("archival_code", "id").values_list("archival_code", flat=True))
    page = client.get("/records/?page=3").context["page"]
    assert [r.archival_code for r in page.object_list] == ordered[6:9]
    page = client.get("/records/?sort=-code&page=2").context["page"]
    assert [r.archival_code for r in page.object_list] == ordered[::-1][3:6]


@pytest.mark.django_db
def test_dashboard_counts_follow_confirmation_and_new_records(demo, officer, client):
    _login(client, officer)

    def cards() -> dict[str, int]:
        ctx = client.get("/").context
        return {c["status"]: c["count"] for c in ctx["record_cards"]}

    before = cards()
    archive_services.confirm(Actor.system("test"), demo.pending.pk)
    after = cards()
    assert after[RecordStatus.ARCHIVED] == before[RecordStatus.ARCHIVED] + 1
    assert after[RecordStatus.PRE_ARCHIVE] == before[RecordStatus.PRE_ARCHIVE] - 1
    _clone_archived(demo.archived, 2)
    assert cards()[RecordStatus.ARCHIVED] == after[RecordStatus.ARCHIVED] + 2
    by_year = {row["label"]: row["value"] for row in client.get("/").context["by_year"]}
    assert sum(by_year.values()) == Record.objects.filter(status=RecordStatus.ARCHIVED).count()


@pytest.mark.django_db
def test_search_matches_sorted_like_the_list_and_counted(demo, officer, client):
    template = demo.archived
    clones = _clone_archived(template, 3)
    _login(client, officer)
    r = client.get("/records/", {"q": "-T"})
    page = r.context["page"]
    assert [x.archival_code for x in page.object_list] == sorted(c.archival_code for c in clones)
    assert page.paginator.count == 3
    r = client.get("/records/", {"q": clones[1].archival_code.lower(), "sort": "-code"})
    assert [x.pk for x in r.context["page"].object_list] == [clones[1].pk]
    assert client.get("/records/", {"q": "no-such-code"}).context["page"].paginator.count == 0
