import base64
import json
import time
from enum import Enum, auto

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from packyard.accounts.devices import device_known
from packyard.accounts.forms import ReauthForm
from packyard.accounts.models import User
from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.reauth import reauth_continue_url, reauth_mark, reauth_required
from packyard.accounts.sessions import FACTOR_ATTRIBUTE, current_session_id, sessions_revoke
from packyard.http import Refused, safe_next
from packyard.twofactor import login as pending
from packyard.twofactor import secretbox, services, totp, webauthn
from packyard.twofactor.forms import CodeForm, LabelForm, RecoveryCodeForm
from packyard.twofactor.models import TOTPDevice, WebAuthnCredential

TOTP_SETUP_KEY = "packyard_totp_setup"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


TOO_MANY_CODES = "Too many wrong codes"


def _refused_json(refused: Refused) -> JsonResponse:
    response = _json_error(refused.message, refused.status)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response


def _json_error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


# --- the login's second step ---------------------------------------------------------------


@sensitive_post_parameters("code", "recovery_code")
@never_cache
def login_second_step(request: HttpRequest) -> HttpResponse:
    user = pending.pending_user(request)
    if user is None:
        messages.error(request, "Your sign-in expired or was not started. Log in again.")
        return redirect("accounts:login")
    code_form, recovery_form = CodeForm(), RecoveryCodeForm()
    status = 200
    if request.method == "POST":
        method = request.POST.get("method", "")
        code_form = CodeForm(request.POST if method == "totp" else None)
        recovery_form = RecoveryCodeForm(request.POST if method == "recovery" else None)
        form = code_form if method == "totp" else recovery_form
        if method in {"totp", "recovery"} and form.is_valid():
            next_url = pending.pending_next(request)
            try:
                outcome = _second_factor(request, user, method, form, next_url)
            except Refused as refused:
                form.add_error(None, refused.message)
                status = refused.status
            else:
                if outcome is LoginOutcome.HELD:
                    return render(request, "twofactor/login_held.html", {"email": user.email})
                return redirect(safe_next(request, next_url))
    context = {
        "code_form": code_form,
        "recovery_form": recovery_form,
        "has_totp": TOTPDevice.objects.filter(user=user).exists(),
        "has_webauthn": WebAuthnCredential.objects.filter(user=user).exists(),
    }
    return render(request, "twofactor/login_second_step.html", context, status=status)


class LoginOutcome(Enum):
    LOGGED_IN = auto()
    HELD = auto()  # a browser and address never seen: the emailed link finishes the login


@require_POST
def login_cancel(request: HttpRequest) -> HttpResponse:
    """End a half-finished login: the password step is forgotten."""
    pending.pending_clear(request)
    messages.info(request, "The login was cancelled.")
    return redirect("accounts:login")


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
    pending.login_complete(request, user, factor=factor)
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
        return render(request, "twofactor/login_held.html", {"error": message}, status=400)
    user, next_url = released
    _after_recovery_code(request, user, str(getattr(request, FACTOR_ATTRIBUTE, "")))
    return redirect(safe_next(request, next_url))


@require_POST
def login_webauthn_options(request: HttpRequest) -> JsonResponse:
    user = pending.pending_user(request)
    if user is None:
        return _json_error("Your sign-in expired. Log in again.", 403)
    return JsonResponse(
        json.loads(webauthn.authentication_options(request, purpose="login", user=user))
    )


@require_POST
def login_webauthn_verify(request: HttpRequest) -> JsonResponse:
    user = pending.pending_user(request)
    if user is None:
        return _json_error("Your sign-in expired. Log in again.", 403)
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
        return _refused_json(exc.refusal(TOO_MANY_CODES))
    except (webauthn.WebAuthnRefused, services.TwoFactorError) as exc:
        if user is not None:
            services.second_factor_failed(user=user, request=request, method="webauthn")
        return _json_error(str(exc))
    if user is not None:
        services.second_factor_succeeded(user=user, request=request)
    if not credential.user.is_active:
        return _json_error("This account is disabled.", 403)
    factor = "passkey" if purpose == "passkey" else "password+security-key"
    pending.login_complete(request, credential.user, factor=factor)
    return JsonResponse({"redirect": safe_next(request, next_url)})


# --- re-authentication -----------------------------------------------------------------------


