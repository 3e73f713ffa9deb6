"""Project management in the browser: invitations between two people, yanking, deleting.
Screenshots of the pages go to .cache/screenshots for a person to look at."""

import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page

from tests import dists
from tests.e2e.conftest import PASSWORD, ROOT, Server, Tools, run, twine_upload, watch_console

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCREENSHOTS = Path(os.environ.get("PACKYARD_SCREENSHOTS", ROOT / ".cache" / "screenshots"))
SECRET = pyotp.random_base32()


def person(server: Server, name: str) -> None:
    """An account with an authenticator app and saved recovery codes, made by the operator."""
    server.create_user(name)
    server.shell(
        "import base64\n"
        "from packyard.accounts.models import User\n"
        "from packyard.twofactor import secretbox\n"
        "from packyard.twofactor.models import TOTPDevice\n"
        "from packyard.twofactor.services import TOTP_PURPOSE, recovery_code_confirm, "
        "recovery_codes_generate\n"
        f"u = User.objects.get(username='{name}')\n"
        f"secret = base64.b32decode('{SECRET}')\n"
        "sealed = secretbox.seal(secret, purpose=TOTP_PURPOSE, owner=str(u.pk))\n"
        "TOTPDevice.objects.create(user=u, sealed_secret=sealed)\n"
        "recovery_code_confirm(user=u, code=recovery_codes_generate(user=u, request=None)[0])\n"
    )


def log_in(page: Page, server: Server, name: str, step_offset: int = 0) -> None:
    page.goto(f"{server.url}/account/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(SECRET).at(time.time() + 30 * step_offset)
    )
    page.get_by_role("button", name="Verify").click()
    if page.get_by_text("Check your email").count():
        # A browser and address this account has not used: the emailed link finishes the login.
        link = re.search(
            r"http://\S+/account/confirm-login/\S+", server.mail_to(f"{name}@example.com")
        )
        page.goto(link.group(0))
    page.wait_for_url(re.compile("/manage/account/$"))


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def publish(
    tools: Tools, server: Server, token: str, tmp_path: Path, name: str, versions: list[str]
) -> None:
    files = []
    for version in versions:
        path = tmp_path / dists.wheel_filename(name, version)
        path.write_bytes(dists.make_wheel(name, version))
        files.append(path)
    twine_upload(tools, server, files, token=token)


def token_for(server: Server, name: str) -> str:
    return server.packyard("token", "create", name).stdout.strip().splitlines()[-1]


def test_invitation_round_trip(browser, console_errors, server: Server, tools: Tools, tmp_path):
    person(server, "ownerweb")
    person(server, "guestweb")
    publish(tools, server, token_for(server, "ownerweb"), tmp_path, "e2e-web", ["1.0"])
    owner_context, guest_context = browser.new_context(), browser.new_context()
    watch_console(owner_context, console_errors)
    watch_console(guest_context, console_errors)
    owner, guest = owner_context.new_page(), guest_context.new_page()
    log_in(owner, server, "ownerweb")
    owner.goto(f"{server.url}/manage/project/e2e-web/collaborators/")
    owner.get_by_label("Username").fill("guestweb")
    owner.get_by_label("Role", exact=True).select_option("Maintainer")
    owner.get_by_role("button", name="Invite").click()
    owner.get_by_text("Invited guestweb.").wait_for()
    shot(owner, "collaborators")

    log_in(guest, server, "guestweb", step_offset=1)
    guest.goto(f"{server.url}/manage/account/invitations/")
    shot(guest, "invitations")
    guest.get_by_role("button", name="Accept e2e-web").click()
    guest.get_by_text("Invitation accepted.").wait_for()

    owner.reload()
    assert owner.get_by_role("cell", name="guestweb", exact=True).count() == 1
    owner.goto(f"{server.url}/manage/project/e2e-web/history/")
    assert owner.get_by_text("Invitation as Maintainer accepted").count() == 1
    shot(owner, "project-history")
    owner.goto(f"{server.url}/manage/account/history/")
    shot(owner, "account-history")
    owner_context.close()
    guest_context.close()
    assert not console_errors, console_errors


