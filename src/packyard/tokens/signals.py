"""What tokens tell the rest of the index, without knowing it: a project's history listens."""

from enum import StrEnum

from django.dispatch import Signal


class TokenChange(StrEnum):
    ADDED = "added"
    REVOKED = "revoked"
    LEAKED = "leaked"  # revoked because it was found in public


# Sent inside the transaction that adds or revokes a token, with `token`, `change` (a
# TokenChange), `request` (or None) and `details` (a dict).
token_changed = Signal()
