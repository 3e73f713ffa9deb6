from django.apps import AppConfig


class OidcConfig(AppConfig):
    name = "packyard.oidc"
    label = "oidc"
    verbose_name = "OpenID Connect issuers"

    def ready(self) -> None:
        from packyard.oidc.issuers import configured_issuers

        # A mistake in the issuers file stops the server at start, not at the first exchange.
        configured_issuers()
