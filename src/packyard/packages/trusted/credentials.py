"""The upload tokens a publisher's identity token is exchanged for: macaroons in the same wire
format as API tokens (`<prefix>-...`), identified as `trusted:<id>`, with an expiry and the
project's id as caveats; usable for uploads to that project only, and ended early by
`/_/oidc/burn-token` once the upload is done."""

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from packyard.packages.models import Project, Publisher, PublisherToken
from packyard.tokens import macaroon
from packyard.tokens.caveats import (
    Caveat,
    CaveatError,
    CaveatFailed,
    Context,
    Expiration,
    ProjectID,
    caveat_parse,
)
from packyard.tokens.errors import GENERIC_FAILURE, TokenError

IDENTIFIER_PREFIX = "trusted:"


def publisher_token_mint(
    *, publishers: list[Publisher], run: dict[str, str]
) -> tuple[PublisherToken, str]:
    """A new token for the publishers' projects, valid from now for
    PACKYARD_OIDC_TOKEN_MINUTES. Tokens past their expiry are removed on the way."""
    now = int(time.time())
    expires = now + settings.PACKYARD_OIDC_TOKEN_MINUTES * 60
    project_ids = sorted({str(publisher.project_id) for publisher in publishers})
    caveats: list[Caveat] = [
        Expiration(not_after=expires, not_before=now),
        ProjectID(project_ids=tuple(project_ids)),
    ]
    PublisherToken.objects.filter(expires__lt=timezone.now()).delete()
    token = PublisherToken.objects.create(
        publisher_ids=[str(publisher.id) for publisher in publishers],
        project_ids=project_ids,
        key_salt=secrets.token_bytes(32),
        caveats=[caveat.to_json() for caveat in caveats],
        run=run,
        expires=datetime.fromtimestamp(expires, tz=UTC),
    )
    raw = macaroon.mint(
        prefix=settings.PACKYARD_TOKEN_PREFIX,
        location=settings.SITE_DOMAIN,
        identifier=IDENTIFIER_PREFIX + str(token.id),
        key=token.signing_key(),
        caveats=token.caveats,
    )
    return token, raw


def is_publisher_token(raw: str) -> bool:
    """Is this (well-formed) token one of ours for a publisher rather than an API token?"""
    try:
        parsed = macaroon.parse(raw, prefix=settings.PACKYARD_TOKEN_PREFIX)
    except macaroon.MalformedToken:
        return False
    return macaroon.identifier_of(parsed).startswith(IDENTIFIER_PREFIX)


@dataclass(frozen=True)
class PublisherIdentity:
    token: PublisherToken
    caveats: list[Caveat]

    def publisher_for(self, project: Project | None) -> Publisher:
        """The project's publisher this token speaks for; TokenError when it has none (any
        more), or the project is not one of the token's."""
        publisher = None
        if project is not None and str(project.pk) in self.token.project_ids:
            publisher = Publisher.objects.filter(
                pk__in=self.token.publisher_ids, project=project
            ).first()
        if publisher is None:
            names = ", ".join(
                Project.objects.filter(pk__in=self.token.project_ids).values_list("name", flat=True)
            )
            raise TokenError(
                "Invalid API Token: this trusted publishing token uploads only to the projects "
                f"whose publisher it was given to ({names or 'none left'})"
            )
        return publisher

    def check_project(self, *, project: Project, version: str) -> None:
        """May this token upload this version to this project? TokenError says why not."""
        context = Context(
            now=int(time.time()),
            user_id="",
            project_name=project.normalized_name,
            project_id=str(project.pk),
            version=version,
        )
        for caveat in self.caveats:
            try:
                caveat.verify(context)
            except CaveatFailed as exc:
                raise TokenError(f"Invalid API Token: {exc}") from None


def _lookup(raw: str) -> tuple[PublisherToken, list[str]]:
    try:
        parsed = macaroon.parse(raw, prefix=settings.PACKYARD_TOKEN_PREFIX)
    except macaroon.MalformedToken:
        raise TokenError(GENERIC_FAILURE) from None
    identifier = macaroon.identifier_of(parsed).removeprefix(IDENTIFIER_PREFIX)
    try:
        token_id = uuid.UUID(identifier)
    except ValueError:
        raise TokenError(GENERIC_FAILURE) from None
    token = PublisherToken.objects.filter(pk=token_id).first()
    key = token.signing_key() if token is not None else secrets.token_bytes(32)
    presented: list[str] = []
    try:
        macaroon.verify_signature(parsed, key=key, on_caveat=presented.append)
    except macaroon.BadSignature:
        raise TokenError(GENERIC_FAILURE) from None
    if token is None:
        raise TokenError(GENERIC_FAILURE)
    return token, presented


def publisher_token_check(raw: str) -> PublisherIdentity:
    """The token's publisher and caveats, if its signature holds and it is live; every caveat
    not about a project is checked here, the others per upload (`check_project`)."""
    token, presented = _lookup(raw)
    if token.revoked_at is not None:
        raise TokenError("Invalid API Token: this trusted publishing token has been used up")
    # The signature chain already keeps every issued caveat in; said again, as API tokens do.
    if token.expires <= timezone.now() or not set(token.caveats) <= set(presented):
        raise TokenError("Invalid API Token: token is expired")
    caveats: list[Caveat] = []
    for text in presented:
        try:
            caveat = caveat_parse(text)
        except CaveatError as exc:
            raise TokenError(f"Invalid API Token: unsupported restriction ({exc})") from None
        if caveat is not None:
            caveats.append(caveat)
    context = Context(now=int(time.time()), user_id="", action="upload")
    for caveat in caveats:
        if not caveat.needs_project:
            try:
                caveat.verify(context)
            except CaveatFailed as exc:
                raise TokenError(f"Invalid API Token: {exc}") from None
    return PublisherIdentity(token=token, caveats=caveats)


def publisher_token_burn(raw: str) -> bool:
    """End a token before its expiry (the client is done uploading). Idempotent: a token
    already ended or expired is fine; False for anything that is not one of our tokens."""
    try:
        token, _presented = _lookup(raw)
    except TokenError:
        return False
    PublisherToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return True
