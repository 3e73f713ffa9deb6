import base64
import json
import time
from datetime import timedelta

import pymacaroons
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from pypitoken import Token

from packyard.packages.models import Project, Role
from packyard.tokens import macaroon
from packyard.tokens.models import ApiToken
from packyard.tokens.scope import TokenScope
from packyard.tokens.services import (
    GENERIC_FAILURE,
    TokenError,
    TokenScopeError,
    token_authenticate,
    token_mint,
    token_revoke,
)
from tests.conftest import basic_auth, upload_form

pytestmark = pytest.mark.django_db


def reissue(token: ApiToken, caveats: list[str], *, prefix: str = "packyard") -> str:
    """A token signed with the real key but carrying the given caveats (as the holder could)."""
    key = macaroon.derive_key(server_secret=settings_secret(), salt=bytes(token.key_salt))
    return macaroon.mint(
        prefix=prefix, location="localhost", identifier=str(token.id), key=key, caveats=caveats
    )


def settings_secret() -> str:
    from django.conf import settings

    return settings.PACKYARD_TOKEN_SECRET


def test_token_wire_format_is_prefix_and_v2_macaroon(alice):
    token, raw = token_mint(user=alice, description="ci")
    prefix, body = raw.split("-", 1)
    assert prefix == "packyard"
    assert base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[0] == 2
    parsed = pymacaroons.Macaroon.deserialize(body)
    assert parsed.identifier.decode() == str(token.id)
    assert [c.caveat_id.decode() for c in parsed.first_party_caveats()] == [f'[3,"{alice.pk}"]']


def test_key_material_is_not_stored(alice):
    token, raw = token_mint(user=alice, description="ci")
    assert len(bytes(token.key_salt)) == 32
    assert raw not in json.dumps(token.caveats)
    key = macaroon.derive_key(server_secret=settings_secret(), salt=bytes(token.key_salt))
    assert key != bytes(token.key_salt)


def test_fresh_token_authenticates(alice):
    _, raw = token_mint(user=alice, description="ci")
    assert token_authenticate(raw=raw).user == alice


def test_pypitoken_reads_our_tokens(alice):
    _, raw = token_mint(user=alice, description="ci")
    loaded = Token.load(raw)
    assert loaded.prefix == "packyard"
    assert [r.dump() for r in loaded.restrictions] == [[3, str(alice.pk)]]


def test_pypitoken_narrowing_to_other_project_is_enforced(alice):
    _, raw = token_mint(user=alice, description="ci")
    narrowed = Token.load(raw).restrict(project_names=["other"]).dump()
    identity = token_authenticate(raw=narrowed)
    with pytest.raises(TokenScopeError, match="not valid for project: 'demo'"):
        identity.check_project(project_name="demo", project_id=None)
    identity.check_project(project_name="other", project_id=None)


def test_pypitoken_time_window_in_the_past_is_refused(alice):
    _, raw = token_mint(user=alice, description="ci")
    now = int(time.time())
    narrowed = Token.load(raw).restrict(not_before=now - 100, not_after=now - 10).dump()
    with pytest.raises(TokenError, match="token is expired"):
        token_authenticate(raw=narrowed)


def test_pypitoken_legacy_project_caveat_is_enforced(alice):
    _, raw = token_mint(user=alice, description="ci")
    narrowed = Token.load(raw).restrict(legacy_project_names=["other"]).dump()
    identity = token_authenticate(raw=narrowed)
    with pytest.raises(TokenScopeError):
        identity.check_project(project_name="demo", project_id=None)


def test_expired_token_says_expired(alice):
    token, raw = token_mint(
        user=alice, description="ci", expires=timezone.now() + timedelta(days=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(seconds=1))
    with pytest.raises(TokenError, match="Invalid API Token: token is expired"):
        token_authenticate(raw=raw)


def test_expiry_caveat_alone_is_enforced(alice):
    token, _ = token_mint(user=alice, description="ci")
    raw = reissue(token, [json.dumps([0, int(time.time()) - 5, int(time.time()) - 50])])
    with pytest.raises(TokenError, match="token is expired"):
        token_authenticate(raw=raw)


def test_not_yet_valid_caveat_is_enforced(alice):
    token, _ = token_mint(user=alice, description="ci")
    raw = reissue(token, [json.dumps([0, int(time.time()) + 500, int(time.time()) + 100])])
    with pytest.raises(TokenError, match="token is not yet valid"):
        token_authenticate(raw=raw)


def test_user_caveat_for_another_user_is_refused(alice, bob):
    token, _ = token_mint(user=alice, description="ci")
    raw = reissue(token, [json.dumps([3, str(bob.pk)])])
    with pytest.raises(TokenError, match="not valid for this user"):
        token_authenticate(raw=raw)


def test_project_id_caveat_refuses_recreated_project(alice):
    project = Project.objects.create(name="demo", normalized_name="demo")
    _, raw = token_mint(
        user=alice, description="ci", scope=TokenScope(projects=(("demo", str(project.id)),))
    )
    project.delete()
    recreated = Project.objects.create(name="demo", normalized_name="demo")
    identity = token_authenticate(raw=raw)
    with pytest.raises(TokenScopeError, match="not valid for project: 'demo'"):
        identity.check_project(project_name="demo", project_id=str(recreated.id))


def test_revoked_token_says_revoked(alice):
    token, raw = token_mint(user=alice, description="ci")
    token_revoke(token=token, request=None)
    with pytest.raises(TokenError, match="token has been revoked"):
        token_authenticate(raw=raw)
    assert alice.events.filter(tag="account:api_token:removed").exists()


def test_unknown_token_id_gives_generic_message(alice):
    token, _ = token_mint(user=alice, description="ci")
    raw = reissue(token, [])
    ApiToken.objects.filter(pk=token.pk).delete()
    with pytest.raises(TokenError) as info:
        token_authenticate(raw=raw)
    assert str(info.value) == GENERIC_FAILURE


@pytest.mark.parametrize(
    "caveat",
    [
        json.dumps([99, "x"]),
        json.dumps([199]),
        json.dumps([100, "extra"]),
        json.dumps([101, "not a pattern!"]),
        json.dumps([101, 2]),
        json.dumps([102, ["300.1.1.1/8"]]),
        json.dumps([102, "10.0.0.0/8"]),
        json.dumps([103, 1]),
        "not json",
        json.dumps({"version": 2}),
        json.dumps([0, "soon", 1]),
        json.dumps([1, "demo"]),
        json.dumps([3, str(1), "extra"]),
        "[]",
    ],
)
def test_unreadable_caveats_fail_closed(alice, caveat):
    token, _ = token_mint(user=alice, description="ci")
    with pytest.raises(TokenError, match="unsupported restriction"):
        token_authenticate(raw=reissue(token, [caveat]))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: "other-" + raw.split("-", 1)[1],  # bad prefix
        lambda raw: raw + "!!!",  # bad base64
        lambda raw: raw[:-10],  # truncated signature
        lambda raw: raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB"),  # wrong signature
        lambda raw: "packyard-",
        lambda raw: "packyard-" + "A" * 5000,
    ],
)
def test_malformed_tokens_give_generic_message(alice, mangle):
    _, raw = token_mint(user=alice, description="ci")
    with pytest.raises(TokenError) as info:
        token_authenticate(raw=mangle(raw))
    assert str(info.value) == GENERIC_FAILURE


