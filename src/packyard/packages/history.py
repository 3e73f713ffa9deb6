"""A project's security history in sentences, from each event's tag and details."""

from collections.abc import Callable

from packyard.accounts.history import Details, sentence_from


def _token(details: Details) -> str:
    return f'token "{details.get("description", "")}" of {details.get("holder", "someone")}'


def _invitation_withdrawn(details: Details) -> str:
    sentence = f"Invitation of {details.get('invitee', '')} withdrawn"
    return f"{sentence}: {details['reason']}" if details.get("reason") else sentence


SENTENCES: dict[str, Callable[[Details], str]] = {
    "project:create": lambda d: f"Project {d.get('name', '')} created",
    "project:file:add": lambda d: (
        f"{d.get('filename', '')} uploaded ({d.get('version', '')}) with {d.get('method', '')}"
    ),
    "project:file:remove": lambda d: f"{d.get('filename', '')} deleted",
    "project:release:yank": lambda d: (
        f"{d.get('version', '')} yanked" + (f": {d['reason']}" if d.get("reason") else "")
    ),
    "project:release:unyank": lambda d: f"{d.get('version', '')} no longer yanked",
    "project:release:remove": lambda d: f"{d.get('version', '')} and its files deleted",
    "project:role:invite": lambda d: f"{d.get('invitee', '')} invited as {d.get('role', '')}",
    "project:role:accepted": lambda d: f"Invitation as {d.get('role', '')} accepted",
    "project:role:declined": lambda d: f"Invitation as {d.get('role', '')} declined",
    "project:role:revoke_invite": _invitation_withdrawn,
    "project:role:change": lambda d: (
        f"{d.get('user', '')} made {d.get('new', '')} (was {d.get('old', '')})"
    ),
    "project:role:remove": lambda d: f"{d.get('user', '')} removed ({d.get('role', '')})",
    "project:quarantine:on": lambda d: f"Quarantined by the administrator {d.get('admin', '')}",
    "project:quarantine:off": lambda d: (
        f"Released from quarantine by the administrator {d.get('admin', '')}"
    ),
    "project:api_token:added": lambda d: f"API {_token(d)} can upload here",
    "project:api_token:removed": lambda d: f"API {_token(d)} revoked",
    "project:api_token:removed_leak": lambda d: f"API {_token(d)} revoked: found in public",
    "project:api_token:expired": lambda d: f"API {_token(d)} expired",
}


def event_sentence(tag: str, details: Details | None) -> str:
    return sentence_from(SENTENCES, tag, details)
