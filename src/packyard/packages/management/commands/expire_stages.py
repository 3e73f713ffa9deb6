"""Close the stages whose PACKYARD_STAGE_DAYS ran out, and tell their projects' Owners.

A stage past its time already serves nothing (its index answers 410); this records it in the
project's history and emails the Owners. Run it from cron, hourly: `packyard manage
expire_stages`.
"""

from typing import Any

from django.core.management.base import BaseCommand

from packyard.packages.stages.services import expire_due


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Closed {expire_due()} expired stage(s).")
