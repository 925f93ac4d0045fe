"""PostgreSQL: the audit tables refuse UPDATE and DELETE (a trigger). On SQLite nothing is installed;
the application never issues either statement. TRUNCATE is not blocked (the test runner empties
tables with it); `dangan audit verify` detects a truncated chain through the signed checkpoints."""

from django.db import migrations

TABLES = ("audit_auditevent", "audit_auditcheckpoint")

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION dangan_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'dangan: % on % refused: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION dangan_audit_append_only()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS dangan_audit_append_only()")


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_hash_chain"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
