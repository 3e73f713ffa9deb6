import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from packyard.tokens.macaroon import derive_key


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self) -> "ApiTokenQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires__isnull=True) | models.Q(expires__gt=now)
        )


class ApiToken(models.Model):
    # The macaroon's identifier: the only thing of the token the database can look up.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    description = models.CharField(max_length=100)
    # The macaroon key is HMAC(server secret, salt): a copy of the database cannot forge tokens.
    key_salt = models.BinaryField(max_length=32)
    # The caveats issued with the token, checked again at every use.
    caveats = models.JSONField(default=list)
    project_names = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    last_used_user_agent = models.CharField(max_length=512, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)
    # Made with `packyard token create` by the server's operator: exempt from the 2FA policy.
    minted_by_operator = models.BooleanField(default=False)
    # Its uploads wait in a stage for an Owner's (or Maintainer's) approval: never published
    # directly.
    stage_only = models.BooleanField(default=False)
    # Made in a session that logged in with a second factor.
    made_with_second_factor = models.BooleanField(default=False)
    # The scope as chosen (see services.TokenScope), to show it and to make "another like this".
    scope = models.JSONField(default=dict, blank=True)
    # Expiry notices already sent: "7d", "1d", "expired".
    expiry_notices = models.JSONField(default=list, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.description} ({self.user_id})"

    def signing_key(self) -> bytes:
        """The macaroon key: derived from the server's secret and this token's own salt."""
        return derive_key(server_secret=settings.PACKYARD_TOKEN_SECRET, salt=bytes(self.key_salt))

    @property
    def scope_label(self) -> str:
        from packyard.tokens.scope import TokenScope  # the scope module builds on the models' app

        return TokenScope.from_dict({**self.scope, "projects": self.project_names}).label()

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()
