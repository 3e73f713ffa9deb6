from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from packyard.accounts.models import User
from packyard.twofactor.services import two_factor_missing

# What an account without a second factor may still open under PACKYARD_REQUIRE_2FA=all: the
# pages that set one up, and its account page (to verify the email address).
SETUP_PATHS = (
    "/manage/account/two-factor/",
    "/manage/account/recovery-codes/",
    "/manage/account/totp/",
    "/manage/account/webauthn/",
)
UPLOADER_PATHS = ("/manage/account/tokens/", "/manage/project")


class TwoFactorPolicyMiddleware:
    """PACKYARD_REQUIRE_2FA: `all` keeps accounts without a second factor to setting one up
    (`phishing-resistant`: without a security key or passkey);
    `uploaders` keeps them from tokens and project management."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/manage/") and self._blocked(request):
            if settings.PACKYARD_REQUIRE_2FA == "phishing-resistant":
                messages.info(
                    request, "Add a security key or passkey first: this site requires one."
                )
            else:
                messages.info(
                    request, "Set up two-factor authentication first: this site requires it."
                )
            return redirect("twofactor:overview")
        return self.get_response(request)

    def _blocked(self, request: HttpRequest) -> bool:
        user = request.user
        path = request.path
        if not isinstance(user, User) or path == "/manage/account/" or path.startswith(SETUP_PATHS):
            return False
        return two_factor_missing(user, publishing=path.startswith(UPLOADER_PATHS))
