from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "dangan.archive"
    label = "archive"
    verbose_name = "档案库 Archive"
