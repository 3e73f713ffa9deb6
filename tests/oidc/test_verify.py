"""The identity token checks, against the tests' own issuer on loopback: every refusal names
what failed, and nothing but a well-signed, current, single-audience token of a configured
issuer passes."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from packyard.oidc import issuers as issuers_module
from packyard.oidc.models import UsedJwt
from packyard.oidc.verify import TokenRefused, jti_spend, verify
from tests.oidc_issuer import TestIssuer

pytestmark = pytest.mark.django_db


def refusal(raw: str) -> TokenRefused:
    with pytest.raises(TokenRefused) as caught:
        verify(raw)
    return caught.value


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes = b"") -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("key_index", [0, 1], ids=["RS256", "ES256"])
def test_a_token_signed_by_a_configured_issuer_passes(oidc, key_index):
    github = oidc["github"]
    verified = verify(github.token(key=github.keys[key_index], repository="octo/demo"))
    assert verified.issuer.url == github.url
    assert verified.issuer.kind == "github"
    assert verified.claims["repository"] == "octo/demo"


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
        ({"iat": int(time.time()) + 600}, "not valid yet"),
        ({"aud": "elsewhere.example"}, "audience must be exactly 'testserver'"),
        ({"aud": ["testserver", "elsewhere.example"]}, "audience must be exactly"),
        ({"aud": None}, "no 'aud' claim"),
        ({"jti": None}, "no 'jti' claim"),
        ({"exp": None}, "no 'exp' claim"),
        ({"jti": "x" * 500}, "jti claim is not a short string"),
    ],
    ids=["expired", "nbf", "iat", "audience", "two-audiences", "no-aud", "no-jti", "no-exp", "jti"],
)
def test_a_token_outside_its_limits_is_refused_saying_which(oidc, claims, says):
    refused = refusal(oidc["github"].token(**claims))
    assert refused.code == "invalid-token"
    assert says in refused.description


def test_a_token_a_few_seconds_past_expiry_passes_within_the_clock_leeway(oidc):
    assert verify(oidc["github"].token(exp=int(time.time()) - 10))


def test_an_issuer_that_is_not_configured_is_refused(oidc):
    stranger = TestIssuer().start()
    try:
        refused = refusal(stranger.token())
    finally:
        stranger.stop()
    assert refused.code == "invalid-payload"
    assert "unknown trusted publishing issuer" in refused.description


def test_with_no_issuers_file_nothing_is_trusted(oidc, settings):
    token = oidc["github"].token()
    settings.PACKYARD_OIDC_ISSUERS_FILE = ""
    assert "unknown trusted publishing issuer" in refusal(token).description


def test_alg_none_is_refused(oidc):
    github = oidc["github"]
    token = hand_made({"alg": "none", "kid": "rsa-1"}, github.claims())
    refused = refusal(token)
    assert "'none'" in refused.description


def test_hs256_signed_with_the_issuers_public_key_is_refused(oidc):
    """The classic confusion: an HMAC "signature" whose secret is the published RSA key."""
    github = oidc["github"]
    public_pem = (
        github.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = hand_made({"alg": "HS256", "kid": "rsa-1"}, github.claims(), key=public_pem)
    refused = refusal(token)
    assert refused.code == "invalid-token"
    assert "'HS256'" in refused.description


def test_an_algorithm_paired_with_the_wrong_key_type_is_refused(oidc):
    github = oidc["github"]
    # ES256 signed with the EC key, but naming the RSA key's kid.
    token = github.token(key=github.keys[1], headers={"kid": "rsa-1"})
    assert "is not a key for ES256" in refusal(token).description


def test_a_forged_signature_is_refused(oidc):
    github = oidc["github"]
    head, body, _signature = github.token().split(".")
    other = github.token(repository="octo/other").split(".")[2]
    assert "signature does not verify" in refusal(f"{head}.{body}.{other}").description


def test_an_unknown_kid_fetches_the_keys_again_at_most_once_a_minute(oidc):
    github = oidc["github"]
    verify(github.token())  # the first use fetches discovery and keys
    github.requests.clear()
    for _ in range(5):
        refused = refusal(github.token(headers={"kid": "made-up"}))
        assert "has no signing key 'made-up'" in refused.description
    assert github.requests == []  # fetched under a minute ago: not again


def test_a_rotated_key_is_found_by_fetching_again(oidc, monkeypatch):
    github = oidc["github"]
    verify(github.token())
    new_key = github.rotate()
    monkeypatch.setattr(issuers_module, "REFETCH_INTERVAL", 0)
    github.requests.clear()
    assert verify(github.token(key=new_key))
    assert "/jwks" in github.requests
    github.requests.clear()
    assert verify(github.token(key=new_key))  # known now: no fetch
    assert github.requests == []


def test_keys_are_not_fetched_per_request(oidc):
    github = oidc["github"]
    github.requests.clear()
    for _ in range(3):
        verify(github.token())
    assert github.requests == ["/.well-known/openid-configuration", "/jwks"]


@pytest.mark.parametrize(
    "raw",
    ["", "garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "x" * (1024 * 1024)],
    ids=["empty", "garbage", "three-parts", "not-json", "one-megabyte"],
)
def test_garbage_and_huge_tokens_are_refused_as_malformed(oidc, raw):
    refused = refusal(raw)
    assert refused.code == "invalid-payload"


def test_a_token_is_exchanged_once(oidc):
    verified = verify(oidc["github"].token(jti="only-once"))
    jti_spend(verified)
    with pytest.raises(TokenRefused) as caught:
        jti_spend(verify(oidc["github"].token(jti="only-once")))
    assert caught.value.code == "invalid-reuse-token"
    assert UsedJwt.objects.filter(jti="only-once").count() == 1


def test_spent_tokens_are_forgotten_after_they_expire(oidc):
    jti_spend(verify(oidc["github"].token(jti="old")))
    UsedJwt.objects.filter(jti="old").update(expires=timezone.now() - timedelta(seconds=1))
    jti_spend(verify(oidc["github"].token(jti="new")))
    assert list(UsedJwt.objects.values_list("jti", flat=True)) == ["new"]
