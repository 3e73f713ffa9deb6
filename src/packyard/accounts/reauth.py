"""Re-authentication ("sudo mode"): sensitive views need a recent password (and second factor).

An action interrupted by it is not lost. A form posted after the window passed is kept in the
session as an intent (the view, its fields, who, when, under a random id): once the person has
confirmed it is them, `reauth_continue` carries it out, once, and they land where the action
leads, as if it had never been interrupted. Script-driven endpoints answer JSON instead
(`401 {"reauthenticate": url}`), and the page's script goes there and comes back.
"""

import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, resolve_url
from django.urls import Resolver404, resolve

REAUTH_AT_KEY = "packyard_reauth_at"
REAUTH_FACTOR_KEY = "packyard_reauth_factor"
# The factors a look-alike site cannot relay: the browser binds a key's answer to our origin.
PHISHING_RESISTANT_FACTORS = frozenset({"passkey", "password+security-key"})
INTENT_KEY = "packyard_reauth_intent"
INTENT_SECONDS = 600  # an interrupted action waits this long for the confirmation
# Forms carrying these are never kept in the session: secrets are not stored.
SECRET_FIELDS = {"password", "old_password", "new_password1", "new_password2", "code"} | {
    "recovery_code"
}
View = Callable[..., HttpResponse]


def reauth_mark(request: HttpRequest, *, factor: str) -> None:
    """The person proved it is them just now, with `factor` (as sessions name factors)."""
    request.session[REAUTH_AT_KEY] = time.time()
    request.session[REAUTH_FACTOR_KEY] = factor


def reauth_with_key(request: HttpRequest) -> bool:
    """Whether the last confirmation was with a security key or passkey."""
    return request.session.get(REAUTH_FACTOR_KEY) in PHISHING_RESISTANT_FACTORS


def reauth_age(request: HttpRequest) -> float | None:
    stamp = request.session.get(REAUTH_AT_KEY)
    return time.time() - float(stamp) if stamp else None


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "") or (
        request.content_type == "application/json"
    )


def _same_site_path(url: str, request: HttpRequest) -> str | None:
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.get_host():
        return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _page_of(request: HttpRequest) -> str:
    """The page an action was started from: the referring page of this site, else the account."""
    return _same_site_path(request.headers.get("Referer", ""), request) or resolve_url(
        settings.LOGIN_REDIRECT_URL
    )


def _reauth_url(*, next_url: str, window: int, intent: str = "", key: bool = False) -> str:
    query: dict[str, str | int] = {"next": next_url, "window": window}
    if intent:
        query["intent"] = intent
    if key:
        query["factor"] = "key"
    return f"{resolve_url(settings.REAUTH_URL)}?{urlencode(query)}"


def _keep_intent(request: HttpRequest) -> str:
    """Keep this POST for after the confirmation; its id goes in the confirmation's address."""
    intent_id = secrets.token_urlsafe(16)
    fields = [
        (key, value)
        for key, values in request.POST.lists()
        if key != "csrfmiddlewaretoken"
        for value in values
    ]
    request.session[INTENT_KEY] = {
        "id": intent_id,
        "user": str(request.user.pk),
        "path": request.path_info,  # what resolve() reads, without a deployment's prefix
        "fields": fields,
        "at": time.time(),
        "from": _page_of(request),
    }
    return intent_id


def reauth_required(max_age: int | None = None) -> Callable[[View], View]:
    """Log in first, then prove it is still you within max_age seconds (default
    PACKYARD_REAUTH_SECONDS); otherwise go to the re-authentication page and come back, with
    an interrupted form carried out afterwards."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            window = max_age if max_age is not None else settings.PACKYARD_REAUTH_SECONDS
            age = reauth_age(request)
            if age is not None and age <= window:
                return view(request, *args, **kwargs)
            return reauth_redirect(request, window=window)

        wrapper.packyard_reauth = max_age or "default"  # type: ignore[attr-defined]
        return wrapper

    return decorate


def reauth_redirect(request: HttpRequest, *, window: int, key: bool = False) -> HttpResponse:
    """Send the person to confirm it is them (with a security key or passkey when `key`), the
    interrupted form kept to be carried out afterwards where it holds no secret."""
    if wants_json(request):
        url = _reauth_url(next_url=_page_of(request), window=window, key=key)
        return JsonResponse(
            {"error": "Confirm it is you first.", "reauthenticate": url}, status=401
        )
    if request.method == "POST" and not SECRET_FIELDS & set(request.POST):
        intent = _keep_intent(request)
        url = _reauth_url(next_url=_page_of(request), window=window, intent=intent, key=key)
        return redirect(url)
    if request.method == "POST":
        # A form with a password or a code in it: never kept; the person sends it again.
        return redirect(_reauth_url(next_url=_page_of(request), window=window, key=key))
    return redirect(_reauth_url(next_url=request.get_full_path(), window=window, key=key))


def intent_waiting(request: HttpRequest, intent_id: str) -> bool:
    """Whether a kept intent with this id waits for the confirmation being given (then the
    confirmation continues it; otherwise it goes to its `next` page)."""
    intent = request.session.get(INTENT_KEY)
    return isinstance(intent, dict) and bool(intent_id) and intent.get("id") == intent_id


def reauth_continue(request: HttpRequest, intent_id: str) -> HttpResponse:
    """Carry out the kept intent, once, for the person who made it, within INTENT_SECONDS of
    making it and after a fresh confirmation; otherwise back to where it started, with the form
    ready to send again."""
    from django.contrib import messages

    intent = request.session.pop(INTENT_KEY, None)
    if not isinstance(intent, dict) or not secrets.compare_digest(
        str(intent.get("id", "")), intent_id
    ):
        messages.info(request, "Nothing was waiting for your confirmation: do it again.")
        return redirect(settings.LOGIN_REDIRECT_URL)
    back = str(intent.get("from") or resolve_url(settings.LOGIN_REDIRECT_URL))
    fresh = (reauth_age(request) or float("inf")) <= settings.PACKYARD_REAUTH_SECONDS
    recent = time.time() - float(intent.get("at", 0)) <= INTENT_SECONDS
    if str(request.user.pk) != intent.get("user") or not fresh or not recent:
        messages.info(request, "That took a while: confirmed now; send the form again.")
        return redirect(back)
    try:
        match = resolve(str(intent["path"]))
    except Resolver404:
        match = None
    if match is None or not getattr(match.func, "packyard_reauth", None):
        # Only views behind re-authentication keep intents; anything else is sent again.
        messages.info(request, "Confirmed: send the form again.")
        return redirect(back)
    replay = _as_post(request, str(intent["path"]), intent.get("fields") or [])
    response: HttpResponse = match.func(replay, *match.args, **match.kwargs)
    return response


def _as_post(request: HttpRequest, path: str, fields: list[list[str]]) -> HttpRequest:
    """This request (its session, user, messages) as the POST that was interrupted."""
    import copy

    replay = copy.copy(request)
    replay.method = "POST"
    replay.path = replay.path_info = path
    replay.META = {**request.META, "REQUEST_METHOD": "POST", "PATH_INFO": path}
    data = QueryDict(mutable=True)
    for key, value in fields:
        data.appendlist(key, value)
    replay.POST = data  # type: ignore[assignment] # what the interrupted form sent
    return replay
