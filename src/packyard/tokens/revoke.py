"""Ending tokens: by their owner, an Owner of a project, staff, a leak report or single use."""

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.services import security_email_send
from packyard.tokens.models import ApiToken
from packyard.tokens.signals import TokenChange, token_changed


def token_revoke(
    *, token: ApiToken, request: HttpRequest | None, reason: str = "user", **details: str
) -> None:
    if token.revoked_at is not None:
        return
    leaked = reason == "leaked"
    tag = EventTag.API_TOKEN_REMOVED_LEAK if leaked else EventTag.API_TOKEN_REMOVED
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason
        )
        if updated:
            event_record(
                user=token.user,
                tag=tag,
                request=request,
                token_id=str(token.id),
                description=token.description,
                reason=reason,
                **details,
            )
            token_changed.send(
                sender=ApiToken,
                token=token,
                change=TokenChange.LEAKED if leaked else TokenChange.REVOKED,
                request=request,
                details={"reason": reason},
            )


def tokens_delete(*, user: User, tokens: list[ApiToken], request: HttpRequest) -> None:
    """The owner deletes tokens from the tokens page: revoked, recorded, and one email."""
    for token in tokens:
        token_revoke(token=token, request=request)
    if not tokens:
        return
    single = len(tokens) == 1
    security_email_send(
        user=user,
        subject=f"API token {tokens[0].description!r} deleted"
        if single
        else "All your API tokens were deleted",
        template="tokens/email/token_deleted.txt",
        tokens=tokens,
    )
