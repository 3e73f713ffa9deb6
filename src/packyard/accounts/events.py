from enum import StrEnum
from typing import Any

from django.http import HttpRequest

from packyard.accounts.models import Event, User
from packyard.http import client_info


class EventTag(StrEnum):
    """Every kind of account event. The values are stored: never change one, add new ones."""

    API_TOKEN_ADDED = "account:api_token:added"
    API_TOKEN_EXPIRED = "account:api_token:expired"
    API_TOKEN_REMOVED = "account:api_token:removed"
    API_TOKEN_REMOVED_LEAK = "account:api_token:removed_leak"
    CHANGED_BY_ADMIN = "account:changed_by_admin"
    CREATE = "account:create"
    EMAIL_VERIFIED = "account:email:verified"
    FROZEN = "account:frozen"
    KEYS_ONLY_OFF = "account:two_factor:keys_only_off"
    KEYS_ONLY_OFF_CANCELLED = "account:two_factor:keys_only_off_cancelled"
    KEYS_ONLY_OFF_REQUESTED = "account:two_factor:keys_only_off_requested"
    KEYS_ONLY_ON = "account:two_factor:keys_only_on"
    LOGIN_FAILURE = "account:login:failure"
    LOGIN_HELD_NEW_DEVICE = "account:login:held_new_device"
    LOGIN_SUCCESS = "account:login:success"
    PASSWORD_CHANGE = "account:password:change"
    PENDING_PUBLISHER_ADDED = "account:pending_publisher:added"
    PENDING_PUBLISHER_REMOVED = "account:pending_publisher:removed"
    PASSWORD_RESET = "account:password:reset"
    PROJECT_DELETED = "account:project:deleted"
    RECOVERY_CODES_GENERATED = "account:recovery_codes:generated"
    RECOVERY_CODES_USED = "account:recovery_codes:used"
    SESSION_REVOKED = "account:session:revoked"
    TWO_FACTOR_CLONED_KEY_SUSPECTED = "account:two_factor:cloned_key_suspected"
    TWO_FACTOR_FAILURE = "account:two_factor:failure"
    TWO_FACTOR_METHOD_ADDED = "account:two_factor:method_added"
    TWO_FACTOR_METHOD_REMOVED = "account:two_factor:method_removed"
    TWO_FACTOR_RESET_BY_ADMIN = "account:two_factor:reset_by_admin"
    UNFROZEN = "account:unfrozen"
    USER_INVITED = "account:user_invited"


def event_record(
    *, user: User, tag: EventTag, request: HttpRequest | None = None, **additional: Any
) -> Event:
    client = client_info(request)
    return Event.objects.create(
        user=user,
        tag=tag,
        ip_address=client.ip or None,
        user_agent=client.user_agent,
        additional=additional,
    )