REAUTH_PASSWORD_OK_KEY = "packyard_reauth_password_ok"  # noqa: S105 - a session key name


@sensitive_post_parameters("password", "code")
@never_cache
@login_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Password, then the second factor when the account has one (a code, or a security key)."""
    user = _user(request)
    has_totp = TOTPDevice.objects.filter(user=user).exists()
    has_webauthn = WebAuthnCredential.objects.filter(user=user).exists()
    form = ReauthForm(request.POST or None, user=user, request=request)
    next_url = request.GET.get("next") or request.POST.get("next") or reverse("accounts:manage")
    intent = request.GET.get("intent") or request.POST.get("intent") or ""
    key_step = False
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data.get("code", "")
        if not (has_totp or has_webauthn):
            reauth_mark(request)
            return redirect(_after_reauth(request, next_url, intent))
        if code and has_totp:
            if _reauth_code_ok(request, user, code):
                reauth_mark(request)
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
    }
    return render(request, "twofactor/reauthenticate.html", context)


def _after_reauth(request: HttpRequest, next_url: str, intent: str) -> str:
    """The interrupted action, if one waits for this confirmation; else the page asked for."""
    return reauth_continue_url(request, intent) or safe_next(request, next_url)


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
        json.loads(webauthn.authentication_options(request, purpose="reauth", user=_user(request)))
    )


@require_POST
@login_required
def reauth_webauthn_verify(request: HttpRequest) -> JsonResponse:
    user = _user(request)
    password_ok_at = request.session.get(REAUTH_PASSWORD_OK_KEY)
    if not password_ok_at or time.time() - float(password_ok_at) > pending.PENDING_SECONDS:
        return _json_error("Enter your password first.", 403)
    try:
        services.second_factor_check_limits(user=user, request=request)
        credential, sign_count = webauthn.authentication_verify(
            request, request.body, purpose="reauth", user=user
        )
        services.webauthn_used(credential=credential, new_sign_count=sign_count, request=request)
    except RateLimited as exc:
        return _refused_json(exc.refusal(TOO_MANY_CODES))
    except (webauthn.WebAuthnRefused, services.TwoFactorError) as exc:
        services.second_factor_failed(user=user, request=request, method="webauthn")
        return _json_error(str(exc))
    services.second_factor_succeeded(user=user, request=request)
    request.session.pop(REAUTH_PASSWORD_OK_KEY, None)
    reauth_mark(request)
    next_url = request.GET.get("next", "")
    return JsonResponse(
        {"redirect": _after_reauth(request, next_url, request.GET.get("intent", ""))}
    )


# --- managing factors ------------------------------------------------------------------------


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    context = {
        "totp": TOTPDevice.objects.filter(user=user).first(),
        "credentials": WebAuthnCredential.objects.filter(user=user),
        "recovery_remaining": services.recovery_codes_remaining(user),
        "recovery_confirmed": services.recovery_codes_confirmed(user),
        "has_two_factor": services.user_has_two_factor(user),
    }
    return render(request, "twofactor/overview.html", context)


def _needs_recovery_codes(request: HttpRequest) -> HttpResponse | None:
    if services.recovery_codes_confirmed(_user(request)):
        return None
    messages.info(request, "First save your recovery codes: they get you in if you lose a device.")
    return redirect("twofactor:overview")


@never_cache
@reauth_required(max_age=settings.PACKYARD_RECOVERY_CODES_REAUTH_SECONDS)
@require_POST
def recovery_codes_generate(request: HttpRequest) -> HttpResponse:
    codes = services.recovery_codes_generate(user=_user(request), request=request)
    response = render(
        request, "twofactor/recovery_codes.html", {"codes": codes, "form": RecoveryCodeForm()}
    )
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("recovery_code")
@reauth_required()
@require_POST
def recovery_codes_confirm(request: HttpRequest) -> HttpResponse:
    form = RecoveryCodeForm(request.POST)
    if form.is_valid() and services.recovery_code_confirm(
        user=_user(request), code=form.cleaned_data["recovery_code"]
    ):
        messages.success(request, "Recovery codes saved. You can now add a second factor.")
    else:
        messages.error(
            request, "That is not one of the codes just shown. Generate a new set and try again."
        )
    return redirect("twofactor:overview")


def _setup_secret(request: HttpRequest, user: User, *, keep: bool) -> bytes:
    """The secret being set up, kept sealed in the session between the page and its form;
    a new one when there is none, or when the stored one can no longer be read."""
    sealed = request.session.get(TOTP_SETUP_KEY)
    if keep and sealed:
        try:
            return secretbox.unseal(
                base64.b64decode(sealed), purpose="totp-setup", owner=str(user.pk)
            )
        except (secretbox.Unsealable, ValueError):
            pass
    secret = totp.new_secret()
    request.session[TOTP_SETUP_KEY] = base64.b64encode(
        secretbox.seal(secret, purpose="totp-setup", owner=str(user.pk))
    ).decode()
    return secret


@sensitive_post_parameters("code")
@never_cache
@reauth_required()
def totp_setup(request: HttpRequest) -> HttpResponse:
    if (refusal := _needs_recovery_codes(request)) is not None:
        return refusal
    user = _user(request)
    secret = _setup_secret(request, user, keep=request.method == "POST")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_save(
                user=user, secret=secret, code=form.cleaned_data["code"], request=request
            )
        except services.TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            request.session.pop(TOTP_SETUP_KEY, None)
            messages.success(request, "Your authenticator app is set up.")
            return redirect("twofactor:overview")
    uri = totp.provisioning_uri(secret, account=user.username, issuer=settings.SITE_NAME)
    context = {
        "form": form,
        "secret": totp.secret_text(secret),
        "qr_svg": segno.make(uri, error="m").svg_data_uri(scale=4),
        "uri": uri,
    }
    return render(request, "twofactor/totp_setup.html", context)


@reauth_required()
@require_POST
def totp_remove(request: HttpRequest) -> HttpResponse:
    try:
        services.totp_remove(user=_user(request), request=request)
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Your authenticator app was removed.")
    return redirect("twofactor:overview")


@reauth_required()
@require_POST
def webauthn_register_options(request: HttpRequest) -> JsonResponse:
    if not services.recovery_codes_confirmed(_user(request)):
        return _json_error("Save your recovery codes first.", 403)
    form = LabelForm(request.POST)
    if not form.is_valid():
        return _json_error("Give the key a name of 1 to 64 characters.")
    label = form.cleaned_data["label"]
    if WebAuthnCredential.objects.filter(user=_user(request), label=label).exists():
        return _json_error(f"You already have a key named {label!r}.")
    passkey = request.POST.get("passkey") == "1"
    options = webauthn.registration_options(
        request, user=_user(request), passkey=passkey, label=label
    )
    return JsonResponse(json.loads(options))


@reauth_required()
@require_POST
def webauthn_register_verify(request: HttpRequest) -> JsonResponse:
    user = _user(request)
    try:
        new, stored = webauthn.registration_verify(request, request.body)
    except webauthn.WebAuthnRefused as exc:
        return _json_error(str(exc))
    try:
        WebAuthnCredential.objects.create(
            user=user,
            label=stored["label"],
            credential_id=new.credential_id,
            credential_id_digest=webauthn.credential_digest(new.credential_id),
            public_key=new.public_key,
            sign_count=new.sign_count,
            aaguid=new.aaguid,
            transports=new.transports,
            is_passkey=bool(stored.get("passkey")),
        )
    except IntegrityError:
        return _json_error("This key, or a key with that name, is already registered.")
    method = "passkey" if stored.get("passkey") else "webauthn"
    services.factor_changed(
        user=user, request=request, method=method, added=True, label=stored["label"]
    )
    return JsonResponse({"redirect": reverse("twofactor:overview")})


@reauth_required()
@require_POST
def webauthn_rename(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = get_object_or_404(WebAuthnCredential, pk=credential_id, user=_user(request))
    form = LabelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the key a name of 1 to 64 characters.")
    elif (
        WebAuthnCredential.objects.filter(user=credential.user, label=form.cleaned_data["label"])
        .exclude(pk=credential.pk)
        .exists()
    ):
        messages.error(request, "You already have a key with that name.")
    else:
        credential.label = form.cleaned_data["label"]
        credential.save(update_fields=["label"])
        messages.success(request, "Renamed.")
    return redirect("twofactor:overview")


@reauth_required()
@require_POST
def webauthn_remove(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = get_object_or_404(WebAuthnCredential, pk=credential_id, user=_user(request))
    try:
        services.webauthn_remove(credential=credential, request=request)
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed {credential.label!r}.")
    return redirect("twofactor:overview")
