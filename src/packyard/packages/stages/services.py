"""Stages: releases in waiting. Uploads land in one when the token is stage-only or the project
needs approval; an approver publishes it (all files at once, one serial) with a fresh second
factor, or discards it; it expires after PACKYARD_STAGE_DAYS. Each step is in the project's
history and emailed to its Owners."""

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from packyard.accounts.models import User
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.filestore import STORE_ERRORS
from packyard.packages.index import pages
from packyard.packages.index.journal import journal_record
from packyard.packages.models import File, Project, Release, Role, Stage, StagedFile
from packyard.packages.services import ProjectActionError, owners_email

logger = logging.getLogger(__name__)
STAGE_KEY_SALT = "packyard.stages.key"
# A fresh second factor for publishing: confirmed within this many seconds.
APPROVAL_SECONDS = 5 * 60


# What a staged file becomes as a File: all of it but its stage and the credential in words.
PUBLISHED_FIELDS = (
    "filename",
    "path",
    "size",
    "sha256_digest",
    "blake2_256_digest",
    "md5_digest",
    "packagetype",
    "python_version",
    "requires_python",
    "upload_time",
    "uploader",
    "metadata_path",
    "metadata_sha256",
    "published_by",
)


class StageError(ProjectActionError):
    """The stage cannot do that; the message says why."""


