from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Pages use only our own stylesheet and scripts; nothing inline, nothing framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(secure: bool) -> list[tuple[str, str]]:
    """The security headers of every answer: the middleware's for Django's answers, and the
    index fast path's for the answers it gives before Django."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", settings.SECURE_REFERRER_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
    ]
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        headers.append(("Strict-Transport-Security", value))
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Set where a view or Django's own middleware did not (a download's own headers stay).
        for name, value in security_headers(request.is_secure()):
            response.headers.setdefault(name, value)
        return response
