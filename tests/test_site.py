"""Site-wide files browsers and crawlers ask for."""

import pytest

from tests.conftest import browser_for

pytestmark = pytest.mark.django_db


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert 'rel="icon"' in client.get("/account/login/").content.decode()


def test_robots_keep_crawlers_out_of_account_pages(client):
    text = client.get("/robots.txt").content.decode()
    for path in ("/manage/", "/account/", "/admin/"):
        assert f"Disallow: {path}" in text
    assert "Disallow: /\n" not in text


def test_robots_keep_crawlers_out_of_a_private_index(client, settings):
    settings.PACKYARD_PRIVATE = True
    assert "Disallow: /\n" in client.get("/robots.txt").content.decode()


def test_token_form_starts_at_ninety_days_and_hides_an_empty_project_list(dave, settings):
    settings.PACKYARD_REQUIRE_2FA = "off"
    page = browser_for(dave).get("/manage/account/tokens/").content.decode()
    assert '<option value="90" selected>' in page
    assert 'name="projects"' not in page


def test_pages_for_errors_read_as_the_site_does(client):
    missing = client.get("/project/no-such-project/")
    assert missing.status_code == 404
    assert "Nothing is at this address" in missing.content.decode()
    assert 'href="/search/"' in missing.content.decode()


def test_an_expired_form_says_so_and_what_to_do():
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    refused = browser.post("/account/login/", {"username": "x", "password": "y"})
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "The form expired" in page
    assert "Nothing was changed." in page
    assert "CSRF" not in page  # no developer's words


def test_server_error_page_renders_without_a_request():
    from django.template.loader import render_to_string

    page = render_to_string("500.html")
    assert "Something went wrong on the server" in page
    assert 'lang="en"' in page


@pytest.mark.django_db
def test_a_database_gone_away_answers_503_and_the_next_request_works(monkeypatch):
    """A restart or failover of the database: installers get 503 with Retry-After (they retry),
    not 500, and the server goes on without a restart."""
    from django.db import OperationalError
    from django.test import Client

    from packyard.packages.index import pages

    def unreachable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    browser = Client(raise_request_exception=False)
    with monkeypatch.context() as patched:
        patched.setattr(pages, "index_page", unreachable)
        answer = browser.get("/simple/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert "database is unavailable" in answer.content.decode()
    assert browser.get("/simple/").status_code == 200
    other = Client(raise_request_exception=False)
    with monkeypatch.context() as patched:
        patched.setattr(pages, "index_page", lambda *a, **k: 1 / 0)
        assert other.get("/simple/").status_code == 500
