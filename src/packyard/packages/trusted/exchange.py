"""The exchange: a CI system's identity token in, a short-lived upload token out (PyPI's
`/_/oidc/mint-token`). A pending publisher that matches creates its project on the way."""

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from packyard.accounts.models import User
from packyard.oidc.verify import TokenRefused, VerifiedToken, jti_spend, verify
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.models import Project, Publisher, PublisherToken
from packyard.packages.services import ProjectActionError, project_create, project_name_claim
from packyard.packages.trusted import publishers as publishers_service
from packyard.packages.trusted.credentials import publisher_token_mint
from packyard.packages.trusted.rules import KINDS, run_of, unsafe_event

# The claim each kind's publishers are known by: a mismatch on another claim of a publisher
# whose first claim matches is worth explaining (the right repository, the wrong workflow).
PRIMARY_CLAIM = {
    "github": "repository",
    "forgejo": "repository",
    "gitlab": "project_path",
    "buildkite": "organization_slug",
}


@dataclass(frozen=True)
class Minted:
    token: str
    expires: int


def _matching(verified: VerifiedToken, *, pending: bool) -> tuple[list[Publisher], list[str]]:
    """The publishers of this issuer whose rules the token satisfies, and for the near misses
    (publishers known by the same name) the claim that failed: the token's own values only,
    never what a publisher expects."""
    kind = KINDS[verified.issuer.kind]
    primary = PRIMARY_CLAIM.get(verified.issuer.kind)
    matches: list[Publisher] = []
    near_misses: list[str] = []
    candidates = Publisher.objects.filter(
        issuer_url=verified.issuer.url, project__isnull=pending
    ).order_by("created")
    for publisher in candidates:
        problem = kind.mismatch(publisher.claims, verified.claims)
        if problem is None:
            event = unsafe_event(publisher.kind, verified.claims, publisher.allowed_events)
            if event is None:
                matches.append(publisher)
                continue
            problem = f"the event {event} is not allowed for this publisher"
        if primary and kind.mismatch({primary: publisher.claims.get(primary, "")}, verified.claims):
            continue
        near_misses.append(problem)
    return matches, near_misses


def _no_publisher(near_misses: list[str]) -> TokenRefused:
    reason = "; ".join(dict.fromkeys(near_misses)) or "no publisher is registered for these claims"
    return TokenRefused(
        "invalid-publisher", f"valid token, but no corresponding publisher ({reason})"
    )


def _reify(publisher: Publisher, request: HttpRequest | None) -> Project:
    """Create the pending publisher's project, its registrant as Owner; the publisher now
    belongs to it. In the caller's transaction."""
    owner = publisher.added_by
    name = publisher.pending_name
    if Project.objects.filter(normalized_name=publisher.pending_normalized_name).exists():
        raise TokenRefused(
            "invalid-pending-publisher",
            f"valid token, but the project {name!r} was created by someone else since this "
            "pending publisher was registered",
        )
    if owner is None or not owner.is_active or not owner.can_publish:
        raise TokenRefused(
            "invalid-pending-publisher",
            "valid token, but the account that registered this pending publisher cannot publish",
        )
    try:
        project_name_claim(normalized_name=publisher.pending_normalized_name, user=owner)
    except ProjectActionError as exc:
        raise TokenRefused("invalid-pending-publisher", f"valid token, but {exc}") from None
    project = project_create(
        name=name, normalized_name=publisher.pending_normalized_name, owner=owner
    )
    # Other pending publishers for the name can no longer create it.
    Publisher.objects.filter(
        project__isnull=True, pending_normalized_name=publisher.pending_normalized_name
    ).exclude(pk=publisher.pk).delete()
    Publisher.objects.filter(pk=publisher.pk).update(
        project=project, pending_name="", pending_normalized_name=""
    )
    publisher.project = project
    description = publishers_service.publisher_describe(publisher)
    project_event_record(
        projects=[project], tag=ProjectEventTag.CREATE, actor=owner, request=request, name=name
    )
    project_event_record(
        projects=[project],
        tag=ProjectEventTag.PUBLISHER_ADDED,
        actor=owner,
        request=request,
        publisher=description,
        publisher_id=str(publisher.id),
        from_pending=True,
    )
    return project


def exchange(raw: str, request: HttpRequest | None = None) -> Minted:
    """Check the identity token, find its publishers, and mint an upload token for their
    projects. Raises TokenRefused (with PyPI's error code) or IssuerUnavailable."""
    verified = verify(raw)
    try:
        token, secret, reified = _exchange(verified, request)
    except IntegrityError:  # two first exchanges for one pending publisher, at once
        raise TokenRefused(
            "invalid-pending-publisher",
            "the project was being created by another exchange at the same moment; try again",
        ) from None
    if reified is not None:
        publishers_service.pending_reified_tell(*reified)
    return Minted(token=secret, expires=int(token.expires.timestamp()))


Reified = tuple[User, Project, Publisher]


def _exchange(
    verified: VerifiedToken, request: HttpRequest | None
) -> tuple[PublisherToken, str, Reified | None]:
    reified: Reified | None = None
    with transaction.atomic():
        matches, near_misses = _matching(verified, pending=False)
        if not matches:
            pending, pending_misses = _matching(verified, pending=True)
            if not pending:
                raise _no_publisher(near_misses + pending_misses)
            project = _reify(pending[0], request)
            assert pending[0].added_by is not None  # _reify refuses a publisher without one
            reified = (pending[0].added_by, project, pending[0])
            matches = [pending[0]]
        jti_spend(verified)
        run = run_of(verified.issuer.kind, verified.issuer.url, verified.claims)
        token, secret = publisher_token_mint(publishers=matches, run=run)
        for publisher in matches:
            assert publisher.project is not None
            project_event_record(
                projects=[publisher.project],
                tag=ProjectEventTag.PUBLISHER_TOKEN_ADDED,
                actor=None,
                request=request,
                publisher=publishers_service.publisher_describe(publisher),
                publisher_id=str(publisher.id),
                minutes=settings.PACKYARD_OIDC_TOKEN_MINUTES,
                token_id=str(token.id),
                **run,
            )
    return token, secret, reified
