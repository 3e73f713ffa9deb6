"""Who may upload: tokens, passwords only where the policy allows, limits on failures."""

import pytest

from packyard.accounts.models import User
from packyard.packages.models import Project
from packyard.tokens.mint import token_mint
from tests.conftest import PASSWORD, basic_auth, upload_form
from tests.packages.upload.helpers import (
    assert_nothing_stored,
    assert_refused,
)

pytestmark = pytest.mark.django_db


def test_upload_with_bearer_token(client, alice_token):
    response = client.post("/legacy/", upload_form(), HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    assert response.status_code == 200


def test_missing_credentials_answers_401_without_a_challenge(upload):
    response = upload(None, upload_form())
    assert_refused(response, 401, "Missing credentials")
    # A Basic challenge would make a browser retry with the credentials it cached.
    assert "WWW-Authenticate" not in response


def test_password_upload_refused_by_default_with_advice(upload, client, alice):
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)
    )
    assert_refused(response, 403, "Username/password uploads are not allowed")
    assert "/manage/account/tokens/" in response.content.decode()
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("upload_auth", "require_2fa"),
    [("any", "all"), ("any", "uploaders"), ("tokens-if-2fa", "uploaders")],
)
def test_password_upload_refused_while_a_2fa_policy_holds(
    client, dave, settings, upload_auth, require_2fa
):
    """Dave has no second factor: under a 2FA policy a password cannot upload for him either."""
    settings.PACKYARD_UPLOAD_AUTH = upload_auth
    settings.PACKYARD_REQUIRE_2FA = require_2fa
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("dave", PASSWORD)
    )
    assert_refused(response, 403, "Username/password uploads are not allowed")
    assert_nothing_stored()


def test_password_upload_allowed_when_policy_is_any(client, alice, settings):
    settings.PACKYARD_UPLOAD_AUTH = "any"
    settings.PACKYARD_REQUIRE_2FA = "off"
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)
    )
    assert response.status_code == 200


def test_wrong_password_refused_when_policy_is_any(client, alice, settings):
    settings.PACKYARD_UPLOAD_AUTH = "any"
    settings.PACKYARD_REQUIRE_2FA = "off"
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("alice", "nope")
    )
    assert_refused(response, 403, "Invalid or non-existent authentication information.")


def test_password_uploads_share_the_login_failure_limit(client, alice, settings):
    settings.PACKYARD_UPLOAD_AUTH = "any"
    settings.PACKYARD_REQUIRE_2FA = "off"
    failures, window = settings.PACKYARD_LOGIN_LIMIT
    wrong = basic_auth("alice", "nope")
    for _ in range(failures):
        assert client.post("/legacy/", upload_form(), HTTP_AUTHORIZATION=wrong).status_code == 403
    right = basic_auth("alice", PASSWORD)
    refused = client.post("/legacy/", upload_form(), HTTP_AUTHORIZATION=right)
    assert_refused(refused, 429, "Too many failed login attempts.")
    assert 0 < int(refused["Retry-After"]) <= window
    assert_nothing_stored()


def test_unverified_email_cannot_upload(upload, unverified, settings):
    unverified.email_verified = True
    token = token_mint(user=unverified, description="t")[1]
    User.objects.filter(pk=unverified.pk).update(email_verified=False)
    response = upload(token, upload_form())
    assert_refused(response, 403, "does not have a verified email address")
    assert_nothing_stored()


def test_failed_token_checks_are_limited_per_address(upload, client, alice_token, settings):
    settings.PACKYARD_TOKEN_FAILURE_LIMIT = (3, 300)
    forged = alice_token[:-4] + "AAAA"
    for _ in range(3):
        assert upload(forged, upload_form()).status_code == 403
    refused = upload(alice_token, upload_form())
    assert_refused(refused, 429, "Too many failed API token checks from this address.")
    assert 0 < int(refused["Retry-After"]) <= 300
    assert not Project.objects.exists()
    elsewhere = client.post(
        "/legacy/",
        upload_form(),
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
        REMOTE_ADDR="192.0.2.7",
    )
    assert elsewhere.status_code == 200
