"""Emails before and when a token expires, each sent once (`manage.py send_token_reminders`)."""

from datetime import timedelta

from django.utils import timezone

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.services import security_email_send
from packyard.tokens.models import ApiToken

EXPIRY_NOTICES = (("7d", timedelta(days=7)), ("1d", timedelta(days=1)), ("expired", timedelta(0)))


def token_expiry_notices_send() -> int:
    """Send each due expiry notice once; returns how many went out."""
    now = timezone.now()
    horizon = now + EXPIRY_NOTICES[0][1]
    sent = 0
    candidates = ApiToken.objects.select_related("user").filter(
        revoked_at__isnull=True, expires__isnull=False, expires__lte=horizon
    )
    for token in candidates:
        assert token.expires is not None
        due = [name for name, before in EXPIRY_NOTICES if token.expires - before <= now]
        notice = due[-1]  # the most urgent one; earlier ones are moot by now
        if notice in token.expiry_notices:
            continue
        ApiToken.objects.filter(pk=token.pk).update(expiry_notices=[*token.expiry_notices, notice])
        expired = notice == "expired"
        if expired:
            event_record(
                user=token.user,
                tag=EventTag.API_TOKEN_EXPIRED,
                token_id=str(token.id),
                description=token.description,
            )
        security_email_send(
            user=token.user,
            subject=f"API token {token.description!r} {'expired' if expired else 'expires soon'}",
            template="tokens/email/token_expiry.txt",
            token=token,
            expired=expired,
            days=max(1, (token.expires - now).days + (1 if (token.expires - now).seconds else 0)),
        )
        sent += 1
    return sent
