"""Stages: uploads that wait for approval, their own index, publishing in one serial with a
fresh second factor, discarding, expiry; and the attackers of each."""

import json
import re
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from packyard.accounts.reauth import REAUTH_AT_KEY, REAUTH_FACTOR_KEY
from packyard.cli import main
from packyard.packages import loosening
from packyard.packages.check import check
from packyard.packages.events import ProjectEventTag
from packyard.packages.models import (
    File,
    JournalEntry,
    Project,
    ProjectEvent,
    Release,
    Role,
    Stage,
    StagedFile,
)
from packyard.packages.stages import services as stages
from packyard.tokens.mint import token_mint
from packyard.tokens.scope import TokenScope
from tests import dists
from tests.conftest import basic_auth, browser_for, give_totp, upload_form
from tests.twofactor.test_webauthn import key_of

pytestmark = pytest.mark.django_db
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def demo(upload, alice, alice_token):
    """demo 1.0, published by alice (its Owner)."""
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    return Project.objects.get(normalized_name="demo")


@pytest.fixture
def ci_token(alice):
    return token_mint(user=alice, description="ci", scope=TokenScope(stage_only=True))[1]


def staged(upload, token, version="2.0", **form):
    response = upload(token, upload_form("demo", version, **form))
    assert response.status_code == 200, response.content
    assert response.content.decode().startswith("Staged: ")
    return Stage.objects.get(project__normalized_name="demo", version=version, state="open")


def filenames(client, url, **headers):
    response = client.get(url, **headers)
    if headers.get("HTTP_ACCEPT") == JSON:
        return [f["filename"] for f in json.loads(response.content)["files"]]
    return re.findall(r">([^<>]+)</a>", response.content.decode())


# --- staging ---------------------------------------------------------------------------------


