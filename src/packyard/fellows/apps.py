from django.apps import AppConfig


class FellowsConfig(AppConfig):
    name = "packyard.fellows"
    label = "fellows"
    verbose_name = "Recognition programme"

    def ready(self) -> None:
        from packyard.fellows.services import cutoffs

        # A mistake in the calendar stops the server at start, not at the first nomination.
        cutoffs()
