"""Actions interrupted by re-authentication are not lost: each one, through an expired window,
comes back carried out (or, with secrets in it, ready to send again), and script-driven
endpoints answer JSON the page's script follows."""

import re
import time

import pytest
from django.test import Client
from django.urls import reverse

from packyard.accounts.reauth import INTENT_KEY, REAUTH_AT_KEY
from packyard.packages.models import File, Project, Release
from packyard.tokens.mint import token_mint
from packyard.tokens.models import ApiToken
from packyard.twofactor.models import RecoveryCode, TOTPDevice
from tests.conftest import PASSWORD, browser_for, totp_code, upload_form
from tests.twofactor.test_manage import SENSITIVE, _manage_patterns

pytestmark = pytest.mark.django_db


def _expired(browser: Client) -> Client:
    session = browser.session
    session[REAUTH_AT_KEY] = time.time() - 24 * 3600
    session.save()
    return browser


def _post(browser: Client, path: str, data: dict[str, str], referer: str = "/manage/account/"):
    browser.get("/manage/account/")  # a CSRF cookie, as from the page the form is on
    token = browser.cookies["csrftoken"].value
    return browser.post(path, {**data, "csrfmiddlewaretoken": token}, HTTP_REFERER=referer)


def _confirm(browser: Client, user, reauth_location: str):
    """Fill in the confirmation page as a person does: password and app code."""
    page = browser.get(reauth_location)
    intent = re.search(r'name="intent" value="([^"]*)"', page.content.decode()).group(1)
    next_url = re.search(r'name="next" value="([^"]*)"', page.content.decode()).group(1)
    token = browser.cookies["csrftoken"].value
    return browser.post(
        reverse("signin:reauthenticate"),
        {
            "password": PASSWORD,
            "code": totp_code(user),
            "next": next_url,
            "intent": intent,
            "csrfmiddlewaretoken": token,
        },
    )


@pytest.fixture
def demo(upload, alice_token):
    for form in (upload_form("demo", "1.0"), upload_form("demo", "2.0")):
        assert upload(alice_token, form).status_code == 200
    return Project.objects.get()


def _through_expired_window(browser, user, path, data, referer="/manage/account/"):
    interrupted = _post(_expired(browser), path, data, referer)
    assert interrupted.status_code == 302
    assert interrupted["Location"].startswith("/account/reauthenticate/?")
    confirmed = _confirm(browser, user, interrupted["Location"])
    assert confirmed.status_code == 302
    return confirmed, browser.get(confirmed["Location"]) if "continue" in confirmed[
        "Location"
    ] else confirmed


def test_generating_recovery_codes_after_the_window_shows_the_codes(alice):
    browser = browser_for(alice)
    before = set(RecoveryCode.objects.filter(user=alice).values_list("pk", flat=True))
    confirmed, outcome = _through_expired_window(
        browser, alice, "/manage/account/recovery-codes/", {}, "/manage/account/two-factor/"
    )
    assert "/account/reauthenticate/continue/" in confirmed["Location"]
    assert outcome.status_code == 200
    assert len(re.findall(r"<code>", outcome.content.decode())) >= 10
    assert not before & set(RecoveryCode.objects.filter(user=alice).values_list("pk", flat=True))


def test_deleting_a_token_after_the_window_deletes_it_once(alice):
    token, _ = token_mint(user=alice, description="old")
    browser = browser_for(alice)
    _, outcome = _through_expired_window(
        browser, alice, f"/manage/account/tokens/{token.id}/delete/", {}, "/manage/account/tokens/"
    )
    assert outcome.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    # The kept intent is spent: opening the continuation again does nothing more.
    assert INTENT_KEY not in browser.session


def test_yanking_after_the_window_yanks_and_lands_on_the_project(alice, demo):
    browser = browser_for(alice)
    _, outcome = _through_expired_window(
        browser,
        alice,
        "/manage/project/demo/yank/",
        {"version": "2.0", "reason": "broken"},
        "/manage/project/demo/",
    )
    assert outcome["Location"] == "/manage/project/demo/"
    assert Release.objects.get(version="2.0").yanked


def test_deleting_a_file_after_the_window_deletes_it(alice, demo):
    browser = browser_for(alice)
    filename = File.objects.filter(release__version="2.0").get().filename
    _through_expired_window(
        browser,
        alice,
        "/manage/project/demo/delete-file/",
        {"filename": filename, "confirm": filename},
        "/manage/project/demo/",
    )
    assert not File.objects.filter(filename=filename).exists()


