"""Project pages for Owners: who can publish this project, and taking that away."""

import uuid
from collections import defaultdict
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from packaging.utils import canonicalize_name

from packyard.accounts.models import User
from packyard.accounts.reauth import reauth_redirect, reauth_required, reauth_with_key
from packyard.http import parse_uuid, row_id_or_404
from packyard.packages import collaborators, history, loosening, services
from packyard.packages.index.queries import FileEntry, project_listing
from packyard.packages.models import (
    File,
    Invitation,
    Project,
    ProjectEvent,
    Release,
    Role,
    SettingChange,
)
from packyard.packages.stages import services as stages
from packyard.tokens.models import ApiToken
from packyard.twofactor.services import user_has_security_key


def owned_project(request: HttpRequest, name: str) -> Project:
    assert isinstance(request.user, User)
    project = get_object_or_404(Project, normalized_name=canonicalize_name(name))
    if not Role.objects.owners().filter(project=project, user=request.user).exists():
        raise Http404("No such project among yours")
    return project


def credentials_for(project: Project) -> list[ApiToken]:
    """Every live token that can upload to the project: its project-scoped tokens and the
    account-wide tokens of its Owners and Maintainers."""
    holders = Role.objects.filter(project=project).values("user")
    tokens = ApiToken.objects.live().filter(user__in=holders).select_related("user")
    return [
        token
        for token in tokens
        if not token.project_names or project.normalized_name in token.project_names
    ]


def key_confirmation(
    request: HttpRequest, project: Project, setting: str, value: object
) -> HttpResponse | None:
    """Loosening a setting asks an Owner who has a security key or passkey to confirm with it
    (a phished code is not enough to open a project up); None when they may go on."""
    assert isinstance(request.user, User)
    if not loosening.would_loosen(project, setting, value):
        return None
    if reauth_with_key(request) or not user_has_security_key(request.user):
        return None
    return reauth_redirect(request, window=settings.PACKYARD_REAUTH_SECONDS, key=True)


def loosening_message(change: SettingChange) -> str:
    if change.applied is not None:
        return "Changed. Every Owner has been emailed."
    return (
        f"This loosens the project's security: it takes effect at {change.effective:%Y-%m-%d %H:%M}"
        " UTC. Every Owner has been emailed and can cancel it until then."
    )


