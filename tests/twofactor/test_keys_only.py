"""Phishing-resistant factors for an account: "security keys only" (codes stop signing in and
confirming; switching it off waits, announced) and PACKYARD_REQUIRE_2FA=phishing-resistant."""

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from packyard.accounts.events import EventTag
from packyard.accounts.models import User
from packyard.tokens.mint import token_mint
from packyard.twofactor import services
from packyard.twofactor.models import RecoveryCode
from tests.conftest import PASSWORD, browser_for, totp_code, upload_form
from tests.signin.test_second_step import password_step, second_step
from tests.twofactor.test_webauthn import key_of

pytestmark = pytest.mark.django_db
PAGE = "/manage/account/two-factor/keys-only/"


def keys_only(user, action, **browser):
    client = browser_for(user, **browser)
    client.get("/manage/account/two-factor/")
    return client, client.post(
        PAGE, {"action": action, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )


def fresh(user):
    return User.objects.get(pk=user.pk)


def test_turning_it_on_needs_a_key(alice):
    _, response = keys_only(alice, "on")
    assert response.status_code == 302
    assert not fresh(alice).security_keys_only


def test_an_unknown_action_changes_nothing(alice):
    key_of(alice)
    client, _ = keys_only(alice, "sideways")
    assert not fresh(alice).security_keys_only
    assert "Unknown action." in client.get("/manage/account/two-factor/").content.decode()


def test_with_it_on_codes_no_longer_sign_in(alice):
    key_of(alice)
    keys_only(alice, "on")
    assert fresh(alice).security_keys_only
    assert alice.events.filter(tag=EventTag.KEYS_ONLY_ON).exists()
    client = Client(enforce_csrf_checks=True)
    password_step(client)
    page = client.get("/account/two-factor/").content.decode()
    assert 'name="method" value="totp"' not in page
    assert 'value="recovery"' not in page
    assert "only with a security key or passkey" in page
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    unused = RecoveryCode.objects.filter(user=alice, burned__isnull=True).count()
    response = second_step(client, method="recovery", recovery_code="any-code-at-all")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert RecoveryCode.objects.filter(user=alice, burned__isnull=True).count() == unused


def test_with_it_on_a_code_does_not_confirm_it_is_you(alice):
    key_of(alice)
    keys_only(alice, "on")
    browser = browser_for(alice, reauthenticated=False)
    page = browser.get("/account/reauthenticate/?next=/manage/account/").content.decode()
    assert 'name="code"' not in page
    response = browser.post(
        "/account/reauthenticate/",
        {
            "password": PASSWORD,
            "code": totp_code(alice),
            "next": "/manage/account/",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )
    # The password is right: the key is asked for next, and nothing is confirmed yet.
    assert response.status_code == 200
    assert "Now use your security key" in response.content.decode()
    assert "packyard_reauth_at" not in browser.session


def test_switching_it_off_needs_the_key_waits_and_is_announced(alice, settings):
    settings.PACKYARD_LOOSEN_DELAY = 3600
    key_of(alice)
    keys_only(alice, "on")
    _, response = keys_only(alice, "off")  # confirmed with a code
    assert "factor=key" in response["Location"]
    assert fresh(alice).security_keys_only_ends is None
    mail.outbox.clear()
    _, response = keys_only(alice, "off", with_key=True)
    user = fresh(alice)
    assert user.security_keys_only
    assert user.security_keys_only_ends > timezone.now()
    assert [m.subject for m in mail.outbox] == [
        "[Packyard] Security keys only will be switched off"
    ]
    assert services.codes_refused(user)  # until the delay has passed
    User.objects.filter(pk=alice.pk).update(security_keys_only_ends=timezone.now())
    mail.outbox.clear()
    user = fresh(alice)
    assert not services.codes_refused(user)
    assert not fresh(alice).security_keys_only
    assert alice.events.filter(tag=EventTag.KEYS_ONLY_OFF).count() == 1
    assert [m.subject for m in mail.outbox] == ["[Packyard] Security keys only is off"]


def test_turning_it_on_again_cancels_switching_off(alice):
    key_of(alice)
    keys_only(alice, "on")
    keys_only(alice, "off", with_key=True)
    keys_only(alice, "on")
    user = fresh(alice)
    assert user.security_keys_only
    assert user.security_keys_only_ends is None
    assert alice.events.filter(tag=EventTag.KEYS_ONLY_OFF_CANCELLED).exists()


def test_the_last_key_cannot_be_removed_while_keys_only_is_on(alice):
    credential = key_of(alice)
    keys_only(alice, "on")
    browser = browser_for(alice, with_key=True)
    browser.get("/manage/account/two-factor/")
    browser.post(
        f"/manage/account/webauthn/{credential.pk}/remove/",
        {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    )
    assert alice.webauthn_credentials.exists()


def test_the_overview_page_offers_it_and_says_when_switching_off_takes_effect(alice):
    key_of(alice)
    page = browser_for(alice).get("/manage/account/two-factor/").content.decode()
    assert "Turn on security keys only" in page
    keys_only(alice, "on")
    keys_only(alice, "off", with_key=True)
    page = browser_for(alice).get("/manage/account/two-factor/").content.decode()
    assert "Switching off takes effect at" in page
    assert "Cancel switching off" in page


# --- PACKYARD_REQUIRE_2FA=phishing-resistant --------------------------------------------------


@pytest.fixture
def keys_required(settings):
    settings.PACKYARD_REQUIRE_2FA = "phishing-resistant"


def test_the_site_policy_keeps_a_totp_only_account_to_adding_a_key(keys_required, alice):
    browser = browser_for(alice)
    response = browser.get("/manage/account/tokens/")
    assert response.status_code == 302
    assert response["Location"] == "/manage/account/two-factor/"
    assert browser.get("/manage/account/two-factor/").status_code == 200
    key_of(alice)
    assert browser.get("/manage/account/tokens/").status_code == 200


def test_the_site_policy_refuses_uploads_of_an_account_without_a_key(keys_required, alice, upload):
    token = token_mint(user=alice, description="ci")[1]
    response = upload(token, upload_form("demo", "1.0"))
    assert response.status_code == 403
    key_of(alice)
    assert upload(token, upload_form("demo", "1.0")).status_code == 200


def test_the_site_policy_refuses_codes_of_an_account_with_a_key(keys_required, alice):
    key_of(alice)
    client = Client(enforce_csrf_checks=True)
    password_step(client)
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_the_site_policy_keeps_the_last_key(keys_required, alice, rf):
    credential = key_of(alice)
    with pytest.raises(services.TwoFactorError, match="last security key"):
        services.webauthn_remove(credential=credential, request=rf.post("/"))
    assert alice.webauthn_credentials.exists()
