import logging
import os

from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

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
