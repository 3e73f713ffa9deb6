"""A project's security settings: they tighten at once and loosen loudly.

Tightening ("trusted publishing only" on, security keys required, archived) takes effect when
an Owner asks. Loosening becomes a `SettingChange`: every Owner is emailed at once, and it takes
effect after PACKYARD_LOOSEN_DELAY, during which any Owner can cancel it. So whoever takes over
one Owner's session cannot quietly open a project up and upload the same minute. Waiting
changes are applied by whoever next reads the setting where it matters (an upload, the settings
page) and by `packyard manage apply_setting_changes` from cron, which also refreshes the index
pages a project's status is shown on.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from packyard.accounts.models import User
from packyard.accounts.services import security_email_send
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.index import pages
from packyard.packages.index.journal import journal_record
from packyard.packages.models import Project, Role, SettingChange
from packyard.packages.services import (
    ProjectActionError,
    owners_email,
    owners_tell,
    project_check_unfrozen,
)
from packyard.twofactor.services import user_has_security_key

MAX_STATUS_REASON = 400


class SettingError(ProjectActionError):
    """The change cannot be made; the message says why."""


@dataclass(frozen=True)
class Setting:
    label: str
    read: Callable[[Project], Any]
    loosens: Callable[[Any, Any], bool]  # (current, wanted)
    in_words: Callable[[Any], str]


def _status_of(project: Project) -> dict[str, str]:
    return {"status": project.status, "reason": project.status_reason}


def _status_in_words(value: dict[str, str]) -> str:
    status = value.get("status") or "active"
    return status + (f" ({value['reason']})" if value.get("reason") else "")


def _switch(field: str, label: str, off: str = "off") -> Setting:
    """A setting that is on (tighter) or off (looser)."""
    return Setting(
        label=label,
        read=lambda project: getattr(project, field),
        loosens=lambda current, wanted: current and not wanted,
        in_words=lambda on: "on" if on else off,
    )


SETTINGS: dict[str, Setting] = {
    "trusted_publishing_only": _switch("trusted_publishing_only", "trusted publishing only"),
    "require_phishing_resistant": _switch(
        "require_phishing_resistant", "security keys required of Owners and Maintainers"
    ),
    "releases_need_approval": _switch("releases_need_approval", "releases need approval"),
    "stage_approval_owners_only": _switch(
        "stage_approval_owners_only",
        "stages published by Owners only",
        off="off (Owners and Maintainers)",
    ),
    "stage_approval_keys": _switch("stage_approval_keys", "a security key to publish a stage"),
    # Leaving "archived" reopens uploads; the other changes of status close nothing.
    "status": Setting(
        label="status",
        read=_status_of,
        loosens=lambda current, wanted: (
            current["status"] == Project.ARCHIVED and wanted["status"] != Project.ARCHIVED
        ),
        in_words=_status_in_words,
    ),
}


def status_value(status: str, reason: str) -> dict[str, str]:
    """A status an Owner asked for, checked."""
    status, reason = status.strip(), reason.strip()
    if status == "active":
        status = ""
    if status not in Project.STATUSES:
        raise SettingError("The status is active, archived or deprecated.")
    if len(reason) > MAX_STATUS_REASON:
        raise SettingError(f"Keep the reason under {MAX_STATUS_REASON} characters.")
    if any(ord(char) < 32 for char in reason):
        raise SettingError("Write the reason on one line.")
    return {"status": status, "reason": reason if status else ""}


def would_loosen(project: Project, setting: str, value: Any) -> bool:
    definition = SETTINGS[setting]
    return definition.loosens(definition.read(project), value)


def waiting_changes(project: Project) -> list[SettingChange]:
    return list(
        SettingChange.objects.filter(
            project=project, cancelled__isnull=True, applied__isnull=True
        ).select_related("requested_by")
    )


def setting_change(
    *, project: Project, setting: str, value: Any, actor: User, request: HttpRequest | None
) -> SettingChange | None:
    """Set a project's security setting. Tightening, or a change that opens nothing, takes
    effect now and ends a waiting loosening of the same setting; loosening waits and is
    announced, and is returned. Raises SettingError."""
    project_check_unfrozen(project)
    project = apply_due(project)
    definition = SETTINGS[setting]
    current = definition.read(project)
    if definition.loosens(current, value):
        return _loosening_start(project, setting, value, actor, request)
    waiting = SettingChange.objects.filter(
        project=project, setting=setting, cancelled__isnull=True, applied__isnull=True
    ).first()
    if waiting is not None:
        change_cancel(change=waiting, actor=actor, request=request)
    if value != current:
        _check(project, setting, value)
        with transaction.atomic():
            _apply(project, setting, value, actor=actor, request=request)
        what = f"set {definition.label} to {definition.in_words(value)}"
        _owners_tell(project, what, actor.username)
    return None


def _loosening_start(
    project: Project, setting: str, value: Any, actor: User, request: HttpRequest | None
) -> SettingChange:
    definition = SETTINGS[setting]
    effective = timezone.now() + timedelta(seconds=settings.PACKYARD_LOOSEN_DELAY)
    try:
        with transaction.atomic():
            change = SettingChange.objects.create(
                project=project,
                setting=setting,
                value=value,
                requested_by=actor,
                effective=effective,
            )
            project_event_record(
                projects=[project],
                tag=ProjectEventTag.SETTING_LOOSEN_REQUESTED,
                actor=actor,
                request=request,
                setting=definition.label,
                value=definition.in_words(value),
                effective=effective.isoformat(),
            )
    except IntegrityError:
        raise SettingError(
            f"A change of {definition.label} is already waiting: cancel it first."
        ) from None
    _owners_email(project, change, "requested", actor.username)
    return change if settings.PACKYARD_LOOSEN_DELAY else _now(project, change)


def _now(project: Project, change: SettingChange) -> SettingChange:
    apply_due(project)
    change.refresh_from_db()
    return change


def change_cancel(*, change: SettingChange, actor: User, request: HttpRequest | None) -> None:
    """Any Owner stops a waiting loosening; every Owner is told."""
    cancelled = SettingChange.objects.filter(
        pk=change.pk, cancelled__isnull=True, applied__isnull=True
    ).update(cancelled=timezone.now(), cancelled_by=actor)
    if not cancelled:
        raise SettingError("That change is no longer waiting: it took effect or was cancelled.")
    project_event_record(
        projects=[change.project],
        tag=ProjectEventTag.SETTING_LOOSEN_CANCELLED,
        actor=actor,
        request=request,
        setting=SETTINGS[change.setting].label,
        value=SETTINGS[change.setting].in_words(change.value),
    )
    _owners_email(change.project, change, "cancelled", actor.username)


def apply_due(project: Project) -> Project:
    """Carry out the project's loosenings whose delay has passed; returns the project read
    again when any was, else the one given."""
    due = SettingChange.objects.filter(
        project=project,
        cancelled__isnull=True,
        applied__isnull=True,
        effective__lte=timezone.now(),
    )
    if not due.exists():
        return project
    applied: list[SettingChange] = []
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        for change in due.select_for_update().order_by("requested"):
            # Taken by whoever locked the project first; the others find nothing due.
            _apply(locked, change.setting, change.value, actor=change.requested_by, request=None)
            SettingChange.objects.filter(pk=change.pk).update(applied=timezone.now())
            applied.append(change)
    for change in applied:
        by = change.requested_by.username if change.requested_by else "An Owner"
        _owners_email(locked, change, "applied", by)
    return locked


def apply_all_due() -> int:
    """For cron (`packyard manage apply_setting_changes`): every project's due loosenings."""
    projects = Project.objects.filter(
        setting_changes__cancelled__isnull=True,
        setting_changes__applied__isnull=True,
        setting_changes__effective__lte=timezone.now(),
    ).distinct()
    count = 0
    for project in projects:
        apply_due(project)
        count += 1
    return count