def test_every_post_only_action_comes_back_through_an_expired_window(alice, demo):
    """Whatever the action, the end of the confirmation is never a 405 or a second
    confirmation: the action was carried out (or refused with its own message)."""
    patterns = _manage_patterns()
    for name in sorted(SENSITIVE - SCRIPT_ENDPOINTS):
        callback = patterns[name]
        url = _url_for(name)
        browser = browser_for(alice)
        if _accepts_get(callback, browser, url):
            continue  # a page: the confirmation returns to it by GET
        # Each confirmation spends an app code; the test has only a few steps of the clock.
        TOTPDevice.objects.filter(user=alice).update(last_used_step=0)
        _, outcome = _through_expired_window(browser, alice, url, {})
        # Empty forms: the action runs and refuses on its own terms (a 404 for "no such file").
        assert outcome.status_code in (200, 302, 404), (name, outcome.status_code)
        if outcome.status_code == 302:
            assert not outcome["Location"].startswith("/account/reauthenticate/"), name


# Called by the page's script, which asks for JSON: test_script_endpoint_answers_json_...
SCRIPT_ENDPOINTS = {"twofactor:webauthn-options", "twofactor:webauthn-verify"}


URL_ARGS: dict[str, list[object]] = {
    "tokens:delete": ["00000000-0000-0000-0000-000000000000"],
    "twofactor:webauthn-rename": [1],
    "twofactor:webauthn-remove": [1],
    "packages:pending-publishing": [],
    "packages:stage": ["demo", "00000000-0000-0000-0000-000000000000"],
}


def _url_for(name: str) -> str:
    args = (
        URL_ARGS[name] if name in URL_ARGS else (["demo"] if name.startswith("packages:") else [])
    )
    return reverse(name, args=args)


def _accepts_get(callback, browser: Client, url: str) -> bool:
    return browser.get(url).status_code != 405


def test_form_with_a_password_is_not_kept(alice):
    browser = _expired(browser_for(alice))
    interrupted = _post(
        browser,
        "/manage/account/password/",
        {"old_password": PASSWORD, "new_password1": "x" * 20, "new_password2": "x" * 20},
        "/manage/account/password/",
    )
    assert interrupted.status_code == 302
    assert INTENT_KEY not in browser.session
    assert "intent=" not in interrupted["Location"]


def test_intent_of_another_session_cannot_be_continued(alice, bob):
    token, _ = token_mint(user=alice, description="old")
    victim = _expired(browser_for(alice))
    interrupted = _post(victim, f"/manage/account/tokens/{token.id}/delete/", {})
    intent = re.search(r"intent=([^&]+)", interrupted["Location"]).group(1)
    attacker = browser_for(bob)
    response = attacker.get(f"/account/reauthenticate/continue/{intent}/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None


def test_continuation_needs_the_confirmation(alice):
    token, _ = token_mint(user=alice, description="old")
    browser = _expired(browser_for(alice))
    interrupted = _post(browser, f"/manage/account/tokens/{token.id}/delete/", {})
    intent = re.search(r"intent=([^&]+)", interrupted["Location"]).group(1)
    skipped = browser.get(f"/account/reauthenticate/continue/{intent}/")
    assert skipped.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None


def test_script_endpoint_answers_json_with_where_to_confirm(alice):
    browser = _expired(browser_for(alice))
    browser.get("/manage/account/two-factor/")
    response = browser.post(
        "/manage/account/webauthn/options/",
        {"label": "key", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
        HTTP_ACCEPT="application/json",
        HTTP_REFERER="http://testserver/manage/account/two-factor/",
    )
    assert response.status_code == 401
    url = response.json()["reauthenticate"]
    assert url.startswith("/account/reauthenticate/?next=%2Fmanage%2Faccount%2Ftwo-factor%2F")


def test_confirmation_page_says_how_long_it_lasts(alice, settings):
    browser = browser_for(alice)
    page = browser.get("/account/reauthenticate/?next=/manage/account/&window=300")
    assert "The confirmation lasts 5 minutes." in page.content.decode()


def test_token_kept_for_a_later_day_is_not_carried_out(alice):
    token, _ = token_mint(user=alice, description="old")
    browser = _expired(browser_for(alice))
    interrupted = _post(browser, f"/manage/account/tokens/{token.id}/delete/", {})
    session = browser.session
    session[INTENT_KEY] = {**session[INTENT_KEY], "at": time.time() - 3600}
    session.save()
    confirmed = _confirm(browser, alice, interrupted["Location"])
    browser.get(confirmed["Location"])
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ApiToken.objects.filter(pk=token.pk).exists()
