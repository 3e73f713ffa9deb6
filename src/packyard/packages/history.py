"""A project's security history in sentences, from each event's tag and details."""

from collections.abc import Callable

from packyard.accounts.history import Details, sentence_from
from packyard.packages.events import ProjectEventTag


def _token(details: Details) -> str:
    return f'token "{details.get("description", "")}" of {details.get("holder", "someone")}'


def _invitation_withdrawn(details: Details) -> str:
    sentence = f"Invitation of {details.get('invitee', '')} withdrawn"
    return f"{sentence}: {details['reason']}" if details.get("reason") else sentence


def _file_added(details: Details) -> str:
    uploaded = f"{details.get('filename', '')} uploaded ({details.get('version', '')})"
    if details.get("publisher"):
        run = f"{details.get('run_source', '')} run {details.get('run_run', '')}"
        ref = f" at {details['run_ref']}" if details.get("run_ref") else ""
        return f"{uploaded} by the trusted publisher {details['publisher']} ({run}{ref})"
    return f"{uploaded} with {details.get('method', '')}"


SENTENCES: dict[str, Callable[[Details], str]] = {
    ProjectEventTag.CREATE: lambda d: f"Project {d.get('name', '')} created",
    ProjectEventTag.FILE_ADD: _file_added,
    ProjectEventTag.FILE_REMOVE: lambda d: f"{d.get('filename', '')} deleted",
    ProjectEventTag.RELEASE_YANK: lambda d: (
        f"{d.get('version', '')} yanked" + (f": {d['reason']}" if d.get("reason") else "")
    ),
    ProjectEventTag.RELEASE_IMPORT: lambda d: (
        f"{d.get('version', '')} imported from {d.get('source', 'another index')}"
    ),
    ProjectEventTag.RELEASE_UNYANK: lambda d: f"{d.get('version', '')} no longer yanked",
    ProjectEventTag.RELEASE_REMOVE: lambda d: f"{d.get('version', '')} and its files deleted",
    ProjectEventTag.ROLE_INVITE: lambda d: f"{d.get('invitee', '')} invited as {d.get('role', '')}",
    ProjectEventTag.ROLE_ACCEPTED: lambda d: f"Invitation as {d.get('role', '')} accepted",
    ProjectEventTag.ROLE_DECLINED: lambda d: f"Invitation as {d.get('role', '')} declined",
    ProjectEventTag.ROLE_REVOKE_INVITE: _invitation_withdrawn,
    ProjectEventTag.ROLE_CHANGE: lambda d: (
        f"{d.get('user', '')} made {d.get('new', '')} (was {d.get('old', '')})"
    ),
    ProjectEventTag.ROLE_REMOVE: lambda d: f"{d.get('user', '')} removed ({d.get('role', '')})",
    ProjectEventTag.QUARANTINE_ON: lambda d: (
        f"Quarantined by the administrator {d.get('admin', '')}"
    ),
    ProjectEventTag.QUARANTINE_OFF: lambda d: (
        f"Released from quarantine by the administrator {d.get('admin', '')}"
    ),
    ProjectEventTag.PUBLISHER_ADDED: lambda d: (
        f"Trusted publisher added: {d.get('publisher', '')}"
        + (" (from a pending publisher)" if d.get("from_pending") else "")
    ),
    ProjectEventTag.PUBLISHER_REMOVED: lambda d: (
        f"Trusted publisher removed: {d.get('publisher', '')}"
    ),
    ProjectEventTag.PUBLISHER_TOKEN_ADDED: lambda d: (
        f"Upload token for {d.get('minutes', '')} minutes given to {d.get('publisher', '')} "
        f"(run {d.get('run', '')} at {d.get('ref', '') or 'no ref'})"
    ),
    ProjectEventTag.TRUSTED_ONLY_ON: lambda d: "Uploads limited to trusted publishers",
    ProjectEventTag.TRUSTED_ONLY_OFF: lambda d: (
        "Uploads with API tokens allowed again (no longer trusted publishers only)"
    ),
    ProjectEventTag.KEYS_REQUIRED_ON: lambda d: (
        "Security keys or passkeys required of every Owner and Maintainer"
    ),
    ProjectEventTag.KEYS_REQUIRED_OFF: lambda d: "Security keys no longer required",
    ProjectEventTag.SETTING_CHANGE: lambda d: (
        f"{str(d.get('setting', '')).capitalize()} set to {d.get('value', '')}"
    ),
    ProjectEventTag.SETTING_LOOSEN_REQUESTED: lambda d: (
        f"Asked to change {d.get('setting', '')} to {d.get('value', '')}, "
        f"in effect at {str(d.get('effective', ''))[:16].replace('T', ' ')} UTC"
    ),
    ProjectEventTag.SETTING_LOOSEN_CANCELLED: lambda d: (
        f"Waiting change of {d.get('setting', '')} to {d.get('value', '')} cancelled"
    ),
    ProjectEventTag.STAGE_CREATED: lambda d: (
        f"Stage for {d.get('version', '')} opened ({d.get('reason', '')})"
    ),
    ProjectEventTag.STAGE_FILE_ADD: lambda d: (
        f"{d.get('filename', '')} staged for {d.get('version', '')} with {d.get('method', '')}"
    ),
    ProjectEventTag.STAGE_PUBLISHED: lambda d: (
        f"Stage for {d.get('version', '')} published: {d.get('files', 0)} files, serial "
        f"{d.get('serial', '')}" + (" (by the operator)" if d.get("by_operator") else "")
    ),
    ProjectEventTag.STAGE_DISCARDED: lambda d: f"Stage for {d.get('version', '')} discarded",
    ProjectEventTag.STAGE_EXPIRED: lambda d: f"Stage for {d.get('version', '')} expired",
    ProjectEventTag.STATUS_CHANGE: lambda d: (
        f"Status set to {d.get('status', '')}" + (f": {d['reason']}" if d.get("reason") else "")
    ),
    ProjectEventTag.API_TOKEN_ADDED: lambda d: f"API {_token(d)} can upload here",
    ProjectEventTag.API_TOKEN_REMOVED: lambda d: f"API {_token(d)} revoked",
    ProjectEventTag.API_TOKEN_REMOVED_LEAK: lambda d: f"API {_token(d)} revoked: found in public",
    ProjectEventTag.API_TOKEN_EXPIRED: lambda d: f"API {_token(d)} expired",
}


def event_sentence(tag: str, details: Details | None) -> str:
    return sentence_from(SENTENCES, tag, details)
