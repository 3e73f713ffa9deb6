"""Managing second factors: recovery codes, the authenticator app, security keys and passkeys."""

import base64
import json

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from packyard.accounts.models import User
from packyard.accounts.reauth import reauth_redirect, reauth_required, reauth_with_key
from packyard.twofactor import secretbox, services, totp, webauthn
from packyard.twofactor.forms import CodeForm, LabelForm, RecoveryCodeForm
from packyard.twofactor.models import TOTPDevice, WebAuthnCredential
from packyard.twofactor.views.common import json_error, user_of

TOTP_SETUP_KEY = "packyard_totp_setup"


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    context = {
        "totp": TOTPDevice.objects.filter(user=user).first(),
        "credentials": WebAuthnCredential.objects.filter(user=user),
        "recovery_remaining": services.recovery_codes_remaining(user),
        "recovery_confirmed": services.recovery_codes_confirmed(user),
        "has_two_factor": services.user_has_two_factor(user),
        "keys_only": services.security_keys_only(user),
        "keys_only_ends": user.security_keys_only_ends,
        "site_requires_keys": settings.PACKYARD_REQUIRE_2FA == "phishing-resistant",
    }
    return render(request, "twofactor/overview.html", context)


@never_cache
@reauth_required()
@require_POST
def keys_only(request: HttpRequest) -> HttpResponse:
    """ "Security keys only": on at once; off (a loosening) only after confirming with a key,
    announced, and after PACKYARD_LOOSEN_DELAY."""
    user = user_of(request)
    action = request.POST.get("action", "")
    try:
        if action == "on":
            services.security_keys_only_on(user=user, request=request)
            messages.success(
                request, "Only security keys and passkeys sign in to your account now."
            )
        elif action == "off":
            if not reauth_with_key(request):
                return reauth_redirect(request, window=settings.PACKYARD_REAUTH_SECONDS, key=True)
            services.security_keys_only_off(user=user, request=request)
            if user.security_keys_only:
                messages.success(
                    request,
                    f"Security keys only ends at {user.security_keys_only_ends:%Y-%m-%d %H:%M} "
                    "UTC. We emailed you; turn it on again to cancel.",
                )
            else:
                messages.success(request, "Security keys only is off.")
        else:
            messages.error(request, "Unknown action.")
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    return redirect("twofactor:overview")


def _needs_recovery_codes(request: HttpRequest) -> HttpResponse | None:
    if services.recovery_codes_confirmed(user_of(request)):
        return None
    messages.info(request, "First save your recovery codes: they get you in if you lose a device.")
    return redirect("twofactor:overview")


@never_cache
@reauth_required(max_age=settings.PACKYARD_RECOVERY_CODES_REAUTH_SECONDS)
@require_POST
def recovery_codes_generate(request: HttpRequest) -> HttpResponse:
    codes = services.recovery_codes_generate(user=user_of(request), request=request)
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
        user=user_of(request), code=form.cleaned_data["recovery_code"]
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
    user = user_of(request)
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
        services.totp_remove(user=user_of(request), request=request)
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Your authenticator app was removed.")
    return redirect("twofactor:overview")


@reauth_required()
@require_POST
def webauthn_register_options(request: HttpRequest) -> JsonResponse:
    if not services.recovery_codes_confirmed(user_of(request)):
        return json_error("Save your recovery codes first.", 403)
    form = LabelForm(request.POST)
    if not form.is_valid():
        return json_error("Give the key a name of 1 to 64 characters.")
    label = form.cleaned_data["label"]
    if WebAuthnCredential.objects.filter(user=user_of(request), label=label).exists():
        return json_error(f"You already have a key named {label!r}.")
    passkey = request.POST.get("passkey") == "1"
    options = webauthn.registration_options(
        request, user=user_of(request), passkey=passkey, label=label
    )
    return JsonResponse(json.loads(options))


@reauth_required()
@require_POST
def webauthn_register_verify(request: HttpRequest) -> JsonResponse:
    user = user_of(request)
    try:
        new, stored = webauthn.registration_verify(request, request.body)
    except webauthn.WebAuthnRefused as exc:
        return json_error(str(exc))
    try:
        services.webauthn_add(
            user=user,
            new=new,
            label=str(stored["label"]),
            passkey=bool(stored.get("passkey")),
            request=request,
        )
    except services.TwoFactorError as exc:
        return json_error(str(exc))
    return JsonResponse({"redirect": reverse("twofactor:overview")})


@reauth_required()
@require_POST
def webauthn_rename(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = get_object_or_404(WebAuthnCredential, pk=credential_id, user=user_of(request))
    form = LabelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the key a name of 1 to 64 characters.")
        return redirect("twofactor:overview")
    try:
        services.webauthn_rename(credential=credential, label=form.cleaned_data["label"])
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Renamed.")
    return redirect("twofactor:overview")


@reauth_required()
@require_POST
def webauthn_remove(request: HttpRequest, credential_id: int) -> HttpResponse:
    credential = get_object_or_404(WebAuthnCredential, pk=credential_id, user=user_of(request))
    try:
        services.webauthn_remove(credential=credential, request=request)
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed {credential.label!r}.")
    return redirect("twofactor:overview")
