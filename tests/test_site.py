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
