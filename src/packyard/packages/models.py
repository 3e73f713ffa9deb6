import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from packyard.accounts.models import User


class Project(models.Model):
    # A UUID, so a project deleted and created again under its name is a different project to
    # tokens scoped by id.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)  # as first uploaded
    normalized_name = models.CharField(max_length=200, unique=True)  # PEP 503
    # The latest release's summary, kept here for search.
    search_summary = models.CharField(max_length=512, blank=True)
    # Hidden from the index and closed to uploads by staff, pending a decision.
    quarantined = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)
    members: "models.ManyToManyField[User, Role]" = models.ManyToManyField(
        User, through="Role", related_name="projects"
    )

    # The name with separators removed and look-alike characters folded (name_skeleton): a new
    # project whose skeleton matches an existing one is refused.
    name_skeleton = models.CharField(max_length=200, db_index=True, default="")
    # The serial of the last change to the project's index pages (its newest JournalEntry).
    last_serial = models.BigIntegerField(default=0)
    # Set by an Owner: uploads come only from the project's trusted publishers (CI systems
    # exchanging their identity tokens), never with an API token or a password.
    trusted_publishing_only = models.BooleanField(default=False)
    # Set by an Owner: every Owner and Maintainer needs a security key or passkey to upload.
    require_phishing_resistant = models.BooleanField(default=False)
    # Set by Owners: every upload waits in a stage until an approver publishes it.
    releases_need_approval = models.BooleanField(default=False)
    # Who may publish a stage: Owners only, or Owners and Maintainers.
    stage_approval_owners_only = models.BooleanField(default=False)
    # Publishing a stage needs a security key or passkey (tightens PACKYARD_STAGE_APPROVAL_FACTOR).
    stage_approval_keys = models.BooleanField(default=False)
    # PEP 792, as Owners set it: "" (active), "archived" (no more uploads) or "deprecated".
    # Quarantine is staff's and stays `quarantined`.
    status = models.CharField(max_length=16, blank=True, default="")
    status_reason = models.CharField(max_length=400, blank=True, default="")

    ARCHIVED = "archived"
    DEPRECATED = "deprecated"
    STATUSES = ("", ARCHIVED, DEPRECATED)

    class Meta:
        ordering = ["normalized_name"]

    def __str__(self) -> str:
        return self.name

    @property
    def pep792_status(self) -> str:
        """The status the index announces (PEP 792): never empty."""
        return "quarantined" if self.quarantined else self.status or "active"

    @property
    def frozen_message(self) -> str:
        """Why nobody but staff may change the project now, or "" when they may."""
        if not self.quarantined:
            return ""
        return (
            f"The project {self.name!r} is quarantined by this index's administrators: it cannot "
            "be changed until they review it."
        )


# Look-alike letters, folded as PyPI folds them when it compares project names.
_FOLD = str.maketrans({"o": "0", "l": "1", "i": "1", "-": None})


def name_skeleton(normalized_name: str) -> str:
    """`Req-Uests-x`, `requestsx` and `req-uest-s-x` share one skeleton, as `he1lo` and `hello`."""
    return normalized_name.translate(_FOLD)


class ReservedName(models.Model):
    """The name of a deleted project: nobody but its last Owners may create it again, and then
    it comes back quarantined if it went quarantined. Staff may release it (the admin)."""

    normalized_name = models.CharField(max_length=200, unique=True)
    name_skeleton = models.CharField(max_length=200, db_index=True)
    quarantined = models.BooleanField(default=False)
    former_owner_ids = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.normalized_name


class RoleQuerySet(models.QuerySet["Role"]):
    def owners(self) -> "RoleQuerySet":
        return self.filter(role_name=Role.OWNER)


class Role(models.Model):
    OWNER = "Owner"
    MAINTAINER = "Maintainer"
    ROLE_CHOICES = [(OWNER, OWNER), (MAINTAINER, MAINTAINER)]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="roles"
    )
    role_name = models.CharField(max_length=16, choices=ROLE_CHOICES)
    created = models.DateTimeField(default=timezone.now)

    objects = RoleQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="packages_role_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role_name} of {self.project_id}"


class Release(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    version = models.CharField(max_length=100)  # as uploaded
    canonical_version = models.CharField(max_length=100)  # 1.0 and 1.0.0 are one release
    created = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=512, blank=True)
    description_html = models.TextField(blank=True)
    description_content_type = models.CharField(max_length=128, blank=True)
    requires_python = models.CharField(max_length=256, blank=True)
    # The core metadata of the first upload, in the JSON API's field names.
    metadata = models.JSONField(default=dict)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    yanked = models.BooleanField(default=False)
    yanked_reason = models.CharField(max_length=512, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "canonical_version"], name="packages_release_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.version}"


