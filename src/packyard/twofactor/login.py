"""The login's second step: after a correct password, a short-lived single-use pending state
bound to that user, which only a second factor turns into a session."""

import time
import uuid

from django.contrib.auth import login
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

from packyard.accounts.events import event_record
from packyard.accounts.models import User
from packyard.accounts.reauth import reauth_mark
from packyard.accounts.sessions import FACTOR_ATTRIBUTE

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
    try:
        uuid.UUID(str(state.get("user", "")))
    except ValueError:
        return None
    user = User.objects.filter(pk=str(state.get("user", "")), is_active=True).first()
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


def login_complete(request: HttpRequest, user: User, *, factor: str) -> None:
    """Start the session (a new key), record how, and count it as a fresh re-authentication."""
    pending_clear(request)
    setattr(request, FACTOR_ATTRIBUTE, factor)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    event_record(user=user, tag="account:login:success", request=request, method=factor)
    reauth_mark(request)
