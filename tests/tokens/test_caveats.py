"""Each of a token's limits, enforced on real uploads and requests."""

import pytest

from packyard.packages.models import Project, Role
from packyard.tokens.errors import GENERIC_FAILURE
from packyard.tokens.mint import token_mint
from packyard.tokens.revoke import token_revoke
from packyard.tokens.scope import TokenScope
from tests.conftest import basic_auth, upload_form
from tests.tokens.helpers import scoped

pytestmark = pytest.mark.django_db


def test_project_scoped_token_uploads_only_to_its_project(upload, alice, alice_token):
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    assert upload(alice_token, upload_form("other", "1.0")).status_code == 200
    project = Project.objects.get(normalized_name="demo")
    _, scoped = token_mint(
        user=alice, description="demo only", scope=TokenScope(projects=(("demo", str(project.id)),))
    )
    assert upload(scoped, upload_form("demo", "2.0")).status_code == 200
    response = upload(scoped, upload_form("other", "2.0"))
    assert response.status_code == 403
    assert "project-scoped token is not valid for project: 'other'" in response.content.decode()
    response = upload(scoped, upload_form("brand-new", "1.0"))
    assert response.status_code == 403


def test_revoked_token_upload_answers_403_with_reason(upload, alice):
    token, raw = token_mint(user=alice, description="ci")
    token_revoke(token=token, request=None)
    response = upload(raw, upload_form())
    assert response.status_code == 403
    assert "token has been revoked" in response.reason_phrase


def test_upload_records_last_use(upload, alice):
    token, raw = token_mint(user=alice, description="ci")
    upload(raw, upload_form())
    token.refresh_from_db()
    assert token.last_used is not None
    assert token.last_used_ip == "127.0.0.1"


@pytest.mark.parametrize(
    "path", ["/manage/account/", "/manage/account/tokens/", "/manage/account/password/"]
)
def test_token_cannot_open_web_pages(client, alice_token, path):
    for header in (basic_auth("__token__", alice_token), f"Bearer {alice_token}"):
        response = client.get(path, HTTP_AUTHORIZATION=header)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/")


def test_existing_only_token_cannot_create_a_project(upload, alice, alice_token):
    upload(alice_token, upload_form("demo", "1.0"))
    raw = scoped(alice, existing_only=True)
    assert upload(raw, upload_form("demo", "2.0")).status_code == 200
    refused = upload(raw, upload_form("brand-new", "1.0"))
    assert refused.status_code == 403
    assert "may only upload to existing projects" in refused.content.decode()


def test_token_for_a_new_project_creates_exactly_that_project(upload, alice):
    raw = scoped(alice, new_project="fresh-one")
    assert upload(raw, upload_form("fresh-one", "1.0")).status_code == 200
    assert upload(raw, upload_form("fresh-one", "1.1")).status_code == 200
    assert upload(raw, upload_form("another", "1.0")).status_code == 403


def test_version_pattern_limits_versions(upload, alice):
    raw = scoped(alice, version_pattern="2.*")
    assert upload(raw, upload_form("demo", "2.1")).status_code == 200
    refused = upload(raw, upload_form("demo", "3.0"))
    assert refused.status_code == 403
    assert "not valid for version '3.0' (only '2.*')" in refused.content.decode()


def test_version_pattern_accepts_a_specifier_set(upload, alice):
    raw = scoped(alice, version_pattern=">=1.4,<2")
    assert upload(raw, upload_form("demo", "1.5")).status_code == 200
    assert upload(raw, upload_form("demo", "2.0")).status_code == 403


def test_source_addresses_limit_where_a_token_works(upload, alice):
    inside = scoped(alice, source_cidrs=("127.0.0.0/8",))
    outside = scoped(alice, source_cidrs=("10.0.0.0/8", "2001:db8::/32"))
    assert upload(inside, upload_form("demo", "1.0")).status_code == 200
    refused = upload(outside, upload_form("demo", "2.0"))
    assert refused.status_code == 403
    assert "not valid from address 127.0.0.1" in refused.content.decode()


def test_single_use_token_works_once(upload, alice):
    raw = scoped(alice, single_use=True)
    assert upload(raw, upload_form("demo", "1.0")).status_code == 200
    again = upload(raw, upload_form("demo", "2.0"))
    assert again.status_code == 403
    assert "token has been revoked" in again.content.decode()


def test_removing_a_role_stops_the_token_at_once(upload, alice, bob, alice_token, bob_token):
    upload(alice_token, upload_form("demo", "1.0"))
    role = Role.objects.create(project=Project.objects.get(), user=bob, role_name=Role.MAINTAINER)
    assert upload(bob_token, upload_form("demo", "2.0")).status_code == 200
    role.delete()
    refused = upload(bob_token, upload_form("demo", "3.0"))
    assert refused.status_code == 403
    assert "isn't allowed to upload to project 'demo'" in refused.content.decode()


def test_deleting_the_account_stops_its_tokens(upload, alice, alice_token):
    alice.delete()
    refused = upload(alice_token, upload_form("demo", "1.0"))
    assert refused.status_code == 403
    assert refused.content.decode().strip() == GENERIC_FAILURE


@pytest.mark.parametrize(("address", "status"), [("10.1.2.3", 200), ("192.0.2.7", 403)])
def test_source_addresses_follow_the_client_address(client, alice, address, status):
    raw = scoped(alice, source_cidrs=("10.0.0.0/8",))
    response = client.post(
        "/legacy/",
        upload_form("demo", "1.0"),
        REMOTE_ADDR=address,
        HTTP_AUTHORIZATION=basic_auth("__token__", raw),
    )
    assert response.status_code == status


def test_source_addresses_use_the_trusted_proxy_header(client, alice, settings):
    settings.PROXY_COUNT = 1
    raw = scoped(alice, source_cidrs=("10.0.0.0/8",))
    spoofed = client.post(
        "/legacy/",
        upload_form("demo", "1.0"),
        HTTP_X_FORWARDED_FOR="10.9.9.9, 192.0.2.7",
        HTTP_AUTHORIZATION=basic_auth("__token__", raw),
    )
    assert spoofed.status_code == 403
    assert "192.0.2.7" in spoofed.content.decode()
