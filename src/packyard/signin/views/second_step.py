"""The login's second step: an app code, a recovery code or a key after the password; the
hold for a browser never seen before; passkeys, which log in alone."""

import json
from enum import Enum, auto

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from packyard.accounts.devices import device_known
from packyard.accounts.models import User
from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.sessions import (
    FACTOR_ATTRIBUTE,
    current_session_id,
    session_start,
    sessions_revoke,
)
from packyard.http import Refused, safe_next
from packyard.signin import pending
from packyard.twofactor import services, webauthn
from packyard.twofactor.forms import CodeForm, RecoveryCodeForm
from packyard.twofactor.models import TOTPDevice, WebAuthnCredential
from packyard.twofactor.views.common import TOO_MANY_CODES, json_error, refused_json


@sensitive_post_parameters("code", "recovery_code")
@never_cache
def login_second_step(request: HttpRequest) -> HttpResponse:
    user = pending.pending_user(request)
    if user is None:
        messages.error(request, "Your sign-in expired or was not started. Log in again.")
        return redirect("signin:login")
    code_form, recovery_form = CodeForm(), RecoveryCodeForm()
    status = 200
    if request.method == "POST":
        method = request.POST.get("method", "")
        code_form = CodeForm(request.POST if method == "totp" else None)
        recovery_form = RecoveryCodeForm(request.POST if method == "recovery" else None)
        form = code_form if method == "totp" else recovery_form
        if method in {"totp", "recovery"} and services.codes_refused(user):
            form.add_error(None, KEYS_ONLY)
            status = 403
        elif method in {"totp", "recovery"} and form.is_valid():
            next_url = pending.pending_next(request)
            try:
                outcome = _second_factor(request, user, method, form, next_url)
            except Refused as refused:
                form.add_error(None, refused.message)
                status = refused.status
            else:
                if outcome is LoginOutcome.HELD:
                    return render(request, "signin/login_held.html", {"email": user.email})
                return redirect(safe_next(request, next_url))
    keys_only = services.codes_refused(user)
    context = {
        "code_form": code_form,
        "recovery_form": recovery_form,
        "has_totp": TOTPDevice.objects.filter(user=user).exists() and not keys_only,
        "has_webauthn": WebAuthnCredential.objects.filter(user=user).exists(),
        "keys_only": keys_only,
    }
    return render(request, "signin/second_step.html", context, status=status)


KEYS_ONLY = (
    "This account signs in only with a security key or passkey. If you lost every one, ask "
    "this index's administrators to reset your second factors."
)


class LoginOutcome(Enum):
    LOGGED_IN = auto()
    HELD = auto()  # a browser and address never seen: the emailed link finishes the login


@require_POST
def login_cancel(request: HttpRequest) -> HttpResponse:
    """End a half-finished login: the password step is forgotten."""
    pending.pending_clear(request)
    messages.info(request, "The login was cancelled.")
    return redirect("signin:login")


def _second_factor(
    request: HttpRequest, user: User, method: str, form: CodeForm | RecoveryCodeForm, next_url: str
) -> LoginOutcome:
    """Check the code and finish the login, or hold it for the emailed link. Raises Refused
    with the message to show."""
    try:
        services.second_factor_check_limits(user=user, request=request)
    except RateLimited as exc:
        raise exc.refusal(TOO_MANY_CODES) from None
    if method == "totp":
        accepted = services.totp_verify(user=user, code=form.cleaned_data["code"])
    else:
        code = form.cleaned_data["recovery_code"]
        accepted = services.recovery_code_use(user=user, code=code, request=request)
    if not accepted:
        services.second_factor_failed(user=user, request=request, method=method)
        raise Refused("That code is not right, or was already used.")
    services.second_factor_succeeded(user=user, request=request)
    factor = "password+totp" if method == "totp" else "password+recovery-code"
    if not device_known(request, user):
        pending.hold_start(request, user, factor=factor, next_url=next_url)
        return LoginOutcome.HELD
    session_start(request, user, factor=factor)
    _after_recovery_code(request, user, factor)
    return LoginOutcome.LOGGED_IN


def _after_recovery_code(request: HttpRequest, user: User, factor: str) -> None:
    if factor != "password+recovery-code":
        return
    sessions_revoke(user=user, keep=current_session_id(request))
    left = services.recovery_codes_remaining(user)
    messages.warning(request, f"You used a recovery code; {left} left.")
    if left == 0:
        messages.error(request, "You have no recovery codes left: generate new ones now.")


@never_cache
def confirm_login(request: HttpRequest, token: str) -> HttpResponse:
    released = pending.hold_release(request, token)
    if released is None:
        message = (
            "This link does not finish a login in this browser: open it in the browser where "
            "you logged in, within 15 minutes, or log in again."
        )
        return render(request, "signin/login_held.html", {"error": message}, status=400)
    user, next_url = released
    _after_recovery_code(request, user, str(getattr(request, FACTOR_ATTRIBUTE, "")))
    return redirect(safe_next(request, next_url))


@require_POST
def login_webauthn_options(request: HttpRequest) -> JsonResponse:
    user = pending.pending_user(request)
    if user is None:
        return json_error("Your sign-in expired. Log in again.", 403)
    return JsonResponse(
        json.loads(webauthn.authentication_options(request, purpose="login", user=user))
    )


@require_POST
def login_webauthn_verify(request: HttpRequest) -> JsonResponse:
    user = pending.pending_user(request)
    if user is None:
        return json_error("Your sign-in expired. Log in again.", 403)
    return _finish_webauthn_login(request, user=user, purpose="login")


@require_POST
def passkey_options(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        json.loads(webauthn.authentication_options(request, purpose="passkey", user=None))
    )


@require_POST
def passkey_verify(request: HttpRequest) -> JsonResponse:
    return _finish_webauthn_login(request, user=None, purpose="passkey")


def _finish_webauthn_login(
    request: HttpRequest, *, user: User | None, purpose: str
) -> JsonResponse:
    next_url = pending.pending_next(request)
    try:
        if user is not None:
            services.second_factor_check_limits(user=user, request=request)
        credential, sign_count = webauthn.authentication_verify(
            request, request.body, purpose=purpose, user=user
        )
        services.webauthn_used(credential=credential, new_sign_count=sign_count, request=request)
    except RateLimited as exc:
        return refused_json(exc.refusal(TOO_MANY_CODES))
    except (webauthn.WebAuthnRefused, services.TwoFactorError) as exc:
        if user is not None:
            services.second_factor_failed(user=user, request=request, method="webauthn")
        return json_error(str(exc))
    if user is not None:
        services.second_factor_succeeded(user=user, request=request)
    if not credential.user.is_active:
        return json_error("This account is disabled.", 403)
    factor = "passkey" if purpose == "passkey" else "password+security-key"
    session_start(request, credential.user, factor=factor)
    return JsonResponse({"redirect": safe_next(request, next_url)})
