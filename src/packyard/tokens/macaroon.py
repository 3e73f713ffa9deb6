"""The token wire format: ``<prefix>-<macaroon>``, a pymacaroons V2 binary macaroon in URL-safe
base64, with PyPI's JSON caveats, so that the ``pypitoken`` library can read and narrow it."""

import hashlib
import hmac
import re
from collections.abc import Callable

import pymacaroons
from pymacaroons.exceptions import MacaroonException

# A macaroon of a handful of caveats is a few hundred bytes; anything far larger is not ours.
MAX_TOKEN_LENGTH = 4096
KEY_DERIVATION_CONTEXT = b"packyard/api-token-key/v1:"
URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class MalformedToken(Exception):
    pass


class BadSignature(Exception):
    pass


def derive_key(*, server_secret: str, salt: bytes) -> bytes:
    return hmac.new(server_secret.encode(), KEY_DERIVATION_CONTEXT + salt, hashlib.sha256).digest()


def mint(*, prefix: str, location: str, identifier: str, key: bytes, caveats: list[str]) -> str:
    macaroon = pymacaroons.Macaroon(
        location=location, identifier=identifier, key=key, version=pymacaroons.MACAROON_V2
    )
    for caveat in caveats:
        macaroon.add_first_party_caveat(caveat)
    return f"{prefix}-{macaroon.serialize()}"


def parse(raw: str, *, prefix: str) -> pymacaroons.Macaroon:
    if len(raw) > MAX_TOKEN_LENGTH:
        raise MalformedToken("the token is too long")
    head, sep, body = raw.partition("-")
    if not sep or head != prefix:
        raise MalformedToken(f"the token does not start with {prefix}-")
    if not URLSAFE_BASE64.fullmatch(body):
        raise MalformedToken("the token is not URL-safe base64")
    try:
        macaroon = pymacaroons.Macaroon.deserialize(body)
    except Exception as exc:  # pymacaroons raises struct, index, type and value errors alike
        raise MalformedToken("the token cannot be decoded") from exc
    if not isinstance(macaroon.identifier, str | bytes):
        raise MalformedToken("the token has no identifier")
    return macaroon


def identifier_of(macaroon: pymacaroons.Macaroon) -> str:
    identifier = macaroon.identifier
    if isinstance(identifier, bytes):
        identifier = identifier.decode("utf-8", "replace")
    return str(identifier)


def verify_signature(
    macaroon: pymacaroons.Macaroon, *, key: bytes, on_caveat: Callable[[str], None]
) -> None:
    """Check the signature chain; every first-party caveat is handed to on_caveat to interpret.

    Third-party caveats are not something we issue, so they fail verification.
    """

    def accept(predicate: str | bytes) -> bool:
        text = predicate.decode("utf-8", "replace") if isinstance(predicate, bytes) else predicate
        on_caveat(text)
        return True

    verifier = pymacaroons.Verifier()
    verifier.satisfy_general(accept)
    try:
        verifier.verify(macaroon, key)
    except MacaroonException as exc:
        raise BadSignature(str(exc)) from exc
    except Exception as exc:  # pymacaroons raises plain errors on some malformed input
        raise BadSignature(type(exc).__name__) from exc
