from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dangan.accounts"
    label = "accounts"
    verbose_name = "账户与角色 Accounts"

    def ready(self) -> None:
        from dangan.accounts import signals  # noqa: F401 - audit of sign-in and sign-out
