"""The JSON API (`/pypi/<name>/json`), in the shape PyPI answers it today: the same keys, and
null where PyPI has nothing to say (an empty field, a link Packyard does not keep)."""

import json
import re
from typing import Any

from django.conf import settings

from packyard.packages.index import simple
from packyard.packages.index.queries import FileEntry, ProjectListing
from packyard.packages.models import Release, Role

# Text fields of the stored metadata that PyPI sends as null when they are empty.
TEXT_FIELDS = (
    "author",
    "author_email",
    "description",
    "description_content_type",
    "download_url",
    "home_page",
    "keywords",
    "license",
    "license_expression",
    "maintainer",
    "maintainer_email",
    "platform",
    "requires_python",
)
LIST_FIELDS = ("dynamic", "license_files", "provides_extra", "requires_dist")
NO_DOWNLOAD_COUNTS = {"last_day": -1, "last_month": -1, "last_week": -1}  # as PyPI still sends


def _file_dict(file: FileEntry, base_url: str) -> dict[str, Any]:
    uploaded = file.upload_time.isoformat()
    return {
        "comment_text": "",
        "core-metadata": {"sha256": file.metadata_sha256} if file.metadata_sha256 else False,
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
        "upload_time": uploaded[:19],
        "upload_time_iso_8601": uploaded.replace("+00:00", "Z"),
        "url": base_url + simple.file_url(file.path),
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason or None,
    }


def _url_label(label: str) -> str:
    # PEP 753: labels compare without case, punctuation or whitespace.
    return re.sub(r"[\W_]+", "", label).lower()


def project_urls(metadata: dict[str, Any]) -> dict[str, str] | None:
    """Home-page and Download-URL first, as "Homepage" and "Download", then Project-URL entries
    that do not repeat them: what PyPI lists."""
    urls: dict[str, str] = {}
    if metadata.get("home_page"):
        urls["Homepage"] = metadata["home_page"]
    if metadata.get("download_url"):
        urls["Download"] = metadata["download_url"]
    for label, url in (metadata.get("project_urls") or {}).items():
        same = {"homepage": "Homepage", "downloadurl": "Download"}.get(_url_label(label))
        if same is not None and urls.get(same) == url:
            continue
        urls[label] = url
    return urls or None


def _info(listing: ProjectListing, release: Release) -> dict[str, Any]:
    project = listing.project
    metadata = release.metadata
    base = f"{settings.BASE_URL}/project/{project.normalized_name}/"
    return {
        **{field: metadata.get(field) or None for field in TEXT_FIELDS},
        **{field: list(metadata.get(field) or []) or None for field in LIST_FIELDS},
        "bugtrack_url": None,
        "classifiers": list(metadata.get("classifiers") or []),
        "docs_url": None,
        "downloads": NO_DOWNLOAD_COUNTS,
        "name": project.name,
        "package_url": base,
        "project_url": base,
        "project_urls": project_urls(metadata),
        # PEP 792's status, as the simple API gives it; always here, "active" included.
        "project_status": {
            "status": project.pep792_status,
            "reason": project.status_reason or None,
        },
        "release_url": f"{base}{release.version}/",
        "summary": release.summary or None,
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def _ownership(listing: ProjectListing) -> dict[str, Any]:
    roles = Role.objects.filter(project=listing.project).select_related("user")
    listed = sorted(
        ({"role": role.role_name, "user": role.user.username} for role in roles),
        key=lambda entry: (entry["role"] != Role.OWNER, entry["user"]),
    )
    return {"organization": None, "roles": listed}


def release_data(listing: ProjectListing, release: Release) -> dict[str, Any]:
    releases: dict[str, list[dict[str, Any]]] = {r.version: [] for r in listing.releases}
    base_url = settings.BASE_URL  # a lazy settings lookup costs, 10,000 times
    for file in listing.files:
        releases[file.version].append(_file_dict(file, base_url))
    return {
        "info": _info(listing, release),
        "last_serial": listing.project.last_serial,
        "ownership": _ownership(listing),
        "releases": releases,
        "urls": releases.get(release.version, []),
        "vulnerabilities": [],
    }


def release_json(listing: ProjectListing, release: Release) -> bytes:
    return json.dumps(release_data(listing, release), separators=(",", ":")).encode()
