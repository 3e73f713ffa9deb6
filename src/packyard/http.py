"""Small helpers shared by the machine endpoints and the web views."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting X-Forwarded-For only for the configured proxies."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if settings.PROXY_COUNT <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < settings.PROXY_COUNT:
        return remote
    return hops[-settings.PROXY_COUNT]


def _reason_phrase(message: str) -> str:
    # A reason phrase is one line of visible ASCII; the body keeps the full text.
    flat = " ".join(message.split())
    return flat.encode("ascii", "replace").decode("ascii")[:512]


def plain_error(status: int, message: str) -> HttpResponse:
    """An error that twine (reason phrase), uv (body) and poetry (both) all show."""
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    response.reason_phrase = _reason_phrase(message)
    return response


def unauthorized(message: str) -> HttpResponse:
    response = plain_error(401, message)
    response["WWW-Authenticate"] = f'Basic realm="{settings.SITE_NAME}"'
    return response


def content_length(request: HttpRequest) -> int:
    """The declared body size; a malformed header counts as none (the body is then read as such)."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0
