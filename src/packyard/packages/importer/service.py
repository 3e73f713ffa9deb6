"""Importing one file: checked like an upload, stored like one, but kept as the source had it
(its name, its upload time, its yank) and recorded as imported."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from packaging.utils import canonicalize_name, canonicalize_version

from packyard.accounts.models import User
from packyard.http import Refused
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.importer.reading import (
    Distribution,
    ImportRefused,
    check_filename,
    read_distribution,
)
from packyard.packages.importer.sources import Candidate, Source
from packyard.packages.index import pages
from packyard.packages.index.journal import journal_record
from packyard.packages.models import (
    File,
    Project,
    Release,
    ReservedName,
    Role,
    UsedFilename,
    name_skeleton,
)
from packyard.packages.upload.store import (
    description_html,
    discard,
    file_added,
    file_create,
    save_blob,
)


class Status(StrEnum):
    IMPORTED = "imported"
    SKIPPED = "skipped"
    REFUSED = "refused"


IMPORTED, SKIPPED, REFUSED = Status.IMPORTED, Status.SKIPPED, Status.REFUSED


@dataclass
class Outcome:
    filename: str
    status: Status
    reason: str = ""
    project: str = ""
    version: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Digests:
    size: int
    sha256: str
    blake2_256: str
    md5: str


def digests_of(path: Path) -> Digests:
    sha256, blake2 = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    md5 = hashlib.md5(usedforsecurity=False)  # PyPI still lists it; nothing relies on it
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            size += len(chunk)
            for digest in (sha256, blake2, md5):
                digest.update(chunk)
    return Digests(size, sha256.hexdigest(), blake2.hexdigest(), md5.hexdigest())


def import_file(
    *, candidate: Candidate, path: Path, owner: User, source: str, keep_upload_time: bool = True
) -> Outcome:
    """Import one file, or say why not. Re-running is safe: a file already here with the same
    bytes is skipped."""
    outcome = Outcome(filename=candidate.filename, status=REFUSED)
    try:
        check_filename(candidate.filename)
        digests = digests_of(path)
        if candidate.sha256 and candidate.sha256.lower() != digests.sha256:
            raise ImportRefused(
                f"its sha256 is {digests.sha256}, but the source lists {candidate.sha256}"
            )
        if _already_here(candidate.filename, digests.sha256):
            outcome.status, outcome.reason = SKIPPED, "already here, byte for byte"
            return outcome
        dist = read_distribution(str(path), filename=candidate.filename, size=digests.size)
        outcome.project, outcome.version, outcome.warnings = dist.name, dist.version, dist.warnings
        upload_time = candidate.upload_time if keep_upload_time else None
        _store(candidate, path, dist, digests, owner, source, upload_time or timezone.now())
    except ImportRefused as refused:
        outcome.reason = str(refused)
        return outcome
    except Refused as refused:  # the file store said no: nothing of this file was kept
        outcome.reason = refused.message
        return outcome
    outcome.status = IMPORTED
    return outcome


def _already_here(filename: str, sha256: str) -> bool:
    existing = File.objects.filter(filename=filename).first()
    if existing is not None:
        if existing.sha256_digest == sha256:
            return True
        raise ImportRefused("a different file of this name is already here")
    if UsedFilename.objects.filter(filename=filename).exists():
        raise ImportRefused("a file of this name was here and was deleted; names are not reused")
    return False


def _store(
    candidate: Candidate,
    path: Path,
    dist: Distribution,
    digests: Digests,
    owner: User,
    source: str,
    upload_time: datetime,
) -> None:
    created: list[str] = []
    try:
        with transaction.atomic():
            project = _lock_or_create_project(dist, owner)
            release = _release_for(project, dist, candidate, source)
            file = file_create(
                release=release,
                filename=candidate.filename,
                digests=digests,
                packagetype=dist.packagetype,
                python_version=dist.python_version,
                requires_python=release.requires_python,
                uploader=None,
                core_metadata=dist.core_metadata,
                upload_time=upload_time,
            )
            journal_record(
                project=project,
                action=file_added(file),
                version=release.version,
                mark_root_stale=False,
            )
            pages.changed_locked(project)
            with path.open("rb") as handle:
                save_blob(file.path, DjangoFile(handle), created)
            if dist.core_metadata:
                save_blob(file.metadata_path, ContentFile(dist.core_metadata), created)
            pages.index_invalidate()  # last: the root's row stays locked only until the commit
    except IntegrityError:
        discard(created)
        raise ImportRefused("another change to this project got in the way; run again") from None
    except BaseException:
        discard(created)
        raise


def _lock_or_create_project(dist: Distribution, owner: User) -> Project:
    normalized = canonicalize_name(dist.name)
    project = Project.objects.select_for_update().filter(normalized_name=normalized).first()
    if project is not None:
        if project.quarantined:
            raise ImportRefused(f"the project {project.name!r} is quarantined")
        return project
    if len(normalized) > 200:
        raise ImportRefused("the project name is longer than 200 characters")
    if ReservedName.objects.filter(normalized_name=normalized, quarantined=True).exists():
        raise ImportRefused(f"staff closed the name {normalized!r} (a quarantined project)")
    project = Project.objects.create(
        name=dist.name, normalized_name=normalized, name_skeleton=name_skeleton(normalized)
    )
    Role.objects.create(project=project, user=owner, role_name=Role.OWNER)
    journal_record(project=project, action="create", mark_root_stale=False)
    return project


def _release_for(
    project: Project, dist: Distribution, candidate: Candidate, source: str
) -> Release:
    canonical = canonicalize_version(dist.version, strip_trailing_zero=True)
    release = Release.objects.filter(project=project, canonical_version=canonical).first()
    if release is None:
        raw = dist.raw
        journal_record(
            project=project, action="new release", version=dist.version, mark_root_stale=False
        )
        release = Release.objects.create(
            project=project,
            version=dist.version[:100],
            canonical_version=canonical[:100],
            summary=str(raw.get("summary") or "")[:512],
            description_html=description_html(
                str(raw.get("description") or ""),
                str(raw.get("description_content_type") or ""),
                refuse_broken=False,
            ),
            description_content_type=str(raw.get("description_content_type") or ""),
            requires_python=str(raw.get("requires_python") or candidate.requires_python),
            metadata=info_from_raw(raw),
            uploader=None,
        )
        Project.objects.filter(pk=project.pk).update(
            updated=timezone.now(), search_summary=release.summary
        )
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.RELEASE_IMPORT,
            actor=None,
            version=release.version,
            source=source,
        )
    if candidate.yanked and not release.yanked:
        Release.objects.filter(pk=release.pk).update(
            yanked=True, yanked_reason=candidate.yanked_reason[:512]
        )
        release.yanked, release.yanked_reason = True, candidate.yanked_reason
        journal_record(
            project=project,
            action="yank release",
            version=release.version,
            mark_root_stale=False,
        )
    return release


def info_from_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """The metadata as the file states it, in the JSON API's field names."""

    def text(key: str) -> str:
        return str(raw.get(key) or "")

    def texts(key: str) -> list[str] | None:
        return [str(value) for value in raw.get(key) or []] or None

    return {
        "name": text("name"),
        "version": text("version"),
        "summary": text("summary"),
        "description": text("description"),
        "description_content_type": text("description_content_type"),
        "author": text("author"),
        "author_email": text("author_email"),
        "maintainer": text("maintainer"),
        "maintainer_email": text("maintainer_email"),
        "license": text("license"),
        "license_expression": text("license_expression"),
        "keywords": ",".join(raw.get("keywords") or []),
        "classifiers": texts("classifiers") or [],
        "platform": ",".join(raw.get("platforms") or []),
        "home_page": text("home_page"),
        "download_url": text("download_url"),
        "requires_python": text("requires_python"),
        "requires_dist": texts("requires_dist"),
        "provides_extra": texts("provides_extra"),
        "project_urls": dict(raw.get("project_urls") or {}) or None,
        "dynamic": texts("dynamic"),
        "license_files": texts("license_files"),
    }


def import_from(
    source: Source,
    *,
    owner: User,
    keep_upload_times: bool = True,
    listed: Callable[[int], object] | None = None,
    each: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Import every file the source lists, one transaction each: an interrupted run keeps what
    it finished and the next run goes on from there. `listed` hears how many files there are,
    `each` every outcome. Raises ImportRefused when the source itself cannot be read."""
    candidates = list(source.candidates())
    if listed is not None:
        listed(len(candidates))
    outcomes = []
    for candidate in candidates:
        try:
            path = source.fetch(candidate, max_size=settings.PACKYARD_MAX_FILE_SIZE)
        except ImportRefused as refused:
            outcome = Outcome(filename=candidate.filename, status=REFUSED, reason=str(refused))
        else:
            try:
                outcome = import_file(
                    candidate=candidate,
                    path=path,
                    owner=owner,
                    source=source.label,
                    keep_upload_time=keep_upload_times,
                )
            finally:
                source.release(path)
        outcomes.append(outcome)
        if each is not None:
            each(outcome)
    return outcomes
