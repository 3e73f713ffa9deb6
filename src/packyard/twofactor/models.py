from django.db import models
from django.utils import timezone

from packyard.accounts.models import User


class TOTPDevice(models.Model):
    """An authenticator app. One per account; replacing it makes a new row."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    sealed_secret = models.BinaryField()  # AES-GCM under a key derived from the server secret
    # The last time step accepted: a code of this step or an earlier one is never accepted again.
    last_used_step = models.BigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"TOTP of {self.user_id}"


class WebAuthnCredential(models.Model):
    """A security key, or a passkey (a discoverable credential with user verification)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="webauthn_credentials")
    label = models.CharField(max_length=64)
    credential_id = models.BinaryField(max_length=1023)
    credential_id_digest = models.CharField(max_length=64, unique=True)  # sha256, for lookups
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    aaguid = models.CharField(max_length=36, blank=True)
    transports = models.JSONField(default=list, blank=True)
    is_passkey = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "label"], name="twofactor_webauthn_label_unique"
            )
        ]
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.label} ({self.user_id})"


class RecoveryCode(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_digest = models.CharField(max_length=64)  # HMAC-SHA-256 under the server secret
    created = models.DateTimeField(default=timezone.now)
    burned = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"
