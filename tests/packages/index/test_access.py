"""A private index (PACKYARD_PRIVATE), tried by each kind of reader: the stranger, the browser,
the freshly registered account, the account without its second factor, the project-scoped,
read-only and single-use tokens."""

import json
from typing import Any

import pytest
from django.test import Client

from packyard.accounts.services import user_create
from packyard.packages.models import File, Project
from packyard.tokens.mint import token_mint
from packyard.tokens.scope import TokenScope
from tests.conftest import PASSWORD, basic_auth, browser_for, upload_form

pytestmark = pytest.mark.django_db
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
JSON_V1 = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def private_index(upload, alice_token, settings):
    """Two projects of alice's, then the index turned private."""
    for form in (upload_form("Demo_Pkg", "1.0"), upload_form("other", "0.1")):
        assert upload(alice_token, form).status_code == 200
    settings.PACKYARD_PRIVATE = True


def _file_path(project: str) -> str:
    return File.objects.get(release__project__normalized_name=project).path


def _get(client: Client, path: str, token: str | None = None, **headers: Any) -> Any:
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response: Any = client.get(path, **headers)
    if response.streaming:
        # A download: read it through, so the test client closes the file (and keeps the
        # test's database connection open, which closing the response directly would not).
        b"".join(response.streaming_content)
    return response


def _scoped_token(user, *projects: str, **scope: Any) -> str:
    pairs = tuple((name, str(Project.objects.get(normalized_name=name).id)) for name in projects)
    _, raw = token_mint(user=user, description="reader", scope=TokenScope(projects=pairs, **scope))
    return raw


def test_installer_without_credentials_gets_a_basic_challenge(client, private_index):
    response = _get(client, "/simple/demo-pkg/", HTTP_ACCEPT=PIP_ACCEPT)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


def test_browser_without_credentials_goes_to_the_login_page(client, private_index):
    response = _get(client, "/project/demo-pkg/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/?next=/project/demo-pkg/")
    assert "WWW-Authenticate" not in response
    navigated = _get(client, "/simple/", HTTP_SEC_FETCH_MODE="navigate")
    assert navigated.status_code == 302


