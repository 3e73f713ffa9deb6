from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    name = "packyard.twofactor"
    label = "twofactor"
    verbose_name = "Two-factor authentication"
