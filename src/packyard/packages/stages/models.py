import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Stage(models.Model):
    """A release in waiting: its files are stored and checked, installable from the stage's own
    index (`/stage/<key>/simple/`), and in none of the public pages until it is published."""

    OPEN = "open"
    PUBLISHED = "published"
    DISCARDED = "discarded"
    EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SHA-256 of the key in the stage's address (`services.stage_key`): the key itself is derived
    # from the server's secret and kept nowhere, so a copy of the database opens no stage.
    key_digest = models.CharField(max_length=64, unique=True)
    project = models.ForeignKey("packages.Project", on_delete=models.CASCADE, related_name="stages")
    version = models.CharField(max_length=100)  # as first uploaded
    canonical_version = models.CharField(max_length=100)
    # "stage-only token" or "releases need approval": why the uploads were staged.
    reason = models.CharField(max_length=32)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires = models.DateTimeField()
    state = models.CharField(max_length=16, default=OPEN)
    closed = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_operator = models.BooleanField(default=False)  # published with `packyard stage publish`
    serial = models.BigIntegerField(null=True, blank=True)  # the journal entry of its publishing
    # The release's fields from the first upload, as a Release takes them at publishing.
    summary = models.CharField(max_length=512, blank=True)
    description_html = models.TextField(blank=True)
    description_content_type = models.CharField(max_length=128, blank=True)
    requires_python = models.CharField(max_length=256, blank=True)
    metadata = models.JSONField(default=dict)

    class Meta:
        constraints = [
            # Files of one version join the version's open stage.
            models.UniqueConstraint(
                fields=["project", "canonical_version"],
                condition=models.Q(state="open"),
                name="packages_stage_one_open_per_version",
            )
        ]
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"stage of {self.project_id} {self.version} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == self.OPEN and self.expires > timezone.now()


class StagedFile(models.Model):
    """A file uploaded into a stage: a File row once the stage is published. Its name is used
    for good from the moment it is staged, so what is published is what was staged and seen."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255, unique=True)
    path = models.CharField(max_length=512)  # in the file store, by content, as File's
    size = models.BigIntegerField()
    sha256_digest = models.CharField(max_length=64)
    blake2_256_digest = models.CharField(max_length=64)
    md5_digest = models.CharField(max_length=32)
    packagetype = models.CharField(max_length=16)
    python_version = models.CharField(max_length=64)
    requires_python = models.CharField(max_length=256, blank=True)
    upload_time = models.DateTimeField(default=timezone.now)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    credential = models.CharField(max_length=200)  # in words: "token 'ci' (stage only)"
    metadata_path = models.CharField(max_length=512, blank=True)
    metadata_sha256 = models.CharField(max_length=64, blank=True)
    published_by = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["filename"]

    def __str__(self) -> str:
        return self.filename
