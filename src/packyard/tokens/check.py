"""Checking a presented token: one indexed lookup and a few HMACs, never a password hash; the
caveats that do not need a project here, the ones that do per upload or read
(`TokenIdentity.check_project`)."""

import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pymacaroons
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from packaging.utils import canonicalize_name

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.ratelimit import Limit
from packyard.http import client_info, parse_uuid
from packyard.tokens import macaroon
from packyard.tokens.caveats import (
    Caveat,
    CaveatError,
    CaveatFailed,
    Context,
    ProjectID,
    ProjectName,
    SingleUse,
    caveat_parse,
)
from packyard.tokens.errors import GENERIC_FAILURE, TokenError, TokenScopeError
from packyard.tokens.models import ApiToken

# Concurrent uploads with one token would otherwise all write the same row on every request.
LAST_USED_GRANULARITY = timedelta(seconds=60)


@dataclass
class TokenIdentity:
    """A token whose signature and time limits hold; project caveats are checked per upload."""

    token: ApiToken
    user: User
    caveats: list[Caveat] = field(default_factory=list)

    def check_project(
        self,
        *,
        project_name: str,
        project_id: str | None,
        version: str | None = None,
        action: str = "upload",
    ) -> None:
        context = Context(
            now=int(time.time()),
            user_id=str(self.user.pk),
            project_name=project_name,
            project_id=project_id,
            version=version,
            action=action,
        )
        for caveat in self.caveats:
            if caveat.needs_project:
                try:
                    caveat.verify(context)
                except CaveatFailed as exc:
                    raise TokenScopeError(f"Invalid API Token: {exc}") from None

    def named_projects(self) -> tuple[set[str] | None, set[str] | None]:
        """The project names and ids the token's caveats allow (each caveat narrows; None
        where no caveat of that kind limits it)."""
        names: set[str] | None = None
        ids: set[str] | None = None
        for caveat in self.caveats:
            if isinstance(caveat, ProjectName):
                allowed = {str(canonicalize_name(name)) for name in caveat.normalized_names}
                names = allowed if names is None else names & allowed
            elif isinstance(caveat, ProjectID):
                ids = set(caveat.project_ids) if ids is None else ids & set(caveat.project_ids)
        return names, ids

    @property
    def limited_to_projects(self) -> bool:
        """Does the token name its projects (rather than reach all of its user's)?"""
        return any(isinstance(caveat, ProjectName | ProjectID) for caveat in self.caveats)

    def may_read(self, *, project_name: str, project_id: str) -> bool:
        try:
            self.check_project(project_name=project_name, project_id=project_id, action="read")
        except TokenScopeError:
            return False
        return True


def _lookup(raw: str) -> tuple[ApiToken, list[str]]:
    try:
        parsed = macaroon.parse(raw, prefix=settings.PACKYARD_TOKEN_PREFIX)
    except macaroon.MalformedToken:
        if raw.startswith("pypi-"):
            raise TokenError(
                "Invalid API Token: this is a PyPI token; create a token on this server."
            ) from None
        raise TokenError(GENERIC_FAILURE) from None
    token_id = parse_uuid(macaroon.identifier_of(parsed))
    token = (
        ApiToken.objects.select_related("user").filter(pk=token_id).first()
        if token_id is not None
        else None
    )
    if token is None:
        # Spend the same HMAC work as for a real token, so timing does not tell them apart.
        _verify(parsed, secrets.token_bytes(32))
        raise TokenError(GENERIC_FAILURE)
    presented = _verify(parsed, token.signing_key())
    return token, presented


def _verify(parsed: pymacaroons.Macaroon, key: bytes) -> list[str]:
    presented: list[str] = []
    try:
        macaroon.verify_signature(parsed, key=key, on_caveat=presented.append)
    except macaroon.BadSignature:
        raise TokenError(GENERIC_FAILURE) from None
    return presented


