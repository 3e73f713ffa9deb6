"""Making tokens: the wire format, what is kept, who may, names, scopes and expiry."""

import base64
import json
from datetime import timedelta

import pymacaroons
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from packyard.tokens.errors import TokenError
from packyard.tokens.mint import token_mint
from packyard.tokens.models import ApiToken
from packyard.tokens.scope import TokenScope

pytestmark = pytest.mark.django_db


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
    key = token.signing_key()
    assert key != bytes(token.key_salt)


def test_unverified_user_cannot_mint(unverified):
    with pytest.raises(TokenError, match="Verify your email"):
        token_mint(user=unverified, description="ci")


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


def test_overlong_token_name_is_refused(alice):
    with pytest.raises(ValidationError, match="1 to 100 characters"):
        token_mint(user=alice, description="x" * 101)
