"""Who may read the index: anyone by default; on a private index, a session or an API token."""

import base64
import binascii
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from packyard.accounts.ratelimit import RateLimited
from packyard.http import client_ip, plain_error, unauthorized
from packyard.tokens.services import TokenError, token_authenticate, token_failures_message

View = Callable[..., HttpResponseBase]


def token_from_header(request: HttpRequest) -> str | None:
    """The token in `Authorization: Bearer` or in Basic with the username __token__."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = (
            base64.b64decode(value.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if username == "__token__" else None


def may_read(request: HttpRequest) -> bool:
    """Raises RateLimited for an address with too many failed token checks."""
    if not settings.PACKYARD_PRIVATE or request.user.is_authenticated:
        return True
    raw = token_from_header(request)
    if raw is None:
        return False
    try:
        identity = token_authenticate(raw=raw, client_ip=client_ip(request), for_upload=False)
    except TokenError:
        return False
    return identity.user.is_active


def read_refusal(request: HttpRequest, *, limited_status: int = 429) -> HttpResponse | None:
    """The answer for a reader who may not read: 401, or `limited_status` after too many bad
    tokens from the reader's address."""
    try:
        allowed = may_read(request)
    except RateLimited as exc:
        response = plain_error(limited_status, token_failures_message(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    if allowed:
        return None
    return unauthorized("This index is private: use __token__ and an API token as credentials.")


def read_access(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = read_refusal(request)
        if refusal is not None:
            return refusal
        response = view(request, *args, **kwargs)
        if settings.PACKYARD_PRIVATE:
            response["Cache-Control"] = "private, no-cache"
            response.headers["Vary"] = ", ".join(
                filter(None, [response.headers.get("Vary"), "Authorization", "Cookie"])
            )
        return response

    return wrapper
