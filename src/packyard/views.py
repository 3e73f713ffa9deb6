import logging
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from packyard.http import plain_error

logger = logging.getLogger(__name__)


def _storage_reachable() -> bool:
    if isinstance(default_storage, FileSystemStorage):
        location = default_storage.location
        return os.path.isdir(location) and os.access(location, os.W_OK | os.X_OK)
    default_storage.exists("health-probe")
    return True


@never_cache
@require_safe
def health(request: HttpRequest) -> HttpResponse:
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("health: database unreachable")
        problems.append("database")
    try:
        if not _storage_reachable():
            problems.append("file store")
    except Exception:
        logger.exception("health: file store unreachable")
        problems.append("file store")
    if problems:
        return HttpResponse(
            f"unavailable: {', '.join(problems)}\n", status=503, content_type="text/plain"
        )
    return HttpResponse("ok\n", content_type="text/plain")


FAVICON = (Path(__file__).resolve().parent / "static" / "packyard" / "favicon.svg").read_bytes()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """For clients that ask /favicon.ico without reading the page's icon link."""
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "max-age=86400, public"
    return response


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    """Crawlers keep out of account pages, and out of everything on a private index."""
    if settings.PACKYARD_PRIVATE:
        rules = ["Disallow: /"]
    else:
        rules = ["Disallow: /account/", "Disallow: /manage/", "Disallow: /admin/", "Disallow: /_/"]
    return HttpResponse(
        "\n".join(["User-agent: *", *rules]) + "\n", content_type="text/plain; charset=utf-8"
    )


DATABASE_UNAVAILABLE = "The index's database is unavailable; try again in a moment."


def server_error(request: HttpRequest) -> HttpResponse:
    """An error nobody handled. The database going away (a restart, a failover) answers 503
    with Retry-After, which installers retry; each request after it connects afresh (Django's
    connection health checks), so the server recovers without a restart. Anything else is the
    500 page."""
    failure = sys.exc_info()[1]
    if isinstance(failure, OperationalError | InterfaceError):
        response = plain_error(503, DATABASE_UNAVAILABLE)
        response["Retry-After"] = "5"
        return response
    return defaults.server_error(request)
