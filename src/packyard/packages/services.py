"""Project actions by Owners: yanking, deleting; each recorded and announced to the Owners."""

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest
from packaging.utils import InvalidName, canonicalize_name

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.services import security_email_send
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.filestore import STORE_ERRORS
from packyard.packages.index import pages
from packyard.packages.index.journal import journal_record, journal_record_name
from packyard.packages.models import (
    File,
    Project,
    Release,
    ReservedName,
    Role,
    StagedFile,
    name_skeleton,
)
from packyard.tokens.models import ApiToken
from packyard.tokens.revoke import token_revoke

logger = logging.getLogger(__name__)
MAX_YANK_REASON = 512


class ProjectActionError(Exception):
    pass


class NameReserved(ProjectActionError):
    pass


def project_check_unfrozen(project: Project) -> None:
    """Owners change nothing of a quarantined project: staff decide its fate."""
    if project.frozen_message:
        raise ProjectActionError(project.frozen_message)


MAX_NAME_LENGTH = 200


def new_project_name_check(*, name: str, user: User) -> str:
    """The normalized form of a name `user` may give a project nobody has created yet (for a
    token that may create it): valid as a distribution name, not taken, not reserved, not a
    look-alike. Raises ProjectActionError saying why not."""
    try:
        normalized = canonicalize_name(name.strip(), validate=True)
    except InvalidName:
        raise ProjectActionError(
            f"{name!r} is not a valid project name: letters, digits, and . _ - between them."
        ) from None
    if len(normalized) > MAX_NAME_LENGTH:
        raise ProjectActionError(f"A project name has at most {MAX_NAME_LENGTH} characters.")
    if Project.objects.filter(normalized_name=normalized).exists():
        raise ProjectActionError(f"The project {normalized!r} exists already.")
    project_name_claim(normalized_name=normalized, user=user)
    return normalized


def project_name_claim(*, normalized_name: str, user: User) -> None:
    """May this user create a project of this name? Raises ProjectActionError, naming the
    project it is too like, for a reserved name or a look-alike of an existing one.

    A deleted project's name is reserved: only its last Owners may create it again, and a
    quarantined project's name stays closed to everyone until staff release it."""
    reserved = ReservedName.objects.filter(normalized_name=normalized_name).first()
    if reserved is not None and reserved.quarantined:
        raise NameReserved(
            f"The name {normalized_name!r} belonged to a project deleted in quarantine: it "
            "stays closed until this index's administrators release it."
        )
    if reserved is not None and str(user.pk) not in reserved.former_owner_ids:
        raise NameReserved(
            f"The name {normalized_name!r} belonged to a deleted project and is reserved. "
            "Ask this index's administrators if you need it."
        )
    skeleton = name_skeleton(normalized_name)
    alike = (
        Project.objects.filter(name_skeleton=skeleton)
        .exclude(normalized_name=normalized_name)
        .values_list("name", flat=True)
        .first()
    )
    if alike is None:
        alike = (
            ReservedName.objects.filter(name_skeleton=skeleton)
            .exclude(normalized_name=normalized_name)
            .values_list("normalized_name", flat=True)
            .first()
        )
    if alike is not None:
        raise ProjectActionError(
            f"The name {normalized_name!r} is too similar to the existing project {alike!r}."
        )


def owners_tell(project: Project, subject: str, what: str, actor: str) -> None:
    """Email every Owner that `actor` (a username, or who else acted) did `what`."""
    owners_email(
        project,
        subject=f"{project.name}: {subject}",
        template="packages/email/project_changed.txt",
        what=what,
        actor=actor,
    )


def owners_email(project: Project, *, subject: str, template: str, **context: object) -> None:
    """One security email to each of the project's Owners, the project in its context."""
    for role in Role.objects.owners().filter(project=project).select_related("user"):
        security_email_send(
            user=role.user, subject=subject, template=template, project=project, **context
        )


def project_create(*, name: str, normalized_name: str, owner: User) -> Project:
    """A new project with `owner` as its Owner; the caller has claimed the name
    (`project_name_claim`) and holds the transaction."""
    project = Project.objects.create(
        name=name, normalized_name=normalized_name, name_skeleton=name_skeleton(normalized_name)
    )
    # A former Owner made it again (the claim allowed it): the reservation has done its job.
    ReservedName.objects.filter(normalized_name=normalized_name).delete()
    Role.objects.create(project=project, user=owner, role_name=Role.OWNER)
    journal_record(project=project, action="create", mark_root_stale=False)
    return project


def release_yank(*, release: Release, reason: str, actor: User, request: HttpRequest) -> None:
    project_check_unfrozen(release.project)
    reason = reason.strip()
    if len(reason) > MAX_YANK_REASON:
        raise ProjectActionError(f"Keep the reason under {MAX_YANK_REASON} characters.")
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(yanked=True, yanked_reason=reason)
        journal_record(project=release.project, action="yank release", version=release.version)
        pages.refresh(release.project_id)
        project_event_record(
            projects=[release.project],
            tag=ProjectEventTag.RELEASE_YANK,
            actor=actor,
            request=request,
            version=release.version,
            reason=reason,
        )
    what = f"yanked {release.version}"
    owners_tell(release.project, f"{release.version} yanked", what, actor.username)


