from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "packyard.tokens"
    label = "tokens"
    verbose_name = "API tokens"