class File(models.Model):
    SDIST = "sdist"
    WHEEL = "bdist_wheel"
    PACKAGETYPE_CHOICES = [(SDIST, SDIST), (WHEEL, WHEEL)]

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255, unique=True)
    path = models.CharField(max_length=512, db_index=True)  # in the file store, by content
    size = models.BigIntegerField()
    sha256_digest = models.CharField(max_length=64, db_index=True)
    blake2_256_digest = models.CharField(max_length=64)
    md5_digest = models.CharField(max_length=32)
    packagetype = models.CharField(max_length=16, choices=PACKAGETYPE_CHOICES)
    python_version = models.CharField(max_length=64)
    requires_python = models.CharField(max_length=256, blank=True)
    upload_time = models.DateTimeField(default=timezone.now)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # PEP 658: the wheel's METADATA, served beside the file.
    metadata_path = models.CharField(max_length=512, blank=True, db_index=True)
    metadata_sha256 = models.CharField(max_length=64, blank=True)
    # For a file a trusted publisher uploaded: the CI run that made it (repository, workflow,
    # ref, commit, run address), shown beside the file.
    published_by = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["filename"]

    def __str__(self) -> str:
        return self.filename


class UsedFilename(models.Model):
    """Every filename ever uploaded, so a deleted file's name is never reused for other bytes."""

    filename = models.CharField(max_length=255, unique=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.filename


class ProjectEvent(models.Model):
    """The security history of a project, for its Owners."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    tag = models.CharField(max_length=64)  # one of packages.events.ProjectEventTag
    time = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    additional = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "-time"])]
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.tag} {self.project_id} {self.time:%Y-%m-%d %H:%M}"


class Invitation(models.Model):
    """An Owner's invitation for a user to become an Owner or Maintainer of a project."""

    LIFETIME_DAYS = 7

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    role_name = models.CharField(max_length=16, choices=Role.ROLE_CHOICES)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    answered = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True)  # accepted, declined, revoked

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.invitee_id} as {self.role_name} of {self.project_id}"

    @property
    def is_open(self) -> bool:
        return not self.answered and self.expires > timezone.now()


class JournalEntry(models.Model):
    """One change to a project's index pages, as PyPI's journal keeps them: its id is the
    change serial mirrors follow (`X-PyPI-Last-Serial`, `_last-serial`, XML-RPC's changelog)."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=200)  # the project's name, which outlives the project
    normalized_name = models.CharField(max_length=200, db_index=True)
    version = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=300)  # in PyPI's words: "new release", "remove file x"
    submitted = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"{self.id} {self.name} {self.version} {self.action}"


class RenderedPage(models.Model):
    """A public index page, rendered once per change and served from here by every worker.

    Project pages are rendered (or, for very large projects, removed) inside the transaction
    that changes the project, so they are never older than the rows they describe. The root
    pages list every project: a change marks them stale, and the next reader renders them again
    under a lock (see `pages`)."""

    key = models.CharField(max_length=320, primary_key=True)
    etag = models.CharField(max_length=80)
    # Empty when only the compressed copy is kept (pages above a mebibyte: see `pages`).
    body = models.BinaryField()
    # The body gzip-compressed, for pages large enough to be worth it.
    body_gzip = models.BinaryField(null=True)
    stale = models.BooleanField(default=False)
    serial = models.BigIntegerField(default=0)  # sent as X-PyPI-Last-Serial
    # The PACKYARD_BASE_URL its absolute links were rendered with (JSON API pages name files by
    # full URL); empty for pages with none. Pages of another address are dropped at start.
    base_url = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return self.key


class SettingChange(models.Model):
    """A loosening of a project's security setting, announced to every Owner and waiting out
    PACKYARD_LOOSEN_DELAY, during which any Owner may cancel it (`packages.loosening`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="setting_changes")
    setting = models.CharField(max_length=64)  # a key of loosening.SETTINGS
    value = models.JSONField()  # what the setting becomes
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested = models.DateTimeField(default=timezone.now)
    effective = models.DateTimeField(db_index=True)
    cancelled = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One waiting change per setting: a second request is refused, not queued.
            models.UniqueConstraint(
                fields=["project", "setting"],
                condition=models.Q(cancelled__isnull=True, applied__isnull=True),
                name="packages_settingchange_one_waiting",
            )
        ]
        ordering = ["-requested"]

    def __str__(self) -> str:
        return f"{self.setting}={self.value!r} for {self.project_id}"

    @property
    def waiting(self) -> bool:
        return self.cancelled is None and self.applied is None


# Stages and trusted publishing live beside the code that uses them; Django finds them here.
from packyard.packages.stages.models import Stage, StagedFile  # noqa: E402
from packyard.packages.trusted.models import Publisher, PublisherToken  # noqa: E402

__all__ = [
    "File",
    "Invitation",
    "JournalEntry",
    "Project",
    "ProjectEvent",
    "Publisher",
    "PublisherToken",
    "Release",
    "RenderedPage",
    "ReservedName",
    "Role",
    "SettingChange",
    "Stage",
    "StagedFile",
    "UsedFilename",
]
