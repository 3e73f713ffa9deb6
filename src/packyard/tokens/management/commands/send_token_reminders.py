"""Email owners about expiring tokens: 7 days before, 1 day before, and once expired.

Run it regularly (hourly or daily), e.g. from cron: `packyard manage send_token_reminders`.
Each notice goes out once per token.
"""

from typing import Any

from django.core.management.base import BaseCommand

from packyard.tokens.expiry import token_expiry_notices_send


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        sent = token_expiry_notices_send()
        self.stdout.write(f"Sent {sent} token expiry notice(s).")
