"""Storing a checked file and recording it, so that either both happen or neither is visible."""

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from packaging.metadata import Metadata
from packaging.utils import canonicalize_name, canonicalize_version

from packyard.accounts.models import User
from packyard.packages.filestore import STORE_ERRORS
from packyard.packages.index import pages
from packyard.packages.index.journal import journal_record
from packyard.packages.models import File, Project, Release, Stage, StagedFile, UsedFilename
from packyard.packages.services import project_create
from packyard.packages.stages import services as stages
from packyard.packages.upload.errors import UploadRefused
from packyard.packages.upload.metadata import info_from_metadata
from packyard.packages.upload.receive import ReceivedFile

logger = logging.getLogger(__name__)


@dataclass
class Upload:
    metadata: Metadata
    filename: str
    filetype: str
    python_version: str
    received: ReceivedFile
    core_metadata: bytes | None
    # Dynamic field names as the client wrote them (packaging reads them in lower case).
    declared_dynamic: tuple[str, ...] = ()
    # The CI run a trusted publisher's token came from (rules.run_of), shown beside the file.
    published_by: dict[str, str] = field(default_factory=dict)
    # Why it goes into a stage instead of the index ("" when it does not), and the credential
    # in words for the stage's reviewer.
    stage_reason: str = ""
    credential: str = ""

    @property
    def normalized_name(self) -> str:
        return canonicalize_name(self.metadata.name)


def storage_path(blake2_256: str, filename: str) -> str:
    return f"packages/{blake2_256[:2]}/{blake2_256[2:4]}/{blake2_256[4:]}/{filename}"


def file_already_exists(filename: str, sha256: str) -> bool:
    """True for a byte-identical re-upload (answered 200); refuses a different file of that name."""
    # Every stored file's name is also a used filename, so a new name costs one lookup.
    if not UsedFilename.objects.filter(filename=filename).exists():
        return False
    existing = list(
        File.objects.filter(filename=filename).values_list("sha256_digest", "blake2_256_digest")[:1]
    ) or list(
        StagedFile.objects.filter(filename=filename, stage__state=Stage.OPEN).values_list(
            "sha256_digest", "blake2_256_digest"
        )[:1]
    )
    for sha256_stored, blake2_256_stored in existing:
        if hmac.compare_digest(sha256_stored, sha256):
            return True
        raise UploadRefused(
            f"File already exists ({filename!r}, with blake2_256 hash {blake2_256_stored!r}). "
            "A filename can be used once only: upload a new version instead."
        )
    raise UploadRefused(
        "This filename was previously used by a file that has since been deleted (or by a "
        "stage that was discarded or expired). Use a different version."
    )


def render_description(metadata: Metadata) -> str:
    return description_html(metadata.description or "", metadata.description_content_type or "")


def description_html(text: str, declared_type: str, *, refuse_broken: bool = True) -> str:
    """The description as safe HTML. reStructuredText that does not render is refused (an
    upload can fix it) or, with refuse_broken off (an import keeps what it finds), shown as
    plain text."""
    content_type = (declared_type or "text/x-rst").split(";")[0].strip()
    if not text.strip():
        return ""
    if content_type == "text/markdown":
        variant = "GFM" if "variant=commonmark" not in declared_type else "CommonMark"
        rendered = readme_renderer.markdown.render(text, variant=variant)
    elif content_type == "text/plain":
        rendered = readme_renderer.txt.render(text)
    else:
        rendered = readme_renderer.rst.render(text)
        if rendered is None and not refuse_broken:
            rendered = readme_renderer.txt.render(text)
        if rendered is None:
            raise UploadRefused(
                "The description failed to render as reStructuredText. Set "
                "description_content_type (e.g. text/markdown) or fix the markup."
            )
    return rendered or ""


Authorizer = Callable[[Project | None], None]


def _lock_or_create_project(upload: Upload, user: User | None, authorize: Authorizer) -> Project:
    """The project, locked for this transaction, or a new one with the uploader as its Owner."""
    project = (
        Project.objects.select_for_update().filter(normalized_name=upload.normalized_name).first()
    )
    authorize(project)
    if project is not None and project.releases_need_approval:
        # Turned on since this upload was judged: it must not go public past the setting.
        raise UploadRefused(
            f"The project {project.name!r} now needs approval for releases: upload again and "
            "the file goes into a stage.",
            409,
        )
    if project is None:
        if user is None:  # a trusted publisher's token is for an existing project only
            raise UploadRefused("This upload cannot create a project.", 403)
        project = project_create(
            name=upload.metadata.name, normalized_name=upload.normalized_name, owner=user
        )
    return project


