from django.urls import path

from packyard.twofactor.views import manage

app_name = "twofactor"

urlpatterns = [
    path("manage/account/two-factor/", manage.overview, name="overview"),
    path("manage/account/two-factor/keys-only/", manage.keys_only, name="keys-only"),
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