def release_unyank(*, release: Release, actor: User, request: HttpRequest) -> None:
    project_check_unfrozen(release.project)
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(yanked=False, yanked_reason="")
        journal_record(project=release.project, action="unyank release", version=release.version)
        pages.refresh(release.project_id)
        project_event_record(
            projects=[release.project],
            tag=ProjectEventTag.RELEASE_UNYANK,
            actor=actor,
            request=request,
            version=release.version,
        )
    what = f"un-yanked {release.version}"
    owners_tell(release.project, f"{release.version} un-yanked", what, actor.username)


def _remove_stored(paths: list[str]) -> None:
    # After the commit: a file is gone from the index once its row is; the bytes follow.
    for path in paths:
        try:
            default_storage.delete(path)
        except STORE_ERRORS:
            logger.exception("could not remove %s from the file store", path)


def _paths(files: "list[File] | list[StagedFile]") -> list[str]:
    return [p for f in files for p in (f.path, f.metadata_path) if p]


def file_delete(*, file: File, actor: User, request: HttpRequest) -> None:
    project = file.release.project
    project_check_unfrozen(project)
    paths = _paths([file])
    with transaction.atomic():
        file.delete()
        journal_record(
            project=project, action=f"remove file {file.filename}", version=file.release.version
        )
        pages.refresh(project.pk)
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.FILE_REMOVE,
            actor=actor,
            request=request,
            filename=file.filename,
        )
    transaction.on_commit(lambda: _remove_stored(paths))
    what = f"deleted the file {file.filename}"
    owners_tell(project, f"{file.filename} deleted", what, actor.username)


def release_delete(*, release: Release, actor: User, request: HttpRequest) -> None:
    project = release.project
    project_check_unfrozen(project)
    paths = _paths(list(release.files.all()))
    with transaction.atomic():
        release.delete()
        journal_record(project=project, action="remove release", version=release.version)
        pages.refresh(project.pk)
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.RELEASE_REMOVE,
            actor=actor,
            request=request,
            version=release.version,
        )
    transaction.on_commit(lambda: _remove_stored(paths))
    what = f"deleted the release {release.version} and its files"
    owners_tell(project, f"{release.version} deleted", what, actor.username)


def project_delete(
    *, project: Project, actor: User, request: HttpRequest, by_staff: bool = False
) -> None:
    """Delete a project, its releases and files; its name stays reserved (ReservedName).
    Owners cannot delete a quarantined project; staff can (`by_staff`)."""
    if not by_staff:
        project_check_unfrozen(project)
    owners = [r.user for r in Role.objects.owners().filter(project=project)]
    paths = _paths(list(File.objects.filter(release__project=project)))
    counted = len(paths)
    # Open stages' bytes go too (closed ones have none left).
    paths += _paths(list(StagedFile.objects.filter(stage__project=project, stage__state="open")))
    name = project.name
    with transaction.atomic():
        normalized_name = project.normalized_name
        ReservedName.objects.update_or_create(
            normalized_name=normalized_name,
            defaults={
                "name_skeleton": name_skeleton(normalized_name),
                "quarantined": project.quarantined,
                "former_owner_ids": [str(owner.pk) for owner in owners],
            },
        )
        project.delete()  # its own history goes with it; the actor's account keeps the record
        pages.remove_project(normalized_name)
        journal_record_name(name=name, action="remove project")
        event_record(
            user=actor,
            tag=EventTag.PROJECT_DELETED,
            request=request,
            project=name,
            files=counted,
        )
    transaction.on_commit(lambda: _remove_stored(paths))
    for owner in owners:
        security_email_send(
            user=owner,
            subject=f"{name}: project deleted",
            template="packages/email/project_changed.txt",
            project=project,
            what=f"deleted the project {name}, its releases and files",
            actor=actor.username,
        )


def project_quarantine(*, project: Project, on: bool, admin: User, request: HttpRequest) -> None:
    """Staff hide a project from the index and close its uploads (on), or release it. Its pages
    go or come back in the same transaction; recorded in the project's history."""
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(quarantined=on)
        # To a mirror a quarantined project is gone, and back when it is released.
        journal_record(project=project, action="quarantine" if on else "release from quarantine")
        if on:
            pages.remove_project(project.normalized_name)
        else:
            pages.refresh(project.pk)
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.QUARANTINE_ON if on else ProjectEventTag.QUARANTINE_OFF,
            actor=admin,
            request=request,
            admin=admin.username,
        )


def project_credential_revoke(
    *, project: Project, token: ApiToken, owner: User, request: HttpRequest
) -> None:
    """An Owner ends someone's token that can upload to their project; its owner is told."""
    token_revoke(
        token=token,
        request=request,
        reason="project-owner",
        project=project.normalized_name,
        revoked_by=owner.username,
    )
    security_email_send(
        user=token.user,
        subject=f"Your API token {token.description!r} was revoked",
        template="tokens/email/token_revoked_by_owner.txt",
        token=token,
        project=project,
        owner=owner.username,
    )
