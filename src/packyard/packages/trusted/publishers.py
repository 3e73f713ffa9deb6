"""Adding and removing a project's trusted publishers, pending publishers for projects not made
yet, and the project's "trusted publishing only" setting: each audited, each told to Owners."""

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.ratelimit import Limit
from packyard.accounts.services import security_email_send
from packyard.http import client_ip
from packyard.oidc.issuers import configured_issuers
from packyard.packages import loosening
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.models import Project, Publisher, SettingChange
from packyard.packages.services import ProjectActionError, new_project_name_check, owners_tell
from packyard.packages.trusted.rules import KINDS, UNSAFE_EVENTS, RuleError

# Pending publishers registered from one address in an hour (each may later create a project).
PENDING_PER_ADDRESS_PER_HOUR = 10


class PublisherError(Exception):
    """The publisher cannot be added; the message says why."""


def claims_parse(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs (the command line's --claim, the form's lines) as a dict."""
    claims: dict[str, str] = {}
    for pair in pairs:
        if not pair.strip():
            continue
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise PublisherError(f"{pair.strip()!r} is not NAME=VALUE")
        if name.strip() in claims:
            raise PublisherError(f"the claim {name.strip()} is given twice")
        claims[name.strip()] = value.strip()
    return claims


def publisher_describe(publisher: Publisher) -> str:
    """The publisher in a few words, as Owners and the history show it."""
    claims = publisher.claims
    if publisher.kind in ("github", "forgejo"):
        text = f"{claims.get('repository', '')}, workflow {claims.get('workflow', '')}"
    elif publisher.kind == "gitlab":
        text = f"{claims.get('project_path', '')}, {claims.get('ci_config_path', '')}"
    elif publisher.kind == "buildkite":
        text = f"{claims.get('organization_slug', '')}/{claims.get('pipeline_slug', '')}"
    else:
        return f"{publisher.issuer_url}: " + ", ".join(f"{k}={v}" for k, v in claims.items())
    if claims.get("environment"):
        text += f", environment {claims['environment']}"
    return f"{publisher.kind} {text}"


def _checked(issuer_url: str, claims: dict[str, str], allowed_events: list[str]) -> Publisher:
    issuer = configured_issuers().get(issuer_url.strip())
    if issuer is None:
        known = ", ".join(configured_issuers()) or "none are configured"
        raise PublisherError(f"{issuer_url!r} is not a trusted issuer on this index ({known}).")
    try:
        cleaned = KINDS[issuer.kind].check_publisher(claims)
    except RuleError as exc:
        raise PublisherError(str(exc)) from None
    unknown_events = set(allowed_events) - set(UNSAFE_EVENTS)
    if unknown_events:
        raise PublisherError(
            f"Only {', '.join(UNSAFE_EVENTS)} can be allowed, not {', '.join(unknown_events)}."
        )
    return Publisher(
        issuer_url=issuer.url,
        kind=issuer.kind,
        claims=cleaned,
        allowed_events=sorted(set(allowed_events)),
    )


def publisher_add(
    *,
    project: Project,
    issuer_url: str,
    claims: dict[str, str],
    allowed_events: list[str] = [],  # noqa: B006 - never changed
    actor: User | None,
    request: HttpRequest | None = None,
) -> Publisher:
    """Let a CI workflow publish the project. Raises PublisherError."""
    publisher = _checked(issuer_url, claims, allowed_events)
    if Publisher.objects.filter(
        project=project, issuer_url=publisher.issuer_url, claims=publisher.claims
    ).exists():
        raise PublisherError("This publisher is already registered for the project.")
    publisher.project = project
    publisher.added_by = actor
    description = publisher_describe(publisher)
    with transaction.atomic():
        publisher.save()
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.PUBLISHER_ADDED,
            actor=actor,
            request=request,
            publisher=description,
            publisher_id=str(publisher.id),
        )
    owners_tell(
        project,
        "trusted publisher added",
        f"added the trusted publisher {description}",
        actor.username if actor else "The index's operator",
    )
    return publisher


def pending_publisher_add(
    *,
    name: str,
    issuer_url: str,
    claims: dict[str, str],
    allowed_events: list[str] = [],  # noqa: B006 - never changed
    user: User,
    request: HttpRequest | None = None,
) -> Publisher:
    """A publisher for a project not made yet: its first exchange creates the project, with
    `user` as its Owner. Does not reserve the name. Raises PublisherError or RateLimited."""
    if not user.can_publish:
        raise PublisherError("Verify your email address before adding trusted publishers.")
    try:
        normalized = new_project_name_check(name=name, user=user)
    except ProjectActionError as exc:
        raise PublisherError(str(exc)) from None
    publisher = _checked(issuer_url, claims, allowed_events)
    most = settings.PACKYARD_OIDC_PENDING_PER_USER
    if Publisher.objects.filter(project__isnull=True, added_by=user).count() >= most:
        raise PublisherError(
            f"You have {most} pending publishers, the most this index allows: remove one first."
        )
    if request is not None:
        Limit("pending-publisher-ip", PENDING_PER_ADDRESS_PER_HOUR, 3600).hit(client_ip(request))
    publisher.pending_name = name.strip()
    publisher.pending_normalized_name = normalized
    publisher.added_by = user
    with transaction.atomic():
        publisher.save()
        event_record(
            user=user,
            tag=EventTag.PENDING_PUBLISHER_ADDED,
            request=request,
            project=publisher.pending_name,
            publisher=publisher_describe(publisher),
            publisher_id=str(publisher.id),
        )
    return publisher


def publisher_remove(
    *, publisher: Publisher, actor: User | None, request: HttpRequest | None = None
) -> None:
    """Remove a publisher; the upload tokens it was given stop working with it."""
    description = publisher_describe(publisher)
    project = publisher.project
    with transaction.atomic():
        publisher.delete()
        if project is None:
            if publisher.added_by is not None:
                event_record(
                    user=publisher.added_by,
                    tag=EventTag.PENDING_PUBLISHER_REMOVED,
                    request=request,
                    project=publisher.pending_name,
                )
            return
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.PUBLISHER_REMOVED,
            actor=actor,
            request=request,
            publisher=description,
            publisher_id=str(publisher.id),
        )
    owners_tell(
        project,
        "trusted publisher removed",
        f"removed the trusted publisher {description}",
        actor.username if actor else "The index's operator",
    )


def trusted_only_set(
    *, project: Project, on: bool, actor: User, request: HttpRequest | None = None
) -> SettingChange | None:
    """Turn "trusted publishing only" on (needs a publisher; at once) or off (a loosening: it
    waits PACKYARD_LOOSEN_DELAY, announced to every Owner; returned)."""
    try:
        return loosening.setting_change(
            project=project,
            setting="trusted_publishing_only",
            value=on,
            actor=actor,
            request=request,
        )
    except ProjectActionError as exc:
        raise PublisherError(str(exc)) from None


def pending_publishers_of(user: User) -> list[Publisher]:
    return list(Publisher.objects.filter(project__isnull=True, added_by=user))


def untrusted_upload_tell(project: Project, filename: str, uploader: User, method: str) -> None:
    """A project with a trusted publisher got an upload another way: its Owners should know."""
    owners_tell(
        project,
        f"{filename} uploaded without its trusted publisher",
        f"uploaded {filename} with {method}, not through the project's trusted publisher",
        uploader.username,
    )


def pending_reified_tell(user: User, project: Project, publisher: Publisher) -> None:
    security_email_send(
        user=user,
        subject=f"Your pending publisher created the project {project.name}",
        template="packages/email/pending_publisher_used.txt",
        project=project,
        publisher=publisher_describe(publisher),
    )
