"""The upload's steps after authentication (docs/architecture.md, "The upload pipeline"):
receive the body, check the form, the metadata, the digests and the archive, authorize the
uploader for the project (token scope, roles, quarantine, names, new-project limits), store,
and record who uploaded what."""

import hmac

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, QueryDict
from packaging.utils import canonicalize_name

from packyard.accounts.models import User
from packyard.accounts.ratelimit import Limit, RateLimited, hit_all
from packyard.http import Refused, client_ip
from packyard.packages import loosening
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.models import File, Project, Publisher, Role, Stage, StagedFile
from packyard.packages.services import (
    NameReserved,
    ProjectActionError,
    project_name_claim,
)
from packyard.packages.stages import services as stages
from packyard.packages.trusted.credentials import PublisherIdentity
from packyard.packages.trusted.publishers import publisher_describe, untrusted_upload_tell
from packyard.packages.upload import archive, auth, metadata, receive, store
from packyard.packages.upload.errors import UploadRefused
from packyard.tokens.errors import TokenError, TokenScopeError

DIGEST_FIELDS = ("sha256_digest", "blake2_256_digest", "md5_digest")


def _check_form(fields: QueryDict) -> None:
    action = fields.get(":action", "")
    if action != "file_upload":
        raise UploadRefused(f"Unknown :action {action!r}: this endpoint accepts file_upload.")
    version = fields.get("protocol_version", "1")
    if version != "1":
        raise UploadRefused(f"Unknown protocol_version {version!r}: this endpoint speaks 1.")


def _check_digests(fields: QueryDict, received: receive.ReceivedFile) -> None:
    actual = {
        "sha256_digest": received.sha256,
        "blake2_256_digest": received.blake2_256,
        "md5_digest": received.md5,
    }
    if not any(fields.get(name, "").strip() for name in DIGEST_FIELDS):
        return
    for name in DIGEST_FIELDS:
        claimed = fields.get(name, "").strip().lower()
        if claimed and not hmac.compare_digest(claimed.encode(), actual[name].encode()):
            raise UploadRefused(
                f"The {name.removesuffix('_digest')} digest supplied does not match the file."
            )


NEW_PROJECT_LIMIT_WINDOW = 3600


def _new_project_limits(request: HttpRequest, user: User) -> list[tuple[Limit, str]]:
    per_hour = settings.PACKYARD_NEW_PROJECTS_PER_HOUR
    return [
        (Limit("new-project-user", per_hour, NEW_PROJECT_LIMIT_WINDOW), str(user.pk)),
        (Limit("new-project-ip", per_hour, NEW_PROJECT_LIMIT_WINDOW), client_ip(request)),
    ]


def _by_operator(uploader: auth.Uploader) -> bool:
    return uploader.identity is not None and uploader.identity.token.minted_by_operator


def _too_many_new_projects(exc: RateLimited) -> Refused:
    return exc.refusal("Too many new projects created")


def _check_new_project(request: HttpRequest, uploader: auth.Uploader) -> None:
    """An early answer before the archive is read; the creation is counted (atomically, in the
    upload's transaction) when the project row is made."""
    user = uploader.user
    assert user is not None  # a trusted publisher never creates a project here
    # The operator's own tokens (`packyard token create`) import in bulk, e.g. a migration.
    if not _by_operator(uploader):
        try:
            for limit, subject in _new_project_limits(request, user):
                limit.peek(subject)
        except RateLimited as exc:
            raise _too_many_new_projects(exc) from None
    most = settings.PACKYARD_MAX_PROJECTS_PER_USER
    if most and Role.objects.owners().filter(user=user).count() >= most:
        raise UploadRefused(f"You own {most} projects, the most this index allows per account.")


def _claim_name(normalized_name: str, user: User) -> None:
    try:
        project_name_claim(normalized_name=normalized_name, user=user)
    except NameReserved as exc:
        raise UploadRefused(str(exc), 403) from None
    except ProjectActionError as exc:
        raise UploadRefused(str(exc), 400) from None


