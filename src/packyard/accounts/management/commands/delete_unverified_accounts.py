"""Delete accounts whose email address was not verified within 7 days of registering.

Each registration does this too; run it daily (cron, a systemd timer) on an index where few
people register: `packyard manage delete_unverified_accounts`.
"""

from typing import Any

from django.core.management.base import BaseCommand

from packyard.accounts.services import unverified_accounts_delete


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = unverified_accounts_delete()
        self.stdout.write(f"Deleted {deleted} unverified account(s).")
