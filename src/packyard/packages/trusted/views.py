"""The exchange's endpoints, in PyPI's shape so that uv, pypa's publish action and the `id`
library work unchanged, and PEP 807's discovery document."""

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from packyard.accounts.ratelimit import Limit, RateLimited
from packyard.http import client_ip, content_length, wait_in_words
from packyard.oidc.issuers import configured_issuers
from packyard.oidc.verify import IssuerUnavailable, TokenRefused, unverified_claims
from packyard.packages.trusted.credentials import publisher_token_burn
from packyard.packages.trusted.exchange import exchange
from packyard.tokens.check import token_failures_per_ip

# An exchange body is one JWT in JSON; the JWT itself is limited to 16 KiB by the check.
MAX_BODY = 64 * 1024
# Failed exchanges per address: each costs a signature check (and perhaps a key fetch).
EXCHANGE_FAILURES = (30, 300)
# The upload path PEP 807's discovery answers for: this index has one.
UPLOAD_PATHS = ("/legacy/", "/legacy")


def _errors(status: int, message: str, code: str, description: str, **extra: Any) -> JsonResponse:
    """PyPI's error shape, which clients show as it is: a message and coded errors."""
    body = {"message": message, "errors": [{"code": code, "description": description}], **extra}
    return JsonResponse(body, status=status)


def _not_enabled() -> JsonResponse | None:
    if configured_issuers():
        return None
    return _errors(
        403,
        "Trusted publishing is not enabled",
        "not-enabled",
        "this index trusts no OpenID Connect issuer (PACKYARD_OIDC_ISSUERS_FILE)",
    )


@require_GET
@never_cache
def audience(request: HttpRequest) -> HttpResponse:  # noqa: ARG001 - a view's signature
    """The audience clients ask their CI system to put in the identity token."""
    return _not_enabled() or JsonResponse({"audience": settings.PACKYARD_OIDC_AUDIENCE})


def _token_from_body(request: HttpRequest) -> str | None:
    if len(request.body) > MAX_BODY:
        return None
    try:
        payload = json.loads(request.body)
    except ValueError:
        return None
    token = payload.get("token") if isinstance(payload, dict) else None
    return token if isinstance(token, str) and token else None


@csrf_exempt  # a machine endpoint: the identity token in the body is the credential
@require_POST
@never_cache
def mint_token(request: HttpRequest) -> HttpResponse:
    refusal = _not_enabled()
    if refusal is not None:
        return refusal
    if content_length(request) > MAX_BODY:
        return _errors(
            413, "Token request failed", "invalid-payload", f"the body is over {MAX_BODY} bytes"
        )
    raw = _token_from_body(request)
    if raw is None:
        return _errors(
            422,
            "Token request failed",
            "invalid-payload",
            'the body must be JSON: {"token": "<the identity token>"}',
        )
    limit = Limit("oidc-exchange-ip", *EXCHANGE_FAILURES)
    address = client_ip(request)
    try:
        limit.hit(address)  # counted first; a good exchange gives it back
    except RateLimited as exc:
        response = _errors(
            429,
            "Token request failed",
            "rate-limited",
            f"too many failed exchanges from this address; try again "
            f"{wait_in_words(exc.retry_after)}",
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    try:
        minted = exchange(raw, request)
    except TokenRefused as exc:
        # The claims as the token stated them: uv and pypa's action show them beside the error.
        return _errors(
            422,
            "Token request failed",
            exc.code,
            exc.description,
            claims=_shown_claims(unverified_claims(raw)),
        )
    except IssuerUnavailable as exc:
        return _errors(503, "Token request failed", "issuer-unavailable", str(exc))
    limit.give_back(address)
    return JsonResponse({"success": True, "token": minted.token, "expires": minted.expires})


def _shown_claims(claims: dict[str, Any]) -> dict[str, str]:
    return {str(name)[:64]: str(value)[:300] for name, value in list(claims.items())[:40]}


@csrf_exempt  # a machine endpoint: the token in the body is the credential
@require_POST
@never_cache
def burn_token(request: HttpRequest) -> HttpResponse:
    """End an exchanged token once the client has uploaded (uv does this); idempotent. Each
    attempt costs a lookup and an HMAC: failures count against the address as token checks."""
    limit = token_failures_per_ip()
    address = client_ip(request)
    try:
        limit.hit(address)
    except RateLimited as exc:
        response = _errors(
            429,
            "Token burn failed",
            "rate-limited",
            f"too many failed token checks from this address; try again "
            f"{wait_in_words(exc.retry_after)}",
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    raw = _token_from_body(request)
    if raw is None or not publisher_token_burn(raw):
        return _errors(
            422,
            "Token burn failed",
            "invalid-token",
            "not a trusted publishing token of this index",
        )
    limit.give_back(address)
    return JsonResponse({"success": True})


@require_GET
@never_cache
def pytp_discovery(request: HttpRequest) -> HttpResponse:
    """PEP 807 (draft of January 2026): where a client finds the exchange for an upload URL."""
    if request.GET.get("discover", "") not in UPLOAD_PATHS or not configured_issuers():
        problem = {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "no trusted publishing for this upload path on this index",
        }
        return HttpResponse(
            json.dumps(problem), status=404, content_type="application/problem+json"
        )
    base = settings.BASE_URL
    return JsonResponse(
        {
            "audience-endpoint": base + reverse("packages:oidc-audience"),
            "token-mint-endpoint": base + reverse("packages:oidc-mint-token"),
        }
    )
