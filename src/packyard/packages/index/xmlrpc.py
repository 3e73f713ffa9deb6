"""The four XML-RPC calls mirrors make at `/pypi` (bandersnatch's serial mode), as PyPI answers
them, and nothing else: the project list with serials, the newest serial, the changes since a
serial, and a project's versions. Read with the same access as the simple API."""

import xmlrpc.client
from collections.abc import Callable
from typing import Any
from xml.parsers.expat import ExpatError

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from packaging.utils import canonicalize_name

from packyard.packages.index.access import Reader, read_access, readable_projects, reader
from packyard.packages.index.queries import last_serial, project_listing
from packyard.packages.models import JournalEntry, Project

MAX_REQUEST_BYTES = 64 * 1024  # a call is a method name and at most two small values
CHANGELOG_LIMIT = 50_000  # entries per answer, as PyPI: a mirror asks again from the last one
XML_TYPES = ("text/xml", "application/xml")
# XML-RPC's usual fault codes.
PARSE_ERROR, NO_SUCH_METHOD, BAD_PARAMS = -32700, -32601, -32602


def _visible(who: Reader) -> QuerySet[Project]:
    return readable_projects(who, Project.objects.filter(quarantined=False))


def list_packages_with_serial(who: Reader) -> dict[str, int]:
    return dict(_visible(who).values_list("name", "last_serial"))


def changelog_last_serial(who: Reader) -> int:
    if not who.limited_to_projects:
        return last_serial()
    return max(_visible(who).values_list("last_serial", flat=True), default=0)


def changelog_since_serial(who: Reader, since: int) -> list[list[Any]]:
    entries = JournalEntry.objects.filter(id__gt=since).order_by("id")
    if who.limited_to_projects:
        # A token that names its projects learns nothing of the others, deleted ones included.
        names = _visible(who).values_list("normalized_name", flat=True)
        entries = entries.filter(normalized_name__in=list(names))
    return [
        [e.name, e.version or None, int(e.submitted.timestamp()), e.action, e.id]
        for e in entries[:CHANGELOG_LIMIT]
    ]


def package_releases(who: Reader, name: str, show_hidden: bool = False) -> list[str]:
    """All versions, newest first, with show_hidden; otherwise the latest only (as PyPI)."""
    project = _visible(who).filter(normalized_name=canonicalize_name(name)).first()
    if project is None:
        return []
    listing = project_listing(project)
    if show_hidden:
        return [release.version for release in reversed(listing.releases)]
    return [listing.latest.version] if listing.latest is not None else []


METHODS: dict[str, Callable[..., Any]] = {
    "list_packages_with_serial": list_packages_with_serial,
    "changelog_last_serial": changelog_last_serial,
    "changelog_since_serial": changelog_since_serial,
    "package_releases": package_releases,
}
PARAM_TYPES: dict[str, tuple[tuple[type, ...], ...]] = {
    "list_packages_with_serial": (),
    "changelog_last_serial": (),
    "changelog_since_serial": ((int,),),
    "package_releases": ((str,), (bool,)),
}


class Fault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _call(who: Reader, body: bytes) -> Any:
    try:
        params, method = xmlrpc.client.loads(body, use_builtin_types=True)
    except (ExpatError, ValueError, TypeError, xmlrpc.client.ResponseError):
        raise Fault(PARSE_ERROR, "The request is not an XML-RPC call.") from None
    if method not in METHODS:
        supported = ", ".join(sorted(METHODS))
        raise Fault(NO_SUCH_METHOD, f"No method {method!r} here; this index answers {supported}.")
    expected = PARAM_TYPES[method]
    required = 1 if method == "package_releases" else len(expected)
    if not required <= len(params) <= len(expected) or any(
        not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        for value, types in zip(params, expected, strict=False)
    ):
        raise Fault(BAD_PARAMS, f"Wrong arguments for {method}.")
    return METHODS[method](who, *params)


def _xml(payload: str, status: int = 200) -> HttpResponse:
    return HttpResponse(payload.encode(), status=status, content_type="text/xml; charset=utf-8")


@csrf_exempt  # a machine endpoint; a web page cannot send text/xml across sites unasked
@require_POST
@read_access
def xmlrpc_endpoint(request: HttpRequest) -> HttpResponse:
    if request.content_type not in XML_TYPES:
        return HttpResponse(
            "XML-RPC calls are sent as text/xml.", status=415, content_type="text/plain"
        )
    length = request.headers.get("Content-Length", "")
    if not length.isdigit() or int(length) > MAX_REQUEST_BYTES:
        return HttpResponse(
            f"An XML-RPC call here is at most {MAX_REQUEST_BYTES // 1024} KiB.",
            status=413,
            content_type="text/plain",
        )
    try:
        result = _call(reader(request), request.read(MAX_REQUEST_BYTES + 1))
    except Fault as fault:
        return _xml(xmlrpc.client.dumps(xmlrpc.client.Fault(fault.code, str(fault))))
    return _xml(xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True))
