"""Expiry notices: each sent once, the last one recorded."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from packyard.tokens.mint import token_mint
from packyard.tokens.models import ApiToken

pytestmark = pytest.mark.django_db


def test_expiry_reminders_go_out_once_each(alice):
    token, _ = token_mint(
        user=alice, description="soon", expires=timezone.now() + timedelta(days=6)
    )
    mail.outbox.clear()
    call_command("send_token_reminders", verbosity=0)
    call_command("send_token_reminders", verbosity=0)
    assert [m.subject for m in mail.outbox] == ["[Packyard] API token 'soon' expires soon"]
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now() + timedelta(hours=20))
    call_command("send_token_reminders", verbosity=0)
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(minutes=1))
    call_command("send_token_reminders", verbosity=0)
    call_command("send_token_reminders", verbosity=0)
    assert len(mail.outbox) == 3
    assert mail.outbox[-1].subject.endswith("expired")
    assert alice.events.filter(tag="account:api_token:expired").count() == 1
