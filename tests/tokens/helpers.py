"""Tokens as a holder could make them, for the token tests."""

from django.conf import settings

from packyard.tokens import macaroon
from packyard.tokens.mint import token_mint
from packyard.tokens.models import ApiToken
from packyard.tokens.scope import TokenScope


def reissue(token: ApiToken, caveats: list[str], *, prefix: str = "packyard") -> str:
    """A token signed with the real key but carrying the given caveats (as the holder could)."""
    key = macaroon.derive_key(
        server_secret=settings.PACKYARD_TOKEN_SECRET, salt=bytes(token.key_salt)
    )
    return macaroon.mint(
        prefix=prefix, location="localhost", identifier=str(token.id), key=key, caveats=caveats
    )


def scoped(user, **scope) -> str:
    return token_mint(user=user, description="scoped", scope=TokenScope(**scope))[1]