def _check_project_size(project: Project, adding: int) -> None:
    """Published and staged files together: a stage may become the project's at any time."""
    limit = settings.PACKYARD_MAX_PROJECT_SIZE
    total = File.objects.filter(release__project=project).aggregate(total=Sum("size"))["total"]
    if (total or 0) + stages.staged_size(project) + adding > limit:
        raise UploadRefused(
            f"Project size too large. Limit for project {project.name!r} total size is "
            f"{limit / 1024**3:g} GiB. Delete old files, or ask the operator for more.",
        )


class Digested(Protocol):
    size: int
    sha256: str
    blake2_256: str
    md5: str


def file_create(
    *,
    release: Release,
    filename: str,
    digests: Digested,
    packagetype: str,
    python_version: str,
    requires_python: str,
    uploader: User | None,
    core_metadata: bytes | None,
    upload_time: datetime | None = None,
    published_by: dict[str, str] | None = None,
) -> File:
    """A file's rows: its name taken for good, its place in the store by content, and its
    core metadata served beside it (PEP 658). The caller stores the bytes."""
    UsedFilename.objects.create(filename=filename)
    path = storage_path(digests.blake2_256, filename)
    return File.objects.create(
        release=release,
        filename=filename,
        path=path,
        size=digests.size,
        sha256_digest=digests.sha256,
        blake2_256_digest=digests.blake2_256,
        md5_digest=digests.md5,
        packagetype=packagetype,
        python_version=python_version[:64],
        requires_python=requires_python,
        upload_time=upload_time or timezone.now(),
        uploader=uploader,
        published_by=published_by or {},
        metadata_path=path + ".metadata" if core_metadata is not None else "",
        metadata_sha256=(
            hashlib.sha256(core_metadata).hexdigest() if core_metadata is not None else ""
        ),
    )


def file_added(file: File) -> str:
    """A file's journal action in PyPI's words: "add source file x.tar.gz", "add py3 file x.whl"."""
    kind = "source" if file.packagetype == File.SDIST else file.python_version
    return f"add {kind} file {file.filename}"


def _release_for(project: Project, upload: Upload, user: User | None) -> Release:
    version = str(upload.metadata.version)
    canonical = canonicalize_version(upload.metadata.version, strip_trailing_zero=True)
    release = Release.objects.filter(project=project, canonical_version=canonical).first()
    if release is not None:
        return release
    journal_record(project=project, action="new release", version=version, mark_root_stale=False)
    return Release.objects.create(
        project=project,
        version=version,
        canonical_version=canonical,
        summary=(upload.metadata.summary or "")[:512],
        description_html=render_description(upload.metadata),
        description_content_type=upload.metadata.description_content_type or "",
        requires_python=str(upload.metadata.requires_python or ""),
        metadata=info_from_metadata(upload.metadata, dynamic=upload.declared_dynamic),
        uploader=user,
    )


def save_blob(path: str, content: object, created: list[str]) -> None:
    try:
        if default_storage.exists(path):
            return  # content-addressed: the same bytes are already there
        saved = default_storage.save(path, content)  # type: ignore[arg-type]
    except STORE_ERRORS:
        logger.exception("the file store refused %s", path)
        raise UploadRefused(
            "The file store is unavailable; nothing was stored. Try again later.", 503
        ) from None
    created.append(saved)
    if saved != path:
        raise RuntimeError(f"the file store renamed {path!r} to {saved!r}")


Recorder = Callable[[Project, File], None]


def _record(
    upload: Upload, user: User | None, authorize: Authorizer, created: list[str], recorded: Recorder
) -> None:
    received = upload.received
    with transaction.atomic():
        project = _lock_or_create_project(upload, user, authorize)
        release = _release_for(project, upload, user)
        if upload.filetype == File.SDIST and release.files.filter(packagetype=File.SDIST).exists():
            raise UploadRefused("Only one sdist may be uploaded per release.")
        _check_project_size(project, received.size)
        file = file_create(
            release=release,
            filename=upload.filename,
            digests=received,
            packagetype=upload.filetype,
            python_version=upload.python_version,
            requires_python=str(upload.metadata.requires_python or ""),
            uploader=user,
            core_metadata=upload.core_metadata,
            published_by=upload.published_by,
        )
        Project.objects.filter(pk=project.pk).update(
            updated=timezone.now(), search_summary=release.summary
        )
        recorded(project, file)
        journal_record(
            project=project, action=file_added(file), version=release.version, mark_root_stale=False
        )
        pages.changed_locked(project)
        # The bytes land before the rows commit; if the commit fails, they are removed again.
        received.upload.seek(0)
        save_blob(file.path, received.upload, created)
        if upload.core_metadata is not None:
            save_blob(file.metadata_path, ContentFile(upload.core_metadata), created)
        pages.index_invalidate()  # last: the root's row stays locked only until the commit


