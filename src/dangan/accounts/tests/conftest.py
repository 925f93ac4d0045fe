"""Fixtures of the account tests: the three administrators, a records officer, two fonds."""

from __future__ import annotations

import pytest
from django.test import Client

from dangan.accounts.roles import Actor, Role
from dangan.accounts.services import create_user

PASSWORD = "Long-enough-pw-42"


@pytest.fixture
def two_fonds(db):
    from dangan.catalog.services import upsert_fonds

    operator = Actor.system("test-operator")
    return (
        upsert_fonds(operator, code="F001", name="甲局", region_code="330899"),
        upsert_fonds(operator, code="F002", name="乙局", region_code="330899"),
    )


@pytest.fixture
def sysadmin(db):
    return create_user("sysadmin", [Role.SYSTEM_ADMIN], password=PASSWORD)[0]


@pytest.fixture
def secadmin(db):
    return create_user("secadmin", [Role.SECURITY_ADMIN], password=PASSWORD)[0]


@pytest.fixture
def auditor(db):
    return create_user("auditor", [Role.AUDITOR], password=PASSWORD)[0]


@pytest.fixture
def officer(db):
    return create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)[0]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
