"""Who is uploading: an API token (the default and only way under the default policy)."""

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from packyard.accounts.models import User
from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.services import password_check
from packyard.http import Credentials, MalformedCredentials, client_ip, credentials_from_header
from packyard.packages.trusted.credentials import (
    PublisherIdentity,
    is_publisher_token,
    publisher_token_check,
)
from packyard.packages.upload.errors import UploadRefused
from packyard.tokens.check import (
    TOKEN_FAILURES,
    TokenIdentity,
    token_authenticate,
    token_failures_per_ip,
)
from packyard.tokens.errors import GENERIC_FAILURE, TokenError
from packyard.twofactor.services import two_factor_missing, user_has_two_factor


@dataclass
class Uploader:
    # None for a trusted publisher, which uploads for its project and is nobody's account.
    user: User | None
    identity: TokenIdentity | None  # None when a password was used, where policy allows it
    publisher: PublisherIdentity | None = None

    @property
    def method(self) -> str:
        """The credential, in the words of the project's history and its Owners' emails."""
        if self.publisher is not None:
            return "trusted publisher"
        if self.identity is not None:
            return f"token {self.identity.token.description!r}"
        return "password"


def _tokens_page() -> str:
    return settings.BASE_URL + reverse("tokens:list")


def _credentials(request: HttpRequest) -> Credentials:
    try:
        credentials = credentials_from_header(request)
    except MalformedCredentials:
        raise UploadRefused(GENERIC_FAILURE, 403) from None
    if credentials is None:
        raise UploadRefused(
            "Missing credentials: upload with the username __token__ and an API token as the "
            f"password. Create a token at {_tokens_page()}",
            401,
        )
    return credentials


def _check_account(user: User) -> None:
    if not user.is_active:
        raise UploadRefused(GENERIC_FAILURE, 403)
    if not user.email_verified:
        raise UploadRefused(
            f"User {user.username!r} does not have a verified email address. Verify it at "
            f"{settings.BASE_URL}{reverse('accounts:manage')} before uploading.",
            403,
        )


def _password_upload(request: HttpRequest, username: str, password: str) -> Uploader:
    policy = settings.PACKYARD_UPLOAD_AUTH
    refusal = (
        "Username/password uploads are not allowed on this index. Create an API token at "
        f"{_tokens_page()} and upload with the username __token__ and the token as the password."
    )
    # Settings refuse to start with password uploads beside a 2FA policy; checked here again
    # because a password upload never carries the second factor that policy demands.
    if policy == "tokens" or settings.PACKYARD_REQUIRE_2FA != "off":
        raise UploadRefused(refusal, 403)
    try:
        user = password_check(request=request, username=username, password=password)
    except RateLimited as exc:
        raise exc.refusal("Too many failed login attempts") from None
    if user is None:
        raise UploadRefused(GENERIC_FAILURE, 403)
    if policy == "tokens-if-2fa" and user_has_two_factor(user):
        raise UploadRefused(refusal.replace("this index", "accounts with two-factor login"), 403)
    _check_account(user)
    return Uploader(user=user, identity=None)


def authenticate(request: HttpRequest) -> Uploader:
    credentials = _credentials(request)
    if credentials.token is None:
        return _password_upload(request, credentials.username, credentials.secret)
    if is_publisher_token(credentials.token):
        return _publisher_upload(request, credentials.token)
    try:
        identity = token_authenticate(raw=credentials.token, client_ip=client_ip(request))
    except TokenError as exc:
        raise UploadRefused(str(exc), 403) from None
    except RateLimited as exc:
        raise exc.refusal(TOKEN_FAILURES) from None
    _check_account(identity.user)
    _check_two_factor_policy(identity)
    return Uploader(user=identity.user, identity=identity)


def _publisher_upload(request: HttpRequest, raw: str) -> Uploader:
    limit = token_failures_per_ip()
    address = client_ip(request)
    try:
        limit.hit(address)  # counted before the check, as for API tokens; a good one gives back
        identity = publisher_token_check(raw)
    except TokenError as exc:
        raise UploadRefused(str(exc), 403) from None
    except RateLimited as exc:
        raise exc.refusal(TOKEN_FAILURES) from None
    limit.give_back(address)
    return Uploader(user=None, identity=None, publisher=identity)


def _check_two_factor_policy(identity: TokenIdentity) -> None:
    """Under PACKYARD_REQUIRE_2FA, a token works only while its owner keeps a second factor;
    the operator's own tokens from `packyard token create` are the one exception."""
    if two_factor_missing(
        identity.user, publishing=True, by_operator=identity.token.minted_by_operator
    ):
        raise UploadRefused(
            f"User {identity.user.username!r} has no second factor, which this index requires for "
            f"uploads. Set up two-factor authentication at {settings.BASE_URL}"
            f"{reverse('twofactor:overview')}, then upload again.",
            403,
        )
