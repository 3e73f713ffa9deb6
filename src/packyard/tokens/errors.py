"""What a refused token says."""

GENERIC_FAILURE = "Invalid or non-existent authentication information."


class TokenError(Exception):
    """A token was refused; the message says why, without revealing secrets."""


class TokenScopeError(TokenError):
    """The token holds, but not for this project, version or action."""
