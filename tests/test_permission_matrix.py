"""The permission matrix: every URL of the instance (API endpoints, UI pages and actions) × every role.

One table (``RULES``) says, per URL name, which roles may use it — derived from the role table
(``ROLE_PERMISSIONS``) through the permission the URL needs. The test walks the URL configuration, so
a new URL without a rule here fails it; then it calls every URL as every role (one account per role,
holding it in all fonds; a source system with a token; no one) and compares allowed vs refused.

Refused means 401/403/404 or a redirect to a login page; allowed means anything else (a validation
error of an empty form is still allowed: the permission was granted before the input was read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dangan.accounts.roles import ROLE_PERMISSIONS, Actor, Perm, Role
from dangan.accounts.services import create_account, create_user
from dangan.accounts.tokens import issue_token
from dangan.archive import services as archive
from dangan.archive.models import Record
from dangan.catalog import services as catalog
from dangan.catalog.models import ArchiveClass, ServiceItem
from dangan.ingest import services as ingest
from dangan.ingest.models import Submission
from dangan.jobs import services as jobs
from tests.factories import write_case

pytestmark = pytest.mark.django_db
PASSWORD = "Matrix-role-pw-2026"
ANONYMOUS = "anonymous"
SOURCE = "source_system"
EVERY_ROLE = frozenset(r.value for r in Role)
EVERYONE = EVERY_ROLE | {ANONYMOUS, SOURCE}


def holders(perm: Perm, *, source: bool = False) -> frozenset[str]:
    """The roles that hold ``perm`` (and the source system, when its token scopes give it)."""
    roles = {r.value for r, perms in ROLE_PERMISSIONS.items() if perm in perms}
    return frozenset(roles | ({SOURCE} if source else set()))


@dataclass
class World:
    pending: Record
    archived: Record
    item: ServiceItem
    archive_class: ArchiveClass
    submission: Submission
    job_id: int
    target_user_id: int
    source_id: int
    token_to_revoke: int
    token: str


@dataclass(frozen=True)
class Rule:
    method: str
    who: frozenset[str]
    kwargs: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    data: Callable[[World], dict[str, Any]] = field(default=lambda w: {})
    query: str = ""


def rec(attr: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"pk": getattr(w, attr).pk}


ARCHIVED = rec("archived")
PENDING = rec("pending")
ITEM = rec("item")
TARGET: Callable[[World], dict[str, Any]] = lambda w: {"pk": w.target_user_id}  # noqa: E731
VIEW = holders(Perm.VIEW_RECORDS)
SUBMISSIONS = holders(Perm.VIEW_SUBMISSIONS)
SCHEDULE = holders(Perm.VIEW_SCHEDULE)
MANAGE_SCHEDULE = holders(Perm.MANAGE_SCHEDULE)
AUDIT = holders(Perm.READ_AUDIT)
ACCOUNTS = holders(Perm.MANAGE_ACCOUNTS) | holders(Perm.ASSIGN_ROLES)
JOB: Callable[[World], dict[str, Any]] = lambda w: {"pk": w.job_id}  # noqa: E731
# A job's page is for its creator (the records officer here) and whoever sees every fonds' records.
JOB_VIEWERS = VIEW | {Role.RECORDS_OFFICER.value}
JOB_CREATOR = frozenset({Role.RECORDS_OFFICER.value})

RULES: dict[str, Rule] = {
    # --- public: health, API schema, language switch, sign-in ---
    "healthz": Rule("GET", EVERYONE),
    "api-schema": Rule("GET", EVERYONE),  # the OpenAPI description holds no data
    "set_language": Rule("POST", EVERYONE, data=lambda w: {"language": "en", "next": "/"}),
    "web:login": Rule("GET", EVERYONE),
    "web:logout": Rule("POST", EVERYONE),
    "web:favicon": Rule("GET", EVERYONE),
    "web:password-change": Rule("GET", EVERY_ROLE),
    "web:dashboard": Rule("GET", EVERY_ROLE),
    "web:jobs": Rule("GET", EVERY_ROLE),  # one's own jobs (none for most)
    # --- API (docs: /api/schema/) ---
    "api-cases": Rule("POST", holders(Perm.INGEST, source=True)),
    "api-checks": Rule("POST", holders(Perm.PRECHECK, source=True)),
    "api-submission": Rule(
        "GET", holders(Perm.VIEW_SUBMISSIONS, source=True), lambda w: {"pk": w.submission.pk}
    ),
    "api-records": Rule("GET", VIEW),
    "api-record": Rule("GET", VIEW, ARCHIVED),
    "api-record-confirm": Rule("POST", holders(Perm.CONFIRM), PENDING),
    "api-record-return": Rule("POST", holders(Perm.RETURN), PENDING),
    "api-record-versions": Rule("GET", VIEW, ARCHIVED),
    "api-record-supplement": Rule("POST", holders(Perm.SUPPLEMENT), ARCHIVED),
    "api-record-correct": Rule("POST", holders(Perm.CORRECT), ARCHIVED),
    # --- records: pre-archive and formal library ---
    "web:prearchive": Rule("GET", VIEW),
    "web:confirm-selected": Rule("POST", holders(Perm.CONFIRM), data=lambda w: {"ids": [w.pending.pk]}),
    "web:records": Rule("GET", VIEW),
    "web:record": Rule("GET", VIEW, ARCHIVED),
    "web:confirm": Rule("POST", holders(Perm.CONFIRM), PENDING),
    "web:return": Rule("POST", holders(Perm.RETURN), PENDING, data=lambda w: {"reason": "matrix"}),
    "web:record-file": Rule(
        "GET", holders(Perm.DOWNLOAD), lambda w: {"pk": w.archived.pk, "path": w.archived.files.first().path}
    ),
    "web:record-report-pdf": Rule("GET", VIEW, ARCHIVED),
    "web:record-report-html": Rule("GET", VIEW, ARCHIVED),
    "web:supplement": Rule("POST", holders(Perm.SUPPLEMENT), ARCHIVED),
    "web:correct": Rule("GET", holders(Perm.CORRECT), ARCHIVED),
    "web:aip-download": Rule("GET", holders(Perm.DOWNLOAD), lambda w: {"pk": w.archived.pk, "version": 1}),
    "web:registration-form": Rule("GET", VIEW),
    "web:registration-form-xlsx": Rule("GET", VIEW),
    "web:registration-form-pdf": Rule("GET", VIEW),
    "web:catalogue": Rule("GET", VIEW),
    "web:catalogue-xlsx": Rule("GET", VIEW),
    "web:catalogue-pdf": Rule("GET", VIEW),
    "web:deadlines": Rule("GET", VIEW),
    "web:deadline-records": Rule("GET", VIEW),
    "web:rejected": Rule("GET", SUBMISSIONS),
    "web:submission": Rule("GET", SUBMISSIONS, lambda w: {"pk": w.submission.pk}),
    "web:bulk": Rule(
        "POST", holders(Perm.DOWNLOAD), data=lambda w: {"op": "export-aip", "ids": [w.archived.pk]}
    ),
    "web:job": Rule("GET", JOB_VIEWERS, JOB),
    "web:job-progress": Rule("GET", JOB_VIEWERS, JOB),
    "web:job-cancel": Rule("POST", JOB_CREATOR, JOB),
    "web:job-resume": Rule("POST", JOB_CREATOR, JOB),
    "web:job-result": Rule("GET", JOB_CREATOR, JOB),
    "web:preservation": Rule("GET", holders(Perm.VERIFY)),
    # --- classification scheme, retention schedule, archiving scope ---
    "catalog:items": Rule("GET", SCHEDULE),
    "catalog:item": Rule("GET", SCHEDULE, ITEM),
    "catalog:item-retention": Rule("POST", MANAGE_SCHEDULE, ITEM),
    "catalog:item-scope": Rule("POST", MANAGE_SCHEDULE, ITEM),
    "catalog:item-scope-remove": Rule("POST", MANAGE_SCHEDULE, ITEM),
    "catalog:item-class": Rule("POST", MANAGE_SCHEDULE, ITEM),
    "catalog:item-gap": Rule("POST", MANAGE_SCHEDULE, ITEM),
    "catalog:classes": Rule("GET", SCHEDULE),
    "catalog:class-edit": Rule("POST", MANAGE_SCHEDULE, lambda w: {"pk": w.archive_class.pk}),
    "catalog:codes": Rule("GET", SCHEDULE),
    "catalog:workbook": Rule("GET", SCHEDULE),
    "catalog:export": Rule("GET", SCHEDULE),
    # --- the auditor's pages ---
    "audit:events": Rule("GET", AUDIT),
    "audit:export-csv": Rule("GET", AUDIT),
    "audit:export-pdf": Rule("GET", AUDIT),
    "audit:verify": Rule("POST", AUDIT),
    # --- accounts, roles, source systems and tokens ---
    "accounts:index": Rule("GET", ACCOUNTS),
    "accounts:create": Rule("POST", holders(Perm.MANAGE_ACCOUNTS)),
    "accounts:detail": Rule("GET", ACCOUNTS, TARGET),
    "accounts:disable": Rule("POST", holders(Perm.MANAGE_ACCOUNTS), TARGET),
    "accounts:enable": Rule("POST", holders(Perm.MANAGE_ACCOUNTS), TARGET),
    "accounts:unlock": Rule("POST", holders(Perm.MANAGE_ACCOUNTS), TARGET),
    "accounts:reset-password": Rule("POST", holders(Perm.MANAGE_ACCOUNTS), TARGET),
    "accounts:grant": Rule("POST", holders(Perm.ASSIGN_ROLES), TARGET, data=lambda w: {"role": "requester"}),
    "accounts:revoke": Rule("POST", holders(Perm.ASSIGN_ROLES), TARGET, data=lambda w: {"role": "requester"}),
    "accounts:sources": Rule("GET", holders(Perm.MANAGE_TOKENS)),
    "accounts:source-add": Rule("POST", holders(Perm.MANAGE_TOKENS) & holders(Perm.MANAGE_CATALOG)),
    "accounts:token-issue": Rule("POST", holders(Perm.MANAGE_TOKENS), lambda w: {"pk": w.source_id}),
    "accounts:token-revoke": Rule("POST", holders(Perm.MANAGE_TOKENS), lambda w: {"pk": w.token_to_revoke}),
    # --- the Django admin screens: the system administrator's catalogue registration only ---
    "admin:*": Rule("GET", holders(Perm.MANAGE_CATALOG)),
}
ADMIN_PROBE = "/admin/catalog/fonds/"


def url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.app_name == "admin":
                    names.add("admin:*")
                    continue
                walk(p.url_patterns, p.namespace or namespace)
            elif isinstance(p, URLPattern) and p.name:
                names.add(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns, "")
    return names


def test_every_url_has_a_rule():
    names = url_names()
    assert not names - set(RULES), (
        f"URLs without a rule in the permission matrix: {sorted(names - set(RULES))}"
    )
    assert not set(RULES) - names, f"rules for URLs that no longer exist: {sorted(set(RULES) - names)}"


@pytest.fixture
def world(test_catalogue, operator, tmp_path, settings) -> World:
    settings.JOBS_EAGER = True
    records = []
    for i in (1, 2):
        path = write_case(tmp_path / f"c{i}", file_number=f"330899-A101-TEST-2025-D30-{i:06d}",
                          extra=i.to_bytes(2, "big"))  # fmt: skip
        sub = ingest.ingest_path(operator, path)
        assert sub.status == "accepted", sub.errors
        records.append(sub.record)
    archived = archive.confirm(operator, records[1].pk)
    item = ServiceItem.objects.get(fonds=test_catalogue, code="TEST-ITEM")
    cls = catalog.create_class(operator, test_catalogue, code="XK", name="行政许可")
    system, token = catalog.issue_source_token(
        operator, code="matrix-src", name="矩阵系统", fonds=[test_catalogue]
    )
    spare, _ = issue_token(operator, system, scopes=["cases:check"], name="to revoke")
    submission = Submission.objects.create(
        channel="api", source_system=system, submitted_by=f"source:{system.code}", package_name="x.zip",
        status="rejected", fonds=test_catalogue,
    )  # fmt: skip
    for role in Role:
        create_user(role.value, [role], password=PASSWORD)
    officer = Actor.from_user(User.objects.get(username=Role.RECORDS_OFFICER.value))
    job = jobs.start_bulk_export(officer, [archived.pk], format="aip-zip")
    target, _ = create_account(operator, "matrix-target")
    return World(
        pending=Record.objects.get(pk=records[0].pk), archived=archived, item=item, archive_class=cls,
        submission=submission, job_id=job.pk, target_user_id=target.pk, source_id=system.pk,
        token_to_revoke=spare.pk, token=token,
    )  # fmt: skip


def _refused(response: Any) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    if response.status_code in (301, 302, 303):
        location = response.get("Location", "")
        return location.startswith("/login/") or location.startswith("/admin/login/")
    return False


def _client(world: World, who: str) -> Client:
    if who == SOURCE:
        return Client(HTTP_AUTHORIZATION=f"Token {world.token}")
    client = Client()
    if who != ANONYMOUS:
        client.force_login(User.objects.get(username=who))
    return client


def test_every_role_is_allowed_or_refused_exactly_as_the_table_says(world):
    mismatches = []
    # Actions that change state run after the reads; revoking a token and logging out come last.
    order = sorted(
        RULES, key=lambda n: (n in ("accounts:token-revoke", "web:logout"), RULES[n].method != "GET", n)
    )
    clients = {who: _client(world, who) for who in sorted(EVERYONE)}
    for name in order:
        rule = RULES[name]
        url = ADMIN_PROBE if name == "admin:*" else reverse(name, kwargs=rule.kwargs(world)) + rule.query
        for who in sorted(EVERYONE):
            client = clients[who] if name != "web:logout" else _client(world, who)
            call = client.get if rule.method == "GET" else client.post
            response = call(url, rule.data(world)) if rule.method == "POST" else call(url)
            expected = who in rule.who
            # Signing out ends at the login page: that redirect is its success, not a refusal.
            refused = response.status_code >= 400 if name == "web:logout" else _refused(response)
            if refused == expected:
                mismatches.append(
                    f"{name} {rule.method} {url} as {who}: expected {'allowed' if expected else 'refused'}, "
                    f"got {response.status_code} {response.get('Location', '')}"
                )
    assert not mismatches, "\n".join(mismatches)
