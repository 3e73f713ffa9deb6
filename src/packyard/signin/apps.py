from django.apps import AppConfig


class SignInConfig(AppConfig):
    name = "packyard.signin"
    label = "signin"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from packyard.signin.pending import forget_half_finished_logins

        user_logged_in.connect(forget_half_finished_logins, dispatch_uid="signin-forget-pending")
