"""The pages where Owners name the CI workflows that may publish their project, and where
anyone names one for a project they are about to create (a pending publisher)."""

from collections.abc import Iterable

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from packyard.accounts.models import User
from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.reauth import reauth_required
from packyard.http import parse_uuid, wait_in_words
from packyard.oidc.issuers import configured_issuers
from packyard.packages.manage import key_confirmation, loosening_message, owned_project
from packyard.packages.models import Project, Publisher
from packyard.packages.trusted import publishers
from packyard.packages.trusted.rules import KINDS, UNSAFE_EVENTS


def _issuer_choices() -> list[dict[str, object]]:
    return [
        {
            "url": issuer.url,
            "kind": issuer.kind,
            "required": KINDS[issuer.kind].required,
            "optional": KINDS[issuer.kind].optional,
        }
        for issuer in configured_issuers().values()
    ]


def _publisher_rows(rows: Iterable[Publisher]) -> list[tuple[Publisher, str]]:
    return [(publisher, publishers.publisher_describe(publisher)) for publisher in rows]


def _form_claims(request: HttpRequest) -> tuple[str, dict[str, str], list[str]]:
    claims = publishers.claims_parse(request.POST.get("claims", "").splitlines())
    return request.POST.get("issuer", ""), claims, request.POST.getlist("allow_event")


@never_cache
@reauth_required()
def project_publishing(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    assert isinstance(request.user, User)
    if request.method == "POST":
        if request.POST.get("action") == "trusted-only-off":
            confirm = key_confirmation(request, project, "trusted_publishing_only", False)
            if confirm is not None:
                return confirm
        try:
            _publishing_action(request, project, request.user)
        except publishers.PublisherError as exc:
            messages.error(request, str(exc))
        return redirect("packages:publishing", project.normalized_name)
    context = {
        "project": project,
        "publishers": _publisher_rows(project.publishers.all()),
        "issuers": _issuer_choices(),
        "unsafe_events": UNSAFE_EVENTS,
    }
    return render(request, "packages/publishing.html", context)


def _publishing_action(request: HttpRequest, project: Project, owner: User) -> None:
    action = request.POST.get("action", "")
    if action == "add":
        issuer_url, claims, events = _form_claims(request)
        publisher = publishers.publisher_add(
            project=project,
            issuer_url=issuer_url,
            claims=claims,
            allowed_events=events,
            actor=owner,
            request=request,
        )
        messages.success(request, f"Added {publishers.publisher_describe(publisher)}.")
    elif action == "remove":
        publisher = _publisher(project.publishers.all(), request.POST.get("publisher"))
        publishers.publisher_remove(publisher=publisher, actor=owner, request=request)
        messages.success(request, "Publisher removed; its upload tokens no longer work.")
    elif action in ("trusted-only-on", "trusted-only-off"):
        on = action == "trusted-only-on"
        waiting = publishers.trusted_only_set(project=project, on=on, actor=owner, request=request)
        if waiting is not None:
            messages.success(request, loosening_message(waiting))
        else:
            messages.success(
                request,
                "Uploads now come only from trusted publishers."
                if on
                else "API tokens may upload again; every Owner has been told.",
            )
    else:
        raise publishers.PublisherError("Unknown action.")


def _publisher(queryset: QuerySet[Publisher], wanted: str | None) -> Publisher:
    publisher_id = parse_uuid(wanted or "")
    if publisher_id is None:
        raise Http404("No such publisher")
    return get_object_or_404(queryset, pk=publisher_id)


@never_cache
@reauth_required()
def pending_publishing(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        try:
            _pending_action(request, user)
        except publishers.PublisherError as exc:
            messages.error(request, str(exc))
        except RateLimited as exc:
            messages.error(
                request,
                "Too many pending publishers added from this address. Try again "
                f"{wait_in_words(exc.retry_after)}.",
            )
        return redirect("packages:pending-publishing")
    context = {
        "publishers": _publisher_rows(publishers.pending_publishers_of(user)),
        "issuers": _issuer_choices(),
        "unsafe_events": UNSAFE_EVENTS,
    }
    return render(request, "packages/pending_publishing.html", context)


def _pending_action(request: HttpRequest, user: User) -> None:
    if request.POST.get("action") == "remove":
        publisher = _publisher(
            Publisher.objects.filter(project__isnull=True, added_by=user),
            request.POST.get("publisher"),
        )
        publishers.publisher_remove(publisher=publisher, actor=user, request=request)
        messages.success(request, "Pending publisher removed.")
        return
    issuer_url, claims, events = _form_claims(request)
    publisher = publishers.pending_publisher_add(
        name=request.POST.get("project", ""),
        issuer_url=issuer_url,
        claims=claims,
        allowed_events=events,
        user=user,
        request=request,
    )
    messages.success(
        request,
        f"Pending publisher for {publisher.pending_name} added: its first upload token creates "
        "the project. The name is not reserved until then.",
    )
