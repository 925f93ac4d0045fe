from __future__ import annotations

import pytest

from dangan.accounts.roles import Actor, Perm


@pytest.fixture
def operator() -> Actor:
    return Actor.system("test-operator")


@pytest.fixture
def test_catalogue(db, operator):
    """Fonds T001 with item TEST-ITEM (manual confirm) and AUTO-ITEM (auto-confirm)."""
    from dangan.catalog import services

    fonds = services.upsert_fonds(operator, code="T001", name="示范市行政审批服务局", region_code="330899")
    services.upsert_service_item(
        operator, fonds, code="TEST-ITEM", name="测试事项", retention="D30", class_code="SP"
    )
    services.upsert_service_item(operator, fonds, code="AUTO-ITEM", name="自动归档事项", retention="D10",
                                 class_code="ZD", auto_confirm=True)  # fmt: skip
    return fonds


@pytest.fixture
def officer_actor() -> Actor:
    return Actor.system(
        "officer", frozenset({Perm.CONFIRM, Perm.RETURN, Perm.DOWNLOAD, Perm.VIEW_RECORDS, Perm.VERIFY})
    )
