import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from packaging.utils import canonicalize_name, canonicalize_version

from packyard.accounts.models import User
from packyard.http import plain_error
from packyard.packages.index import jsonapi, pages, simple
from packyard.packages.index.access import (
    read_access,
    read_refusal,
    readable_projects,
    reader,
    require_readable,
    web_pages_access,
)
from packyard.packages.index.files import serve_stored_or_503
from packyard.packages.index.queries import ProjectListing, project_listing
from packyard.packages.index.routes import json_api_route, simple_route, simple_url
from packyard.packages.models import File, Project, Release
from packyard.packages.search import project_search

logger = logging.getLogger(__name__)


def _not_acceptable() -> HttpResponse:
    response = plain_error(
        406, "Not acceptable: ask for application/vnd.pypi.simple.v1+json or text/html."
    )
    response["Vary"] = "Accept"
    return response


def _page_response(request: HttpRequest, page: pages.Page, **how: Any) -> HttpResponse:
    answer = pages.reply(
        page,
        head=request.method == "HEAD",
        if_none_match=request.headers.get("If-None-Match", ""),
        **how,
    )
    response = HttpResponse(answer.body, status=answer.status)
    del response["Content-Type"]  # the answer names its own, and a 304 has none
    for header, value in answer.headers:
        response[header] = value
    return response


def _accepts_gzip(request: HttpRequest) -> bool:
    return pages.accepts_gzip(request.headers.get("Accept-Encoding", ""))


@require_safe
@read_access
def simple_index(request: HttpRequest) -> HttpResponse:
    negotiated = simple.negotiate(request)
    if negotiated is None:
        return _not_acceptable()
    route = simple_route(simple_url(), negotiated)
    if reader(request).limited_to_projects:
        return _scoped_index(request, negotiated, route.content_type)
    page = pages.index_page(route.key, gzipped=_accepts_gzip(request))
    return _page_response(request, page, content_type=route.content_type, vary_accept=True)


def _scoped_index(request: HttpRequest, negotiated: str, content_type: str) -> HttpResponse:
    """The root for a token that names its projects: those projects only, rendered for it."""
    candidates = readable_projects(reader(request), Project.objects.filter(quarantined=False))
    projects = list(
        candidates.order_by("normalized_name").only("id", "name", "normalized_name", "last_serial")
    )
    # The newest change among what the token may read: other projects' activity is not its own.
    serial = max((project.last_serial for project in projects), default=0)
    if negotiated == simple.JSON_V1:
        body = simple.index_json(projects, serial)
    else:
        body = simple.index_html(projects)
    response = HttpResponse(body, content_type=content_type)
    response["Vary"] = "Accept"
    response["X-PyPI-Last-Serial"] = str(serial)
    return response


@require_safe
@read_access
def simple_project(request: HttpRequest, name: str) -> HttpResponse:
    normalized = canonicalize_name(name)
    if normalized != name:
        query = f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""
        return redirect(
            reverse("packages:simple-project", args=[normalized]) + query, permanent=True
        )
    negotiated = simple.negotiate(request)
    if negotiated is None:
        return _not_acceptable()
    require_readable(request, normalized)
    route = simple_route(simple_url(normalized), negotiated)
    page = pages.project_page(normalized, route.key, gzipped=_accepts_gzip(request))
    if page is None:
        raise Http404("No such project")
    return _page_response(request, page, content_type=route.content_type, vary_accept=True)


@never_cache
@require_safe
def read_check(request: HttpRequest) -> HttpResponse:
    """For a front proxy's auth_request: 204 if this request's credentials may read the index
    address in X-Original-URI, else the 401 a reader would get, or 403 for a project the token
    does not reach and for an address with too many failed token checks (nginx's auth_request
    passes on only 401 and 403; anything else becomes a 500)."""
    refusal = read_refusal(request, limited_status=403)
    if refusal is not None:
        return refusal
    if reader(request).limited_to_projects:
        target = request.headers.get("X-Original-URI", "")
        name = front_proxy_project(target)
        try:
            if name is None:
                raise Http404
            require_readable(request, name)
        except Http404:
            return plain_error(
                403, "This token reads only its own projects' pages, from Packyard itself."
            )
    return HttpResponse(status=204)


def front_proxy_project(uri: str) -> str | None:
    """The project a front proxy's page address is for: /simple/<name>/ or /pypi/<name>/json
    (the only pages it serves itself); None for anything else."""
    parts = uri.split("?", 1)[0].split("/")
    if len(parts) == 4 and parts[1] == "simple" and parts[2] and parts[3] == "":
        return canonicalize_name(parts[2])
    if len(parts) == 4 and parts[1] == "pypi" and parts[2] and parts[3] == "json":
        return canonicalize_name(parts[2])
    return None


