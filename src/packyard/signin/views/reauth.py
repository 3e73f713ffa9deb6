"""Confirming it is you again (password and second factor) before a sensitive action."""

import json
import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from packyard.accounts.forms import ReauthForm
from packyard.accounts.models import User
from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.reauth import intent_waiting, reauth_continue, reauth_mark
from packyard.http import safe_next
from packyard.signin import pending
from packyard.twofactor import services, webauthn
from packyard.twofactor.models import TOTPDevice, WebAuthnCredential
from packyard.twofactor.views.common import TOO_MANY_CODES, json_error, refused_json, user_of

REAUTH_PASSWORD_OK_KEY = "packyard_reauth_password_ok"  # noqa: S105 - a session key name


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Password, then the second factor when the account has one (a code, or a security key)."""
    user = user_of(request)
    has_webauthn = WebAuthnCredential.objects.filter(user=user).exists()
    # A key is asked for when the action needs one (loosening a setting) or the account no
    # longer accepts codes.
    key_only = has_webauthn and (
        "key" in (request.GET.get("factor"), request.POST.get("factor"))
        or services.codes_refused(user)
    )
    has_totp = TOTPDevice.objects.filter(user=user).exists() and not key_only
    form = ReauthForm(request.POST or None, user=user, request=request, codes=not key_only)
    next_url = request.GET.get("next") or request.POST.get("next") or reverse("accounts:manage")
    intent = request.GET.get("intent") or request.POST.get("intent") or ""
    key_step = False
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data.get("code", "")
        if not (has_totp or has_webauthn):
            reauth_mark(request, factor="password")
            return redirect(_after_reauth(request, next_url, intent))
        if code and has_totp:
            if _reauth_code_ok(request, user, code):
                reauth_mark(request, factor="password+totp")
                return redirect(_after_reauth(request, next_url, intent))
            form.add_error("code", "That code is not right, or was already used.")
        elif has_webauthn:
            request.session[REAUTH_PASSWORD_OK_KEY] = time.time()
            key_step = True
        else:
            form.add_error("code", "Enter the code from your authenticator app.")
    context = {
        "form": form,
        "next": next_url,
        "intent": intent,
        "window_text": _duration_text(request.GET.get("window", "")),
        "has_webauthn": has_webauthn,
        "has_totp": has_totp,
        "key_step": key_step,
        "key_only": key_only,
    }
    return render(request, "signin/reauthenticate.html", context)


def _after_reauth(request: HttpRequest, next_url: str, intent: str) -> str:
    """The interrupted action, if one waits for this confirmation; else the page asked for."""
    if intent_waiting(request, intent):
        return reverse("signin:reauthenticate-continue", args=[intent])
    return safe_next(request, next_url)


def _duration_text(window: str) -> str:
    seconds = int(window) if window.isdigit() else settings.PACKYARD_REAUTH_SECONDS
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _reauth_code_ok(request: HttpRequest, user: User, code: str) -> bool:
    try:
        services.second_factor_check_limits(user=user, request=request)
    except RateLimited:
        return False
    if services.totp_verify(user=user, code=code):
        services.second_factor_succeeded(user=user, request=request)
        return True
    services.second_factor_failed(user=user, request=request, method="totp")
    return False


@require_POST
@login_required
def reauth_webauthn_options(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        json.loads(
            webauthn.authentication_options(request, purpose="reauth", user=user_of(request))
        )
    )


@require_POST
@login_required
def reauth_webauthn_verify(request: HttpRequest) -> JsonResponse:
    user = user_of(request)
    password_ok_at = request.session.get(REAUTH_PASSWORD_OK_KEY)
    if not password_ok_at or time.time() - float(password_ok_at) > pending.PENDING_SECONDS:
        return json_error("Enter your password first.", 403)
    try:
        services.second_factor_check_limits(user=user, request=request)
        credential, sign_count = webauthn.authentication_verify(
            request, request.body, purpose="reauth", user=user
        )
        services.webauthn_used(credential=credential, new_sign_count=sign_count, request=request)
    except RateLimited as exc:
        return refused_json(exc.refusal(TOO_MANY_CODES))
    except (webauthn.WebAuthnRefused, services.TwoFactorError) as exc:
        services.second_factor_failed(user=user, request=request, method="webauthn")
        return json_error(str(exc))
    services.second_factor_succeeded(user=user, request=request)
    request.session.pop(REAUTH_PASSWORD_OK_KEY, None)
    reauth_mark(request, factor="password+security-key")
    next_url = request.GET.get("next", "")
    return JsonResponse(
        {"redirect": _after_reauth(request, next_url, request.GET.get("intent", ""))}
    )


@never_cache
@login_required
@require_safe
def reauth_continue_view(request: HttpRequest, intent_id: str) -> HttpResponse:
    """After a confirmation: the action it interrupted (see accounts.reauth)."""
    return reauth_continue(request, intent_id)
