import base64
import json

import pytest
from django.core import mail
from django.test import Client, RequestFactory

from packyard.twofactor import webauthn
from packyard.twofactor.models import WebAuthnCredential
from packyard.twofactor.services import TwoFactorError, webauthn_used
from tests.conftest import PASSWORD, browser_for

pytestmark = pytest.mark.django_db


def key_of(user, credential_id: bytes = b"credential-1", label: str = "Key", **fields):
    return WebAuthnCredential.objects.create(
        user=user,
        label=label,
        credential_id=credential_id,
        credential_id_digest=webauthn.credential_digest(credential_id),
        public_key=b"not used",
        **fields,
    )


def pending_login(username: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.get("/account/login/")
    client.post(
        "/account/login/",
        {
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    return client


def post_json(client: Client, path: str, body: bytes | str):
    return client.post(
        path,
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )


def assertion_for(credential_id: bytes) -> str:
    encoded = base64.urlsafe_b64encode(credential_id).decode().rstrip("=")
    return json.dumps(
        {
            "id": encoded,
            "rawId": encoded,
            "type": "public-key",
            "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
        }
    )


def test_verify_without_a_started_sign_in_is_refused(alice):
    key_of(alice)
    client = pending_login("alice")
    response = post_json(
        client, "/account/two-factor/webauthn/verify/", assertion_for(b"credential-1")
    )
    assert response.status_code == 400
    assert "No sign-in was started" in response.json()["error"]


def test_malformed_json_is_refused(alice):
    key_of(alice)
    client = pending_login("alice")
    post_json(client, "/account/two-factor/webauthn/options/", b"")
    response = post_json(client, "/account/two-factor/webauthn/verify/", b"{not json")
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]
    assert "_auth_user_id" not in client.session


def test_oversized_answer_is_refused(alice):
    key_of(alice)
    client = pending_login("alice")
    post_json(client, "/account/two-factor/webauthn/options/", b"")
    response = post_json(client, "/account/two-factor/webauthn/verify/", b"x" * 70_000)
    assert "too large" in response.json()["error"]


def test_a_challenge_is_used_once(alice):
    key_of(alice)
    client = pending_login("alice")
    post_json(client, "/account/two-factor/webauthn/options/", b"")
    post_json(client, "/account/two-factor/webauthn/verify/", assertion_for(b"credential-1"))
    again = post_json(
        client, "/account/two-factor/webauthn/verify/", assertion_for(b"credential-1")
    )
    assert "No sign-in was started" in again.json()["error"]


def test_another_users_credential_is_refused(alice, bob):
    key_of(alice)
    key_of(bob, credential_id=b"bobs-key")
    client = pending_login("alice")
    post_json(client, "/account/two-factor/webauthn/options/", b"")
    response = post_json(client, "/account/two-factor/webauthn/verify/", assertion_for(b"bobs-key"))
    assert "not registered for this account" in response.json()["error"]
    assert alice.events.filter(tag="account:two_factor:failure").exists()


def test_a_challenge_from_another_session_is_refused(alice):
    key_of(alice)
    first, second = pending_login("alice"), pending_login("alice")
    post_json(first, "/account/two-factor/webauthn/options/", b"")
    response = post_json(
        second, "/account/two-factor/webauthn/verify/", assertion_for(b"credential-1")
    )
    assert "No sign-in was started" in response.json()["error"]


def test_security_key_is_not_a_passkey(alice):
    key_of(alice)
    client = Client(enforce_csrf_checks=True)
    client.get("/account/login/")
    post_json(client, "/account/passkey/options/", b"")
    response = post_json(client, "/account/passkey/verify/", assertion_for(b"credential-1"))
    assert "not registered" in response.json()["error"]


def test_registration_refuses_an_overlong_or_duplicate_label(alice):
    key_of(alice, label="Blue")
    browser = browser_for(alice)
    browser.get("/manage/account/two-factor/")
    csrf = browser.cookies["csrftoken"].value
    long = browser.post(
        "/manage/account/webauthn/options/", {"label": "x" * 65, "csrfmiddlewaretoken": csrf}
    )
    assert long.status_code == 400
    duplicate = browser.post(
        "/manage/account/webauthn/options/", {"label": "Blue", "csrfmiddlewaretoken": csrf}
    )
    assert "already have a key named 'Blue'" in duplicate.json()["error"]


def test_registration_options_exclude_registered_keys(alice):
    key_of(alice, credential_id=b"registered")
    browser = browser_for(alice)
    browser.get("/manage/account/two-factor/")
    options = browser.post(
        "/manage/account/webauthn/options/",
        {"label": "New", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    ).json()
    excluded = [entry["id"] for entry in options["excludeCredentials"]]
    assert excluded == [base64.urlsafe_b64encode(b"registered").decode().rstrip("=")]
    assert options["attestation"] == "none"
    assert options["rp"]["id"] == "localhost"


def test_counter_that_does_not_grow_is_refused_as_a_possible_clone(alice):
    credential = key_of(alice, sign_count=7)
    request = RequestFactory().post("/account/two-factor/webauthn/verify/")
    with pytest.raises(TwoFactorError, match="cloned"):
        webauthn_used(credential=credential, new_sign_count=7, request=request)
    assert alice.events.filter(tag="account:two_factor:cloned_key_suspected").exists()
    assert mail.outbox[-1].subject.endswith("A security key may have been cloned")
    webauthn_used(credential=credential, new_sign_count=8, request=request)
    credential.refresh_from_db()
    assert credential.sign_count == 8


def test_keys_that_keep_no_counter_pass(alice):
    credential = key_of(alice, sign_count=0)
    request = RequestFactory().post("/")
    webauthn_used(credential=credential, new_sign_count=0, request=request)
    webauthn_used(credential=credential, new_sign_count=0, request=request)  # and again
    credential.refresh_from_db()
    assert credential.sign_count == 0
    assert credential.last_used is not None
    assert not alice.events.filter(tag="account:two_factor:cloned_key_suspected").exists()
