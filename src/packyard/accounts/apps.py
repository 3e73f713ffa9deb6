from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "packyard.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from packyard.accounts.places import check_database

        check_database()
