"""Carry out the loosened project settings whose delay has passed (see packages.loosening).

Uploads and the settings pages apply a project's due changes themselves; run this regularly
(every few minutes to hourly, from cron: `packyard manage apply_setting_changes`) so that the
index pages show an unarchived project's status on time and Owners are told when it happens.
"""

from typing import Any

from django.core.management.base import BaseCommand

from packyard.packages.loosening import apply_all_due


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        count = apply_all_due()
        self.stdout.write(f"Applied the due setting changes of {count} project(s).")
