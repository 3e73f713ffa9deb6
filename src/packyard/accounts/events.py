from typing import Any

from django.http import HttpRequest

from packyard.accounts.models import Event, User
from packyard.http import client_ip


def event_record(
    *, user: User, tag: str, request: HttpRequest | None = None, **additional: Any
) -> Event:
    ip = client_ip(request) if request is not None else None
    agent = request.META.get("HTTP_USER_AGENT", "")[:512] if request is not None else ""
    return Event.objects.create(
        user=user, tag=tag, ip_address=ip or None, user_agent=agent, additional=additional
    )
