from django.apps import AppConfig


class PackagesConfig(AppConfig):
    name = "packyard.packages"
    label = "packages"
    verbose_name = "Packages"

    def ready(self) -> None:
        from packyard.packages.token_events import record_token_change
        from packyard.packages.token_projects import ProjectsForTokens
        from packyard.tokens.projects import directory_register
        from packyard.tokens.signals import token_changed

        token_changed.connect(record_token_change, dispatch_uid="packages-token-history")
        directory_register(ProjectsForTokens())
