"""The login's second step: after a correct password, a short-lived single-use pending state
bound to that user, which only a second factor turns into a session."""

import secrets
import time
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.services import security_email_send
from packyard.accounts.sessions import client_in_words, session_start
from packyard.http import client_info, parse_uuid

PENDING_KEY = "packyard_2fa_pending"
PENDING_SECONDS = 300


def _password_fingerprint(user: User) -> str:
    # Changes with the password hash, so a pending login dies with a password change.
    return salted_hmac("packyard.twofactor.pending", user.password).hexdigest()


def pending_start(request: HttpRequest, user: User, next_url: str) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": str(user.pk),
        "at": time.time(),
        "password": _password_fingerprint(user),
        "next": next_url,
    }


def pending_user(request: HttpRequest) -> User | None:
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict) or time.time() - float(state.get("at", 0)) > PENDING_SECONDS:
        return None
    user_id = parse_uuid(str(state.get("user", "")))
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not constant_time_compare(
        state.get("password", ""), _password_fingerprint(user)
    ):
        return None
    return user


def pending_next(request: HttpRequest) -> str:
    state = request.session.get(PENDING_KEY) or {}
    return str(state.get("next") or "")


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def forget_half_finished_logins(*, request: HttpRequest | None, **_signal: Any) -> None:
    """Connected to `user_logged_in`: whoever logs in, by whatever way, a pending second step
    or a held login left in this session is gone."""
    if request is not None and hasattr(request, "session"):
        pending_clear(request)
        request.session.pop(HOLD_KEY, None)


# --- logins held until an emailed link is opened ---------------------------------------------

HOLD_KEY = "packyard_login_hold"
HOLD_SALT = "packyard.twofactor.login-hold"
HOLD_SECONDS = 900


def hold_start(request: HttpRequest, user: User, *, factor: str, next_url: str) -> None:
    """A code login from a browser and address this account never used: email a link that
    finishes the login in this browser, as PyPI does. Security keys prove more and pass."""
    nonce = secrets.token_urlsafe(16)
    pending_clear(request)
    request.session[HOLD_KEY] = {
        "user": str(user.pk),
        "nonce": nonce,
        "factor": factor,
        "next": next_url,
        # A fingerprint of the password (Django's session hash): a password change ends the hold.
        "password": user.get_session_auth_hash(),
    }
    token = signing.dumps({"u": str(user.pk), "n": nonce}, salt=HOLD_SALT)
    link = settings.BASE_URL + reverse("signin:confirm-login", args=[token])
    event_record(user=user, tag=EventTag.LOGIN_HELD_NEW_DEVICE, request=request, method=factor)
    client = client_info(request)
    security_email_send(
        user=user,
        subject="Confirm a login from a new device",
        template="signin/email/confirm_login.txt",
        link=link,
        ip=client.ip,
        agent=client_in_words(client.user_agent),
    )


def hold_release(request: HttpRequest, token: str) -> tuple[User, str] | None:
    """The held user and where to go, if the link belongs to the login held in this browser."""
    held = request.session.get(HOLD_KEY)
    try:
        data = signing.loads(token, salt=HOLD_SALT, max_age=HOLD_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(held, dict) or not isinstance(data, dict):
        return None
    if data.get("u") != held.get("user") or not constant_time_compare(
        str(data.get("n", "")), str(held.get("nonce", ""))
    ):
        return None
    user = User.objects.filter(pk=str(held["user"]), is_active=True).first()
    if user is None or not constant_time_compare(
        str(held.get("password", "")), user.get_session_auth_hash()
    ):
        return None
    session_start(request, user, factor=str(held.get("factor", "password")))
    return user, str(held.get("next") or "")
