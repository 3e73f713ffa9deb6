"""The web UI in Debian's Chromium, driven by Playwright, with Chrome's virtual authenticator
standing in for security keys and passkeys."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import BrowserContext, CDPSession, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import PASSWORD, Server

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def authenticator(context: BrowserContext, page: Page, *, passkey: bool) -> tuple[CDPSession, str]:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {
        "protocol": "ctap2",
        "transport": "internal" if passkey else "usb",
        "hasResidentKey": passkey,
        "hasUserVerification": passkey,
        "isUserVerified": passkey,
        "automaticPresenceSimulation": True,
    }
    created = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, created["authenticatorId"]


def log_in_with_password(page: Page, server: Server, username: str) -> None:
    page.goto(f"{server.url}/account/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/$"))


def save_recovery_codes(page: Page, server: Server) -> list[str]:
    page.goto(f"{server.url}/manage/account/two-factor/")
    page.get_by_role("button", name=re.compile("Generate recovery codes")).click()
    if "/account/reauthenticate/" in page.url:
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
        page.get_by_role("button", name=re.compile("Generate recovery codes")).click()
    codes = page.locator("ol.codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("textbox", name="Recovery code").fill(codes[0])
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Recovery codes saved").wait_for()
    return codes


def add_key(page: Page, label: str, *, passkey: bool = False) -> None:
    page.get_by_label("Name of the key").fill(label)
    if passkey:
        page.get_by_label(re.compile("A passkey")).check()
    page.get_by_role("button", name="Add a security key or passkey").click()
    page.get_by_role("cell", name=label, exact=True).wait_for()


def test_new_user_journey_to_totp_and_recovery_code(page: Page, server: Server, context):
    page.goto(f"{server.url}/account/register/")
    page.get_by_label("Username").fill("journey")
    page.get_by_label("Email").fill("journey@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Check your email").wait_for()
    link = re.search(r"http://\S+/account/verify-email/\S+", server.mail_to("journey@example.com"))
    page.goto(link.group(0))
    page.get_by_text("verified").first.wait_for()
    log_in_with_password(page, server, "journey")  # the account logs in once it is verified
    page.wait_for_url(re.compile("/manage/account/"))
    # The policy sends an account without a second factor to set one up.
    page.goto(f"{server.url}/manage/account/tokens/")
    assert page.url.endswith("/manage/account/two-factor/")
    codes = save_recovery_codes(page, server)
    page.get_by_role("link", name="Set up an authenticator app").click()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    page.get_by_text("Your authenticator app is set up.").wait_for()
    log_out(page)

    log_in_with_password(page, server, "journey")
    page.wait_for_url(re.compile("/account/two-factor/"))
    next_code = pyotp.TOTP(secret).at(time.time() + 30)  # the current step was used at setup
    page.get_by_label("Code from your authenticator app").fill(next_code)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile("/manage/account/$"))
    log_out(page)

    log_in_with_password(page, server, "journey")
    page.get_by_role("textbox", name="Recovery code").fill(codes[3].upper())
    page.get_by_role("button", name="Use recovery code").click()
    page.get_by_text(re.compile("You used a recovery code; 8 left")).wait_for()
    assert "A recovery code was used" in server.mail_to("journey@example.com")


def test_security_keys_register_log_in_and_remove(page: Page, context, server: Server):
    server.create_user("keyholder")
    cdp, first = authenticator(context, page, passkey=False)
    log_in_with_password(page, server, "keyholder")
    page.wait_for_url(re.compile("/manage/account/"))
    save_recovery_codes(page, server)
    add_key(page, "Blue key")
    # A second, different authenticator: the first stays registered but is unplugged.
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": first})
    second = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    add_key(page, "Spare key")
    log_out(page)

    log_in_with_password(page, server, "keyholder")
    page.wait_for_url(re.compile("/account/two-factor/"))
    page.get_by_role("button", name="Use your security key").click()
    page.wait_for_url(re.compile("/manage/account/$"))

    page.goto(f"{server.url}/manage/account/two-factor/")
    page.get_by_role("button", name="Remove Spare key").click()
    page.get_by_text("Removed 'Spare key'.").wait_for()
    assert page.get_by_role("cell", name="Spare key", exact=True).count() == 0
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": second})


def test_replayed_assertion_is_refused(page: Page, context, server: Server):
    server.create_user("replayer")
    authenticator(context, page, passkey=False)
    log_in_with_password(page, server, "replayer")
    page.wait_for_url(re.compile("/manage/account/"))
    save_recovery_codes(page, server)
    add_key(page, "Key")
    log_out(page)

    captured: list[str] = []
    page.on(
        "request",
        lambda request: (
            captured.append(request.post_data or "")
            if request.url.endswith("/account/two-factor/webauthn/verify/")
            else None
        ),
    )
    log_in_with_password(page, server, "replayer")
    page.get_by_role("button", name="Use your security key").click()
    page.wait_for_url(re.compile("/manage/account/$"))
    log_out(page)

    log_in_with_password(page, server, "replayer")
    page.wait_for_url(re.compile("/account/two-factor/"))
    csrf = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    page.request.post(
        f"{server.url}/account/two-factor/webauthn/options/", headers={"X-CSRFToken": csrf}
    )
    replay = page.request.post(
        f"{server.url}/account/two-factor/webauthn/verify/",
        data=captured[0],
        headers={"X-CSRFToken": csrf, "Content-Type": "application/json"},
    )
    assert replay.status == 400
    assert "refused" in replay.json()["error"]
    page.goto(f"{server.url}/manage/account/")
    assert "/account/login/" in page.url


def test_passkey_logs_in_without_username_and_needs_user_verification(page, context, server):
    server.create_user("passkeyuser")
    cdp, authenticator_id = authenticator(context, page, passkey=True)
    log_in_with_password(page, server, "passkeyuser")
    page.wait_for_url(re.compile("/manage/account/"))
    save_recovery_codes(page, server)
    add_key(page, "Laptop passkey", passkey=True)
    assert page.get_by_role("cell", name="passkey", exact=True).count() == 1
    log_out(page)

    page.goto(f"{server.url}/account/login/")
    # Where the browser offers passkeys in the username field (conditional UI), the virtual
    # authenticator answers at once; otherwise the button starts the same request.
    try:
        page.wait_for_url(re.compile("/manage/account/$"), timeout=3000)
    except PlaywrightTimeout:
        page.get_by_role("button", name="Sign in with a passkey").click()
        page.wait_for_url(re.compile("/manage/account/$"))
    assert page.get_by_text("passkeyuser").first.is_visible()
    log_out(page)

    cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": authenticator_id, "isUserVerified": False}
    )
    page.goto(f"{server.url}/account/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.locator("#webauthn-error").wait_for(state="visible")
    page.goto(f"{server.url}/manage/account/")
    assert "/account/login/" in page.url