def test_yank_then_pip_skips_the_yanked_version(page: Page, server, tools, tmp_path):
    person(server, "yanker")
    publish(tools, server, token_for(server, "yanker"), tmp_path, "e2e-yankweb", ["1.0", "2.0"])
    log_in(page, server, "yanker")
    page.goto(f"{server.url}/manage/project/e2e-yankweb/")
    page.get_by_label("Reason for yanking 2.0").fill("Broken build")
    page.get_by_role("button", name="Yank 2.0").click()
    page.get_by_text("Yanked 2.0").first.wait_for()
    shot(page, "manage-project")
    page.goto(f"{server.url}/project/e2e-yankweb/2.0/")
    shot(page, "project-page-yanked")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    run(
        [
            venv / "bin" / "pip",
            "install",
            "--no-cache-dir",
            "--index-url",
            server.index_url,
            "e2e-yankweb",
        ]
    )
    listing = run([venv / "bin" / "pip", "list", "--format", "json"]).stdout
    assert {"name": "e2e-yankweb", "version": "1.0"} in json.loads(listing)


def test_deleted_release_disappears_from_the_index(page: Page, server, tools, tmp_path):
    person(server, "deleter")
    publish(tools, server, token_for(server, "deleter"), tmp_path, "e2e-delweb", ["1.0", "2.0"])
    log_in(page, server, "deleter")
    page.goto(f"{server.url}/manage/project/e2e-delweb/")
    page.get_by_label("Type 2.0 to delete this release and its files").fill("2.0")
    page.get_by_role("button", name="Delete release").nth(0).click()
    page.get_by_text("Deleted 2.0 and its files.").wait_for()
    request = urllib.request.Request(
        f"{server.index_url}e2e-delweb/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["versions"] == ["1.0"]
    download = run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "-d",
            tmp_path / "dl",
            "--index-url",
            server.index_url,
            "e2e-delweb==2.0",
        ],
        check=False,
    )
    assert download.returncode != 0


def test_project_page_reads_well(page: Page, server, tools, tmp_path):
    person(server, "writer")
    publish(tools, server, token_for(server, "writer"), tmp_path, "e2e-pretty", ["1.0"])
    page.goto(f"{server.url}/project/e2e-pretty/")
    assert page.get_by_role("heading", name="e2e-pretty 1.0").count() == 1
    shot(page, "project-page")
    page.goto(f"{server.url}/")
    shot(page, "home")


def test_an_owner_adds_a_trusted_publisher_and_limits_uploads_to_it(
    page: Page, server, tools, tmp_path, oidc_servers
):
    person(server, "tpowner")
    token = token_for(server, "tpowner")
    publish(tools, server, token, tmp_path, "e2e-tpweb", ["1.0"])
    log_in(page, server, "tpowner")
    page.goto(f"{server.url}/manage/project/e2e-tpweb/")
    page.get_by_role("link", name="Trusted publishing").click()
    page.get_by_label("Issuer (the CI system)").select_option(oidc_servers["github"].url)
    page.get_by_label(re.compile("Claims the identity token must carry")).fill(
        "repository=octo/e2e-tpweb\nrepository_id=31337\nrepository_owner_id=77\n"
        "workflow=release.yml\nenvironment=pypi"
    )
    page.get_by_role("button", name="Add publisher").click()
    page.get_by_text(
        "Added github octo/e2e-tpweb, workflow release.yml, environment pypi."
    ).wait_for()
    page.get_by_role("button", name="Accept uploads only from trusted publishers").click()
    page.get_by_text("Uploads now come only from trusted publishers.").wait_for()
    shot(page, "trusted-publishing")
    refused = publish_refused(tools, server, token, tmp_path, "e2e-tpweb", "2.0")
    assert "trusted publishing only" in refused
    page.goto(f"{server.url}/manage/project/e2e-tpweb/history/")
    assert page.get_by_text("Uploads limited to trusted publishers").count() == 1
    page.goto(f"{server.url}/manage/account/publishing/")
    shot(page, "pending-publishing")


def publish_refused(
    tools: Tools, server: Server, token: str, tmp_path: Path, name: str, version: str
) -> str:
    path = tmp_path / dists.wheel_filename(name, version)
    path.write_bytes(dists.make_wheel(name, version))
    result = twine_upload(tools, server, [path], token=token, check=False)
    assert result.returncode != 0
    return result.stdout + result.stderr
