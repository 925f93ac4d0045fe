from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "dangan.catalog"
    label = "catalog"
    verbose_name = "全宗与事项 Catalogue"

    def ready(self) -> None:
        from dangan.catalog import openapi  # noqa: F401 - registers the token scheme with drf-spectacular
