import pytest
from django.core import mail
from django.core.files.storage import default_storage

from packyard.packages.models import File, Project, ProjectEvent, Release, Role
from tests.conftest import browser_for, upload_form

# Every test here runs on local files and again on an S3 bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.both_stores]


@pytest.fixture
def demo(upload, alice, alice_token, bob):
    for form in (
        upload_form("demo", "1.0"),
        upload_form("demo", "1.0", kind="sdist"),
        upload_form("demo", "2.0"),
    ):
        assert upload(alice_token, form).status_code == 200
    project = Project.objects.get()
    Role.objects.create(project=project, user=bob, role_name=Role.MAINTAINER)
    return project


def post(browser, path: str, data: dict[str, str]):
    browser.get("/manage/projects/")
    return browser.post(path, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})


def test_upload_is_recorded_in_the_project_history(demo):
    event = ProjectEvent.objects.filter(tag="project:file:add").first()
    assert event.actor.username == "alice"
    assert event.additional["method"] == 'token "alice\'s token"'
    assert event.ip_address == "127.0.0.1"


def test_yank_marks_the_release_and_tells_the_owners(client, alice, demo):
    post(browser_for(alice), "/manage/project/demo/yank/", {"version": "2.0", "reason": "broken"})
    assert 'data-yanked="broken"' in client.get("/simple/demo/").content.decode()
    assert ProjectEvent.objects.filter(tag="project:release:yank").exists()
    assert mail.outbox[-1].subject == "[Packyard] demo: 2.0 yanked"


def test_unyank(client, alice, demo):
    browser = browser_for(alice)
    post(browser, "/manage/project/demo/yank/", {"version": "2.0", "reason": "oops"})
    post(browser, "/manage/project/demo/yank/", {"version": "2.0", "undo": "1"})
    assert "data-yanked" not in client.get("/simple/demo/").content.decode()


def test_overlong_yank_reason_changes_nothing(alice, demo):
    post(
        browser_for(alice), "/manage/project/demo/yank/", {"version": "2.0", "reason": "x" * 10_000}
    )
    assert not Release.objects.get(version="2.0").yanked


def test_delete_file_needs_its_name_typed(client, alice, demo, django_capture_on_commit_callbacks):
    filename = "demo-2.0-py3-none-any.whl"
    stored = File.objects.get(filename=filename)
    post(
        browser_for(alice),
        "/manage/project/demo/delete-file/",
        {"filename": filename, "confirm": "demo"},
    )
    assert File.objects.filter(filename=filename).exists()
    with django_capture_on_commit_callbacks(execute=True):
        post(
            browser_for(alice),
            "/manage/project/demo/delete-file/",
            {"filename": filename, "confirm": filename},
        )
    assert not File.objects.filter(filename=filename).exists()
    assert filename not in client.get("/simple/demo/").content.decode()
    assert not default_storage.exists(stored.path)


def test_deleted_file_name_cannot_come_back(upload, alice, alice_token, demo):
    filename = "demo-2.0-py3-none-any.whl"
    post(
        browser_for(alice),
        "/manage/project/demo/delete-file/",
        {"filename": filename, "confirm": filename},
    )
    response = upload(alice_token, upload_form("demo", "2.0"))
    assert response.status_code == 400
    assert "previously used" in response.content.decode()


def test_delete_release(client, alice, demo):
    post(
        browser_for(alice),
        "/manage/project/demo/delete-release/",
        {"version": "1.0", "confirm": "1.0"},
    )
    assert list(Release.objects.values_list("version", flat=True)) == ["2.0"]
    assert "demo-1.0" not in client.get("/simple/demo/").content.decode()


def test_delete_project_accepts_the_name_in_any_normal_form(client, alice, demo):
    post(browser_for(alice), "/manage/project/demo/delete/", {"confirm": "nope"})
    assert Project.objects.exists()
    post(browser_for(alice), "/manage/project/demo/delete/", {"confirm": "DEMO"})
    assert not Project.objects.exists()
    assert client.get("/simple/demo/").status_code == 404
    assert alice.events.filter(tag="account:project:deleted").exists()


def test_maintainer_cannot_manage(bob, demo):
    browser = browser_for(bob)
    assert browser.get("/manage/project/demo/").status_code == 404
    assert post(browser, "/manage/project/demo/yank/", {"version": "2.0"}).status_code == 404
    assert not Release.objects.get(version="2.0").yanked


def test_settings_page_lists_releases_and_files(alice, demo):
    page = browser_for(alice).get("/manage/project/demo/").content.decode()
    assert "demo-1.0.tar.gz" in page
    assert "Delete project" in page


STATE_CHANGING = [
    "/account/logout/",
    "/account/verify-email-again/",
    "/manage/account/tokens/",
    "/manage/account/tokens/delete-all/",
    "/manage/account/password/",
    "/manage/account/sessions/revoke/",
    "/manage/account/recovery-codes/",
    "/manage/account/recovery-codes/confirm/",
    "/manage/account/totp/",
    "/manage/account/totp/remove/",
    "/manage/account/webauthn/options/",
    "/manage/account/webauthn/verify/",
    "/manage/project/demo/yank/",
    "/manage/project/demo/delete-file/",
    "/manage/project/demo/delete-release/",
    "/manage/project/demo/delete/",
    "/manage/project/demo/credentials/revoke/",
]


@pytest.mark.parametrize("path", STATE_CHANGING)
def test_state_changing_views_need_a_csrf_token(alice, demo, path):
    browser = browser_for(alice)
    assert browser.post(path, {"version": "2.0", "confirm": "demo"}).status_code == 403
    assert Project.objects.exists()
    assert not Release.objects.filter(yanked=True).exists()


def test_project_history_reads_as_sentences_and_gives_json(client, alice, demo):
    browser = browser_for(alice)
    post(browser, "/manage/project/demo/yank/", {"version": "2.0", "reason": "broken"})
    page = browser.get("/manage/project/demo/history/").content.decode()
    assert "2.0 yanked: broken" in page
    assert "demo-1.0-py3-none-any.whl uploaded (1.0) with token" in page
    assert "project:release:yank" not in page
    raw = browser.get("/manage/project/demo/history/?format=json").json()["events"]
    assert raw[0]["tag"] == "project:release:yank"
    assert raw[0]["details"]["reason"] == "broken"
