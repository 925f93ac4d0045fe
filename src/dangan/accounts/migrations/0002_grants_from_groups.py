"""Existing accounts keep their roles (as all-fonds grants, from the role groups they were in) and need
no forced password change; existing source-system tokens become ApiTokens with the default scopes."""

from django.db import migrations

ROLE_NAMES = {"records_officer", "service_clerk", "system_admin"}
DEFAULT_SCOPES = ["cases:submit", "cases:check", "submissions:read"]


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    User = apps.get_model("auth", "User")
    RoleGrant = apps.get_model("accounts", "RoleGrant")
    AccountSecurity = apps.get_model("accounts", "AccountSecurity")
    SourceSystem = apps.get_model("catalog", "SourceSystem")
    ApiToken = apps.get_model("accounts", "ApiToken")
    for user in User.objects.all():
        AccountSecurity.objects.get_or_create(user=user, defaults={"must_change_password": False})
        for name in user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True):
            RoleGrant.objects.get_or_create(user=user, role=name, fonds=None, defaults={"granted_by": "migration"})
        if user.is_superuser:
            user.is_superuser = False  # nobody bypasses the role table
            user.save(update_fields=["is_superuser"])
    for system in SourceSystem.objects.exclude(token_hash=""):
        ApiToken.objects.get_or_create(
            token_hash=system.token_hash,
            defaults={
                "system": system,
                "token_prefix": system.token_prefix,
                "scopes": DEFAULT_SCOPES,
                "created_by": "migration",
                "created_at": system.created_at,
                "expires_at": system.expires_at,
                "revoked_at": None if system.active else system.created_at,
                "revoked_by": "" if system.active else "migration",
                "last_used_at": system.last_used_at,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("catalog", "0004_admin_names"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
