"""Phishing-resistant factors and loosening loudly, in Chromium with a virtual security key:
an Owner requires security keys of the project's members (a TOTP-only Maintainer's upload is
refused), loosening it asks for the key, is emailed and waits, a cancel stops it, and it takes
effect only when its time has come; archiving (PEP 792) closes uploads; "security keys only"
leaves codes out of the login."""

import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests import dists
from tests.e2e.conftest import PASSWORD, Server, Tools, twine_upload
from tests.e2e.test_browser import add_key, authenticator, log_out
from tests.e2e.test_browser_projects import log_in, person, publish, shot, token_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def upload_as(tools: Tools, server: Server, token: str, tmp_path: Path, version: str):
    path = tmp_path / dists.wheel_filename("e2e-guarded", version)
    path.write_bytes(dists.make_wheel("e2e-guarded", version))
    return twine_upload(tools, server, [path], token=token, check=False)


def confirm_with_key(page: Page) -> None:
    """The re-authentication page asked for a key: the password, then the key."""
    page.wait_for_url(re.compile("/account/reauthenticate/.*factor=key"))
    assert page.get_by_label("Code from your authenticator app").count() == 0
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("button", name="Use your security key").click()


def test_keys_required_loosened_loudly_cancelled_then_applied(
    page: Page, context, server: Server, tools: Tools, tmp_path
):
    person(server, "keyowner")
    person(server, "totpmaint")
    publish(tools, server, token_for(server, "keyowner"), tmp_path, "e2e-guarded", ["1.0"])
    server.shell(
        "from packyard.accounts.models import User\n"
        "from packyard.packages.models import Project, Role\n"
        "Role.objects.create(project=Project.objects.get(normalized_name='e2e-guarded'), "
        "user=User.objects.get(username='totpmaint'), role_name='Maintainer')\n"
    )
    maintainer_token = token_for(server, "totpmaint")
    authenticator(context, page, passkey=False)
    log_in(page, server, "keyowner")
    page.goto(f"{server.url}/manage/account/two-factor/")
    add_key(page, "Owner key")

    security = f"{server.url}/manage/project/e2e-guarded/security/"
    page.goto(security)
    page.get_by_role("button", name="Require security keys").click()
    page.get_by_text("Changed.").wait_for()
    assert "needs a security key to publish" in server.mail_to("totpmaint@example.com")
    refused = upload_as(tools, server, maintainer_token, tmp_path, "2.0")
    assert refused.returncode != 0
    assert "security key or passkey" in refused.stdout + refused.stderr

    # Loosening: the key is asked for even though the login was fresh, then it waits.
    page.get_by_role("button", name=re.compile("Stop requiring them")).click()
    confirm_with_key(page)
    page.get_by_text(re.compile(r"it takes effect at \d")).wait_for()
    assert "takes effect only at" in server.mail_to("keyowner@example.com")
    page.get_by_role("heading", name="Waiting to take effect").wait_for()
    shot(page, "project-security-waiting")
    assert upload_as(tools, server, maintainer_token, tmp_path, "2.0").returncode != 0

    page.get_by_role("button", name="Cancel this change").click()
    page.get_by_text(re.compile("Cancelled: nothing changed")).wait_for()
    assert "cancelled the waiting change" in server.mail_to("keyowner@example.com")

    # Asked again (the key confirmation still fresh), and its time comes.
    page.get_by_role("button", name=re.compile("Stop requiring them")).click()
    page.get_by_text(re.compile(r"it takes effect at \d")).wait_for()
    server.shell(
        "from django.utils import timezone\n"
        "from packyard.packages.models import SettingChange\n"
        "SettingChange.objects.filter(applied__isnull=True, cancelled__isnull=True)"
        ".update(effective=timezone.now())\n"
    )
    assert "1 project" in server.packyard("manage", "apply_setting_changes").stdout
    assert upload_as(tools, server, maintainer_token, tmp_path, "2.0").returncode == 0
    page.goto(f"{server.url}/manage/project/e2e-guarded/history/")
    for sentence in (
        "Security keys or passkeys required",
        "Asked to change security keys required",
        "cancelled",
        "Security keys no longer required",
    ):
        assert page.get_by_text(re.compile(sentence)).count() >= 1, sentence
    shot(page, "project-security-history")

    # Archiving closes uploads at once and is announced to installers (PEP 792).
    page.goto(security)
    page.get_by_label("New status").select_option("archived")
    page.get_by_label("Reason (public, optional)").fill("Finished: use e2e-guarded2")
    page.get_by_role("button", name="Set the status").click()
    page.get_by_text("Changed.").wait_for()
    shot(page, "project-security")
    with urllib.request.urlopen(f"{server.url}/simple/e2e-guarded/") as response:
        html = response.read().decode()
    assert '<meta name="pypi:project-status" content="archived">' in html
    closed = upload_as(tools, server, maintainer_token, tmp_path, "3.0")
    assert "archived" in closed.stdout + closed.stderr
    page.goto(f"{server.url}/project/e2e-guarded/")
    page.get_by_text("This project is archived by its Owners").wait_for()
    shot(page, "project-page-archived")


def test_security_keys_only_leaves_codes_out_of_the_login(page: Page, context, server: Server):
    person(server, "keysonly")
    authenticator(context, page, passkey=False)
    log_in(page, server, "keysonly")
    page.goto(f"{server.url}/manage/account/two-factor/")
    add_key(page, "Only key")
    page.get_by_role("button", name="Turn on security keys only").click()
    page.get_by_text("Only security keys and passkeys sign in").wait_for()
    shot(page, "two-factor-keys-only")
    log_out(page)
    page.goto(f"{server.url}/account/login/")
    page.get_by_label("Username").fill("keysonly")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(re.compile("/account/two-factor/"))
    assert page.get_by_label("Code from your authenticator app").count() == 0
    assert page.get_by_role("textbox", name="Recovery code").count() == 0
    shot(page, "login-keys-only")
    page.get_by_role("button", name="Use your security key").click()
    page.wait_for_url(re.compile("/manage/account/$"))
