"""Fixtures of the archiving-configuration tests: a fonds with two items, and users of each role."""

from __future__ import annotations

import pytest
from django.test import Client

from dangan.accounts.roles import Actor, Role
from dangan.accounts.services import create_user

PASSWORD = "schedule-password-42"


@pytest.fixture
def fonds(db):
    from dangan.catalog import services

    actor = Actor.system("test")
    fonds = services.upsert_fonds(actor, code="F01", name="示范市政务服务管理局", region_code="330899")
    services.upsert_service_item(
        actor, fonds, code="ITEM-1", name="食品经营许可", retention="D30", class_code="SP",
        scope=[{"code": "A01", "name": "申请书", "required": True}],
    )  # fmt: skip
    services.upsert_service_item(
        actor, fonds, code="ITEM-2", name="公积金提取", retention="D10", class_code="GJJ"
    )
    return fonds


def _client(username: str, roles: list[Role]) -> Client:
    user, _ = create_user(username, roles, password=PASSWORD)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def officer_client(db) -> Client:
    return _client("officer", [Role.RECORDS_OFFICER])


@pytest.fixture
def sysadmin_client(db) -> Client:
    return _client("sysadmin", [Role.SYSTEM_ADMIN])


@pytest.fixture
def clerk_client(db) -> Client:
    return _client("clerk", [Role.SERVICE_CLERK])
