from django.urls import path

from packyard.signin.views import password, reauth, second_step

app_name = "signin"

urlpatterns = [
    path("account/login/", password.login_view, name="login"),
    path("account/two-factor/", second_step.login_second_step, name="second-step"),
    path("account/two-factor/cancel/", second_step.login_cancel, name="cancel"),
    path(
        "account/two-factor/webauthn/options/",
        second_step.login_webauthn_options,
        name="webauthn-options",
    ),
    path(
        "account/two-factor/webauthn/verify/",
        second_step.login_webauthn_verify,
        name="webauthn-verify",
    ),
    path("account/confirm-login/<str:token>/", second_step.confirm_login, name="confirm-login"),
    path("account/passkey/options/", second_step.passkey_options, name="passkey-options"),
    path("account/passkey/verify/", second_step.passkey_verify, name="passkey-verify"),
    path("account/reauthenticate/", reauth.reauthenticate, name="reauthenticate"),
    path(
        "account/reauthenticate/continue/<str:intent_id>/",
        reauth.reauth_continue_view,
        name="reauthenticate-continue",
    ),
    path(
        "account/reauthenticate/webauthn/options/",
        reauth.reauth_webauthn_options,
        name="reauth-webauthn-options",
    ),
    path(
        "account/reauthenticate/webauthn/verify/",
        reauth.reauth_webauthn_verify,
        name="reauth-webauthn-verify",
    ),
]