class UploadAuthorizer:
    """May this uploader put this version into this project (None: a project to create)?
    Called before the archive is read and again inside the transaction; remembers whether the
    last answer was for creating the project."""

    def __init__(
        self, request: HttpRequest, uploader: auth.Uploader, normalized_name: str, version: str
    ) -> None:
        self.request = request
        self.uploader = uploader
        self.normalized_name = normalized_name
        self.version = version
        self.creating = False
        self.publisher: Publisher | None = None  # the trusted publisher that uploads, if one

    def __call__(self, project: Project | None) -> None:
        if self.uploader.publisher is not None:
            self._authorize_publisher(self.uploader.publisher, project)
            return
        user = self.uploader.user
        assert user is not None  # every credential but a publisher's belongs to an account
        if self.uploader.identity is not None:
            try:
                self.uploader.identity.check_project(
                    project_name=self.normalized_name,
                    project_id=str(project.id) if project is not None else None,
                    version=self.version,
                )
            except TokenScopeError as exc:
                raise UploadRefused(str(exc), 403) from None
        self.creating = project is None
        if project is None:
            _claim_name(self.normalized_name, user)
            _check_new_project(self.request, self.uploader)
            return
        _check_open(project)
        if project.trusted_publishing_only:
            raise UploadRefused(
                f"The project {project.name!r} accepts uploads only from its trusted publishers "
                '(its Owners turned on "trusted publishing only"): publish from its CI '
                "workflow, or ask an Owner to turn the setting off.",
                403,
            )
        if not Role.objects.filter(project=project, user=user).exists():
            raise UploadRefused(
                f"The user {user.username!r} isn't allowed to upload to project {project.name!r}.",
                403,
            )
        if loosening.keys_missing(project, user):
            raise UploadRefused(
                f"The project {project.name!r} requires its Owners and Maintainers to have a "
                f"security key or passkey, and {user.username!r} has none: add one at "
                f"{settings.BASE_URL}/manage/account/two-factor/ and upload again.",
                403,
            )

    def _authorize_publisher(self, identity: PublisherIdentity, project: Project | None) -> None:
        """A trusted publisher uploads to the existing projects it was given a token for."""
        try:
            publisher = identity.publisher_for(project)
            assert project is not None  # publisher_for refuses a project to create
            identity.check_project(project=project, version=self.version)
        except TokenError as exc:
            raise UploadRefused(str(exc), 403) from None
        _check_open(project)
        self.publisher = publisher
        self.creating = False


def _check_open(project: Project) -> None:
    if project.quarantined:
        raise UploadRefused(
            f"The project {project.name!r} is quarantined by this index's administrators: "
            "uploads are closed until they review it.",
            403,
        )
    if project.status == Project.ARCHIVED:
        raise UploadRefused(
            f"The project {project.name!r} is archived by its Owners: it takes no more uploads. "
            "An Owner can unarchive it (which takes effect after a delay).",
            403,
        )


OK = "OK\n"