def test_pypi_token_gets_a_hint(db):
    with pytest.raises(TokenError, match="this is a PyPI token"):
        token_authenticate(raw="pypi-AgEIcHlwaS5vcmc")


def test_token_from_database_copy_cannot_be_forged_without_secret(alice, settings):
    token, _ = token_mint(user=alice, description="ci")
    forged = macaroon.mint(
        prefix="packyard",
        location="localhost",
        identifier=str(token.id),
        key=bytes(token.key_salt),
        caveats=[],
    )
    with pytest.raises(TokenError):
        token_authenticate(raw=forged)


def test_rotating_the_token_secret_invalidates_tokens(alice, settings):
    _, raw = token_mint(user=alice, description="ci")
    settings.PACKYARD_TOKEN_SECRET = "another secret entirely, long enough to be real"
    with pytest.raises(TokenError):
        token_authenticate(raw=raw)


def test_unverified_user_cannot_mint(unverified):
    with pytest.raises(TokenError, match="Verify your email"):
        token_mint(user=unverified, description="ci")


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


# --- Packyard's own caveats ------------------------------------------------------------------


def scoped(user, **scope) -> str:
    return token_mint(user=user, description="scoped", scope=TokenScope(**scope))[1]


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


def test_single_use_claim_happens_once_even_for_a_bad_upload(alice):
    raw = scoped(alice, single_use=True)
    token_authenticate(raw=raw)
    with pytest.raises(TokenError, match="revoked"):
        token_authenticate(raw=raw)


def test_holder_can_add_a_version_caveat_offline(alice):
    token, _ = token_mint(user=alice, description="ci")
    raw = reissue(token, [json.dumps([3, str(alice.pk)]), json.dumps([101, "1.*"])])
    identity = token_authenticate(raw=raw)
    with pytest.raises(TokenScopeError, match=r"only '1\.\*'"):
        identity.check_project(project_name="demo", project_id=None, version="2.0")


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ({"version_pattern": "not a pattern!"}, "not a version pattern"),
        ({"source_cidrs": ("10.0.0.0/33",)}, "not an address range"),
        ({"new_project": "x", "existing_only": True}, "must be allowed to create it"),
        ({"new_project": "x", "projects": (("demo", "1"),)}, "one new project"),
    ],
)
def test_bad_scopes_are_refused(alice, scope, message):
    with pytest.raises(ValidationError, match=message):
        token_mint(user=alice, description="bad", scope=TokenScope(**scope))
    assert not ApiToken.objects.filter(description="bad").exists()


def test_expiry_beyond_the_maximum_is_refused(alice, settings):
    settings.PACKYARD_TOKEN_MAX_AGE = 90 * 86400
    with pytest.raises(ValidationError, match="within 90 days"):
        token_mint(user=alice, description="long", expires=timezone.now() + timedelta(days=91))


def test_maximum_age_gives_every_token_an_expiry(alice, settings):
    settings.PACKYARD_TOKEN_MAX_AGE = 90 * 86400
    settings.PACKYARD_TOKEN_DEFAULT_AGE = 30 * 86400
    token, _ = token_mint(user=alice, description="default")
    assert token.expires is not None
    assert timedelta(days=29) < token.expires - timezone.now() <= timedelta(days=30)


def test_expiry_in_the_past_is_refused(alice):
    with pytest.raises(ValidationError, match="in the future"):
        token_mint(user=alice, description="old", expires=timezone.now() - timedelta(days=1))


def test_token_creation_is_emailed(alice):
    from django.core import mail

    token_mint(user=alice, description="announced")
    assert mail.outbox[-1].subject.endswith("A new API token was created")
    assert "announced" in mail.outbox[-1].body


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


def test_overlong_token_name_is_refused(alice):
    with pytest.raises(ValidationError, match="1 to 100 characters"):
        token_mint(user=alice, description="x" * 101)


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
