"""Stages end to end: CI uploads with a stage-only token (twine), pip and uv install the release
from the stage's index with its dependency from the public one, an Owner publishes it with a
virtual security key and it is public in one serial; a TOTP-only Maintainer cannot approve in a
project requiring keys; a discarded stage's file name can never be uploaded again."""

import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests import dists
from tests.e2e.conftest import Server, Tools, run, twine_upload, watch_console
from tests.e2e.test_browser import add_key, authenticator
from tests.e2e.test_browser_projects import log_in, person, publish, shot, token_for
from tests.e2e.test_browser_security import confirm_with_key
from tests.e2e.test_clients import installed

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
NAME = "e2e-staged"


def wheel(tmp_path: Path, version: str) -> Path:
    metadata = dists.core_metadata(NAME, version, extra="Requires-Dist: e2e-stagedep>=1\n")
    path = tmp_path / dists.wheel_filename(NAME, version)
    path.write_bytes(dists.make_wheel(NAME, version, metadata=metadata))
    return path


def stage_index(server: Server, version: str) -> str:
    listing = server.packyard("stage", "list", NAME).stdout
    block = listing.split(f" {version} open")[1]
    return re.search(r"index: (\S+)", block).group(1)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_staged_release_tested_then_published_with_a_key(
    browser, console_errors, server: Server, tools: Tools, tmp_path
):
    person(server, "stageowner")
    person(server, "stagemaint")
    owner_token = token_for(server, "stageowner")
    publish(tools, server, owner_token, tmp_path, "e2e-stagedep", ["1.0"])
    publish(tools, server, owner_token, tmp_path, NAME, ["1.0"])
    server.shell(
        "from packyard.accounts.models import User\n"
        "from packyard.packages.models import Project, Role\n"
        f"Role.objects.create(project=Project.objects.get(normalized_name='{NAME}'), "
        "user=User.objects.get(username='stagemaint'), role_name='Maintainer')\n"
    )
    created = server.packyard(
        "token", "create", "stageowner", "--stage-only", "--project", NAME
    ).stdout
    assert "stage only" in created
    ci_token = created.strip().splitlines()[-1]

    # CI uploads as always; the release waits in a stage.
    twine_upload(tools, server, [wheel(tmp_path, "2.0")], token=ci_token)
    with urllib.request.urlopen(f"{server.url}/simple/{NAME}/") as response:
        assert "2.0" not in response.read().decode()
    index = stage_index(server, "2.0")

    for installer in ("pip", "uv"):
        venv = tmp_path / f"venv-{installer}"
        run([sys.executable, "-m", "venv", venv])
        if installer == "pip":
            command = [venv / "bin" / "pip", "install", "--no-cache-dir"]
        else:
            command = [
                tools.uv,
                "pip",
                "install",
                "--no-cache",
                "--python",
                venv / "bin" / "python",
            ]
        run([*command, "--index-url", index, f"{NAME}==2.0"])
        packages = installed(venv / "bin" / "python", tools)
        assert packages[NAME] == "2.0", installer
        assert packages["e2e-stagedep"] == "1.0", installer  # from the public index

    context = browser.new_context()
    watch_console(context, console_errors)
    page: Page = context.new_page()
    authenticator(context, page, passkey=False)
    log_in(page, server, "stageowner")
    page.goto(f"{server.url}/manage/account/two-factor/")
    add_key(page, "Stage key")
    page.goto(f"{server.url}/manage/project/{NAME}/security/")
    page.get_by_role("button", name="Require a key").click()
    page.get_by_text("Changed.").wait_for()
    page.goto(f"{server.url}/manage/project/{NAME}/stages/")
    shot(page, "stages")
    page.get_by_role("link", name="2.0").click()
    page.get_by_role("heading", name=re.compile("staged")).wait_for()
    assert page.get_by_text("+ e2e-stagedep>=1").count() == 1
    shot(page, "stage-review")
    page.get_by_role("button", name="Publish 2.0").click()
    confirm_with_key(page)
    page.get_by_text(re.compile(r"in the index as of serial \d+")).wait_for()
    serial = re.search(r"serial (\d+)", page.content()).group(1)
    shot(page, "stage-published")

    with urllib.request.urlopen(f"{server.url}/simple/{NAME}/") as response:
        assert "e2e_staged-2.0-py3-none-any.whl" in response.read().decode()
        assert response.headers["X-PyPI-Last-Serial"] == serial
    server.shell(
        "from packyard.packages.models import JournalEntry\n"
        f"entries = JournalEntry.objects.filter(normalized_name='{NAME}', version='2.0')\n"
        f"assert [e.id for e in entries] == [{serial}], list(entries.values())\n"
    )
    assert status_of(index + f"{NAME}/") == 410

    # Keys required of members: a TOTP-only Maintainer cannot approve the next stage.
    page.goto(f"{server.url}/manage/project/{NAME}/security/")
    page.get_by_role("button", name="Require security keys").click()
    page.get_by_text("Changed.").wait_for()
    twine_upload(tools, server, [wheel(tmp_path, "3.0")], token=ci_token)
    maintainer_context = browser.new_context()
    watch_console(maintainer_context, console_errors)
    maintainer = maintainer_context.new_page()
    log_in(maintainer, server, "stagemaint", step_offset=1)
    maintainer.goto(f"{server.url}/manage/project/{NAME}/stages/")
    maintainer.get_by_role("link", name="3.0").click()
    maintainer.get_by_role("button", name="Publish 3.0").click()
    maintainer.get_by_text(re.compile("your account has none")).wait_for()
    maintainer_context.close()

    # Discarded: its file name is used for good.
    page.goto(f"{server.url}/manage/project/{NAME}/stages/")
    page.get_by_role("link", name="3.0").click()
    page.get_by_role("button", name="Discard the stage").click()
    page.get_by_text(re.compile("Discarded. Its file names can never")).wait_for()
    again = twine_upload(tools, server, [wheel(tmp_path, "3.0")], token=owner_token, check=False)
    assert again.returncode != 0
    assert "previously used" in again.stdout + again.stderr
    context.close()
    assert not console_errors, console_errors