@reauth_required()
def project_credentials(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    context = {"project": project, "tokens": credentials_for(project)}
    return render(request, "packages/credentials.html", context)


@reauth_required()
@require_POST
def project_credential_revoke(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    assert isinstance(request.user, User)
    wanted = request.POST.get("token", "")
    token = next((t for t in credentials_for(project) if str(t.pk) == wanted), None)
    if token is None:
        messages.error(request, "That token cannot upload to this project (any more).")
        return redirect("packages:credentials", project.normalized_name)
    services.project_credential_revoke(
        project=project, token=token, owner=request.user, request=request
    )
    messages.success(request, f"Revoked {token.user.username}'s token {token.description!r}.")
    return redirect("packages:credentials", project.normalized_name)


@login_required
@require_safe
def project_history(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    page = Paginator(project.events.select_related("actor"), HISTORY_PAGE).get_page(
        request.GET.get("page")
    )
    if request.GET.get("format") == "json":
        return JsonResponse({"events": [_event_json(event) for event in page]})
    rows = [(event, history.event_sentence(event.tag, event.additional)) for event in page]
    return render(
        request, "packages/history.html", {"project": project, "rows": rows, "page": page}
    )


HISTORY_PAGE = 50


def _event_json(event: ProjectEvent) -> dict[str, object]:
    return {
        "time": event.time.isoformat(),
        "tag": event.tag,
        "actor": event.actor.username if event.actor else None,
        "ip_address": event.ip_address,
        "details": event.additional,
    }


@login_required
@require_safe
def my_projects(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    roles = list(
        Role.objects.filter(user=request.user)
        .select_related("project")
        .order_by("project__normalized_name")
    )
    has_key = user_has_security_key(request.user)
    needs_key = not has_key and any(role.project.require_phishing_resistant for role in roles)
    context = {"roles": roles, "has_key": has_key, "needs_key": needs_key}
    return render(request, "packages/my_projects.html", context)


@login_required
@require_safe
def project_settings(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    listing = project_listing(project)
    files_by_release: dict[int, list[FileEntry]] = defaultdict(list)
    for file in listing.files:
        files_by_release[file.release_id].append(file)
    releases = [(release, files_by_release[release.pk]) for release in reversed(listing.releases)]
    context = {"project": project, "releases": releases}
    return render(request, "packages/settings.html", context)


@never_cache
@reauth_required()
def project_security(request: HttpRequest, name: str) -> HttpResponse:
    """The project's security settings: security keys required, its status (PEP 792), and the
    loosenings waiting out their delay, which any Owner may cancel."""
    project = owned_project(request, name)
    assert isinstance(request.user, User)
    if request.method == "POST":
        try:
            setting, value = _security_wanted(request)
        except loosening.SettingError as exc:
            messages.error(request, str(exc))
            return redirect("packages:security", project.normalized_name)
        if setting == "cancel":
            change = get_object_or_404(
                SettingChange, project=project, pk=parse_uuid(str(value)) or uuid.uuid4()
            )
            return _security_done(request, project, lambda: _cancel(request, change))
        confirm = key_confirmation(request, project, setting, value)
        if confirm is not None:
            return confirm
        return _security_done(request, project, lambda: _change(request, project, setting, value))
    project = loosening.apply_due(project)
    members = Role.objects.filter(project=project).select_related("user").order_by("user__username")
    context = {
        "project": project,
        "waiting": [
            (change, setting.label, setting.in_words(change.value))
            for change in loosening.waiting_changes(project)
            for setting in [loosening.SETTINGS[change.setting]]
        ],
        "without_keys": [role for role in members if not user_has_security_key(role.user)],
        "statuses": [("active", "Active"), ("archived", "Archived"), ("deprecated", "Deprecated")],
        "stages": stages.open_stages(project).prefetch_related("files"),
        "site_approval_keys": settings.PACKYARD_STAGE_APPROVAL_FACTOR == "phishing-resistant",
    }
    return render(request, "packages/security.html", context)


def _security_wanted(request: HttpRequest) -> tuple[str, object]:
    action = request.POST.get("action", "")
    setting = request.POST.get("setting", "")
    if action == "set" and setting in loosening.SETTINGS and setting != "status":
        return setting, request.POST.get("value") == "on"
    if action == "status":
        value = loosening.status_value(
            request.POST.get("status", ""), request.POST.get("reason", "")
        )
        return "status", value
    if action == "cancel":
        return "cancel", request.POST.get("change", "")
    raise loosening.SettingError("Unknown action.")


def _change(request: HttpRequest, project: Project, setting: str, value: object) -> str:
    assert isinstance(request.user, User)
    waiting = loosening.setting_change(
        project=project, setting=setting, value=value, actor=request.user, request=request
    )
    return loosening_message(waiting) if waiting else "Changed. Every Owner has been emailed."


def _cancel(request: HttpRequest, change: SettingChange) -> str:
    assert isinstance(request.user, User)
    loosening.change_cancel(change=change, actor=request.user, request=request)
    return "Cancelled: nothing changed. Every Owner has been emailed."


def _security_done(request: HttpRequest, project: Project, act: Callable[[], str]) -> HttpResponse:
    try:
        messages.success(request, act())
    except services.ProjectActionError as exc:
        messages.error(request, str(exc))
    return redirect("packages:security", project.normalized_name)


def _release(project: Project, version: str) -> Release:
    return get_object_or_404(Release, project=project, version=version)


def _confirmed(request: HttpRequest, expected: str) -> bool:
    typed = request.POST.get("confirm", "").strip()
    return bool(typed) and (
        typed == expected or canonicalize_name(typed) == canonicalize_name(expected)
    )


@reauth_required()
@require_POST
def release_yank(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    release = _release(project, request.POST.get("version", ""))
    assert isinstance(request.user, User)
    try:
        if request.POST.get("undo"):
            services.release_unyank(release=release, actor=request.user, request=request)
            messages.success(request, f"{release.version} is no longer yanked.")
        else:
            reason = request.POST.get("reason", "")
            services.release_yank(
                release=release, reason=reason, actor=request.user, request=request
            )
            messages.success(
                request, f"Yanked {release.version}: installers skip it unless pinned."
            )
    except services.ProjectActionError as exc:
        messages.error(request, str(exc))
    return redirect("packages:settings", project.normalized_name)


@reauth_required()
@require_POST
def delete_file(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    file = get_object_or_404(
        File, release__project=project, filename=request.POST.get("filename", "")
    )
    assert isinstance(request.user, User)
    if request.POST.get("confirm", "").strip() != file.filename:
        messages.error(request, f"Type the file name {file.filename} to delete it.")
        return redirect("packages:settings", project.normalized_name)
    try:
        services.file_delete(file=file, actor=request.user, request=request)
    except services.ProjectActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleted {file.filename}. Its name can never be used again.")
    return redirect("packages:settings", project.normalized_name)


@reauth_required()
@require_POST
def delete_release(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    release = _release(project, request.POST.get("version", ""))
    assert isinstance(request.user, User)
    if request.POST.get("confirm", "").strip() != release.version:
        messages.error(request, f"Type the version {release.version} to delete it.")
        return redirect("packages:settings", project.normalized_name)
    try:
        services.release_delete(release=release, actor=request.user, request=request)
    except services.ProjectActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleted {release.version} and its files.")
    return redirect("packages:settings", project.normalized_name)


@reauth_required()
@require_POST
def delete_project(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    assert isinstance(request.user, User)
    if not _confirmed(request, project.name):
        messages.error(request, f"Type the project name {project.name} to delete it.")
        return redirect("packages:settings", project.normalized_name)
    try:
        services.project_delete(project=project, actor=request.user, request=request)
    except services.ProjectActionError as exc:
        messages.error(request, str(exc))
        return redirect("packages:settings", project.normalized_name)
    messages.success(request, f"Deleted the project {project.name}.")
    return redirect("packages:my-projects")


@never_cache
@reauth_required()
def project_collaborators(request: HttpRequest, name: str) -> HttpResponse:
    project = owned_project(request, name)
    assert isinstance(request.user, User)
    if request.method == "POST":
        try:
            _collaborator_action(request, project, request.user)
        except collaborators.CollaboratorError as exc:
            messages.error(request, str(exc))
        return redirect("packages:collaborators", project.normalized_name)
    context = {
        "project": project,
        "roles": Role.objects.filter(project=project)
        .select_related("user")
        .order_by("user__username"),
        "invitations": [i for i in project.invitations.select_related("invitee") if i.is_open],
        "role_choices": Role.ROLE_CHOICES,
    }
    return render(request, "packages/collaborators.html", context)


def _collaborator_action(request: HttpRequest, project: Project, owner: User) -> None:
    action = request.POST.get("action", "")
    if action == "invite":
        invitation = collaborators.invitation_create(
            project=project,
            inviter=owner,
            username=request.POST.get("username", ""),
            role_name=request.POST.get("role", ""),
            request=request,
        )
        messages.success(request, f"Invited {invitation.invitee.username}.")
    elif action == "revoke":
        invitation = get_object_or_404(
            Invitation, project=project, pk=row_id_or_404(request.POST.get("invitation"))
        )
        collaborators.invitation_revoke(invitation=invitation, owner=owner, request=request)
        messages.success(request, "Invitation withdrawn.")
    elif action in {"change", "remove"}:
        role = get_object_or_404(
            Role, project=project, pk=row_id_or_404(request.POST.get("role_id"))
        )
        if action == "change":
            collaborators.role_change(
                role=role, new_role=request.POST.get("role", ""), owner=owner, request=request
            )
        else:
            collaborators.role_remove(role=role, owner=owner, request=request)
        messages.success(request, "Collaborators updated.")
    else:
        raise collaborators.CollaboratorError("Unknown action.")


@login_required
def my_invitations(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    if request.method == "POST":
        invitation = get_object_or_404(Invitation, pk=row_id_or_404(request.POST.get("invitation")))
        accept = request.POST.get("answer") == "accept"
        try:
            collaborators.invitation_answer(
                invitation=invitation, user=request.user, accept=accept, request=request
            )
        except collaborators.CollaboratorError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Invitation accepted." if accept else "Invitation declined.")
        return redirect("packages:invitations")
    pending = [
        i
        for i in Invitation.objects.filter(invitee=request.user).select_related(
            "project", "inviter"
        )
        if i.is_open
    ]
    return render(request, "packages/invitations.html", {"invitations": pending})
