import re

import pytest
from django.core import mail  # noqa: F401 - keeps the locmem outbox fixture loaded
from django.test import Client

from packyard.packages.models import Project, Role
from packyard.tokens.check import token_authenticate
from packyard.tokens.models import ApiToken
from tests.accounts.test_accounts import csrf_post
from tests.conftest import browser_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(alice) -> Client:
    return browser_for(alice)


def test_create_token_shows_it_once(alice_browser, alice):
    response = csrf_post(alice_browser, "/manage/account/tokens/", {"description": "CI"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r"packyard-[A-Za-z0-9_-]+", response.content.decode()).group(0)
    assert token_authenticate(raw=raw).user == alice
    listing = alice_browser.get("/manage/account/tokens/").content.decode()
    assert "CI" in listing
    assert raw not in listing
    assert alice.events.filter(tag="account:api_token:added").exists()


def test_create_project_scoped_token(alice_browser, alice):
    project = Project.objects.create(name="demo", normalized_name="demo")
    Role.objects.create(project=project, user=alice, role_name=Role.OWNER)
    csrf_post(
        alice_browser,
        "/manage/account/tokens/",
        {"description": "demo", "projects": [str(project.id)], "expiry": "30"},
    )
    token = ApiToken.objects.get()
    assert token.project_names == ["demo"]
    assert token.expires is not None


def test_cannot_scope_token_to_someone_elses_project(alice_browser, bob):
    project = Project.objects.create(name="theirs", normalized_name="theirs")
    Role.objects.create(project=project, user=bob, role_name=Role.OWNER)
    response = csrf_post(
        alice_browser,
        "/manage/account/tokens/",
        {"description": "x", "projects": [str(project.id)]},
    )
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_unverified_user_cannot_create_token(unverified, settings):
    settings.PACKYARD_REQUIRE_2FA = "off"
    browser = browser_for(unverified)
    response = csrf_post(browser, "/manage/account/tokens/", {"description": "CI"})
    assert "Verify your email address" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_token_page_needs_a_second_factor_by_default(dave):
    response = browser_for(dave).get("/manage/account/tokens/")
    assert response.status_code == 302
    assert response["Location"] == "/manage/account/two-factor/"


def test_token_page_needs_recent_reauthentication(alice):
    response = browser_for(alice, reauthenticated=False).get("/manage/account/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/reauthenticate/?next=")


def test_delete_token(alice_browser, alice):
    csrf_post(alice_browser, "/manage/account/tokens/", {"description": "CI"})
    token = ApiToken.objects.get()
    alice_browser.get("/manage/account/tokens/")
    csrf = alice_browser.cookies["csrftoken"].value
    response = alice_browser.post(
        f"/manage/account/tokens/{token.id}/delete/", {"csrfmiddlewaretoken": csrf}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_cannot_delete_someone_elses_token(alice_browser, bob, bob_token):
    token = ApiToken.objects.get(user=bob)
    alice_browser.get("/manage/account/tokens/")
    csrf = alice_browser.cookies["csrftoken"].value
    response = alice_browser.post(
        f"/manage/account/tokens/{token.id}/delete/", {"csrfmiddlewaretoken": csrf}
    )
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_delete_all_tokens(alice_browser, alice):
    for name in ("one", "two"):
        csrf_post(alice_browser, "/manage/account/tokens/", {"description": name})
    csrf = alice_browser.cookies["csrftoken"].value
    alice_browser.post("/manage/account/tokens/delete-all/", {"csrfmiddlewaretoken": csrf})
    assert not ApiToken.objects.live().exists()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("-dash-first", "is not a valid project name"),
        ("x" * 201, "at most 200 characters"),
        ("theirs", "exists already"),
        ("the1rs", "too similar to the existing project"),
    ],
)
def test_a_new_project_name_is_checked_as_an_upload_would(alice_browser, bob, name, why):
    project = Project.objects.create(
        name="theirs", normalized_name="theirs", name_skeleton="the1rs"
    )
    Role.objects.create(project=project, user=bob, role_name=Role.OWNER)
    response = csrf_post(
        alice_browser, "/manage/account/tokens/", {"description": "x", "new_project": name}
    )
    assert why in response.content.decode()
    assert not ApiToken.objects.exists()
