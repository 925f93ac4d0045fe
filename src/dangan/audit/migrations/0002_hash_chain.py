"""The SM3 hash chain: seq, prev_hash and hash on every event (existing rows chained in id order),
and signed checkpoints."""

from django.db import migrations, models
from django.utils import timezone


def chain_existing(apps, schema_editor):
    from dangan.core import auditchain

    AuditEvent = apps.get_model("audit", "AuditEvent")
    seq, prev = 0, auditchain.GENESIS
    batch = []
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        seq += 1
        event.seq, event.prev_hash = seq, prev
        event.hash = auditchain.event_hash(auditchain.EventContent(
            seq=seq, prev_hash=prev, at=event.at, kind=event.kind, actor=event.actor, role=event.role,
            object_type=event.object_type, object_id=event.object_id, outcome=event.outcome,
            source_ip=event.source_ip, detail=event.detail,
        ))
        prev = event.hash
        batch.append(event)
        if len(batch) >= 2000:
            AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
            batch = []
    if batch:
        AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.BigIntegerField(unique=True)),
                ("head_hash", models.CharField(max_length=64)),
                ("count", models.BigIntegerField()),
                ("at", models.DateTimeField()),
                ("signature", models.BinaryField()),
                ("signer_fingerprint", models.CharField(max_length=64)),
            ],
            options={"ordering": ["seq"]},
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True, default=timezone.now, editable=False),
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["seq"]},
        ),
    ]
