"""Project actions by Owners: yanking, deleting; each recorded and announced to the Owners."""

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest

from packyard.accounts.events import event_record
from packyard.accounts.models import User
from packyard.accounts.services import security_email_send
from packyard.packages import pages
from packyard.packages.events import project_event_record
from packyard.packages.models import File, Project, Release, Role

logger = logging.getLogger(__name__)
MAX_YANK_REASON = 512


class ProjectActionError(Exception):
    pass


def _tell_owners(project: Project, subject: str, what: str, actor: User) -> None:
    for role in Role.objects.filter(project=project, role_name=Role.OWNER).select_related("user"):
        security_email_send(
            user=role.user,
            subject=f"{project.name}: {subject}",
            template="packages/email/project_changed.txt",
            project=project,
            what=what,
            actor=actor.username,
        )


def release_yank(*, release: Release, reason: str, actor: User, request: HttpRequest) -> None:
    reason = reason.strip()
    if len(reason) > MAX_YANK_REASON:
        raise ProjectActionError(f"Keep the reason under {MAX_YANK_REASON} characters.")
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(yanked=True, yanked_reason=reason)
        pages.refresh(release.project_id)
        project_event_record(
            projects=[release.project],
            tag="project:release:yank",
            actor=actor,
            request=request,
            version=release.version,
            reason=reason,
        )
    _tell_owners(release.project, f"{release.version} yanked", f"yanked {release.version}", actor)


def release_unyank(*, release: Release, actor: User, request: HttpRequest) -> None:
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(yanked=False, yanked_reason="")
        pages.refresh(release.project_id)
        project_event_record(
            projects=[release.project],
            tag="project:release:unyank",
            actor=actor,
            request=request,
            version=release.version,
        )
    what = f"un-yanked {release.version}"
    _tell_owners(release.project, f"{release.version} un-yanked", what, actor)


def _remove_stored(paths: list[str]) -> None:
    # After the commit: a file is gone from the index once its row is; the bytes follow.
    for path in paths:
        try:
            default_storage.delete(path)
        except OSError:
            logger.exception("could not remove %s from the file store", path)


def _paths(files: list[File]) -> list[str]:
    return [p for f in files for p in (f.path, f.metadata_path) if p]


def file_delete(*, file: File, actor: User, request: HttpRequest) -> None:
    project = file.release.project
    paths = _paths([file])
    with transaction.atomic():
        file.delete()
        pages.refresh(project.pk)
        project_event_record(
            projects=[project],
            tag="project:file:remove",
            actor=actor,
            request=request,
            filename=file.filename,
        )
    transaction.on_commit(lambda: _remove_stored(paths))
    _tell_owners(project, f"{file.filename} deleted", f"deleted the file {file.filename}", actor)


def release_delete(*, release: Release, actor: User, request: HttpRequest) -> None:
    project = release.project
    paths = _paths(list(release.files.all()))
    with transaction.atomic():
        release.delete()
        pages.refresh(project.pk)
        project_event_record(
            projects=[project],
            tag="project:release:remove",
            actor=actor,
            request=request,
            version=release.version,
        )
    transaction.on_commit(lambda: _remove_stored(paths))
    what = f"deleted the release {release.version} and its files"
    _tell_owners(project, f"{release.version} deleted", what, actor)


def project_delete(*, project: Project, actor: User, request: HttpRequest) -> None:
    owners = [r.user for r in Role.objects.filter(project=project, role_name=Role.OWNER)]
    paths = _paths(list(File.objects.filter(release__project=project)))
    name = project.name
    with transaction.atomic():
        normalized_name = project.normalized_name
        project.delete()  # its own history goes with it; the actor's account keeps the record
        pages.remove_project(normalized_name)
        pages.index_invalidate()
        event_record(
            user=actor,
            tag="account:project:deleted",
            request=request,
            project=name,
            files=len(paths),
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
