from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from packyard.accounts.models import User
from packyard.http import client_info
from packyard.packages.models import Project, ProjectEvent


class ProjectEventTag(StrEnum):
    """Every kind of project event. The values are stored: never change one, add new ones."""

    API_TOKEN_ADDED = "project:api_token:added"
    API_TOKEN_EXPIRED = "project:api_token:expired"
    API_TOKEN_REMOVED = "project:api_token:removed"
    API_TOKEN_REMOVED_LEAK = "project:api_token:removed_leak"
    CREATE = "project:create"
    FILE_ADD = "project:file:add"
    FILE_REMOVE = "project:file:remove"
    KEYS_REQUIRED_OFF = "project:security_keys_required:off"
    KEYS_REQUIRED_ON = "project:security_keys_required:on"
    PUBLISHER_ADDED = "project:oidc:publisher-added"
    PUBLISHER_REMOVED = "project:oidc:publisher-removed"
    PUBLISHER_TOKEN_ADDED = "project:short_lived_api_token:added"
    QUARANTINE_OFF = "project:quarantine:off"
    QUARANTINE_ON = "project:quarantine:on"
    RELEASE_IMPORT = "project:release:import"
    RELEASE_REMOVE = "project:release:remove"
    RELEASE_UNYANK = "project:release:unyank"
    RELEASE_YANK = "project:release:yank"
    ROLE_ACCEPTED = "project:role:accepted"
    ROLE_CHANGE = "project:role:change"
    ROLE_DECLINED = "project:role:declined"
    ROLE_INVITE = "project:role:invite"
    ROLE_REMOVE = "project:role:remove"
    ROLE_REVOKE_INVITE = "project:role:revoke_invite"
    SETTING_CHANGE = "project:setting:change"
    SETTING_LOOSEN_CANCELLED = "project:setting:loosen_cancelled"
    SETTING_LOOSEN_REQUESTED = "project:setting:loosen_requested"
    STAGE_CREATED = "project:stage:created"
    STAGE_DISCARDED = "project:stage:discarded"
    STAGE_EXPIRED = "project:stage:expired"
    STAGE_FILE_ADD = "project:stage:file_add"
    STAGE_PUBLISHED = "project:stage:published"
    STATUS_CHANGE = "project:status:change"
    TRUSTED_ONLY_OFF = "project:trusted_publishing_only:off"
    TRUSTED_ONLY_ON = "project:trusted_publishing_only:on"


def project_event_record(
    *,
    projects: QuerySet[Project] | list[Project],
    tag: ProjectEventTag,
    actor: User | None,
    request: HttpRequest | None = None,
    **additional: Any,
) -> None:
    client = client_info(request)
    ProjectEvent.objects.bulk_create(
        ProjectEvent(
            project=project,
            tag=tag,
            actor=actor,
            ip_address=client.ip or None,
            user_agent=client.user_agent,
            additional=additional,
        )
        for project in projects
    )
