"""Whatever a client sends as a token, verification answers with a refusal, never a crash,
and nothing made up verifies."""

import base64
import contextlib
import json

import pymacaroons
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from packyard.tokens import macaroon
from packyard.tokens.caveats import CaveatError, caveat_parse
from packyard.tokens.check import token_authenticate
from packyard.tokens.errors import TokenError
from packyard.tokens.mint import token_mint

pytestmark = pytest.mark.django_db
SETTINGS = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_verify(alice, raw):
    with pytest.raises(TokenError):
        token_authenticate(raw="packyard-" + raw.decode("latin-1"))


@SETTINGS
@given(raw=st.binary(min_size=1, max_size=400))
def test_random_base64_never_verifies(alice, raw):
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(TokenError):
        token_authenticate(raw=f"packyard-{body}")


@SETTINGS
@given(value=json_values)
def test_random_json_caveats_parse_or_refuse_cleanly(value):
    with contextlib.suppress(CaveatError):
        caveat_parse(json.dumps(value))


@SETTINGS
@given(caveats=st.lists(json_values.map(json.dumps), min_size=1, max_size=3))
def test_random_caveats_under_a_forged_key_never_verify(alice, caveats):
    token, _ = token_mint(user=alice, description="target")
    forged = macaroon.mint(
        prefix="packyard",
        location="localhost",
        identifier=str(token.id),
        key=b"not the key",
        caveats=caveats,
    )
    with pytest.raises(TokenError):
        token_authenticate(raw=forged)


@SETTINGS
@given(caveat=json_values.map(json.dumps))
def test_random_caveats_appended_to_a_real_token_verify_only_if_understood(alice, caveat):
    _, raw = token_mint(user=alice, description="real")
    parsed = pymacaroons.Macaroon.deserialize(raw.split("-", 1)[1])
    parsed.add_first_party_caveat(caveat)
    try:
        caveat_parse(caveat)
        understood = True
    except CaveatError:
        understood = False
    try:
        token_authenticate(raw=f"packyard-{parsed.serialize()}")
    except TokenError:
        return
    assert understood
