from django.apps import AppConfig


class PreservationConfig(AppConfig):
    name = "dangan.preservation"
    label = "preservation"

    def ready(self) -> None:
        # A mistyped storage location stops start-up instead of failing the first replication.
        from dangan.storage.locations import validate

        validate()
