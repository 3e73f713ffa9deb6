from django.urls import path

from packyard.twofactor.views import login, manage, reauth

app_name = "twofactor"

urlpatterns = [
    path("account/two-factor/", login.login_second_step, name="login"),
    path("account/confirm-login/<str:token>/", login.confirm_login, name="confirm-login"),
    path(
        "account/two-factor/webauthn/options/",
        login.login_webauthn_options,
        name="login-webauthn-options",
    ),
    path(
        "account/two-factor/webauthn/verify/",
        login.login_webauthn_verify,
        name="login-webauthn-verify",
    ),
    path("account/passkey/options/", login.passkey_options, name="passkey-options"),
    path("account/passkey/verify/", login.passkey_verify, name="passkey-verify"),
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
    path("account/two-factor/cancel/", login.login_cancel, name="login-cancel"),
    path("manage/account/two-factor/", manage.overview, name="overview"),
    path("manage/account/recovery-codes/", manage.recovery_codes_generate, name="recovery-codes"),
    path(
        "manage/account/recovery-codes/confirm/",
        manage.recovery_codes_confirm,
        name="recovery-codes-confirm",
    ),
    path("manage/account/totp/", manage.totp_setup, name="totp-setup"),
    path("manage/account/totp/remove/", manage.totp_remove, name="totp-remove"),
    path(
        "manage/account/webauthn/options/",
        manage.webauthn_register_options,
        name="webauthn-options",
    ),
    path(
        "manage/account/webauthn/verify/", manage.webauthn_register_verify, name="webauthn-verify"
    ),
    path(
        "manage/account/webauthn/<int:credential_id>/rename/",
        manage.webauthn_rename,
        name="webauthn-rename",
    ),
    path(
        "manage/account/webauthn/<int:credential_id>/remove/",
        manage.webauthn_remove,
        name="webauthn-remove",
    ),
]
