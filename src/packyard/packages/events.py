from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from packyard.accounts.models import User
from packyard.http import client_ip
from packyard.packages.models import Project, ProjectEvent


def project_event_record(
    *,
    projects: QuerySet[Project] | list[Project],
    tag: str,
    actor: User | None,
    request: HttpRequest | None = None,
    **additional: Any,
) -> None:
    ip = client_ip(request) or None if request is not None else None
    agent = request.META.get("HTTP_USER_AGENT", "")[:512] if request is not None else ""
    ProjectEvent.objects.bulk_create(
        ProjectEvent(
            project=project,
            tag=tag,
            actor=actor,
            ip_address=ip,
            user_agent=agent,
            additional=additional,
        )
        for project in projects
    )