@require_safe
@read_access
def file_download(request: HttpRequest, path: str) -> HttpResponseBase:
    is_metadata = path.endswith(".metadata")
    rows = File.objects.filter(release__project__quarantined=False).select_related(
        "release__project"
    )
    if is_metadata:
        file = rows.filter(metadata_path=path).exclude(metadata_path="").first()
    else:
        file = rows.filter(path=path).first()
    if file is None:
        raise Http404("No such file")
    require_readable(request, file.release.project.normalized_name)
    if is_metadata:
        return serve_stored_or_503(
            request,
            path=path,
            filename=file.filename + ".metadata",
            size=None,
            sha256=file.metadata_sha256,
        )
    return serve_stored_or_503(
        request, path=path, filename=file.filename, size=file.size, sha256=file.sha256_digest
    )


def _listing_or_404(name: str) -> ProjectListing:
    project = get_object_or_404(Project, normalized_name=canonicalize_name(name), quarantined=False)
    return project_listing(project)


@require_safe
@read_access
def json_project(request: HttpRequest, name: str) -> HttpResponse:
    normalized = canonicalize_name(name)
    require_readable(request, normalized)
    route = json_api_route(normalized)
    page = pages.project_page(normalized, route.key, gzipped=_accepts_gzip(request))
    if page is None:
        raise Http404("No such project, or it has no releases")
    return _page_response(request, page, content_type=route.content_type, vary_accept=False)


@require_safe
@read_access
def json_release(request: HttpRequest, name: str, version: str) -> HttpResponse:
    require_readable(request, canonicalize_name(name))
    listing = _listing_or_404(name)
    release = _find_release(listing, version)
    data = jsonapi.release_data(listing, release)
    data.pop("releases")
    response = JsonResponse(data, json_dumps_params={"separators": (",", ":")})
    response["X-PyPI-Last-Serial"] = str(listing.project.last_serial)
    return response


def _find_release(listing: ProjectListing, version: str) -> Release:
    """The release of this exact version, else the one it is equal to (3.2.0 finds 3.2), as on
    PyPI."""
    canonical = canonicalize_version(version, strip_trailing_zero=True)
    exact = [release for release in listing.releases if release.version == version]
    equal = [release for release in listing.releases if release.canonical_version == canonical]
    for release in exact or equal:
        return release
    raise Http404("No such release")


@dataclass(frozen=True)
class MetadataLink:
    label: str
    url: str

    @property
    def linkable(self) -> bool:
        """Only web addresses become links: a javascript: or data: URL in metadata is shown as
        text, since the uploader chose it and the reader would click it on our page."""
        scheme = urlsplit(self.url.strip()).scheme.lower()
        return scheme in ("http", "https")


def metadata_links(metadata: dict[str, Any]) -> list[MetadataLink]:
    links = []
    if metadata.get("home_page"):
        links.append(MetadataLink("Homepage", str(metadata["home_page"])))
    for label, url in (metadata.get("project_urls") or {}).items():
        links.append(MetadataLink(str(label), str(url)))
    if metadata.get("download_url"):
        links.append(MetadataLink("Download", str(metadata["download_url"])))
    return links


@require_safe
@read_access
def project_page(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    normalized = canonicalize_name(name)
    if normalized != name:
        args: list[str] = [normalized] if version is None else [normalized, version]
        view = "packages:project" if version is None else "packages:release"
        return redirect(reverse(view, args=args), permanent=True)
    require_readable(request, normalized)
    listing = _listing_or_404(normalized)
    release = listing.latest if version is None else _find_release(listing, version)
    if release is None:
        raise Http404("This project has no releases")
    context = {
        "listing": listing,
        "project": listing.project,
        "release": release,
        "links": metadata_links(release.metadata or {}),
        "files": release.files.order_by("filename"),
        "history": list(reversed(listing.releases)),
        "maintainers": listing.project.members.order_by("username"),
    }
    return render(request, "packages/project.html", context)


@require_safe
@web_pages_access
def home(request: HttpRequest) -> HttpResponse:
    recent = list(
        Release.objects.filter(project__quarantined=False)
        .select_related("project")
        .order_by("-created")[:20]
    )
    counts = Project.objects.aggregate(projects=Count("id", distinct=True))
    context = {
        "recent": recent,
        "project_count": counts["projects"],
        "file_count": File.objects.count(),
    }
    return render(request, "home.html", context)


SEARCH_PAGE_SIZE = 20


@require_safe
@web_pages_access
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    page = None
    if query:
        page = Paginator(project_search(query), SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "packages/search.html", {"query": query, "page": page})


@require_safe
@web_pages_access
def user_page(request: HttpRequest, username: str) -> HttpResponse:
    profile = get_object_or_404(User, username__iexact=username, is_active=True)
    projects = Project.objects.filter(roles__user=profile, quarantined=False).order_by(
        "normalized_name"
    )
    return render(request, "packages/user.html", {"profile": profile, "projects": projects})
