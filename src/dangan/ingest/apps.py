from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "dangan.ingest"
    label = "ingest"
    verbose_name = "接收 Intake"