def process(request: HttpRequest, uploader: auth.Uploader) -> str:
    """Receive, check, authorize and store one upload; raises UploadRefused at the first step
    that fails, with nothing stored. Returns the answer's text: "OK", or where the file was
    staged."""
    fields, received = receive.receive(request, max_size=settings.PACKYARD_MAX_FILE_SIZE)
    try:
        _check_form(fields)
        meta = metadata.metadata_from_form(fields)
        filetype = fields.get("filetype", "")
        filename = received.client_filename
        archive.check_filename(
            filename=filename, filetype=filetype, name=meta.name, version=meta.version
        )
        _check_digests(fields, received)
        authorize = UploadAuthorizer(
            request, uploader, canonicalize_name(meta.name), str(meta.version)
        )
        project = Project.objects.filter(normalized_name=canonicalize_name(meta.name)).first()
        # A loosening whose delay has passed takes effect before it is judged by.
        if project is not None:
            project = loosening.apply_due(project)
        stage_only = uploader.identity is not None and uploader.identity.token.stage_only
        if stage_only and project is None:
            raise UploadRefused(
                f"The project {meta.name!r} does not exist, and a stage-only token uploads to "
                "existing projects only (their Owners approve what is staged).",
                403,
            )
        authorize(project)
        if store.file_already_exists(filename, received.sha256):
            return OK
        checked = archive.check_archive(
            received.path,
            filename=filename,
            filetype=filetype,
            size=received.size,
            name=meta.name,
            version=meta.version,
        )
        upload = store.Upload(
            metadata=meta,
            filename=filename,
            filetype=filetype,
            python_version=fields.get("pyversion", "")[:64] or "source",
            received=received,
            core_metadata=checked.core_metadata,
            declared_dynamic=tuple(value.strip() for value in fields.getlist("dynamic")),
            published_by=uploader.publisher.token.run if uploader.publisher is not None else {},
            stage_reason=stages.stage_reason(project, stage_only_token=stage_only),
            credential=uploader.method + (" (stage only)" if stage_only else ""),
        )
        stage = store.record_upload(
            upload=upload,
            user=uploader.user,
            authorize=authorize,
            recorded=lambda project, file: _record_event(
                request, uploader, authorize, project, file
            ),
            recorded_staged=lambda project, stage, file, new: _record_staged_event(
                request, uploader, project, stage, file, new
            ),
        )
        if stage is None:
            return OK
        return (
            f"Staged: {filename} waits in the stage of {stage.project.name} {stage.version} "
            f"({upload.stage_reason}). Try it: pip install --index-url "
            f"{stages.stage_index_url(stage)} {stage.project.normalized_name}=={stage.version}\n"
            f"Approve at {stages.stage_review_url(stage)}\n"
        )
    finally:
        received.upload.close()


def _record_staged_event(
    request: HttpRequest,
    uploader: auth.Uploader,
    project: Project,
    stage: Stage,
    file: StagedFile,
    new: bool,
) -> None:
    """Staged, not published: in the history with its credential; the Owners hear of a new
    stage once it is committed."""
    if new:
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.STAGE_CREATED,
            actor=uploader.user,
            request=request,
            version=stage.version,
            stage=str(stage.pk),
            reason=stage.reason,
        )
        actor = uploader.user.username if uploader.user is not None else uploader.method
        transaction.on_commit(lambda: stages.stage_created_tell(stage, actor))
    project_event_record(
        projects=[project],
        tag=ProjectEventTag.STAGE_FILE_ADD,
        actor=uploader.user,
        request=request,
        filename=file.filename,
        version=stage.version,
        method=file.credential,
        stage=str(stage.pk),
    )


def _record_event(
    request: HttpRequest,
    uploader: auth.Uploader,
    authorize: UploadAuthorizer,
    project: Project,
    file: File,
) -> None:
    """Who uploaded what, with which credential, from where: in the project's history."""
    if authorize.creating:
        assert uploader.user is not None  # only an account's credential creates a project
        if not _by_operator(uploader):
            # Inside the upload's transaction: a refused or failed upload takes its count along.
            try:
                hit_all(_new_project_limits(request, uploader.user))
            except RateLimited as exc:
                raise _too_many_new_projects(exc) from None
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.CREATE,
            actor=uploader.user,
            request=request,
            name=project.name,
        )
    details: dict[str, str] = {}
    if uploader.identity is not None:
        details["token_id"] = str(uploader.identity.token.id)
    if uploader.publisher is not None and authorize.publisher is not None:
        details |= {
            "token_id": str(uploader.publisher.token.id),
            "publisher": publisher_describe(authorize.publisher),
            "publisher_id": str(authorize.publisher.id),
            **{f"run_{name}": value for name, value in uploader.publisher.token.run.items()},
        }
    project_event_record(
        projects=[project],
        tag=ProjectEventTag.FILE_ADD,
        actor=uploader.user,
        request=request,
        filename=file.filename,
        version=file.release.version,
        method=uploader.method,
        **details,
    )
    if uploader.user is not None and project.publishers.exists():
        user, filename = uploader.user, file.filename
        transaction.on_commit(
            lambda: untrusted_upload_tell(project, filename, user, uploader.method)
        )