def test_session_with_unverified_email_reads_nothing(client, private_index, settings):
    settings.PACKYARD_REQUIRE_2FA = "off"
    newcomer = user_create(username="newcomer", email="new@example.com", password=PASSWORD)
    browser = browser_for(newcomer)
    for path in ("/simple/", "/simple/demo-pkg/", "/pypi/demo-pkg/json", "/", "/search/?q=demo"):
        refused = browser.get(path, HTTP_ACCEPT=PIP_ACCEPT)
        assert refused.status_code == 403, path
        assert b"Verify your email address" in refused.content
    assert _get(browser, f"/{_file_path('demo-pkg')}").status_code == 403
    page = browser.get("/project/demo-pkg/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert page.status_code == 302
    assert page["Location"] == "/manage/account/"


def test_session_without_second_factor_reads_nothing_under_policy_all(private_index, dave):
    browser = browser_for(dave)
    refused = browser.get("/simple/demo-pkg/", HTTP_ACCEPT=PIP_ACCEPT)
    assert refused.status_code == 403
    assert b"two-factor" in refused.content


def test_verified_session_reads_when_2fa_is_not_required(private_index, dave, settings):
    settings.PACKYARD_REQUIRE_2FA = "off"
    assert browser_for(dave).get("/simple/demo-pkg/").status_code == 200


def test_session_with_second_factor_reads(private_index, bob):
    assert browser_for(bob).get("/simple/demo-pkg/").status_code == 200


def test_project_scoped_token_reads_only_its_project(client, private_index, alice):
    token = _scoped_token(alice, "demo-pkg")
    assert _get(client, "/simple/demo-pkg/", token).status_code == 200
    assert _get(client, "/pypi/demo-pkg/json", token).status_code == 200
    assert _get(client, "/pypi/demo-pkg/1.0/json", token).status_code == 200
    assert _get(client, "/project/demo-pkg/", token).status_code == 200
    assert _get(client, f"/{_file_path('demo-pkg')}", token).status_code == 200
    for path in (
        "/simple/other/",
        "/pypi/other/json",
        "/pypi/other/0.1/json",
        "/project/other/",
        f"/{_file_path('other')}",
    ):
        assert _get(client, path, token).status_code == 404, path
    root = _get(client, "/simple/", token, HTTP_ACCEPT=JSON_V1)
    assert [p["name"] for p in json.loads(root.content)["projects"]] == ["Demo_Pkg"]
    html_root = _get(client, "/simple/", token)
    assert b"demo-pkg" in html_root.content
    assert b"other" not in html_root.content
    # The web pages list projects: they are for sessions and tokens that reach every project.
    for path in ("/", "/search/?q=other", "/user/alice/"):
        assert _get(client, path, token).status_code == 403, path


def test_account_wide_token_reads_every_project(client, private_index, alice_token):
    root = _get(client, "/simple/", alice_token, HTTP_ACCEPT=JSON_V1)
    assert sorted(p["name"] for p in json.loads(root.content)["projects"]) == ["Demo_Pkg", "other"]
    assert _get(client, f"/{_file_path('other')}", alice_token).status_code == 200


def test_version_scoped_token_reads_every_version(client, private_index, alice):
    token = _scoped_token(alice, "demo-pkg", version_pattern="9.*", existing_only=True)
    assert _get(client, "/simple/demo-pkg/", token).status_code == 200
    assert _get(client, "/pypi/demo-pkg/1.0/json", token).status_code == 200


def test_read_only_token_reads_and_cannot_upload(client, upload, private_index, alice):
    token = _scoped_token(alice, "demo-pkg", read_only=True)
    assert _get(client, "/simple/demo-pkg/", token).status_code == 200
    refused = upload(token, upload_form("Demo_Pkg", "3.0"))
    assert refused.status_code == 403
    assert "read-only" in refused.content.decode()
    assert not File.objects.filter(release__version="3.0").exists()


def test_single_use_token_reads_once(client, private_index, alice):
    _, raw = token_mint(user=alice, description="once", scope=TokenScope(single_use=True))
    assert _get(client, "/simple/demo-pkg/", raw).status_code == 200
    again = _get(client, "/simple/demo-pkg/", raw)
    assert again.status_code == 401
    assert b"revoked" in again.content


def test_token_of_unverified_or_disabled_account_reads_nothing(client, private_index, alice):
    _, raw = token_mint(user=alice, description="reader")
    alice.is_active = False
    alice.save()
    assert _get(client, "/simple/demo-pkg/", raw).status_code == 403


def test_front_proxy_read_check_follows_token_scope_for_the_account(
    client, private_index, alice, settings
):
    token = _scoped_token(alice, "demo-pkg")
    page = "/simple/demo-pkg/"
    assert _get(client, "/_/auth/read", token, HTTP_X_ORIGINAL_URI=page).status_code == 204
    forged = f"{token[:-4]}AAAA"
    assert _get(client, "/_/auth/read", forged, HTTP_X_ORIGINAL_URI=page).status_code == 401
    basic = client.get("/simple/demo-pkg/", HTTP_AUTHORIZATION=basic_auth("__token__", token))
    assert basic.status_code == 200


def test_front_proxy_read_check_keeps_scoped_tokens_to_their_projects(client, private_index, alice):
    token = _scoped_token(alice, "demo-pkg")

    def check(uri: str) -> int:
        return int(_get(client, "/_/auth/read", token, HTTP_X_ORIGINAL_URI=uri).status_code)

    assert check("/simple/demo-pkg/") == 204
    assert check("/simple/Demo.Pkg/") == 204
    assert check("/pypi/demo-pkg/json") == 204
    assert check("/simple/other/") == 403
    assert check("/pypi/other/json") == 403
    assert check("/simple/") == 403
    assert check("") == 403
    everything = _get(client, "/_/auth/read", HTTP_AUTHORIZATION="", HTTP_X_ORIGINAL_URI="/simple/")
    assert everything.status_code == 401


def test_root_for_a_copy_narrowed_to_another_project_lists_nothing(client, private_index, alice):
    from pypitoken import Token

    narrowed = Token.load(_scoped_token(alice, "demo-pkg")).restrict(project_names=["other"]).dump()
    root = _get(client, "/simple/", narrowed, HTTP_ACCEPT=JSON_V1)
    assert json.loads(root.content)["projects"] == []
    assert _get(client, "/simple/other/", narrowed).status_code == 404
