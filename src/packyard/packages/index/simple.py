"""The simple repository API: PEP 503 HTML and PEP 691 JSON, with PEPs 592, 658, 700, 714 and
792 (project status)."""

import json
from collections.abc import Sequence
from html import escape  # Django's escape is this one, wrapped for lazy strings: 10,000 calls
from typing import Any

from django.http import HttpRequest

from packyard.packages.index.queries import LinkedFile, SimpleFile
from packyard.packages.models import Project

API_VERSION = "1.4"  # 1.4: project status (PEP 792)
JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
HTML = "text/html"
ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
    "*/*": HTML,
    "text/*": HTML,
}
OFFERED = (JSON_V1, HTML_V1, HTML)


def negotiate(request: HttpRequest) -> str | None:
    """The content type to answer with, or None when the client accepts none of ours (406)."""
    requested = request.GET.get("format")
    if requested is not None:
        requested = ALIASES.get(requested, requested)
        return requested if requested in OFFERED else None
    return negotiate_accept(request.headers.get("Accept", ""))


def negotiate_accept(header: str) -> str | None:
    if not header.strip():
        return HTML
    choices: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        media_type, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = ALIASES.get(media_type.lower(), media_type.lower())
        if media_type in OFFERED and quality > 0:
            choices.append((-quality, index, media_type))
    return min(choices)[2] if choices else None


def file_url(path: str) -> str:
    """PyPI's layout, /packages/<2>/<2>/<60>/<filename>, which mirrors insist on."""
    return f"/{path}"


def _yanked(file: LinkedFile | SimpleFile) -> str | bool:
    if not file.yanked:
        return False
    return file.yanked_reason or True


def index_json(projects: list[Project], serial: int) -> bytes:
    # Each project's serial, as PyPI lists them: a mirror fetches only the projects that moved.
    return json.dumps(
        {
            "meta": {"api-version": API_VERSION, "_last-serial": serial},
            "projects": [
                {"name": project.name, "_last-serial": project.last_serial} for project in projects
            ],
        },
        separators=(",", ":"),
    ).encode()


def index_html(projects: list[Project]) -> bytes:
    rows = "".join(
        f'<a href="/simple/{escape(p.normalized_name)}/">{escape(p.name)}</a><br>\n'
        for p in projects
    )
    return _html_page("Simple index", rows)


def _html_page(title: str, body: str, serial: int | None = None, head: str = "") -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta name="pypi:repository-version" content="{API_VERSION}">\n{head}'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n"
        f"{body}</body>\n</html>\n"
        + ("" if serial is None else f"<!--SERIAL {serial}-->\n")  # where PyPI writes it
    ).encode()


def upload_time_iso(file: SimpleFile) -> str:
    """The upload time in UTC with microseconds, as PyPI writes it (isoformat is the fast one)."""
    return file.upload_time.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _file_json(file: SimpleFile) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": file.filename,
        "url": file_url(file.path),
        "hashes": {"sha256": file.sha256_digest},
        "requires-python": file.requires_python or None,
        "yanked": _yanked(file),
        "size": file.size,
        "upload-time": upload_time_iso(file),
    }
    if file.metadata_sha256:
        entry["core-metadata"] = {"sha256": file.metadata_sha256}
        entry["dist-info-metadata"] = entry["core-metadata"]  # PEP 714: the old name too
    else:
        entry["core-metadata"] = False
        entry["dist-info-metadata"] = False
    return entry


def project_status(project: Project) -> dict[str, str] | None:
    """PEP 792's marker, for a project that is not simply active (absent means active)."""
    if project.pep792_status == "active":
        return None
    marker = {"status": project.pep792_status}
    if project.status_reason:
        marker["reason"] = project.status_reason
    return marker


def project_json(project: Project, versions: list[str], files: list[SimpleFile]) -> bytes:
    page: dict[str, Any] = {
        "meta": {"api-version": API_VERSION, "_last-serial": project.last_serial},
        "name": project.normalized_name,
    }
    status = project_status(project)
    if status is not None:
        page["project-status"] = status
    page["versions"] = versions
    page["files"] = [_file_json(file) for file in files]
    return json.dumps(page, separators=(",", ":")).encode()


def _file_anchor(file: LinkedFile | SimpleFile) -> str:
    attributes = [f'href="{escape(file_url(file.path))}#sha256={file.sha256_digest}"']
    if file.requires_python:
        attributes.append(f'data-requires-python="{escape(file.requires_python)}"')
    if file.metadata_sha256:
        value = f"sha256={file.metadata_sha256}"
        attributes.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
    yanked = _yanked(file)
    if yanked is not False:
        reason = "" if yanked is True else str(yanked)
        attributes.append(f'data-yanked="{escape(reason)}"')
    return f"<a {' '.join(attributes)}>{escape(file.filename)}</a><br>\n"


def project_html(project: Project, files: Sequence[LinkedFile | SimpleFile]) -> bytes:
    """The HTML page; a stage's page passes SimpleFile rows, which hold the same columns."""
    body = "".join(_file_anchor(file) for file in files)
    title = f"Links for {project.normalized_name}"
    head = ""
    status = project_status(project)
    if status is not None:
        head = f'<meta name="pypi:project-status" content="{status["status"]}">\n'
        if "reason" in status:
            reason = escape(status["reason"])
            head += f'<meta name="pypi:project-status-reason" content="{reason}">\n'
    return _html_page(title, body, serial=project.last_serial, head=head)
