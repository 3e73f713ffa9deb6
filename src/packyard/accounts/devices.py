"""Recognizing a browser or address that has logged in to an account before."""

import hashlib
import hmac
import secrets
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from packyard.accounts.events import EventTag
from packyard.accounts.models import Event, KnownDevice, User
from packyard.http import client_ip

DEVICE_COOKIE = "packyard_device"
DEVICE_COOKIE_AGE = 365 * 86400
NEW_DEVICE_ATTRIBUTE = "_packyard_new_device_token"


def _digest(token: str) -> str:
    key = hmac.new(settings.SECRET_KEY.encode(), b"packyard/device/v1", hashlib.sha256).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def device_key(request: HttpRequest, user: User) -> str | None:
    """A stable name for this browser (by its device cookie) or this address, if the account has
    logged in from it before; None for a stranger."""
    token = request.COOKIES.get(DEVICE_COOKIE, "")
    if token:
        digest = _digest(token)
        if KnownDevice.objects.filter(user=user, token_digest=digest).exists():
            return f"cookie:{digest}"
    address = client_ip(request)
    if (
        address
        and Event.objects.filter(user=user, tag=EventTag.LOGIN_SUCCESS, ip_address=address).exists()
    ):
        return f"address:{address}"
    return None


def device_known(request: HttpRequest, user: User) -> bool:
    """This browser logged in to the account before, or the account logged in from this address."""
    return device_key(request, user) is not None


def device_remember(request: HttpRequest, user: User) -> None:
    """Mark this browser as known; the middleware sets the cookie on the response."""
    token = request.COOKIES.get(DEVICE_COOKIE, "")
    if token and KnownDevice.objects.filter(user=user, token_digest=_digest(token)).exists():
        return
    token = secrets.token_urlsafe(32)
    KnownDevice.objects.create(user=user, token_digest=_digest(token))
    setattr(request, NEW_DEVICE_ATTRIBUTE, token)


class DeviceCookieMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        token = getattr(request, NEW_DEVICE_ATTRIBUTE, None)
        if token:
            response.set_cookie(
                DEVICE_COOKIE,
                token,
                max_age=DEVICE_COOKIE_AGE,
                httponly=True,
                secure=settings.SESSION_COOKIE_SECURE,
                samesite="Lax",
            )
        return response
