import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    # A UUID, as on PyPI: tokens name their user in a caveat that pypitoken reads as a UUID.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254)
    email_verified = models.BooleanField(default=False)
    # Chosen by the user: only security keys and passkeys sign in or confirm it is them (TOTP
    # and recovery codes do not). Turning it off waits until `security_keys_only_ends`.
    security_keys_only = models.BooleanField(default=False)
    security_keys_only_ends = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    @property
    def can_publish(self) -> bool:
        return self.is_active and self.email_verified


class Event(models.Model):
    """The security history of an account: every credential use and security change."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="events")
    # One of accounts.events.EventTag; no choices here, so a new tag needs no migration.
    tag = models.CharField(max_length=64)
    time = models.DateTimeField(auto_now_add=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    additional = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-time"])]
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.tag} {self.user_id} {self.time:%Y-%m-%d %H:%M}"


class RateLimitCounter(models.Model):
    """A fixed-window counter shared by every worker process through the database."""

    key = models.CharField(max_length=255, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class UserSession(models.Model):
    """A web login, listed for its owner and revocable: a session whose row is gone is logged out
    at its next request."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=40, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    factor = models.CharField(max_length=64, blank=True)  # how it logged in

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"session of {self.user_id} since {self.created:%Y-%m-%d %H:%M}"


class KnownDevice(models.Model):
    """A browser that has logged in before: it carries a random token in a cookie, we keep its
    HMAC. A TOTP or recovery-code login from an unknown browser and address is held until the
    emailed link is opened."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_devices")
    token_digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"device of {self.user_id}"
