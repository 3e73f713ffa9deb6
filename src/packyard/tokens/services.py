"""Minting, checking and revoking API tokens.

Checking a token costs one indexed lookup and a few HMACs: never a password hash.
"""

import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pymacaroons
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from packyard.accounts.events import event_record
from packyard.accounts.models import User
from packyard.http import client_ip
from packyard.tokens import macaroon
from packyard.tokens.caveats import (
    Caveat,
    CaveatError,
    CaveatFailed,
    Context,
    Expiration,
    ProjectID,
    ProjectName,
    RequestUser,
    caveat_parse,
)
from packyard.tokens.models import ApiToken

GENERIC_FAILURE = "Invalid or non-existent authentication information."
KEY_SALT_BYTES = 32
# Concurrent uploads with one token would otherwise all write the same row on every request.
LAST_USED_GRANULARITY = timedelta(seconds=60)


class TokenError(Exception):
    """A token was refused; the message says why, without revealing secrets."""


class TokenScopeError(TokenError):
    pass


@dataclass
class TokenIdentity:
    """A token whose signature and time limits hold; project caveats are checked per upload."""

    token: ApiToken
    user: User
    caveats: list[Caveat] = field(default_factory=list)

    def check_project(self, *, project_name: str, project_id: str | None) -> None:
        context = Context(
            now=int(time.time()),
            user_id=str(self.user.pk),
            project_name=project_name,
            project_id=project_id,
        )
        for caveat in self.caveats:
            if caveat.needs_project:
                try:
                    caveat.verify(context)
                except CaveatFailed as exc:
                    raise TokenScopeError(f"Invalid API Token: {exc}") from None


def _key_for(token: ApiToken) -> bytes:
    return macaroon.derive_key(
        server_secret=settings.PACKYARD_TOKEN_SECRET, salt=bytes(token.key_salt)
    )


def token_mint(
    *,
    user: User,
    description: str,
    projects: list[tuple[str, str]] | None = None,
    expires: datetime | None = None,
    request: HttpRequest | None = None,
    by_operator: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token; projects are (normalized name, id) pairs. Returns the row and the secret."""
    if not user.can_publish:
        raise TokenError("Verify your email address before creating API tokens.")
    description = description.strip()
    if not description or len(description) > 100:
        raise ValidationError("A token needs a name of 1 to 100 characters.")
    if expires is not None and expires <= timezone.now():
        raise ValidationError("The expiry date must be in the future.")
    caveats: list[Caveat] = []
    if expires is not None:
        caveats.append(Expiration(not_after=int(expires.timestamp()), not_before=int(time.time())))
    if projects:
        caveats.append(ProjectName(normalized_names=tuple(name for name, _ in projects)))
        caveats.append(ProjectID(project_ids=tuple(pid for _, pid in projects)))
    else:
        caveats.append(RequestUser(user_id=str(user.pk)))
    token = ApiToken(
        user=user,
        description=description,
        key_salt=secrets.token_bytes(KEY_SALT_BYTES),
        caveats=[c.to_json() for c in caveats],
        expires=expires,
        project_names=[name for name, _ in projects or []],
        minted_by_operator=by_operator,
    )
    with transaction.atomic():
        token.save()
        event_record(
            user=user,
            tag="account:api_token:added",
            request=request,
            token_id=str(token.id),
            description=description,
            scope=token.scope_label,
            by_operator=by_operator,
        )
    raw = macaroon.mint(
        prefix=settings.PACKYARD_TOKEN_PREFIX,
        location=settings.SITE_DOMAIN,
        identifier=str(token.id),
        key=_key_for(token),
        caveats=token.caveats,
    )
    return token, raw


def _lookup(raw: str) -> tuple[ApiToken, list[str]]:
    try:
        parsed = macaroon.parse(raw, prefix=settings.PACKYARD_TOKEN_PREFIX)
    except macaroon.MalformedToken:
        if raw.startswith("pypi-"):
            raise TokenError(
                "Invalid API Token: this is a PyPI token; create a token on this server."
            ) from None
        raise TokenError(GENERIC_FAILURE) from None
    token_id = _uuid_or_none(macaroon.identifier_of(parsed))
    token = (
        ApiToken.objects.select_related("user").filter(pk=token_id).first()
        if token_id is not None
        else None
    )
    if token is None:
        # Spend the same HMAC work as for a real token, so timing does not tell them apart.
        _verify(parsed, secrets.token_bytes(32))
        raise TokenError(GENERIC_FAILURE)
    presented = _verify(parsed, _key_for(token))
    return token, presented


def _uuid_or_none(identifier: str) -> str | None:
    try:
        return str(uuid.UUID(identifier))
    except ValueError:
        return None


def _verify(parsed: pymacaroons.Macaroon, key: bytes) -> list[str]:
    presented: list[str] = []
    try:
        macaroon.verify_signature(parsed, key=key, on_caveat=presented.append)
    except macaroon.BadSignature:
        raise TokenError(GENERIC_FAILURE) from None
    return presented


def token_authenticate(*, raw: str) -> TokenIdentity:
    """Check a presented token up to the point where the project matters.

    Order: parse, look up by identifier, derive the key, verify the signature, then every caveat
    (the stored ones and the ones presented, which a holder may have added offline).
    """
    token, presented = _lookup(raw)
    if token.revoked_at is not None:
        raise TokenError("Invalid API Token: token has been revoked")
    if token.is_expired:
        raise TokenError("Invalid API Token: token is expired")
    caveats: list[Caveat] = []
    for text in [*token.caveats, *presented]:
        try:
            caveat = caveat_parse(text)
        except CaveatError as exc:
            raise TokenError(f"Invalid API Token: unsupported restriction ({exc})") from None
        if caveat is not None:
            caveats.append(caveat)
    context = Context(now=int(time.time()), user_id=str(token.user_id))
    for caveat in caveats:
        if not caveat.needs_project:
            try:
                caveat.verify(context)
            except CaveatFailed as exc:
                raise TokenError(f"Invalid API Token: {exc}") from None
    return TokenIdentity(token=token, user=token.user, caveats=caveats)


def token_touch(*, token: ApiToken, request: HttpRequest) -> None:
    """Record the last use, at most once a minute per token, outside the upload transaction."""
    now = timezone.now()
    stale = now - LAST_USED_GRANULARITY
    if token.last_used is not None and token.last_used > stale:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used__isnull=True) | Q(last_used__lte=stale)
    ).update(
        last_used=now,
        last_used_ip=client_ip(request) or None,
        last_used_user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
    )


def token_revoke(*, token: ApiToken, request: HttpRequest | None, reason: str = "user") -> None:
    if token.revoked_at is not None:
        return
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason
        )
        if updated:
            event_record(
                user=token.user,
                tag="account:api_token:removed",
                request=request,
                token_id=str(token.id),
                description=token.description,
                reason=reason,
            )
