"""Checking an identity token from a CI system: whose it is (a configured issuer), that the
issuer signed it (RS256 or ES256 only), for us (one audience, ours), now (with 30 seconds of
leeway for clocks), and that it was not exchanged before (`jti`, spent by `jti_spend` in the
transaction that mints)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from django.db import IntegrityError, transaction
from django.utils import timezone

from packyard.oidc.issuers import Issuer, KeysUnavailable, configured_issuers
from packyard.oidc.models import UsedJwt

# GitHub's tokens are about 1.5 KB; 16 KiB leaves room for any issuer's and stops a flood early.
MAX_JWT_BYTES = 16 * 1024
LEEWAY_SECONDS = 30
# The key type each accepted algorithm must use: a token cannot pick HMAC with a public key as
# its secret, or pair an EC algorithm with an RSA key.
KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
MAX_JTI_LENGTH = 200


class TokenRefused(Exception):
    """The identity token is not accepted: `code` in PyPI's vocabulary, `description` for people."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class IssuerUnavailable(Exception):
    """The issuer's keys could not be fetched: not the token's fault, try again later."""


@dataclass(frozen=True)
class VerifiedToken:
    issuer: Issuer
    claims: dict[str, Any]


def unverified_claims(raw: str) -> dict[str, Any]:
    """The claims as the token states them, unchecked: only to say what a refused token said."""
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _header_and_issuer(raw: str) -> tuple[dict[str, Any], Issuer]:
    if len(raw.encode()) > MAX_JWT_BYTES:
        raise TokenRefused("invalid-payload", f"the token is larger than {MAX_JWT_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(raw)
        issuer_url = jwt.decode(raw, options={"verify_signature": False}).get("iss")
    except (jwt.PyJWTError, AttributeError):
        raise TokenRefused("invalid-payload", "malformed JWT") from None
    issuer = configured_issuers().get(issuer_url) if isinstance(issuer_url, str) else None
    if issuer is None:
        raise TokenRefused(
            "invalid-payload", f"unknown trusted publishing issuer {str(issuer_url)[:200]!r}"
        )
    algorithm = header.get("alg")
    if algorithm not in KEY_TYPES:
        raise TokenRefused(
            "invalid-token",
            f"the token is signed with {str(algorithm)[:20]!r}; this index accepts RS256 and ES256",
        )
    return header, issuer


def verify(raw: str) -> VerifiedToken:
    """The token's issuer and claims, or TokenRefused saying which check failed."""
    header, issuer = _header_and_issuer(raw)
    kid = header.get("kid")
    try:
        key = issuer.signing_key(kid if isinstance(kid, str) else None)
    except KeysUnavailable as exc:
        raise IssuerUnavailable(f"the keys of {issuer.url} are unavailable: {exc}") from None
    if key is None:
        raise TokenRefused("invalid-token", f"{issuer.url} has no signing key {kid!r}")
    if key.key_type != KEY_TYPES[header["alg"]]:
        raise TokenRefused("invalid-token", f"key {kid!r} is not a key for {header['alg']}")
    try:
        claims = jwt.decode(
            raw,
            key=key.key,
            algorithms=[header["alg"]],
            audience=issuer.audience,
            issuer=issuer.url,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused("invalid-token", f"the token has no {exc.claim!r} claim") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused(
            "invalid-token", f"the token's audience must be exactly {issuer.audience!r}"
        ) from None
    except jwt.ExpiredSignatureError:
        raise TokenRefused("invalid-token", "the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenRefused("invalid-token", "the token is not valid yet (nbf or iat)") from None
    except jwt.InvalidSignatureError:
        raise TokenRefused("invalid-token", "the token's signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise TokenRefused("invalid-token", f"malformed or invalid token: {exc}") from None
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise TokenRefused("invalid-token", "the token's jti claim is not a short string")
    return VerifiedToken(issuer=issuer, claims=claims)


def jti_spend(token: VerifiedToken) -> None:
    """Mark the token exchanged, in the caller's transaction: of two exchanges of one token,
    only one commits. Rows of tokens that have expired are removed on the way."""
    now = timezone.now()
    expires = datetime.fromtimestamp(int(token.claims["exp"]) + LEEWAY_SECONDS, tz=UTC)
    UsedJwt.objects.filter(expires__lt=now).delete()
    try:
        with transaction.atomic():
            UsedJwt.objects.create(
                issuer=token.issuer.url, jti=token.claims["jti"], expires=expires
            )
    except IntegrityError:
        raise TokenRefused("invalid-reuse-token", "invalid token: already used") from None
