"""The JSON API (`/pypi/<name>/json`), in PyPI's shape."""

import json
from typing import Any

from django.conf import settings

from packyard.packages.index import simple
from packyard.packages.index.queries import ProjectListing
from packyard.packages.models import File, Release


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


def release_data(listing: ProjectListing, release: Release) -> dict[str, Any]:
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
        "last_serial": project.last_serial,
        "releases": releases,
        "urls": releases.get(release.version, []),
        "vulnerabilities": [],
    }


def release_json(listing: ProjectListing, release: Release) -> bytes:
    return json.dumps(release_data(listing, release), separators=(",", ":")).encode()
