"""Indexes for the catalogue at scale (issue 7, a million records).

The formal library's search box matches 档号, 题名 and 电子文件号 by substring, case-insensitively
(``icontains``: ``UPPER(col::text) LIKE UPPER('%q%')`` on PostgreSQL). A B-tree cannot serve that; a
trigram GIN index on the same expression can (pg_trgm, a trusted extension since PostgreSQL 13, so the
database owner may create it; C.UTF-8 and other UTF-8 locales index Chinese characters too). Searches of
three characters or more use it; shorter ones still scan. On SQLite nothing is created for it.

The formal library's list (archived records by 档号), alone and filtered by fonds, service item, year or
retention: partial B-tree indexes (status = archived) ending in (archival_code, id), so a page's ids
come from the index alone in the list's order, however deep the page; and 全宗 + 年度 together (with
保管期限 included for that filter as well).
"""

from django.db import migrations, models

ARCHIVED = models.Q(status="archived")
LIST_INDEXES = (
    ((), "rec_arch_code_idx"),
    (("fonds",), "rec_arch_fonds_code_idx"),
    (("service_item",), "rec_arch_item_code_idx"),
    (("year",), "rec_arch_year_code_idx"),
    (("retention",), "rec_arch_ret_code_idx"),
)

COLUMNS = ("archival_code", "title", "file_number")


def _is_postgres(schema_editor) -> bool:  # type: ignore[no-untyped-def]
    return schema_editor.connection.vendor == "postgresql"


def forwards(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if not _is_postgres(schema_editor):
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for col in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS archive_record_{col}_trgm "
            f'ON archive_record USING gin ((UPPER("{col}"::text)) gin_trgm_ops)'
        )


def backwards(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if not _is_postgres(schema_editor):
        return
    for col in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS archive_record_{col}_trgm")


class Migration(migrations.Migration):
    dependencies = [("archive", "0006_aip_kind_migration")]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
        *(
            migrations.AddIndex(
                model_name="record",
                index=models.Index(fields=[*lead, "archival_code", "id"], condition=ARCHIVED, name=name),
            )
            for lead, name in LIST_INDEXES
        ),
        migrations.AddIndex(
            model_name="record",
            index=models.Index(
                fields=["fonds", "year", "archival_code", "id"],
                include=["retention"],
                condition=ARCHIVED,
                name="rec_arch_fonds_year_code_idx",
            ),
        ),
    ]
