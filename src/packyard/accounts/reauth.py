"""Re-authentication ("sudo mode"): sensitive views need a recent password (and second factor)."""

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

REAUTH_AT_KEY = "packyard_reauth_at"
View = Callable[..., HttpResponse]


def reauth_mark(request: HttpRequest) -> None:
    request.session[REAUTH_AT_KEY] = time.time()


def reauth_age(request: HttpRequest) -> float | None:
    stamp = request.session.get(REAUTH_AT_KEY)
    return time.time() - float(stamp) if stamp else None


def reauth_required(max_age: int | None = None) -> Callable[[View], View]:
    """Log in first, then prove it is still you within max_age seconds (default
    PACKYARD_REAUTH_SECONDS); otherwise go to the re-authentication page and come back."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            window = max_age if max_age is not None else settings.PACKYARD_REAUTH_SECONDS
            age = reauth_age(request)
            if age is None or age > window:
                query = urlencode({"next": request.get_full_path(), "window": window})
                return redirect(f"{reverse('accounts:reauthenticate')}?{query}")
            return view(request, *args, **kwargs)

        wrapper.packyard_reauth = max_age or "default"  # type: ignore[attr-defined]
        return wrapper

    return decorate