def token_failures_per_ip() -> Limit:
    """A token carries 256 bits and cannot be guessed; the limit is for floods of bad ones (each
    costs a lookup and an HMAC) and for clients retrying a dead token in a loop."""
    failures, window = settings.PACKYARD_TOKEN_FAILURE_LIMIT
    return Limit("token-ip", failures, window)


TOKEN_FAILURES = "Too many failed API token checks from this address"  # noqa: S105 - a message


def token_authenticate(*, raw: str, client_ip: str = "", action: str = "upload") -> TokenIdentity:
    """Check a presented token up to the point where the project matters.

    Order: parse, look up by identifier, derive the key, verify the signature, then every caveat
    (the stored ones and the ones presented, which a holder may have added offline). A
    single-use token is spent here, by its first request of any kind, whatever that request's
    fate. `action` is "upload", "read" (a private index) or "revoke" (the token ends itself, which
    a copy narrowed offline to projects may not do: it would end the wider token it came from).
    Raises RateLimited, before any of that, for an address with too many recent failures.
    """
    if not client_ip:
        return _authenticate(raw=raw, client_ip=client_ip, action=action)
    limit = token_failures_per_ip()
    limit.hit(client_ip)  # counted before the check; a good token gives it back
    identity = _authenticate(raw=raw, client_ip=client_ip, action=action)
    limit.give_back(client_ip)
    return identity


def _authenticate(*, raw: str, client_ip: str, action: str) -> TokenIdentity:
    token, presented = _lookup(raw)
    if token.revoked_at is not None:
        raise TokenError("Invalid API Token: token has been revoked")
    if token.is_expired:
        raise TokenError("Invalid API Token: token is expired")
    caveats: list[Caveat] = []
    added_offline = {text for text in presented if text not in token.caveats}
    for text in [*token.caveats, *presented]:
        try:
            caveat = caveat_parse(text)
        except CaveatError as exc:
            raise TokenError(f"Invalid API Token: unsupported restriction ({exc})") from None
        if caveat is None:
            continue
        if action == "revoke" and caveat.needs_project and text in added_offline:
            raise TokenError(
                "Invalid API Token: a copy narrowed to projects cannot revoke the token it was "
                "made from; revoke it on the API tokens page."
            )
        caveats.append(caveat)
    context = Context(
        now=int(time.time()), user_id=str(token.user_id), client_ip=client_ip, action=action
    )
    for caveat in caveats:
        if not caveat.needs_project:
            try:
                caveat.verify(context)
            except CaveatFailed as exc:
                raise TokenError(f"Invalid API Token: {exc}") from None
    if any(isinstance(caveat, SingleUse) for caveat in caveats):
        _spend(token)
    return TokenIdentity(token=token, user=token.user, caveats=caveats)


def _spend(token: ApiToken) -> None:
    # The conditional update is the claim: of two concurrent requests only one gets the token.
    claimed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason="single-use"
    )
    if not claimed:
        raise TokenError("Invalid API Token: this single-use token has already been used")
    event_record(
        user=token.user,
        tag=EventTag.API_TOKEN_REMOVED,
        token_id=str(token.id),
        description=token.description,
        reason="single-use",
    )


def token_touch(*, token: ApiToken, request: HttpRequest) -> None:
    """Record the last use, at most once a minute per token, outside the upload transaction."""
    now = timezone.now()
    stale = now - LAST_USED_GRANULARITY
    if token.last_used is not None and token.last_used > stale:
        return
    client = client_info(request)
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used__isnull=True) | Q(last_used__lte=stale)
    ).update(
        last_used=now,
        last_used_ip=client.ip or None,
        last_used_user_agent=client.user_agent,
    )


def token_find_genuine(*, raw: str) -> ApiToken | None:
    """The token this is, if it is one of ours with a valid signature (revoked or not)."""
    try:
        token, _presented = _lookup(raw)
    except TokenError:
        return None
    return token