StagedRecorder = Callable[[Project, Stage, StagedFile, bool], None]


def _record_staged(
    upload: Upload,
    user: User | None,
    authorize: Authorizer,
    created: list[str],
    recorded: StagedRecorder,
) -> Stage:
    """The file into its version's stage (a new one if none is open), not into the index."""
    received = upload.received
    with transaction.atomic():
        project = (
            Project.objects.select_for_update()
            .filter(normalized_name=upload.normalized_name)
            .first()
        )
        authorize(project)
        if project is None:
            raise UploadRefused(
                "A stage is for a project that exists: its Owners approve what is staged. "
                "Create the project with a token that is not stage-only first.",
                403,
            )
        version = str(upload.metadata.version)
        canonical = canonicalize_version(upload.metadata.version, strip_trailing_zero=True)
        try:
            stage, new = stages.stage_for_upload(
                project=project,
                version=version,
                canonical_version=canonical,
                reason=upload.stage_reason,
                user=user,
            )
        except stages.StageError as exc:
            raise UploadRefused(str(exc)) from None
        if new:
            Stage.objects.filter(pk=stage.pk).update(
                summary=(upload.metadata.summary or "")[:512],
                description_html=render_description(upload.metadata),
                description_content_type=upload.metadata.description_content_type or "",
                requires_python=str(upload.metadata.requires_python or ""),
                metadata=info_from_metadata(upload.metadata, dynamic=upload.declared_dynamic),
            )
        if upload.filetype == File.SDIST and stage.files.filter(packagetype=File.SDIST).exists():
            raise UploadRefused("Only one sdist may be uploaded per release.")
        _check_project_size(project, received.size)
        UsedFilename.objects.create(filename=upload.filename)
        path = storage_path(received.blake2_256, upload.filename)
        core = upload.core_metadata
        staged = StagedFile.objects.create(
            stage=stage,
            filename=upload.filename,
            path=path,
            size=received.size,
            sha256_digest=received.sha256,
            blake2_256_digest=received.blake2_256,
            md5_digest=received.md5,
            packagetype=upload.filetype,
            python_version=upload.python_version[:64],
            requires_python=str(upload.metadata.requires_python or ""),
            uploader=user,
            credential=upload.credential[:200],
            metadata_path=path + ".metadata" if core is not None else "",
            metadata_sha256=hashlib.sha256(core).hexdigest() if core is not None else "",
            published_by=upload.published_by,
        )
        recorded(project, stage, staged, new)
        received.upload.seek(0)
        save_blob(staged.path, received.upload, created)
        if core is not None:
            save_blob(staged.metadata_path, ContentFile(core), created)
    return stage


def record_upload(
    *,
    upload: Upload,
    user: User | None,
    authorize: Authorizer,
    recorded: Recorder,
    recorded_staged: StagedRecorder | None = None,
) -> Stage | None:
    """Create the rows and store the bytes in one transaction; undo the store if it fails.
    Returns the stage the file went into, if it did."""
    for attempt in range(2):
        created_paths: list[str] = []
        try:
            if upload.stage_reason:
                assert recorded_staged is not None
                return _record_staged(upload, user, authorize, created_paths, recorded_staged)
            _record(upload, user, authorize, created_paths, recorded)
            return None
        except IntegrityError:
            discard(created_paths)
            if file_already_exists(upload.filename, upload.received.sha256):
                return None
            if attempt == 1:
                raise UploadRefused(
                    "A concurrent upload changed this project; try again.", 409
                ) from None
        except BaseException:
            discard(created_paths)
            raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def discard(paths: list[str]) -> None:
    for path in paths:
        try:
            default_storage.delete(path)
        except STORE_ERRORS:
            logger.exception("could not remove %s after a failed upload", path)
