import base64
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from pypitoken import Token

from packyard.packages.models import Project, Role
from packyard.tokens import disclosure
from packyard.tokens.mint import token_mint
from packyard.tokens.models import ApiToken
from packyard.tokens.scope import TokenScope
from tests.conftest import basic_auth, browser_for
from tests.tokens.helpers import reissue

pytestmark = pytest.mark.django_db


@pytest.fixture
def reporter(settings, tmp_path: Path):
    """A secret scanner of our own making: a P-256 key, listed in the operator's key file."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keys = tmp_path / "scanner-keys.json"
    keys.write_text(json.dumps({"public_keys": [{"key_identifier": "k1", "key": pem.decode()}]}))
    settings.PACKYARD_SECRET_SCANNING_KEYS = str(keys)
    disclosure._cache.clear()
    disclosure._failed.clear()
    return key


def report(client, key, entries, *, key_id: str = "k1", body: bytes | None = None):
    raw = body if body is not None else json.dumps(entries).encode()
    signature = base64.b64encode(key.sign(raw, ec.ECDSA(hashes.SHA256()))).decode()
    return client.post(
        "/_/secrets/disclose-token",
        raw,
        content_type="application/json",
        HTTP_GITHUB_PUBLIC_KEY_IDENTIFIER=key_id,
        HTTP_GITHUB_PUBLIC_KEY_SIGNATURE=signature,
    )


def leak(raw: str) -> list[dict[str, str]]:
    return [
        {
            "token": raw,
            "type": "packyard_api_token",
            "url": "https://example.com/leak.txt",
            "source": "content",
        }
    ]


def test_unreadable_key_list_answers_503_without_its_path_and_is_not_reread(
    client, alice, reporter, settings, tmp_path, monkeypatch
):
    missing = tmp_path / "secret-place" / "keys.json"
    settings.PACKYARD_SECRET_SCANNING_KEYS = str(missing)
    reads: list[str] = []
    real_fetch = disclosure._fetch

    def counted_fetch(where: str) -> bytes:
        reads.append(where)
        return real_fetch(where)

    monkeypatch.setattr(disclosure, "_fetch", counted_fetch)
    _, raw = token_mint(user=alice, description="leaky")
    for _ in range(3):
        response = report(client, reporter, leak(raw))
        assert response.status_code == 503
        assert b"secret-place" not in response.content
        assert str(tmp_path).encode() not in response.content
    assert len(reads) == 1


def test_reported_token_is_revoked_and_its_owner_told(client, alice, reporter):
    token, raw = token_mint(user=alice, description="leaky")
    response = report(client, reporter, leak(raw))
    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_reason == "leaked"
    assert "found in public" in mail.outbox[-1].subject
    assert "https://example.com/leak.txt" in mail.outbox[-1].body
    event = alice.events.get(tag="account:api_token:removed_leak")
    assert event.additional["url"] == "https://example.com/leak.txt"


def test_unknown_or_forged_tokens_get_the_same_answer(client, alice, reporter):
    _, raw = token_mint(user=alice, description="fine")
    forged = raw[:-6] + "AAAAAA"
    assert report(client, reporter, leak(forged)).status_code == 204
    assert report(client, reporter, leak("packyard-garbage")).status_code == 204
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_report_signed_by_another_key_is_refused(client, alice, reporter):
    token, raw = token_mint(user=alice, description="t")
    stranger = ec.generate_private_key(ec.SECP256R1())
    response = report(client, stranger, leak(raw))
    assert response.status_code == 401
    assert "does not match" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None


def test_unsigned_report_is_refused(client, alice, reporter):
    _, raw = token_mint(user=alice, description="t")
    response = client.post(
        "/_/secrets/disclose-token", json.dumps(leak(raw)), content_type="application/json"
    )
    assert response.status_code == 401
    assert "not signed" in response.content.decode()


def test_report_with_unknown_key_id_is_refused(client, alice, reporter):
    _, raw = token_mint(user=alice, description="t")
    assert report(client, reporter, leak(raw), key_id="k9").status_code == 401


def test_signed_report_that_is_not_json_is_refused(client, reporter):
    response = report(client, reporter, None, body=b"not json at all")
    assert response.status_code == 400
    assert "not JSON" in response.content.decode()


def test_huge_report_is_refused(client, reporter):
    response = report(client, reporter, None, body=b"[" + b" " * (1024 * 1024 + 10) + b"]")
    assert response.status_code == 413


def test_reports_are_refused_when_no_keys_are_configured(client, alice, settings):
    settings.PACKYARD_SECRET_SCANNING_KEYS = ""
    key = ec.generate_private_key(ec.SECP256R1())
    _, raw = token_mint(user=alice, description="t")
    assert report(client, key, leak(raw)).status_code == 401


def test_token_revokes_itself(client, alice):
    token, raw = token_mint(user=alice, description="ci job")
    response = client.delete("/_/tokens/current", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_reason == "self"
    again = client.delete("/_/tokens/current", HTTP_AUTHORIZATION=basic_auth("__token__", raw))
    assert again.status_code == 403
    assert b"revoked" in again.content


def _revoke(client, raw: str, **extra: str):
    return client.delete("/_/tokens/current", HTTP_AUTHORIZATION=f"Bearer {raw}", **extra)


@pytest.mark.parametrize(
    ("narrow", "reason"),
    [
        (lambda now: {"not_before": now - 100, "not_after": now - 10}, b"expired"),
        (lambda now: {"project_names": ["one-of-many"]}, b"cannot revoke"),
    ],
)
def test_narrowed_copy_cannot_revoke_its_parent(client, alice, narrow, reason):
    token, raw = token_mint(user=alice, description="ci job")
    copy = Token.load(raw).restrict(**narrow(int(time.time()))).dump()
    response = _revoke(client, copy)
    assert response.status_code == 403
    assert reason in response.content
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_scoped_when_made_still_revokes_itself(client, alice):
    project = Project.objects.create(name="solo", normalized_name="solo")
    Role.objects.create(project=project, user=alice, role_name=Role.OWNER)
    scope = TokenScope(projects=(("solo", str(project.id)),))
    _, raw = token_mint(user=alice, description="ci job", scope=scope)
    assert _revoke(client, raw).status_code == 204


def test_copy_restricted_to_other_addresses_cannot_revoke(client, alice):
    token, _ = token_mint(user=alice, description="ci job")
    elsewhere = reissue(token, [*token.caveats, json.dumps([102, ["192.0.2.0/24"]])])
    assert _revoke(client, elsewhere, REMOTE_ADDR="198.51.100.7").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_refused_self_revocations_count_toward_the_token_failure_limit(client, alice, settings):

    settings.PACKYARD_TOKEN_FAILURE_LIMIT = (3, 300)
    for _ in range(3):
        assert _revoke(client, "packyard-AAAA").status_code == 403
    _, raw = token_mint(user=alice, description="ci job")
    limited = _revoke(client, raw)
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0


def test_self_revocation_needs_a_genuine_token(client, alice):
    assert client.delete("/_/tokens/current").status_code == 401
    bad = client.delete("/_/tokens/current", HTTP_AUTHORIZATION="Bearer packyard-AAAA")
    assert bad.status_code == 403


def test_owner_sees_and_revokes_every_credential_of_the_project(alice, bob):
    project = Project.objects.create(name="demo", normalized_name="demo")
    Role.objects.create(project=project, user=alice, role_name=Role.OWNER)
    Role.objects.create(project=project, user=bob, role_name=Role.MAINTAINER)
    other = Project.objects.create(name="other", normalized_name="other")
    Role.objects.create(project=other, user=bob, role_name=Role.OWNER)
    token_mint(user=bob, description="bob everywhere")
    bob_scoped, _ = token_mint(
        user=bob, description="bob demo", scope=TokenScope(projects=(("demo", str(project.id)),))
    )
    token_mint(
        user=bob, description="bob other", scope=TokenScope(projects=(("other", str(other.id)),))
    )
    browser = browser_for(alice)
    page = browser.get("/manage/project/demo/credentials/").content.decode()
    assert "bob everywhere" in page
    assert "bob demo" in page
    assert "bob other" not in page
    response = browser.post(
        "/manage/project/demo/credentials/revoke/",
        {"token": str(bob_scoped.pk), "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    )
    assert response.status_code == 302
    bob_scoped.refresh_from_db()
    assert bob_scoped.revoked_reason == "project-owner"
    assert mail.outbox[-1].to == ["bob@example.com"]
    assert bob.events.get(tag="account:api_token:removed").additional["revoked_by"] == "alice"


def test_maintainer_cannot_see_who_can_publish(alice, bob):
    project = Project.objects.create(name="demo", normalized_name="demo")
    Role.objects.create(project=project, user=bob, role_name=Role.MAINTAINER)
    assert browser_for(bob).get("/manage/project/demo/credentials/").status_code == 404


def test_token_events_reach_the_affected_projects_history(alice, bob):
    project = Project.objects.create(name="demo", normalized_name="demo")
    Role.objects.create(project=project, user=alice, role_name=Role.OWNER)
    Role.objects.create(project=project, user=bob, role_name=Role.MAINTAINER)
    wide, _ = token_mint(user=bob, description="bob everywhere")
    from packyard.tokens.revoke import token_revoke

    token_revoke(token=wide, request=None, reason="leaked")
    page = browser_for(alice).get("/manage/project/demo/history/").content.decode()
    assert "API token &quot;bob everywhere&quot; of bob can upload here" in page
    assert "API token &quot;bob everywhere&quot; of bob revoked: found in public" in page
    assert browser_for(bob).get("/manage/project/demo/history/").status_code == 404
