"""Web sessions the user can see and revoke.

Each login gets a UserSession row, named in the session data; the middleware logs out any
session whose row is gone, which is how "revoke" works across every worker at once.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from packyard.accounts.devices import device_remember
from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User, UserSession
from packyard.accounts.reauth import reauth_mark
from packyard.http import client_info, parse_uuid

SESSION_ID_KEY = "packyard_sid"
FACTOR_ATTRIBUTE = "_packyard_login_factor"
TOUCH_EVERY = timedelta(seconds=60)


def session_start(request: HttpRequest, user: User, *, factor: str) -> None:
    """Log in (a new session key), record how, remember the browser, and count it as a fresh
    re-authentication. The login flow (`packyard.signin`) decides when; so does an invitation."""
    setattr(request, FACTOR_ATTRIBUTE, factor)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    event_record(user=user, tag=EventTag.LOGIN_SUCCESS, request=request, method=factor)
    device_remember(request, user)
    reauth_mark(request, factor=factor)


@receiver(user_logged_in)
def _record_login(*, request: HttpRequest, user: User, **_signal: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    if request.session.session_key is None:
        request.session.save()
    client = client_info(request)
    row = UserSession.objects.create(
        user=user,
        session_key=request.session.session_key or "",
        ip_address=client.ip or None,
        user_agent=client.user_agent,
        factor=getattr(request, FACTOR_ATTRIBUTE, "password"),
    )
    request.session[SESSION_ID_KEY] = str(row.pk)


@receiver(user_logged_out)
def _forget_logout(*, request: HttpRequest, **_signal: Any) -> None:
    if request is not None and hasattr(request, "session"):
        session_id = request.session.get(SESSION_ID_KEY)
        if session_id:
            UserSession.objects.filter(pk=session_id).delete()


def current_session_id(request: HttpRequest) -> str | None:
    value = request.session.get(SESSION_ID_KEY)
    return str(value) if value else None


def sessions_end(*, user: User, choice: str, request: HttpRequest) -> int:
    """End what the person chose on the sessions page: "others", or one session by its id
    (never this one: logging out does that). Recorded; returns how many ended."""
    current = current_session_id(request)
    if choice == "others":
        count = sessions_revoke(user=user, keep=current)
    else:
        chosen = parse_uuid(choice)
        only = str(chosen) if chosen is not None else None
        count = sessions_revoke(user=user, only=only) if only and only != current else 0
    if count:
        event_record(user=user, tag=EventTag.SESSION_REVOKED, request=request, count=count)
    return count


def sessions_revoke(*, user: User, keep: str | None = None, only: str | None = None) -> int:
    """End the user's sessions (all but `keep`, or just `only`); returns how many ended."""
    rows = UserSession.objects.filter(user=user)
    if keep:
        rows = rows.exclude(pk=keep)
    if only:
        rows = rows.filter(pk=only)
    keys = list(rows.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    count, _ = rows.delete()
    return count


def sessions_live(user: User) -> list[UserSession]:
    live_keys = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return list(UserSession.objects.filter(Q(user=user), Q(session_key__in=live_keys)))


class SessionTrackingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Without a session cookie there is no login to check, and no reason to touch the session
        # (which would add "Vary: Cookie" to every simple-API answer).
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        user = request.user
        assert isinstance(user, User)
        session_id = parse_uuid(current_session_id(request) or "")
        row = (
            UserSession.objects.filter(pk=session_id, user=user).first()
            if session_id is not None
            else None
        )
        now = timezone.now()
        if row is None or self._expired(row, now):
            # Revoked elsewhere, idle too long, or past its absolute lifetime.
            logout(request)
            return
        changes: dict[str, Any] = {}
        if row.session_key != request.session.session_key:
            changes["session_key"] = request.session.session_key  # the key rotates; the row stays
        if now - row.last_seen > TOUCH_EVERY:
            changes["last_seen"] = now
        if changes:
            UserSession.objects.filter(pk=row.pk).update(**changes)

    @staticmethod
    def _expired(row: UserSession, now: datetime) -> bool:
        idle = timedelta(seconds=settings.PACKYARD_SESSION_IDLE_SECONDS)
        lifetime = timedelta(seconds=settings.SESSION_COOKIE_AGE)
        return now - row.last_seen > idle or now - row.created > lifetime


# How a session logged in (UserSession.factor), in words.
FACTOR_WORDS = {
    "password": "password",
    "password+totp": "password and authenticator app",
    "password+recovery-code": "password and recovery code",
    "password+security-key": "password and security key",
    "passkey": "passkey",
}


def factor_in_words(factor: str) -> str:
    return FACTOR_WORDS.get(factor, factor or "unknown")


def client_in_words(user_agent: str) -> str:
    """`Chrome 131 on Linux` from a User-Agent header, by ua-parser's maintained rules; the
    header itself (shortened) when they do not know it."""
    from ua_parser import parse

    parsed = parse(user_agent[:512]) if user_agent else None
    if parsed is None or parsed.user_agent is None:
        return user_agent[:60] or "unknown"
    browser = " ".join(filter(None, [parsed.user_agent.family, parsed.user_agent.major]))
    system = parsed.os.family if parsed.os is not None and parsed.os.family != "Other" else ""
    return f"{browser} on {system}" if system else browser
