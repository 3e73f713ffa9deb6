import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from packyard.tokens.macaroon import derive_key


class Publisher(models.Model):
    """A CI workflow that may publish a project: identity tokens from `issuer_url` whose claims
    satisfy `claims` are exchanged for short-lived upload tokens.

    A pending publisher has no project yet, only the name it will create at its first exchange
    (with `added_by` as the Owner); registering one does not reserve the name."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(
        "packages.Project", null=True, on_delete=models.CASCADE, related_name="publishers"
    )
    pending_name = models.CharField(max_length=200, blank=True)
    pending_normalized_name = models.CharField(max_length=200, blank=True, db_index=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="publishers"
    )
    issuer_url = models.CharField(max_length=300)
    kind = models.CharField(max_length=20)
    # Claim name -> the value it must have (see trusted.rules for each kind's claims).
    claims = models.JSONField(default=dict)
    # GitHub events that run with a repository's secrets on code from elsewhere, refused unless
    # listed here: pull_request_target, workflow_run.
    allowed_events = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created"]
        indexes = [models.Index(fields=["issuer_url"])]

    def __str__(self) -> str:
        return f"{self.kind} publisher {self.id}"

    @property
    def is_pending(self) -> bool:
        return self.project_id is None


class PublisherToken(models.Model):
    """An upload token minted for an identity token: for the projects of the publishers it
    matched, minutes long, upload only. The macaroon's identifier is `trusted:<id>`. Publishers
    are named by id, not by key: removing a publisher ends its tokens at their next use."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    publisher_ids = models.JSONField(default=list)
    project_ids = models.JSONField(default=list)
    key_salt = models.BinaryField(max_length=32)
    caveats = models.JSONField(default=list)
    # What the identity token said of the run that asked (repository, workflow, ref, commit,
    # run address), recorded with each file it uploads.
    run = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"publisher token {self.id}"

    def signing_key(self) -> bytes:
        return derive_key(
            server_secret=settings.PACKYARD_TOKEN_SECRET, salt=b"trusted:" + bytes(self.key_salt)
        )
