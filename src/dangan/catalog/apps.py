from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "dangan.catalog"
    label = "catalog"
    verbose_name = "全宗与事项 Catalogue"