def _check(project: Project, setting: str, value: Any) -> None:
    if setting == "trusted_publishing_only" and value and not project.publishers.exists():
        raise SettingError("Add a trusted publisher first: with none, nothing could upload.")


def _apply(
    project: Project, setting: str, value: Any, *, actor: User | None, request: HttpRequest | None
) -> None:
    """Write the setting and record it in the history, in the caller's transaction."""
    if setting == "status":
        _apply_status(project, value, actor=actor, request=request)
        return
    Project.objects.filter(pk=project.pk).update(**{setting: value})
    setattr(project, setting, value)
    tags = {
        "trusted_publishing_only": (
            ProjectEventTag.TRUSTED_ONLY_ON,
            ProjectEventTag.TRUSTED_ONLY_OFF,
        ),
        "require_phishing_resistant": (
            ProjectEventTag.KEYS_REQUIRED_ON,
            ProjectEventTag.KEYS_REQUIRED_OFF,
        ),
    }.get(setting)
    if tags is not None:
        tag = tags[0] if value else tags[1]
        project_event_record(projects=[project], tag=tag, actor=actor, request=request)
    else:
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.SETTING_CHANGE,
            actor=actor,
            request=request,
            setting=SETTINGS[setting].label,
            value=SETTINGS[setting].in_words(value),
        )
    if setting == "require_phishing_resistant" and value:
        transaction.on_commit(lambda: _members_without_keys_tell(project))


def _apply_status(
    project: Project, value: dict[str, str], *, actor: User | None, request: HttpRequest | None
) -> None:
    Project.objects.filter(pk=project.pk).update(
        status=value["status"], status_reason=value["reason"]
    )
    project.status, project.status_reason = value["status"], value["reason"]
    # The status is in the index pages (PEP 792): mirrors and installers see the change.
    journal_record(project=project, action=f"status {project.pep792_status}", mark_root_stale=False)
    pages.refresh(project.pk)
    project_event_record(
        projects=[project],
        tag=ProjectEventTag.STATUS_CHANGE,
        actor=actor,
        request=request,
        status=project.pep792_status,
        reason=value["reason"],
    )


def _owners_tell(project: Project, what: str, actor: str) -> None:
    owners_tell(project, "security setting changed", what, actor)


def _owners_email(project: Project, change: SettingChange, step: str, actor: str) -> None:
    definition = SETTINGS[change.setting]
    subjects = {
        "requested": f"{definition.label} will be loosened",
        "cancelled": f"loosening {definition.label} cancelled",
        "applied": f"{definition.label} loosened",
    }
    owners_email(
        project,
        subject=f"{project.name}: {subjects[step]}",
        template="packages/email/setting_loosening.txt",
        step=step,
        setting=definition.label,
        value=definition.in_words(change.value),
        effective=change.effective,
        actor=actor,
    )


def _members_without_keys_tell(project: Project) -> None:
    for role in Role.objects.filter(project=project).select_related("user"):
        if not user_has_security_key(role.user):
            security_email_send(
                user=role.user,
                subject=f"{project.name} now needs a security key to publish",
                template="packages/email/keys_required.txt",
                project=project,
            )


def keys_missing(project: Project, user: User) -> bool:
    """The project requires a security key or passkey of its members, and `user` has none."""
    return project.require_phishing_resistant and not user_has_security_key(user)
