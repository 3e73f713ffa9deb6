"""The index's one route table: which stored page answers which URL, in which format.

The fast path, the Django views and the page store all name pages through here, so the URL a
client asks for and the key a page is stored under cannot drift apart.
"""

from enum import StrEnum
from typing import NamedTuple

from packaging.utils import canonicalize_name

from packyard.packages.index import simple


class PageKind(StrEnum):
    """How a page is written; the first word of its storage key."""

    HTML = "html"  # the simple API, PEP 503
    JSON = "json"  # the simple API, PEP 691
    API = "api"  # the JSON API, /pypi/<name>/json


JSON_API_CONTENT_TYPE = "application/json"


# The kinds' words, read once: formatting an enum member costs more than the rest of a route.
_HTML, _JSON, _API = PageKind.HTML.value, PageKind.JSON.value, PageKind.API.value


class PageRoute(NamedTuple):
    """A stored page and how it is answered. A named tuple: the fast path makes one per request,
    and a tuple is the cheapest named type to make."""

    key: str  # the stored page's key: `html /simple/foo/`, `api /pypi/foo/json`...
    content_type: str
    varies_by_accept: bool  # the simple API's format follows Accept; the JSON API has one


def simple_url(normalized_name: str = "") -> str:
    return f"/simple/{normalized_name}/" if normalized_name else "/simple/"


def simple_route(url: str, negotiated: str) -> PageRoute:
    """The simple-API page at `url` in the format content negotiation chose."""
    if negotiated == simple.JSON_V1:
        return PageRoute(f"{_JSON} {url}", negotiated, True)
    return PageRoute(f"{_HTML} {url}", f"{negotiated}; charset=utf-8", True)


def json_api_route(normalized_name: str) -> PageRoute:
    return PageRoute(f"{_API} /pypi/{normalized_name}/json", JSON_API_CONTENT_TYPE, False)


def page_key(kind: PageKind, url: str) -> str:
    return f"{kind.value} {url}"


INDEX_KEYS = (page_key(PageKind.HTML, simple_url()), page_key(PageKind.JSON, simple_url()))


def project_keys(normalized_name: str) -> tuple[str, str, str]:
    """The keys of a project's stored pages: simple HTML, simple JSON, JSON API."""
    url = simple_url(normalized_name)
    return (
        page_key(PageKind.HTML, url),
        page_key(PageKind.JSON, url),
        json_api_route(normalized_name).key,
    )


def split_key(key: str) -> tuple[PageKind, str]:
    kind, _, url = key.partition(" ")
    return PageKind(kind), url


def route_for_path(path: str, accept: str) -> PageRoute | None:
    """The stored page for a request path and Accept header, when the path names one exactly;
    None for anything else (a name to redirect, an unacceptable format), which Django answers."""
    if path.startswith("/simple/"):
        name = path[len("/simple/") : -1]
        if not path.endswith("/") or "/" in name or (name and canonicalize_name(name) != name):
            return None
        negotiated = simple.negotiate_accept(accept)
        if negotiated is None:
            return None
        return simple_route(path, negotiated)  # the path is the page's URL, checked above
    if path.startswith("/pypi/") and path.endswith("/json"):
        name = path[len("/pypi/") : -len("/json")]
        if not name or "/" in name or canonicalize_name(name) != name:
            return None
        return json_api_route(name)
    return None