def test_a_stage_only_upload_waits_out_of_every_public_page(
    client, upload, demo, ci_token, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(ci_token, upload_form("demo", "2.0"))
    answer = response.content.decode()
    assert response.status_code == 200
    stage = Stage.objects.get()
    assert f"/stage/{stages.stage_key(stage)}/simple/ demo==2.0" in answer
    assert f"/manage/project/demo/stages/{stage.pk}/" in answer
    assert "stage-only token" in answer
    assert not Release.objects.filter(version="2.0").exists()
    assert "demo-2.0" not in client.get("/simple/demo/").content.decode()
    assert "2.0" not in json.loads(client.get("/pypi/demo/json").content)["releases"]
    assert "demo-2.0" not in client.get("/simple/demo/", HTTP_ACCEPT=JSON).content.decode()
    assert client.get("/project/demo/2.0/").status_code == 404
    staged_file = StagedFile.objects.get()
    assert client.get(f"/{staged_file.path}").status_code == 404  # not a public file yet
    assert [m.subject for m in mail.outbox] == ["[Packyard] demo 2.0: stage created"]
    assert "pip install --index-url" in mail.outbox[0].body
    tags = set(ProjectEvent.objects.values_list("tag", flat=True))
    assert {ProjectEventTag.STAGE_CREATED, ProjectEventTag.STAGE_FILE_ADD} <= tags


def test_the_stage_index_adds_its_files_and_falls_through_for_the_rest(
    client, upload, demo, ci_token, bob, bob_token
):
    upload(bob_token, upload_form("other", "1.0"))
    stage = staged(upload, ci_token)
    base = f"/stage/{stages.stage_key(stage)}/simple/"
    expected = ["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"]
    assert filenames(client, f"{base}demo/") == expected
    assert filenames(client, f"{base}demo/", HTTP_ACCEPT=JSON) == expected
    data = json.loads(client.get(f"{base}demo/", HTTP_ACCEPT=JSON).content)
    assert data["versions"] == ["1.0", "2.0"]
    staged_entry = next(f for f in data["files"] if f["filename"].startswith("demo-2.0"))
    assert (
        staged_entry["url"] == f"/stage/{stages.stage_key(stage)}/files/demo-2.0-py3-none-any.whl"
    )
    wheel = client.get(staged_entry["url"])
    assert wheel.status_code == 200
    assert b"".join(wheel.streaming_content) == dists.make_wheel("demo", "2.0")
    metadata = client.get(staged_entry["url"] + ".metadata")
    assert metadata.status_code == 200
    # Read through (not closed), so the test client keeps the test's database connection.
    assert b"Name: demo" in b"".join(metadata.streaming_content)
    # Another project: the public index's page, unchanged.
    assert filenames(client, f"{base}other/") == ["other-1.0-py3-none-any.whl"]
    assert client.get(f"{base}nothing-here/").status_code == 404
    assert client.get(f"/stage/{stages.stage_key(stage)}x/simple/demo/").status_code == 404


def test_files_of_one_version_join_its_stage_and_a_new_version_opens_another(
    upload, demo, ci_token
):
    stage = staged(upload, ci_token, "2.0")
    again = staged(upload, ci_token, "2.0", kind="sdist")
    assert again.pk == stage.pk
    assert stage.files.count() == 2
    assert staged(upload, ci_token, "3.0").pk != stage.pk


def test_an_identical_retry_is_accepted_and_other_bytes_under_the_name_are_refused(
    upload, demo, ci_token
):
    staged(upload, ci_token, "2.0")
    assert upload(ci_token, upload_form("demo", "2.0")).status_code == 200
    other = dists.make_wheel("demo", "2.0", members={"demo/extra.py": b"x = 1\n"})
    response = upload(ci_token, upload_form("demo", "2.0", content=other))
    assert response.status_code == 400
    assert "File already exists" in response.reason_phrase
    assert StagedFile.objects.count() == 1


def test_a_stage_only_token_creates_no_project(upload, alice, ci_token):
    response = upload(ci_token, upload_form("brand-new", "1.0"))
    assert response.status_code == 403
    assert "stage-only token uploads to existing projects" in response.content.decode()
    assert not Project.objects.exists()


def test_a_project_needing_approval_stages_every_upload(upload, demo, alice, alice_token):
    loosening.setting_change(
        project=demo, setting="releases_need_approval", value=True, actor=alice, request=None
    )
    stage = staged(upload, alice_token, "2.0")
    assert stage.reason == "releases need approval"
    assert not Release.objects.filter(version="2.0").exists()


def test_stages_per_project_and_files_per_stage_are_limited(upload, demo, ci_token, settings):
    settings.PACKYARD_STAGES_PER_PROJECT = 2
    settings.PACKYARD_STAGE_MAX_FILES = 1
    staged(upload, ci_token, "2.0")
    staged(upload, ci_token, "3.0")
    response = upload(ci_token, upload_form("demo", "4.0"))
    assert response.status_code == 400
    assert "2 open stages, the most a project may" in response.reason_phrase
    response = upload(ci_token, upload_form("demo", "2.0", kind="sdist"))
    assert response.status_code == 400
    assert "holds 1 files" in response.reason_phrase
    assert StagedFile.objects.count() == 2


def test_staged_files_count_toward_the_project_size(upload, demo, ci_token, settings):
    staged(upload, ci_token, "2.0")
    used = sum(File.objects.values_list("size", flat=True)) + StagedFile.objects.get().size
    settings.PACKYARD_MAX_PROJECT_SIZE = used + 10
    response = upload(ci_token, upload_form("demo", "3.0"))
    assert response.status_code == 400
    assert "Project size too large" in response.reason_phrase


# --- publishing, discarding, expiry -------------------------------------------------------------


def test_publishing_puts_every_file_in_the_index_in_one_serial(
    client, upload, demo, alice, ci_token, django_capture_on_commit_callbacks
):
    stage = staged(upload, ci_token, "2.0")
    staged(upload, ci_token, "2.0", kind="sdist")
    before = JournalEntry.objects.count()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        serial = stages.stage_publish(stage=stage, actor=alice, request=None)
    assert JournalEntry.objects.count() == before + 1
    assert JournalEntry.objects.get(pk=serial).action == "new release"
    assert Project.objects.get(pk=demo.pk).last_serial == serial
    release = Release.objects.get(project=demo, version="2.0")
    assert sorted(release.files.values_list("filename", flat=True)) == [
        "demo-2.0-py3-none-any.whl",
        "demo-2.0.tar.gz",
    ]
    assert "demo-2.0.tar.gz" in filenames(client, "/simple/demo/")
    assert client.get("/simple/demo/")["X-PyPI-Last-Serial"] == str(serial)
    path = File.objects.get(filename="demo-2.0.tar.gz").path
    download = client.get(f"/{path}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == dists.make_sdist("demo", "2.0")
    assert client.get(f"/stage/{stages.stage_key(stage)}/simple/demo/").status_code == 410
    assert client.get(f"/stage/{stages.stage_key(stage)}/files/demo-2.0.tar.gz").status_code == 410
    assert [m.subject for m in mail.outbox] == ["[Packyard] demo 2.0: stage published"]
    with pytest.raises(stages.StageError, match="published"):
        stages.stage_publish(stage=stage, actor=alice, request=None)


def test_a_discarded_stage_keeps_its_filenames_used_and_drops_its_bytes(
    client, upload, demo, alice, ci_token, alice_token, django_capture_on_commit_callbacks
):
    stage = staged(upload, ci_token, "2.0")
    path = StagedFile.objects.get().path
    assert default_storage.exists(path)
    with django_capture_on_commit_callbacks(execute=True):
        stages.stage_discard(stage=stage, actor=alice, request=None)
    assert not default_storage.exists(path)
    assert client.get(f"/stage/{stages.stage_key(stage)}/simple/demo/").status_code == 410
    for token in (ci_token, alice_token):
        response = upload(token, upload_form("demo", "2.0"))
        assert response.status_code == 400
        assert "previously used" in response.reason_phrase
    assert not Release.objects.filter(version="2.0").exists()
    with pytest.raises(stages.StageError, match="no longer open"):
        stages.stage_discard(stage=stage, actor=alice, request=None)


def test_a_stage_past_its_days_serves_nothing_and_is_recorded_once_closed(
    client, upload, demo, alice, ci_token
):
    stage = staged(upload, ci_token, "2.0")
    Stage.objects.filter(pk=stage.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/stage/{stages.stage_key(stage)}/simple/demo/").status_code == 410
    with pytest.raises(stages.StageError, match="expired"):
        stages.stage_publish(stage=stage, actor=alice, request=None)
    call_command("expire_stages")
    assert Stage.objects.get(pk=stage.pk).state == Stage.EXPIRED
    assert ProjectEvent.objects.filter(tag=ProjectEventTag.STAGE_EXPIRED).count() == 1
    assert stages.expire_due() == 0


def test_an_archived_project_publishes_no_stage(upload, demo, alice, ci_token):
    stage = staged(upload, ci_token, "2.0")
    loosening.setting_change(
        project=demo,
        setting="status",
        value=loosening.status_value("archived", ""),
        actor=alice,
        request=None,
    )
    with pytest.raises(stages.StageError, match="archived"):
        stages.stage_publish(stage=stage, actor=alice, request=None)


def test_check_counts_open_stages_files_as_stored(upload, demo, ci_token):
    staged(upload, ci_token, "2.0")
    assert check() == []


@pytest.mark.django_db(transaction=True)
def test_two_approvers_publishing_at_once_publish_it_once(upload, alice, alice_token, ci_token):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: the race needs PostgreSQL's row locks")
    upload(alice_token, upload_form("demo", "1.0"))
    stage = staged(upload, ci_token, "2.0")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def publish() -> None:
        barrier.wait()
        try:
            stages.stage_publish(stage=stage, actor=alice, request=None)
            outcomes.append("published")
        except stages.StageError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["published", "refused"]
    assert File.objects.filter(filename="demo-2.0-py3-none-any.whl").count() == 1


# --- the review page and its attackers ----------------------------------------------------------


def page_of(stage):
    return f"/manage/project/demo/stages/{stage.pk}/"


def fresh(user, *, factor="password+totp", seconds_ago=0):
    browser = browser_for(user)
    session = browser.session
    session[REAUTH_AT_KEY] = time.time() - seconds_ago
    session[REAUTH_FACTOR_KEY] = factor
    session.save()
    return browser


def act(browser, stage, action, **extra):
    browser.get(page_of(stage))
    return browser.post(
        page_of(stage),
        {"action": action, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
        **extra,
    )


def test_the_review_page_shows_files_credentials_and_what_changed(upload, demo, alice, ci_token):
    stage = staged(
        upload, ci_token, "2.0", requires_dist=["Requests>=2", "idna"], requires_python=">=3.10"
    )
    page = browser_for(alice).get(page_of(stage)).content.decode()
    assert "demo-2.0-py3-none-any.whl" in page
    assert StagedFile.objects.get().sha256_digest in page
    assert "token &#x27;ci&#x27; (stage only)" in page
    assert "+ requests&gt;=2" in page
    assert "+ idna" in page
    assert "<ins>&gt;=3.10</ins>" in page
    assert f"/stage/{stages.stage_key(stage)}/simple/ demo==2.0" in page


def test_an_owner_publishes_with_a_fresh_second_factor(upload, demo, alice, ci_token):
    stage = staged(upload, ci_token)
    stale = fresh(alice, seconds_ago=stages.APPROVAL_SECONDS + 60)
    response = act(stale, stage, "publish")
    assert response.status_code == 302
    assert "/account/reauthenticate/" in response["Location"]
    assert f"window={stages.APPROVAL_SECONDS}" in response["Location"]
    assert Stage.objects.get(pk=stage.pk).state == Stage.OPEN
    response = act(fresh(alice), stage, "publish", follow=True)
    assert "in the index as of serial" in response.content.decode()
    assert Stage.objects.get(pk=stage.pk).state == Stage.PUBLISHED


def test_a_password_alone_does_not_publish(upload, demo, alice, ci_token):
    stage = staged(upload, ci_token)
    response = act(fresh(alice, factor="password"), stage, "publish")
    assert "/account/reauthenticate/" in response["Location"]
    assert Stage.objects.get(pk=stage.pk).state == Stage.OPEN


def test_a_maintainer_publishes_unless_owners_only(upload, demo, alice, bob, ci_token):
    Role.objects.create(project=demo, user=bob, role_name=Role.MAINTAINER)
    loosening.setting_change(
        project=demo, setting="stage_approval_owners_only", value=True, actor=alice, request=None
    )
    stage = staged(upload, ci_token)
    response = act(fresh(bob), stage, "publish", follow=True)
    assert "Only the project&#x27;s Owners may publish" in response.content.decode()
    assert Stage.objects.get(pk=stage.pk).state == Stage.OPEN
    Project.objects.filter(pk=demo.pk).update(stage_approval_owners_only=False)
    act(fresh(bob), stage, "publish")
    assert Stage.objects.get(pk=stage.pk).state == Stage.PUBLISHED


def test_a_project_requiring_keys_refuses_a_totp_only_maintainers_approval(
    upload, demo, alice, dave, ci_token
):
    give_totp(dave)
    Role.objects.create(project=demo, user=dave, role_name=Role.MAINTAINER)
    key_of(alice)
    loosening.setting_change(
        project=demo, setting="require_phishing_resistant", value=True, actor=alice, request=None
    )
    stage = staged(upload, ci_token)
    response = act(fresh(dave), stage, "publish", follow=True)
    assert "needs a security key or passkey, and your account has none" in (
        response.content.decode()
    )
    # An Owner with a key who confirmed with a code is sent to confirm with the key.
    response = act(fresh(alice), stage, "publish")
    assert "factor=key" in response["Location"]
    assert Stage.objects.get(pk=stage.pk).state == Stage.OPEN
    act(fresh(alice, factor="password+security-key"), stage, "publish")
    assert Stage.objects.get(pk=stage.pk).state == Stage.PUBLISHED


def test_the_site_approval_factor_asks_for_a_key(upload, demo, alice, ci_token, settings):
    settings.PACKYARD_STAGE_APPROVAL_FACTOR = "phishing-resistant"
    stage = staged(upload, ci_token)
    response = act(fresh(alice), stage, "publish", follow=True)
    assert "your account has none" in response.content.decode()
    key_of(alice)
    assert "factor=key" in act(fresh(alice), stage, "publish")["Location"]


def test_strangers_and_other_projects_stages_are_404(upload, demo, alice, bob, ci_token, bob_token):
    stage = staged(upload, ci_token)
    assert browser_for(bob).get(page_of(stage)).status_code == 404
    assert browser_for(bob).get("/manage/project/demo/stages/").status_code == 404
    upload(bob_token, upload_form("other", "1.0"))
    # bob's own project, with alice's stage's id: not a stage of his project.
    assert browser_for(bob).get(f"/manage/project/other/stages/{stage.pk}/").status_code == 404
    assert browser_for(alice).get("/manage/project/demo/stages/not-a-uuid/").status_code == 404
    assert Client().get(page_of(stage))["Location"].startswith("/account/login/")


def test_a_form_from_another_site_publishes_nothing(upload, demo, alice, ci_token):
    stage = staged(upload, ci_token)
    response = fresh(alice).post(page_of(stage), {"action": "publish"})
    assert response.status_code == 403
    assert Stage.objects.get(pk=stage.pk).state == Stage.OPEN


def test_a_private_index_keeps_stage_addresses_to_readers(
    client, upload, demo, alice, ci_token, settings
):
    stage = staged(upload, ci_token)
    settings.PACKYARD_PRIVATE = True
    assert client.get(f"/stage/{stages.stage_key(stage)}/simple/demo/").status_code == 401
    reader = token_mint(user=alice, description="read", scope=TokenScope(read_only=True))[1]
    response = client.get(
        f"/stage/{stages.stage_key(stage)}/simple/demo/",
        HTTP_AUTHORIZATION=basic_auth("__token__", reader),
    )
    assert response.status_code == 200


# --- the command line ------------------------------------------------------------------------


def test_the_command_line_makes_stage_only_tokens_and_lists_and_publishes_stages(
    upload, demo, alice, capsys
):
    assert main(["token", "create", "alice", "--stage-only", "--project", "demo"]) == 0
    output = capsys.readouterr().out
    assert "stage only" in output
    raw = output.strip().splitlines()[-1]
    stage = staged(upload, raw, "2.0")
    assert main(["stage", "list", "demo"]) == 0
    listing = capsys.readouterr().out
    assert str(stage.pk) in listing
    assert "demo-2.0-py3-none-any.whl" in listing
    with pytest.raises(SystemExit, match="needs an approver's fresh second factor"):
        main(["stage", "publish", str(stage.pk)])
    assert Stage.objects.get(pk=stage.pk).state == Stage.OPEN
    assert main(["stage", "publish", str(stage.pk), "--operator"]) == 0
    published = Stage.objects.get(pk=stage.pk)
    assert published.by_operator
    event = ProjectEvent.objects.get(tag=ProjectEventTag.STAGE_PUBLISHED)
    assert event.additional["by_operator"] is True
    with pytest.raises(SystemExit, match="No stage"):
        main(["stage", "publish", "nonsense", "--operator"])


def test_a_read_only_stage_only_token_is_refused(alice):
    with pytest.raises(ValidationError, match="cannot be stage-only"):
        token_mint(user=alice, description="x", scope=TokenScope(stage_only=True, read_only=True))


def test_deleting_the_project_removes_its_open_stages_bytes(
    upload, demo, alice, ci_token, rf, django_capture_on_commit_callbacks
):
    from packyard.packages.services import project_delete

    staged(upload, ci_token)
    path = StagedFile.objects.get().path
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=demo, actor=alice, request=rf.post("/"))
    assert not default_storage.exists(path)
    assert not Stage.objects.exists()


def test_a_trusted_publisher_into_a_project_needing_approval_is_staged(
    client, upload, demo, alice, oidc
):
    from tests.oidc_issuer import github_claims
    from tests.packages.trusted.helpers import github_publisher, minted

    github_publisher(demo, oidc["github"])
    loosening.setting_change(
        project=demo, setting="releases_need_approval", value=True, actor=alice, request=None
    )
    token = minted(client, oidc["github"].token(**github_claims()))
    stage = staged(upload, token, "2.0")
    file = StagedFile.objects.get()
    assert (stage.created_by, file.uploader, file.credential) == (None, None, "trusted publisher")
    page = browser_for(alice).get(f"/manage/project/demo/stages/{stage.pk}/").content.decode()
    # The CI run, shown to the reviewer.
    assert 'class="provenance">from' in page
    assert f"{file.published_by['source']} {file.published_by['workflow']}" in page


def test_approval_turned_on_while_an_upload_was_judged_keeps_it_out_of_the_index(
    upload, demo, alice, alice_token, monkeypatch
):
    loosening.setting_change(
        project=demo, setting="releases_need_approval", value=True, actor=alice, request=None
    )
    # As if the upload had been judged a moment before the setting changed.
    monkeypatch.setattr(stages, "stage_reason", lambda project, stage_only_token: "")
    response = upload(alice_token, upload_form("demo", "2.0"))
    assert response.status_code == 409
    assert "now needs approval" in response.reason_phrase
    assert not Release.objects.filter(version="2.0").exists()
    assert not StagedFile.objects.exists()


def test_a_copy_of_the_database_holds_no_stage_address(upload, demo, ci_token, client, settings):
    stage = staged(upload, ci_token)
    key = stages.stage_key(stage)
    assert key not in str(list(Stage.objects.values()))
    assert len(key) == 24  # 144 bits
    # Derived from the server's secret: another secret opens nothing.
    settings.SECRET_KEY = "another-server-secret-" + "x" * 40
    assert stages.stage_key(stage) != key
    assert client.get(f"/stage/{stages.stage_key(stage)}/simple/demo/").status_code == 404
