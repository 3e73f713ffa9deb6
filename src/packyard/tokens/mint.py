"""Making a token: its caveats from the scope and expiry, its row, its history, its email, and
the secret, which is shown once and never kept."""

import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.services import security_email_send
from packyard.tokens import macaroon
from packyard.tokens.caveats import Caveat, Expiration
from packyard.tokens.errors import TokenError
from packyard.tokens.models import ApiToken
from packyard.tokens.scope import TokenScope
from packyard.tokens.signals import TokenChange, token_changed

KEY_SALT_BYTES = 32


def _check_expiry(expires: datetime | None) -> datetime | None:
    now = timezone.now()
    max_age = settings.PACKYARD_TOKEN_MAX_AGE
    if expires is None and max_age:
        expires = now + timedelta(seconds=settings.PACKYARD_TOKEN_DEFAULT_AGE or max_age)
    if expires is not None and expires <= now:
        raise ValidationError("The expiry date must be in the future.")
    if expires is not None and max_age and expires > now + timedelta(seconds=max_age + 60):
        raise ValidationError(
            f"Tokens on this index expire within {max_age // 86400} days at the most."
        )
    return expires


def _caveats(user: User, scope: TokenScope, expires: datetime | None) -> list[Caveat]:
    caveats = scope.caveats(user)
    if expires is not None:
        expiry = Expiration(not_after=int(expires.timestamp()), not_before=int(time.time()))
        caveats.insert(0, expiry)
    return caveats


def token_mint(
    *,
    user: User,
    description: str,
    scope: TokenScope = TokenScope(),
    expires: datetime | None = None,
    request: HttpRequest | None = None,
    by_operator: bool = False,
    with_second_factor: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token. Returns the row and the secret, which is shown once and never kept."""
    if not user.can_publish:
        raise TokenError("Verify your email address before creating API tokens.")
    description = description.strip()
    if not description or len(description) > 100:
        raise ValidationError("A token needs a name of 1 to 100 characters.")
    scope.check()
    expires = _check_expiry(expires)
    token = ApiToken(
        user=user,
        description=description,
        key_salt=secrets.token_bytes(KEY_SALT_BYTES),
        caveats=[c.to_json() for c in _caveats(user, scope, expires)],
        expires=expires,
        project_names=scope.project_names(),
        minted_by_operator=by_operator,
        made_with_second_factor=with_second_factor,
        scope=scope.as_dict(),
        stage_only=scope.stage_only,
    )
    with transaction.atomic():
        token.save()
        event_record(
            user=user,
            tag=EventTag.API_TOKEN_ADDED,
            request=request,
            token_id=str(token.id),
            description=description,
            scope=token.scope_label,
            by_operator=by_operator,
        )
        token_changed.send(
            sender=ApiToken,
            token=token,
            change=TokenChange.ADDED,
            request=request,
            details={"by_operator": by_operator},
        )
    security_email_send(
        user=user,
        subject="A new API token was created",
        template="tokens/email/token_created.txt",
        token=token,
    )
    raw = macaroon.mint(
        prefix=settings.PACKYARD_TOKEN_PREFIX,
        location=settings.SITE_DOMAIN,
        identifier=str(token.id),
        key=token.signing_key(),
        caveats=token.caveats,
    )
    return token, raw
