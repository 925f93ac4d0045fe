"""The account rules, as the services enforce them for the web pages, the CLI and the API alike."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from dangan.accounts import services
from dangan.accounts.models import RoleGrant
from dangan.accounts.roles import Actor, Perm, PermissionDenied, Role
from dangan.accounts.services import AccountError, RoleConflict
from dangan.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def as_actor(user: User) -> Actor:
    return Actor.from_user(User.objects.get(pk=user.pk))


def plain(name: str) -> User:
    return services.create_account(Actor.system("op"), name)[0]


@pytest.mark.parametrize(
    ("held", "adding"),
    [
        (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN),
        (Role.SYSTEM_ADMIN, Role.AUDITOR),
        (Role.SECURITY_ADMIN, Role.SYSTEM_ADMIN),
        (Role.SECURITY_ADMIN, Role.AUDITOR),
        (Role.AUDITOR, Role.SYSTEM_ADMIN),
        (Role.AUDITOR, Role.SECURITY_ADMIN),
    ],
)
def test_the_three_administrators_are_three_people(secadmin, held, adding):
    user = plain("someone")
    services.grant_role(as_actor(secadmin), user, held)
    with pytest.raises(RoleConflict):
        services.grant_role(as_actor(secadmin), user, adding)
    assert set(RoleGrant.objects.filter(user=user).values_list("role", flat=True)) == {held.value}


@pytest.mark.parametrize("other", [Role.RECORDS_OFFICER, Role.REQUESTER, Role.SERVICE_CLERK])
def test_the_auditor_holds_nothing_else(secadmin, other):
    first = plain("a1")
    services.grant_role(as_actor(secadmin), first, Role.AUDITOR)
    with pytest.raises(RoleConflict):
        services.grant_role(as_actor(secadmin), first, other)
    second = plain("a2")
    services.grant_role(as_actor(secadmin), second, other)
    with pytest.raises(RoleConflict):
        services.grant_role(as_actor(secadmin), second, Role.AUDITOR)


def test_nobody_grants_or_revokes_his_own_roles(secadmin):
    me = as_actor(secadmin)
    with pytest.raises(RoleConflict):
        services.grant_role(me, secadmin, Role.RECORDS_OFFICER)
    with pytest.raises(RoleConflict):
        services.revoke_role(me, secadmin, Role.SECURITY_ADMIN)
    assert RoleGrant.objects.filter(user=secadmin).count() == 1


def test_system_administrator_cannot_grant_roles_not_even_to_himself(sysadmin, officer):
    me = as_actor(sysadmin)
    assert not me.can(Perm.ASSIGN_ROLES)
    for target in (sysadmin, officer):
        with pytest.raises(PermissionDenied):
            services.grant_role(me, target, Role.APPROVER)
    with pytest.raises(PermissionDenied):
        services.revoke_role(me, officer, Role.RECORDS_OFFICER)
    assert not RoleGrant.objects.filter(role=Role.APPROVER).exists()


def test_only_the_system_administrator_manages_accounts(sysadmin, secadmin, auditor, officer):
    for user in (secadmin, auditor, officer):
        actor = as_actor(user)
        with pytest.raises(PermissionDenied):
            services.create_account(actor, "newbie")
        with pytest.raises(PermissionDenied):
            services.set_active(actor, officer if user != officer else sysadmin, False)
        with pytest.raises(PermissionDenied):
            services.reset_password(actor, sysadmin)
        with pytest.raises(PermissionDenied):
            services.unlock(actor, sysadmin)
    user, password = services.create_account(as_actor(sysadmin), "newbie")
    assert user.check_password(password) and user.security.must_change_password
    assert not RoleGrant.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(kind="user.created", actor="sysadmin", object_id=str(user.pk)).exists()


def test_administrators_are_instance_wide(secadmin, two_fonds):
    user = plain("x")
    with pytest.raises(RoleConflict):
        services.grant_role(as_actor(secadmin), user, Role.SYSTEM_ADMIN, fonds=two_fonds[0])


def test_per_fonds_grants_give_per_fonds_access(secadmin, two_fonds):
    a, b = two_fonds
    user = plain("clerk")
    services.grant_role(as_actor(secadmin), user, Role.RECORDS_OFFICER, fonds=a)
    actor = as_actor(user)
    assert actor.can(Perm.VIEW_RECORDS, a.pk) and not actor.can(Perm.VIEW_RECORDS, b.pk)
    assert actor.can(Perm.VIEW_RECORDS)  # in at least one fonds
    assert actor.fonds_ids(Perm.CONFIRM) == frozenset({a.pk})
    assert not actor.can(Perm.APPROVE_ACCESS, a.pk)

    services.grant_role(as_actor(secadmin), user, Role.RECORDS_OFFICER, fonds=b)
    assert as_actor(user).fonds_ids(Perm.CONFIRM) == frozenset({a.pk, b.pk})
    with pytest.raises(RoleConflict):  # already held there
        services.grant_role(as_actor(secadmin), user, Role.RECORDS_OFFICER, fonds=b)

    # All fonds replaces the per-fonds grants.
    services.grant_role(as_actor(secadmin), user, Role.RECORDS_OFFICER)
    assert as_actor(user).fonds_ids(Perm.CONFIRM) is None
    assert list(RoleGrant.objects.filter(user=user).values_list("fonds", flat=True)) == [None]

    # An approver in fonds b only reads there, while the officer role still reads everywhere.
    services.grant_role(as_actor(secadmin), user, Role.APPROVER, fonds=b)
    actor = as_actor(user)
    assert actor.can(Perm.APPROVE_ACCESS, b.pk) and not actor.can(Perm.APPROVE_ACCESS, a.pk)
    assert actor.fonds_ids(Perm.VIEW_RECORDS) is None


def test_revocation_is_immediate(secadmin, two_fonds):
    a, b = two_fonds
    user = plain("clerk")
    services.grant_role(as_actor(secadmin), user, Role.SERVICE_CLERK, fonds=a)
    services.grant_role(as_actor(secadmin), user, Role.SERVICE_CLERK, fonds=b)
    assert services.revoke_role(as_actor(secadmin), user, Role.SERVICE_CLERK, fonds=a) == 1
    actor = as_actor(user)
    assert not actor.can(Perm.INGEST, a.pk) and actor.can(Perm.INGEST, b.pk)
    assert services.revoke_role(as_actor(secadmin), user, Role.SERVICE_CLERK) == 1
    assert not as_actor(user).can(Perm.INGEST)
    with pytest.raises(AccountError):
        services.revoke_role(as_actor(secadmin), user, Role.SERVICE_CLERK)
    kinds = list(AuditEvent.objects.filter(object_id=str(user.pk)).values_list("kind", flat=True))
    assert kinds.count("role.granted") == 2 and kinds.count("role.revoked") == 2


def test_a_disabled_account_acts_nowhere(sysadmin, officer):
    services.set_active(as_actor(sysadmin), officer, False, reason="left")
    assert as_actor(officer).perms == frozenset()
    with pytest.raises(AccountError):
        services.set_active(as_actor(sysadmin), sysadmin, False)
    services.set_active(as_actor(sysadmin), officer, True)
    assert as_actor(officer).can(Perm.CONFIRM)
    assert AuditEvent.objects.filter(kind="user.disabled", detail__reason="left").exists()


def test_reset_password_and_unlock(sysadmin, officer):
    from django.utils import timezone

    sec = officer.security
    sec.failed_logins, sec.locked_until = 5, timezone.now() + timezone.timedelta(minutes=10)
    sec.save()
    services.unlock(as_actor(sysadmin), officer)
    officer.security.refresh_from_db()
    assert officer.security.failed_logins == 0 and officer.security.locked_until is None
    new = services.reset_password(as_actor(sysadmin), officer)
    officer.refresh_from_db()
    assert officer.check_password(new) and officer.security.must_change_password
    with pytest.raises(AccountError):
        services.reset_password(as_actor(sysadmin), sysadmin)
