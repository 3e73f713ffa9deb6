"""A token's changes in the history of every project it can (or could) upload to."""

from typing import Any

from django.http import HttpRequest

from packyard.accounts.models import User
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.models import Project
from packyard.tokens.models import ApiToken
from packyard.tokens.signals import TokenChange

TAGS = {
    TokenChange.ADDED: ProjectEventTag.API_TOKEN_ADDED,
    TokenChange.REVOKED: ProjectEventTag.API_TOKEN_REMOVED,
    TokenChange.LEAKED: ProjectEventTag.API_TOKEN_REMOVED_LEAK,
}


def record_token_change(
    *,
    token: ApiToken,
    change: TokenChange,
    request: HttpRequest | None,
    details: dict[str, object],
    **_signal: Any,
) -> None:
    if token.project_names:
        projects = Project.objects.filter(normalized_name__in=token.project_names)
    else:
        projects = Project.objects.filter(roles__user=token.user)
    actor = request.user if request is not None and isinstance(request.user, User) else None
    project_event_record(
        projects=list(projects),
        tag=TAGS[change],
        actor=actor,
        request=request,
        holder=token.user.username,
        token_id=str(token.id),
        description=token.description,
        **details,
    )
