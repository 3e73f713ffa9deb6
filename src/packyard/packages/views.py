from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe
from packaging.utils import canonicalize_name

from packyard.accounts.models import User
from packyard.http import plain_error
from packyard.packages import simple
from packyard.packages.access import read_access
from packyard.packages.files import serve_stored
from packyard.packages.models import File, Project, Release
from packyard.packages.queries import ProjectListing, project_listing


def _not_acceptable() -> HttpResponse:
    response = plain_error(
        406, "Not acceptable: ask for application/vnd.pypi.simple.v1+json or text/html."
    )
    response["Vary"] = "Accept"
    return response


@require_safe
@read_access
def simple_index(request: HttpRequest) -> HttpResponse:
    content_type = simple.negotiate(request)
    if content_type is None:
        return _not_acceptable()
    projects = list(
        Project.objects.filter(quarantined=False)
        .order_by("normalized_name")
        .only("name", "normalized_name")
    )
    return simple.render(
        content_type,
        json_body=simple.index_json(projects) if content_type == simple.JSON_V1 else b"",
        html_body=simple.index_html(projects) if content_type != simple.JSON_V1 else b"",
    )


@require_safe
@read_access
def simple_project(request: HttpRequest, name: str) -> HttpResponse:
    normalized = canonicalize_name(name)
    if normalized != name:
        query = f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""
        return redirect(
            reverse("packages:simple-project", args=[normalized]) + query, permanent=True
        )
    content_type = simple.negotiate(request)
    if content_type is None:
        return _not_acceptable()
    project = get_object_or_404(Project, normalized_name=normalized, quarantined=False)
    listing = project_listing(project)
    is_json = content_type == simple.JSON_V1
    return simple.render(
        content_type,
        json_body=simple.project_json(listing) if is_json else b"",
        html_body=simple.project_html(listing) if not is_json else b"",
    )


@require_safe
@read_access
def file_download(request: HttpRequest, path: str) -> HttpResponseBase:
    if path.endswith(".metadata"):
        file = (
            File.objects.filter(metadata_path=path, release__project__quarantined=False)
            .exclude(metadata_path="")
            .first()
        )
        if file is None:
            raise Http404("No such file")
        return serve_stored(
            request,
            path=path,
            filename=file.filename + ".metadata",
            size=default_storage.size(path),
            sha256=file.metadata_sha256,
        )
    file = File.objects.filter(path=path, release__project__quarantined=False).first()
    if file is None:
        raise Http404("No such file")
    return serve_stored(
        request, path=path, filename=file.filename, size=file.size, sha256=file.sha256_digest
    )


def _file_dict(file: File) -> dict[str, Any]:
    return {
        "comment_text": "",
        "digests": {
            "blake2b_256": file.blake2_256_digest,
            "md5": file.md5_digest,
            "sha256": file.sha256_digest,
        },
        "downloads": -1,
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": file.md5_digest,
        "packagetype": file.packagetype,
        "python_version": file.python_version,
        "requires_python": file.requires_python or None,
        "size": file.size,
        "upload_time": file.upload_time.strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": file.upload_time.isoformat().replace("+00:00", "Z"),
        "url": settings.BASE_URL + simple.file_url(file),
        "yanked": file.release.yanked,
        "yanked_reason": file.release.yanked_reason or None,
    }


def _json_api(listing: ProjectListing, release: Release) -> dict[str, Any]:
    project = listing.project
    base = f"{settings.BASE_URL}/project/{project.normalized_name}/"
    info = dict(release.metadata) | {
        "name": project.name,
        "version": release.version,
        "summary": release.summary,
        "package_url": base,
        "project_url": base,
        "release_url": f"{base}{release.version}/",
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }
    releases: dict[str, list[dict[str, Any]]] = {r.version: [] for r in listing.releases}
    for file in listing.files:
        releases[file.release.version].append(_file_dict(file))
    return {
        "info": info,
        "last_serial": 0,
        "releases": releases,
        "urls": releases.get(release.version, []),
        "vulnerabilities": [],
    }


def _listing_or_404(name: str) -> ProjectListing:
    project = get_object_or_404(Project, normalized_name=canonicalize_name(name), quarantined=False)
    return project_listing(project)


@require_safe
@read_access
def json_project(request: HttpRequest, name: str) -> HttpResponse:
    listing = _listing_or_404(name)
    if listing.latest is None:
        raise Http404("This project has no releases")
    data = _json_api(listing, listing.latest)
    return JsonResponse(data, json_dumps_params={"separators": (",", ":")})


@require_safe
@read_access
def json_release(request: HttpRequest, name: str, version: str) -> HttpResponse:
    listing = _listing_or_404(name)
    release = _find_release(listing, version)
    data = _json_api(listing, release)
    data.pop("releases")
    return JsonResponse(data, json_dumps_params={"separators": (",", ":")})


def _find_release(listing: ProjectListing, version: str) -> Release:
    for release in listing.releases:
        if release.version == version:
            return release
    raise Http404("No such release")


@require_safe
@read_access
def project_page(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    normalized = canonicalize_name(name)
    if normalized != name:
        args: list[str] = [normalized] if version is None else [normalized, version]
        view = "packages:project" if version is None else "packages:release"
        return redirect(reverse(view, args=args), permanent=True)
    listing = _listing_or_404(normalized)
    release = listing.latest if version is None else _find_release(listing, version)
    if release is None:
        raise Http404("This project has no releases")
    context = {
        "listing": listing,
        "project": listing.project,
        "release": release,
        "files": [file for file in listing.files if file.release_id == release.pk],
        "history": list(reversed(listing.releases)),
        "maintainers": listing.project.members.order_by("username"),
    }
    return render(request, "packages/project.html", context)


@require_safe
@read_access
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


def _search(query: str) -> QuerySet[Project]:
    visible = Project.objects.filter(quarantined=False)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = SearchVector("name", weight="A") + SearchVector("search_summary", weight="B")
        search = SearchQuery(query, search_type="websearch")
        return (
            visible.annotate(rank=SearchRank(vector, search))
            .filter(Q(rank__gt=0) | Q(normalized_name__icontains=query))
            .order_by("-rank", "normalized_name")
        )
    return visible.filter(
        Q(normalized_name__icontains=canonicalize_name(query)) | Q(search_summary__icontains=query)
    ).order_by("normalized_name")


@require_safe
@read_access
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    page = None
    if query:
        page = Paginator(_search(query), SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "packages/search.html", {"query": query, "page": page})


@require_safe
@read_access
def user_page(request: HttpRequest, username: str) -> HttpResponse:
    profile = get_object_or_404(User, username__iexact=username, is_active=True)
    projects = Project.objects.filter(roles__user=profile, quarantined=False).order_by(
        "normalized_name"
    )
    return render(request, "packages/user.html", {"profile": profile, "projects": projects})
