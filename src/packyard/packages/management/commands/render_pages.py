"""Render every project's index pages now, and the root pages.

Pages are otherwise rendered by each change and, when missing, on first read. Run this after
an upgrade or an import, or after turning on PACKYARD_PAGES_DIR so the front proxy has every
page at once: `packyard manage render_pages` (`--missing` skips projects already rendered).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from packyard.packages.index import pages
from packyard.packages.index.routes import INDEX_KEYS, project_keys
from packyard.packages.models import Project, RenderedPage


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--missing", action="store_true", help="only projects without rendered pages"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        projects = Project.objects.filter(quarantined=False).order_by("normalized_name")
        rendered = 0
        # A list, not a cursor left open: on SQLite an open read would keep the write-ahead log
        # from being folded back while every project is written.
        for project_id, normalized_name in list(projects.values_list("pk", "normalized_name")):
            html_key = project_keys(normalized_name)[0]
            if options["missing"] and RenderedPage.objects.filter(key=html_key).exists():
                continue
            with transaction.atomic():  # one project at a time: uploads go on meanwhile
                pages.refresh(project_id)
            rendered += 1
        with transaction.atomic():
            pages.index_invalidate()
        pages.index_page(INDEX_KEYS[0])
        self.stdout.write(f"Rendered the pages of {rendered} project(s) and the root pages.")
