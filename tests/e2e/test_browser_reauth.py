"""Re-authentication in Chromium, through a window that has run out: the interrupted action is
carried out after the confirmation, and the security-key page's script finds its way there and
back. Screenshots go to .cache/screenshots."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.e2e.conftest import PASSWORD, Server
from tests.e2e.test_browser import add_key, authenticator
from tests.e2e.test_browser_projects import SECRET, log_in, person, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def expire_confirmation(server: Server, name: str) -> None:
    """As if the person had confirmed it was them a day ago, in every session of theirs."""
    server.shell(
        "from django.contrib.sessions.backends.db import SessionStore\n"
        "from django.contrib.sessions.models import Session\n"
        "from packyard.accounts.models import User\n"
        f"user = User.objects.get(username='{name}')\n"
        "for row in Session.objects.all():\n"
        "    store = SessionStore(session_key=row.session_key)\n"
        "    if store.get('_auth_user_id') == str(user.pk):\n"
        "        store['packyard_reauth_at'] = 1.0\n"
        "        store.save()\n"
    )


def confirm(page: Page, step_offset: int) -> None:
    page.wait_for_url(re.compile("/account/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(SECRET).at(time.time() + 30 * step_offset)
    )
    page.get_by_role("button", name="Confirm").click()


def test_recovery_codes_generated_after_the_window_are_shown(page: Page, server: Server):
    person(server, "latecodes")
    log_in(page, server, "latecodes")
    expire_confirmation(server, "latecodes")
    page.goto(f"{server.url}/manage/account/two-factor/")
    page.get_by_role("button", name=re.compile("Generate new recovery codes")).click()
    shot(page, "reauth-confirm")
    assert "Once you confirm, it is carried out." in page.content()
    confirm(page, step_offset=1)
    codes = page.locator("ol.codes code").all_inner_texts()
    assert len(codes) == 10
    shot(page, "reauth-codes-after-confirm")


def test_security_key_added_after_the_window(
    page: Page, context: BrowserContext, console_errors: list[str], server: Server
):
    person(server, "latekey")
    log_in(page, server, "latekey")
    authenticator(context, page, passkey=False)
    expire_confirmation(server, "latekey")
    page.goto(f"{server.url}/manage/account/two-factor/")
    page.get_by_label("Name of the key").fill("Backup key")
    page.get_by_role("button", name="Add a security key or passkey").click()
    confirm(page, step_offset=1)
    page.wait_for_url(re.compile("/manage/account/two-factor/$"))
    # The script's request was answered 401 with the way to the confirmation, as designed.
    console_errors.remove(
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    )
    add_key(page, "Backup key")
    shot(page, "reauth-key-added")
    page.goto(f"{server.url}/manage/account/history/")
    page.get_by_text('Security key "Backup key" added').wait_for()
    shot(page, "history")
    page.goto(f"{server.url}/manage/account/sessions/")
    page.get_by_text("this session").wait_for()
    assert "HeadlessChrome" in page.content() or "Chrome" in page.content()
    shot(page, "sessions")
