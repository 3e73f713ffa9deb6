"""Checking presented tokens: signatures, stored and offline caveats, PyPI's format, failures."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from pypitoken import Token

from packyard.packages.models import Project
from packyard.tokens import macaroon
from packyard.tokens.check import token_authenticate
from packyard.tokens.errors import GENERIC_FAILURE, TokenError, TokenScopeError
from packyard.tokens.mint import token_mint
from packyard.tokens.models import ApiToken
from packyard.tokens.revoke import token_revoke
from packyard.tokens.scope import TokenScope
from tests.tokens.helpers import reissue, scoped

pytestmark = pytest.mark.django_db


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
