"""Machine endpoints about tokens: leak reports from secret scanners, and self-revocation."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from packyard.accounts.ratelimit import Limit, RateLimited
from packyard.accounts.services import security_email_send
from packyard.http import (
    client_ip,
    content_length,
    plain_error,
    refusal_response,
    token_from_header,
)
from packyard.tokens import disclosure
from packyard.tokens.check import TOKEN_FAILURES, token_authenticate, token_find_genuine
from packyard.tokens.errors import TokenError
from packyard.tokens.revoke import token_revoke

MAX_REPORT_BYTES = 1024 * 1024
REPORTS_PER_IP = Limit("disclosure-ip", 60, 60)


@csrf_exempt  # signed by the reporter's key, never sent with a cookie
@require_http_methods(["POST"])
def disclose_token(request: HttpRequest) -> HttpResponse:
    try:
        REPORTS_PER_IP.hit(client_ip(request))
    except RateLimited as exc:
        return refusal_response(exc.refusal("Too many reports"))
    if content_length(request) > MAX_REPORT_BYTES:
        return plain_error(413, "The report is too large.")
    body = request.body
    try:
        disclosure.verify_signature(
            body,
            request.headers.get("GITHUB-PUBLIC-KEY-IDENTIFIER", ""),
            request.headers.get("GITHUB-PUBLIC-KEY-SIGNATURE", ""),
        )
        reports = disclosure.parse_reports(body)
    except disclosure.DisclosureRefused as exc:
        return plain_error(exc.status, str(exc))
    for report in reports:
        _revoke_leaked(request, report)
    # The same answer whatever was found: the endpoint tells nobody which tokens exist.
    return HttpResponse(status=204)


def _revoke_leaked(request: HttpRequest, report: disclosure.Report) -> None:
    token = token_find_genuine(raw=report.token)
    if token is None or token.revoked_at is not None:
        return
    token_revoke(
        token=token, request=request, reason="leaked", url=report.url, source=report.source
    )
    security_email_send(
        user=token.user,
        subject="An API token of yours was found in public and revoked",
        template="tokens/email/token_leaked.txt",
        token=token,
        url=report.url,
        source=report.source,
    )


@csrf_exempt  # authenticated by the token itself, in a header
@require_http_methods(["DELETE"])
def revoke_current_token(request: HttpRequest) -> HttpResponse:
    """DELETE /_/tokens/current: a token revokes itself, e.g. at the end of a CI job. Every
    caveat must hold first (an expired or narrowed copy must not end a live token), and refusals
    count toward the address's limit on failed token checks."""
    raw = token_from_header(request)
    if raw is None:
        return plain_error(401, "Send the token to revoke as the credential.")
    try:
        identity = token_authenticate(raw=raw, client_ip=client_ip(request), action="revoke")
    except RateLimited as exc:
        return refusal_response(exc.refusal(TOKEN_FAILURES))
    except TokenError as exc:
        return plain_error(403, str(exc))
    token_revoke(token=identity.token, request=request, reason="self")
    return HttpResponse(status=204)
