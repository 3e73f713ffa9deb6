from django.urls import path

from packyard.twofactor import views

app_name = "twofactor"

urlpatterns = [
    path("account/two-factor/", views.login_second_step, name="login"),
    path("account/confirm-login/<str:token>/", views.confirm_login, name="confirm-login"),
    path(
        "account/two-factor/webauthn/options/",
        views.login_webauthn_options,
        name="login-webauthn-options",
    ),
    path(
        "account/two-factor/webauthn/verify/",
        views.login_webauthn_verify,
        name="login-webauthn-verify",
    ),
    path("account/passkey/options/", views.passkey_options, name="passkey-options"),
    path("account/passkey/verify/", views.passkey_verify, name="passkey-verify"),
    path(
        "account/reauthenticate/webauthn/options/",
        views.reauth_webauthn_options,
        name="reauth-webauthn-options",
    ),
    path(
        "account/reauthenticate/webauthn/verify/",
        views.reauth_webauthn_verify,
        name="reauth-webauthn-verify",
    ),
    path("account/two-factor/cancel/", views.login_cancel, name="login-cancel"),
    path("manage/account/two-factor/", views.overview, name="overview"),
    path("manage/account/recovery-codes/", views.recovery_codes_generate, name="recovery-codes"),
    path(
        "manage/account/recovery-codes/confirm/",
        views.recovery_codes_confirm,
        name="recovery-codes-confirm",
    ),
    path("manage/account/totp/", views.totp_setup, name="totp-setup"),
    path("manage/account/totp/remove/", views.totp_remove, name="totp-remove"),
    path(
        "manage/account/webauthn/options/", views.webauthn_register_options, name="webauthn-options"
    ),
    path("manage/account/webauthn/verify/", views.webauthn_register_verify, name="webauthn-verify"),
    path(
        "manage/account/webauthn/<int:credential_id>/rename/",
        views.webauthn_rename,
        name="webauthn-rename",
    ),
    path(
        "manage/account/webauthn/<int:credential_id>/remove/",
        views.webauthn_remove,
        name="webauthn-remove",
    ),
]
