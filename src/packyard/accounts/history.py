"""An account's security history in sentences a person reads: what happened, in words, from
the event's tag and details. The raw events stay available as JSON for auditors."""

from collections.abc import Callable
from typing import Any

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
    "account:create": lambda d: (
        "Account created" + (" from an invitation" if d.get("invited") else "")
    ),
    "account:login:success": lambda d: (
        f"Logged in with {factor_in_words(str(d.get('method', '')))}"
    ),
    "account:login:failure": lambda d: "Wrong password given",
    "account:login:held_new_device": lambda d: (
        "Login from a new device held for the link we emailed"
    ),
    "account:two_factor:failure": lambda d: f"Wrong second factor given ({_method(d).lower()})",
    "account:two_factor:method_added": lambda d: _named(_method(d), d) + " added",
    "account:two_factor:method_removed": lambda d: _named(_method(d), d) + " removed",
    "account:two_factor:reset_by_admin": lambda d: (
        f"Second factors reset by the administrator {d.get('admin', '')}"
    ),
    "account:two_factor:cloned_key_suspected": lambda d: (
        _named("Security key", d) + " may have been cloned: its counter went back"
    ),
    "account:recovery_codes:generated": lambda d: "New recovery codes generated",
    "account:recovery_codes:used": lambda d: (
        f"Recovery code used to log in ({d.get('remaining', '?')} left)"
    ),
    "account:api_token:added": _token_added,
    "account:api_token:removed": _token_removed,
    "account:api_token:removed_leak": _token_removed,
    "account:api_token:expired": lambda d: f'Token "{d.get("description", "")}" expired',
    "account:password:change": lambda d: "Password changed",
    "account:password:reset": lambda d: "Password reset by email",
    "account:email:verified": lambda d: f"Email address {d.get('email', '')} verified",
    "account:session:revoked": lambda d: (
        f"{d.get('count', 0)} other session{'s' if d.get('count') != 1 else ''} ended"
    ),
    "account:project:deleted": lambda d: (
        f"Project {d.get('project', '')} deleted, with {d.get('files', 0)} files"
    ),
    "account:frozen": lambda d: f"Account frozen by the administrator {d.get('admin', '')}",
    "account:unfrozen": lambda d: f"Account unfrozen by the administrator {d.get('admin', '')}",
    "account:changed_by_admin": lambda d: (
        f"Account changed by the administrator {d.get('admin', '')}: {d.get('fields', '')}"
    ),
    "account:user_invited": lambda d: f"Invited {d.get('email', '')} to make an account",
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
