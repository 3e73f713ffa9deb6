import pytest

from packyard.accounts.models import User
from packyard.packages.models import Project, ProjectEvent, Role
from tests.conftest import browser_for, upload_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(upload, alice_token, settings):
    settings.PACKYARD_NEW_PROJECTS_PER_HOUR = 100
    forms = [
        upload_form("fast-json", "1.0", summary="A quick JSON parser"),
        upload_form("slowpoke", "1.0", summary="Takes its time"),
        *(upload_form(f"bulk-{i}", "1.0", summary="bulk package") for i in range(25)),
    ]
    for form in forms:
        assert upload(alice_token, form).status_code == 200


def staff(user: User) -> User:
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    user.refresh_from_db()
    return user


def test_search_finds_names_and_summaries(client, published):
    by_name = client.get("/search/?q=slowpoke").content.decode()
    assert "slowpoke" in by_name
    assert "fast-json" not in by_name
    by_summary = client.get("/search/?q=parser").content.decode()
    assert "fast-json" in by_summary


def test_search_is_paginated(client, published):
    first = client.get("/search/?q=bulk").content.decode()
    assert "25 projects found" in first
    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in client.get("/search/?q=bulk&page=2").content.decode()


def test_search_escapes_what_it_shows(client, upload, alice_token):
    upload(alice_token, upload_form("xss", "1.0", summary="<script>alert(1)</script>"))
    page = client.get("/search/?q=xss").content.decode()
    assert 'href="/project/xss/"' in page  # the result is there...
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # ...with its summary escaped
    assert "<script>alert(1)</script>" not in page
    echoed = client.get("/search/?q=<script>alert(2)</script>").content.decode()
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in echoed  # the query, shown back escaped
    assert "<script>alert(2)</script>" not in echoed


def post_admin(browser, path: str, data: dict[str, object]):
    browser.get(path)
    return browser.post(path, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})


def test_quarantine_hides_a_project_and_closes_uploads(client, upload, alice, alice_token, bob):
    upload(alice_token, upload_form("suspect", "1.0"))
    project = Project.objects.get()
    admin = browser_for(staff(bob))
    post_admin(
        admin,
        "/admin/packages/project/",
        {"action": "quarantine_projects", "_selected_action": [str(project.pk)]},
    )
    assert client.get("/simple/suspect/").status_code == 404
    assert "suspect" not in client.get("/simple/").content.decode()
    assert client.get("/project/suspect/").status_code == 404
    refused = upload(alice_token, upload_form("suspect", "2.0"))
    assert refused.status_code == 403
    assert "quarantined" in refused.content.decode()
    event = ProjectEvent.objects.get(tag="project:quarantine:on")
    assert event.additional["admin"] == "bob"


def test_frozen_account_cannot_log_in_or_upload(upload, alice, alice_token, bob):
    victim_session = browser_for(alice)
    admin = browser_for(staff(bob))
    post_admin(
        admin,
        "/admin/accounts/user/",
        {"action": "freeze_accounts", "_selected_action": [str(alice.pk)]},
    )
    assert victim_session.get("/manage/account/").status_code == 302
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 403
    assert alice.events.get(tag="account:frozen").additional["admin"] == "bob"


# Every project action by role: anonymous, another user, Maintainer, Owner, staff, frozen.
ACTIONS = [
    ("get", "/manage/project/demo/"),
    ("get", "/manage/project/demo/collaborators/"),
    ("get", "/manage/project/demo/credentials/"),
    ("get", "/manage/project/demo/history/"),
    ("post", "/manage/project/demo/yank/"),
    ("post", "/manage/project/demo/delete-file/"),
    ("post", "/manage/project/demo/delete-release/"),
    ("post", "/manage/project/demo/delete/"),
]
EXPECTED = {
    "anonymous": 302,
    "stranger": 404,
    "maintainer": 404,
    "owner": "ok",
    "staff": 404,
    "frozen": 302,
}


@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize(("method", "path"), ACTIONS)
def test_permission_table(upload, alice, alice_token, bob, dave, who, method, path, client):
    upload(alice_token, upload_form("demo", "1.0"))
    project = Project.objects.get()
    Role.objects.create(project=project, user=bob, role_name=Role.MAINTAINER)
    if who == "anonymous":
        browser = client
    elif who == "frozen":
        browser = browser_for(alice)
        User.objects.filter(pk=alice.pk).update(is_active=False)
    else:
        from tests.conftest import give_totp

        user = {"stranger": None, "maintainer": bob, "owner": alice, "staff": None}[who]
        if user is None:
            user = give_totp(dave)
            if who == "staff":
                user = staff(user)
        browser = browser_for(user)
    browser.get("/")
    data = {"version": "1.0", "filename": "demo-1.0-py3-none-any.whl"}
    if "csrftoken" in browser.cookies:
        data["csrfmiddlewaretoken"] = browser.cookies["csrftoken"].value
    response = browser.get(path) if method == "get" else browser.post(path, data)
    expected = EXPECTED[who]
    if who in ("anonymous", "frozen") and method == "post":
        expected = 403  # no session, so no CSRF token: refused before anything else
    if expected == "ok":
        assert response.status_code in (200, 302)
        if response.status_code == 302:
            assert response["Location"].startswith("/manage/")
    else:
        assert response.status_code == expected
        if expected == 302:
            assert response["Location"].startswith("/account/login/")
    assert Project.objects.filter(normalized_name="demo").exists() or who == "owner"
