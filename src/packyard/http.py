"""Small helpers shared by the machine endpoints and the web views."""

import base64
import binascii
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

# Stored with sessions, events and tokens' last use: long enough for any real browser's.
USER_AGENT_LIMIT = 512


class Refused(Exception):
    """A request refused with a message for the person (or the client they run) and its HTTP
    status; `retry_after` (seconds) for a refusal that ends by itself (429), sent as Retry-After.
    Services raise it; views choose how to show the message."""

    def __init__(self, message: str, status: int = 400, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def wait_in_words(seconds: int) -> str:
    """ "in 40 seconds", "in 3 minutes", "in 2 hours": rounded up, never shorter than the wait."""
    seconds = max(1, seconds)
    if seconds < 120:
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    if minutes < 120:
        return f"in {minutes} minutes"
    return f"in {-(-minutes // 60)} hours"


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting X-Forwarded-For only for the configured proxies."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if settings.PROXY_COUNT <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < settings.PROXY_COUNT:
        return remote
    return str(hops[-settings.PROXY_COUNT])


@dataclass(frozen=True)
class ClientInfo:
    """Who is asking, as recorded beside sessions, events and tokens."""

    ip: str
    user_agent: str


def client_info(request: HttpRequest | None) -> ClientInfo:
    if request is None:
        return ClientInfo(ip="", user_agent="")
    agent = str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_LIMIT]
    return ClientInfo(ip=client_ip(request), user_agent=agent)


def safe_next(request: HttpRequest, target: str) -> str:
    """The page to go to after a login or confirmation: the target when it is on this site,
    else the account page (never another site: an open redirect would serve phishing)."""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def parse_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def row_id_or_404(text: str | None) -> int:
    """A row id from a form; 404 for anything that is not a number."""
    try:
        return int(text or "")
    except ValueError:
        raise Http404("No such entry") from None


TOKEN_USERNAME = "__token__"  # noqa: S105 - the username PyPI clients send with a token


@dataclass(frozen=True)
class Credentials:
    username: str
    secret: str

    @property
    def token(self) -> str | None:
        return self.secret if self.username == TOKEN_USERNAME else None


class MalformedCredentials(Exception):
    """An Authorization header that is neither Basic nor Bearer, or cannot be decoded."""


def credentials_from_header(request: HttpRequest) -> Credentials | None:
    """The credentials in `Authorization: Basic` (username and password) or `Bearer` (a token,
    as the username __token__); None without the header."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return Credentials(username=TOKEN_USERNAME, secret=value.strip())
    if scheme.lower() != "basic":
        raise MalformedCredentials
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise MalformedCredentials from None
    username, separator, password = decoded.partition(":")
    if not separator:
        raise MalformedCredentials
    return Credentials(username=username, secret=password)


def token_from_header(request: HttpRequest) -> str | None:
    """The API token the request carries, if it carries one in either form."""
    try:
        credentials = credentials_from_header(request)
    except MalformedCredentials:
        return None
    return credentials.token if credentials is not None else None


def _reason_phrase(message: str) -> str:
    # A reason phrase is one line of visible ASCII; the body keeps the full text.
    flat = " ".join(message.split())
    return flat.encode("ascii", "replace").decode("ascii")[:512]


def plain_error(status: int, message: str) -> HttpResponse:
    """An error that twine (reason phrase), uv (body) and poetry (both) all show."""
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    response.reason_phrase = _reason_phrase(message)
    return response


def refusal_response(refused: Refused) -> HttpResponse:
    """A refusal as plain text for a machine client, with Retry-After when it ends by itself."""
    response = plain_error(refused.status, refused.message)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response


def unauthorized(message: str) -> HttpResponse:
    response = plain_error(401, message)
    response["WWW-Authenticate"] = f'Basic realm="{settings.SITE_NAME}"'
    return response


def content_length(request: HttpRequest) -> int:
    """The declared body size; a malformed header counts as none (the body is then read as such)."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0