def stage_key(stage: Stage) -> str:
    """The key in the stage's address: 144 bits derived from the server's secret and the stage's
    id, so that knowing the address is the permission to read it, and nothing stores it."""
    mac = salted_hmac(STAGE_KEY_SALT, stage.id.hex, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def stage_by_key(key: str) -> Stage | None:
    """The stage whose address holds `key` (looked up by its digest)."""
    return Stage.objects.select_related("project").filter(key_digest=key_digest(key)).first()


def stage_index_url(stage: Stage) -> str:
    return f"{settings.BASE_URL}/stage/{stage_key(stage)}/simple/"


def stage_review_url(stage: Stage) -> str:
    return settings.BASE_URL + reverse(
        "packages:stage", args=[stage.project.normalized_name, stage.pk]
    )


def open_stages(project: Project) -> QuerySet[Stage]:
    return Stage.objects.filter(project=project, state=Stage.OPEN, expires__gt=timezone.now())


def open_staged_files() -> QuerySet[StagedFile]:
    """The files of stages still open: their bytes are in the store and must stay there."""
    return StagedFile.objects.filter(stage__state=Stage.OPEN)


def expire_due(project: Project | None = None) -> int:
    """Close the stages whose time ran out (their files' names stay used); returns how many."""
    due = Stage.objects.filter(state=Stage.OPEN, expires__lte=timezone.now())
    if project is not None:
        due = due.filter(project=project)
    count = 0
    for stage in due.select_related("project"):
        if _close(stage, Stage.EXPIRED, actor=None):
            project_event_record(
                projects=[stage.project],
                tag=ProjectEventTag.STAGE_EXPIRED,
                actor=None,
                version=stage.version,
                stage=str(stage.pk),
            )
            # After the commit: an upload's transaction that closed it may still roll back.
            transaction.on_commit(partial(_owners_email, stage, "expired", "Nobody"))
            count += 1
    return count


def _close(stage: Stage, state: str, *, actor: User | None, **fields: object) -> bool:
    """Move an open stage to `state`; False when another request closed it first. The bytes of
    a stage that will never be published are removed after the commit."""
    closed = Stage.objects.filter(pk=stage.pk, state=Stage.OPEN).update(
        state=state, closed=timezone.now(), closed_by=actor, **fields
    )
    if closed and state != Stage.PUBLISHED:
        paths = _paths_of(stage)
        transaction.on_commit(lambda: _remove_bytes(paths))
    stage.state = state if closed else stage.state
    return bool(closed)


def _paths_of(stage: Stage) -> list[str]:
    paths: list[str] = []
    for path, metadata_path in stage.files.values_list("path", "metadata_path"):
        paths += [path, metadata_path] if metadata_path else [path]
    return paths


def _remove_bytes(paths: list[str]) -> None:
    for path in paths:
        # Content-addressed with the filename in the path: nothing else names these bytes.
        if File.objects.filter(path=path).exists():
            continue
        try:
            default_storage.delete(path)
        except STORE_ERRORS:
            logger.exception("could not remove %s of a closed stage", path)


# --- staging an upload -----------------------------------------------------------------------


def stage_reason(project: Project | None, *, stage_only_token: bool) -> str:
    """Why an upload goes into a stage ("" when it is published directly)."""
    if stage_only_token:
        return "stage-only token"
    if project is not None and project.releases_need_approval:
        return "releases need approval"
    return ""


def stage_for_upload(
    *, project: Project, version: str, canonical_version: str, reason: str, user: User | None
) -> tuple[Stage, bool]:
    """The open stage this version's files join, or a new one (True); in the caller's
    transaction, with the project's row locked. Raises StageError at the limits."""
    expire_due(project)
    stage = Stage.objects.filter(
        project=project, canonical_version=canonical_version, state=Stage.OPEN
    ).first()
    if stage is not None:
        if stage.files.count() >= settings.PACKYARD_STAGE_MAX_FILES:
            raise StageError(
                f"This stage holds {settings.PACKYARD_STAGE_MAX_FILES} files, the most a stage "
                "may: publish or discard it first."
            )
        return stage, False
    if open_stages(project).count() >= settings.PACKYARD_STAGES_PER_PROJECT:
        raise StageError(
            f"{project.name!r} has {settings.PACKYARD_STAGES_PER_PROJECT} open stages, the most a "
            "project may: publish or discard one first."
        )
    stage = Stage(
        project=project,
        version=version,
        canonical_version=canonical_version,
        reason=reason,
        created_by=user,
        expires=timezone.now() + timedelta(days=settings.PACKYARD_STAGE_DAYS),
    )
    stage.key_digest = key_digest(stage_key(stage))
    stage.save(force_insert=True)
    return stage, True


def staged_size(project: Project) -> int:
    total = open_staged_files().filter(stage__project=project).aggregate(total=Sum("size"))
    return int(total["total"] or 0)


def stage_created_tell(stage: Stage, actor: str) -> None:
    _owners_email(stage, "created", actor)


# --- who may publish, and how -----------------------------------------------------------------


def may_approve(project: Project, user: User) -> bool:
    roles = Role.objects.filter(project=project, user=user)
    if project.stage_approval_owners_only:
        roles = roles.filter(role_name=Role.OWNER)
    return roles.exists()


def approval_needs_key(project: Project) -> bool:
    """Whether publishing needs a security key or passkey: the site's factor, the project's
    own setting, or the project's requirement of keys for its members."""
    return (
        settings.PACKYARD_STAGE_APPROVAL_FACTOR == "phishing-resistant"
        or project.stage_approval_keys
        or project.require_phishing_resistant
    )


# --- publishing and discarding ------------------------------------------------------------------


def stage_publish(
    *, stage: Stage, actor: User | None, request: HttpRequest | None, by_operator: bool = False
) -> int:
    """Every file of the stage into the index at once: one transaction, one journal entry (the
    serial returned). The caller has checked the approver (the web view) or is the operator."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=stage.project_id)
        stage = Stage.objects.select_for_update().get(pk=stage.pk)
        if not stage.is_open:
            raise StageError(f"This stage is {_state_words(stage)}: it cannot be published.")
        if project.frozen_message:
            raise StageError(project.frozen_message)
        if project.status == Project.ARCHIVED:
            raise StageError(f"{project.name!r} is archived: it takes no new files.")
        staged = list(stage.files.all())
        if not staged:
            raise StageError("This stage has no files.")
        release, new = _release_for(project, stage, actor)
        if any(f.packagetype == File.SDIST for f in staged) and (
            release.files.filter(packagetype=File.SDIST).exists()
        ):
            raise StageError(f"{release.version} already has an sdist: a release holds one.")
        for file in staged:
            File.objects.create(
                release=release, **{name: getattr(file, name) for name in PUBLISHED_FIELDS}
            )
        action = "new release" if new else f"add {len(staged)} staged files"
        serial = journal_record(project=project, action=action, version=release.version)
        _close(stage, Stage.PUBLISHED, actor=actor, by_operator=by_operator, serial=serial)
        Project.objects.filter(pk=project.pk).update(
            updated=timezone.now(), search_summary=release.summary
        )
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.STAGE_PUBLISHED,
            actor=actor,
            request=request,
            version=release.version,
            files=len(staged),
            stage=str(stage.pk),
            serial=serial,
            by_operator=by_operator,
        )
        pages.changed_locked(project)
        pages.index_invalidate()
    _owners_email(stage, "published", _actor_words(actor, by_operator))
    return serial


def _release_for(project: Project, stage: Stage, actor: User | None) -> tuple[Release, bool]:
    release = Release.objects.filter(
        project=project, canonical_version=stage.canonical_version
    ).first()
    if release is not None:
        return release, False
    release = Release.objects.create(
        project=project,
        version=stage.version,
        canonical_version=stage.canonical_version,
        summary=stage.summary,
        description_html=stage.description_html,
        description_content_type=stage.description_content_type,
        requires_python=stage.requires_python,
        metadata=stage.metadata,
        uploader=stage.files.first().uploader if stage.files.exists() else actor,  # type: ignore[union-attr]
    )
    return release, True


def stage_discard(*, stage: Stage, actor: User, request: HttpRequest | None) -> None:
    """Drop the stage: its files go, their names stay used (a published file can never differ
    from what was staged and seen)."""
    with transaction.atomic():
        if not _close(stage, Stage.DISCARDED, actor=actor):
            raise StageError("This stage is no longer open.")
        project_event_record(
            projects=[stage.project],
            tag=ProjectEventTag.STAGE_DISCARDED,
            actor=actor,
            request=request,
            version=stage.version,
            stage=str(stage.pk),
        )
    _owners_email(stage, "discarded", actor.username)


def _actor_words(actor: User | None, by_operator: bool) -> str:
    if by_operator:
        return "The index's operator"
    return actor.username if actor is not None else "Someone"


def _state_words(stage: Stage) -> str:
    if stage.state == Stage.OPEN:
        return "expired"  # open in the row, past its time
    return stage.state


def _owners_email(stage: Stage, step: str, actor: str) -> None:
    owners_email(
        stage.project,
        subject=f"{stage.project.name} {stage.version}: stage {step}",
        template="packages/email/stage.txt",
        stage=stage,
        step=step,
        actor=actor,
        review_url=stage_review_url(stage),
        index_url=stage_index_url(stage),
        files=list(stage.files.values_list("filename", flat=True)),
    )


# --- what the reviewer sees --------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """The stage's dependencies and Python requirement beside the last release's."""

    previous: str  # the version compared with, "" for a first release
    added: list[str]
    removed: list[str]
    requires_python: tuple[str, str]  # (before, staged)


def changes_from_last_release(stage: Stage) -> Changes:
    previous = _last_release(stage.project, exclude=stage.canonical_version)
    before = _requirements(previous.metadata if previous else {})
    staged = _requirements(stage.metadata)
    return Changes(
        previous=previous.version if previous else "",
        added=sorted(staged - before),
        removed=sorted(before - staged),
        requires_python=(previous.requires_python if previous else "", stage.requires_python),
    )


def _requirements(metadata: dict[str, object]) -> set[str]:
    found: set[str] = set()
    for text in metadata.get("requires_dist") or []:  # type: ignore[attr-defined]
        try:
            requirement = Requirement(str(text))
        except InvalidRequirement:
            found.add(str(text))
            continue
        requirement.name = canonicalize_name(requirement.name)
        found.add(str(requirement))
    return found


def _last_release(project: Project, *, exclude: str) -> Release | None:
    def order(release: Release) -> tuple[int, Version | str]:
        try:
            return (1, Version(release.version))
        except InvalidVersion:
            return (0, release.version)

    releases = [r for r in project.releases.exclude(canonical_version=exclude) if not r.yanked]
    return max(releases, key=order, default=None)
