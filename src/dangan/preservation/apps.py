from django.apps import AppConfig


class PreservationConfig(AppConfig):
    name = "dangan.preservation"
    label = "preservation"
