"""What the two-factor views share: the user of a logged-in request, and JSON answers for the
pages' scripts."""

from django.http import HttpRequest, JsonResponse

from packyard.accounts.models import User
from packyard.http import Refused

TOO_MANY_CODES = "Too many wrong codes"


def user_of(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def json_error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def refused_json(refused: Refused) -> JsonResponse:
    response = json_error(refused.message, refused.status)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response
