"""An account's security history in sentences a person reads: what happened, in words, from
the event's tag and details. The raw events stay available as JSON for auditors."""

from collections.abc import Callable
from typing import Any

from packyard.accounts.events import EventTag
from packyard.accounts.sessions import factor_in_words

Details = dict[str, Any]

METHODS = {
    "totp": "Authenticator app",
    "webauthn": "Security key",
    "passkey": "Passkey",
    "recovery": "Recovery code",
    "security-key": "Security key",
}

# Kinds a reader filters by: the first part of the tag after "account:".
KINDS = {
    "login": "Logins",
    "two_factor": "Second factors",
    "recovery_codes": "Recovery codes",
    "api_token": "API tokens",
    "password": "Password",
    "email": "Email",
    "session": "Sessions",
    "project": "Projects",
    "other": "Staff and other",
}


def _method(details: Details) -> str:
    method = str(details.get("method", ""))
    return METHODS.get(method, factor_in_words(method))


def _named(thing: str, details: Details, key: str = "label") -> str:
    name = str(details.get(key) or "").strip()
    return f'{thing} "{name}"' if name else thing


def _token_added(details: Details) -> str:
    sentence = f'Token "{details.get("description", "")}" created'
    scope = str(details.get("scope") or "")
    if scope:
        sentence += f" ({scope})"
    if details.get("by_operator"):
        sentence += " by the operator"
    return sentence


def _token_removed(details: Details) -> str:
    reason = details.get("reason", "")
    why = {
        "user": "deleted",
        "self": "revoked by itself",
        "single-use": "used up (single use)",
        "leaked": "revoked: it was found in public",
    }.get(str(reason), "revoked")
    return f'Token "{details.get("description", "")}" {why}'


SENTENCES: dict[str, Callable[[Details], str]] = {
    EventTag.CREATE: lambda d: (
        "Account created" + (" from an invitation" if d.get("invited") else "")
    ),
    EventTag.LOGIN_SUCCESS: lambda d: f"Logged in with {factor_in_words(str(d.get('method', '')))}",
    EventTag.LOGIN_FAILURE: lambda d: "Wrong password given",
    EventTag.LOGIN_HELD_NEW_DEVICE: lambda d: (
        "Login from a new device held for the link we emailed"
    ),
    EventTag.TWO_FACTOR_FAILURE: lambda d: f"Wrong second factor given ({_method(d).lower()})",
    EventTag.TWO_FACTOR_METHOD_ADDED: lambda d: _named(_method(d), d) + " added",
    EventTag.TWO_FACTOR_METHOD_REMOVED: lambda d: _named(_method(d), d) + " removed",
    EventTag.TWO_FACTOR_RESET_BY_ADMIN: lambda d: (
        f"Second factors reset by the administrator {d.get('admin', '')}"
    ),
    EventTag.TWO_FACTOR_CLONED_KEY_SUSPECTED: lambda d: (
        _named("Security key", d) + " may have been cloned: its counter went back"
    ),
    EventTag.KEYS_ONLY_ON: lambda d: (
        '"Security keys only" turned on: codes no longer sign in or confirm it is you'
    ),
    EventTag.KEYS_ONLY_OFF_REQUESTED: lambda d: (
        f'Asked to turn "security keys only" off, in effect at {str(d.get("ends", ""))[:16]}'
    ),
    EventTag.KEYS_ONLY_OFF_CANCELLED: lambda d: 'Turning "security keys only" off cancelled',
    EventTag.KEYS_ONLY_OFF: lambda d: '"Security keys only" is off: codes sign in again',
    EventTag.RECOVERY_CODES_GENERATED: lambda d: "New recovery codes generated",
    EventTag.RECOVERY_CODES_USED: lambda d: (
        f"Recovery code used to log in ({d.get('remaining', '?')} left)"
    ),
    EventTag.API_TOKEN_ADDED: _token_added,
    EventTag.API_TOKEN_REMOVED: _token_removed,
    EventTag.API_TOKEN_REMOVED_LEAK: _token_removed,
    EventTag.API_TOKEN_EXPIRED: lambda d: f'Token "{d.get("description", "")}" expired',
    EventTag.PASSWORD_CHANGE: lambda d: "Password changed",
    EventTag.PASSWORD_RESET: lambda d: "Password reset by email",
    EventTag.PENDING_PUBLISHER_ADDED: lambda d: (
        f"Pending trusted publisher for the new project {d.get('project', '')} added: "
        f"{d.get('publisher', '')}"
    ),
    EventTag.PENDING_PUBLISHER_REMOVED: lambda d: (
        f"Pending trusted publisher for {d.get('project', '')} removed"
        + (f": {d['reason']}" if d.get("reason") else "")
    ),
    EventTag.EMAIL_VERIFIED: lambda d: f"Email address {d.get('email', '')} verified",
    EventTag.SESSION_REVOKED: lambda d: (
        f"{d.get('count', 0)} other session{'s' if d.get('count') != 1 else ''} ended"
    ),
    EventTag.PROJECT_DELETED: lambda d: (
        f"Project {d.get('project', '')} deleted, with {d.get('files', 0)} files"
    ),
    EventTag.FROZEN: lambda d: f"Account frozen by the administrator {d.get('admin', '')}",
    EventTag.UNFROZEN: lambda d: f"Account unfrozen by the administrator {d.get('admin', '')}",
    EventTag.CHANGED_BY_ADMIN: lambda d: (
        f"Account changed by the administrator {d.get('admin', '')}: {d.get('fields', '')}"
    ),
    EventTag.USER_INVITED: lambda d: f"Invited {d.get('email', '')} to make an account",
}


def sentence_from(
    sentences: dict[str, Callable[[Details], str]], tag: str, details: Details | None
) -> str:
    """The sentence for an event; for a tag without one, the tag itself in words."""
    describe = sentences.get(tag)
    if describe is None:
        words = tag.split(":", 1)[-1].replace(":", " ").replace("_", " ")
        return words.capitalize()
    return describe(details or {})


def event_sentence(tag: str, details: Details | None) -> str:
    return sentence_from(SENTENCES, tag, details)


def event_kind(tag: str) -> str:
    kind = tag.removeprefix("account:").split(":", 1)[0]
    return kind if kind in KINDS else "other"


def tags_of_kind(kind: str) -> list[str]:
    return [tag for tag in SENTENCES if event_kind(tag) == kind]
