"""A stage's own index, for installers (`/stage/<key>/simple/`), and the pages where approvers
review a stage and publish or discard it."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from packaging.utils import canonicalize_name

from packyard.accounts.models import User
from packyard.accounts.reauth import (
    PHISHING_RESISTANT_FACTORS,
    REAUTH_FACTOR_KEY,
    reauth_age,
    reauth_redirect,
    reauth_required,
)
from packyard.http import parse_uuid, plain_error
from packyard.packages import views as index_views
from packyard.packages.index import simple
from packyard.packages.index.access import read_access, require_readable
from packyard.packages.index.files import serve_stored_or_503
from packyard.packages.index.queries import SimpleFile, simple_files, version_order, versions
from packyard.packages.models import Project, Role, Stage
from packyard.packages.stages import services as stages
from packyard.twofactor.services import codes_refused, user_has_security_key, user_has_two_factor


def _stage_at(key: str) -> Stage:
    """The stage at this address (its index answers 410 once it is closed); 404 for an address
    never given."""
    stage = stages.stage_by_key(key)
    if stage is None or stage.project.quarantined:
        raise Http404("No such stage")
    return stage


def _gone(stage: Stage) -> HttpResponse:
    if stage.state == Stage.PUBLISHED:
        text = (
            f"This stage was published: {stage.project.name} {stage.version} is in the index. "
            f"Install it from {settings.BASE_URL}/simple/"
        )
    else:
        text = "This stage is closed (discarded or expired): it serves nothing any more."
    return plain_error(410, text)


def _staged_entries(stage: Stage) -> list[SimpleFile]:
    base = f"stage/{stages.stage_key(stage)}/files"
    return [
        SimpleFile(
            filename=file.filename,
            path=f"{base}/{file.filename}",
            sha256_digest=file.sha256_digest,
            requires_python=file.requires_python,
            metadata_sha256=file.metadata_sha256,
            yanked=False,
            yanked_reason="",
            size=file.size,
            upload_time=file.upload_time,
        )
        for file in stage.files.all()
    ]


@never_cache
@require_safe
@read_access
def stage_simple(request: HttpRequest, key: str, name: str = "") -> HttpResponseBase:
    """The public index with the stage's files added to its project: every other project, and
    the rest of this one, are the index's own."""
    stage = _stage_at(key)
    if not stage.is_open:
        return _gone(stage)
    if not name:
        return index_views.simple_index(request)
    normalized = canonicalize_name(name)
    if normalized != stage.project.normalized_name:
        return index_views.simple_project(request, name)
    require_readable(request, normalized)
    negotiated = simple.negotiate(request)
    if negotiated is None:
        return plain_error(406, "Not acceptable: ask for the simple API's JSON or HTML.")
    project = stage.project
    files = sorted(simple_files(project) + _staged_entries(stage), key=lambda f: f.filename)
    if negotiated == simple.JSON_V1:
        listed = sorted({*versions(project), stage.version}, key=version_order)
        body = simple.project_json(project, listed, files)
        content_type = negotiated
    else:
        body = simple.project_html(project, files)
        content_type = f"{negotiated}; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Vary"] = "Accept"
    return response


@require_safe
@read_access
def stage_file(request: HttpRequest, key: str, filename: str) -> HttpResponseBase:
    stage = _stage_at(key)
    if not stage.is_open:
        return _gone(stage)
    require_readable(request, stage.project.normalized_name)
    is_metadata = filename.endswith(".metadata")
    file = stage.files.filter(filename=filename.removesuffix(".metadata")).first()
    if file is None or (is_metadata and not file.metadata_path):
        raise Http404("No such file in this stage")
    if is_metadata:
        return serve_stored_or_503(
            request,
            path=file.metadata_path,
            filename=filename,
            size=None,
            sha256=file.metadata_sha256,
        )
    return serve_stored_or_503(
        request, path=file.path, filename=file.filename, size=file.size, sha256=file.sha256_digest
    )


# --- the approvers' pages ----------------------------------------------------------------------


def _member_project(request: HttpRequest, name: str) -> Project:
    """A project the user is an Owner or Maintainer of (others get 404)."""
    assert isinstance(request.user, User)
    project = get_object_or_404(Project, normalized_name=canonicalize_name(name))
    if not Role.objects.filter(project=project, user=request.user).exists():
        raise Http404("No such project among yours")
    return project


@login_required
@require_safe
def project_stages(request: HttpRequest, name: str) -> HttpResponse:
    project = _member_project(request, name)
    stages.expire_due(project)
    rows = project.stages.select_related("created_by", "closed_by").prefetch_related("files")
    assert isinstance(request.user, User)
    is_owner = Role.objects.owners().filter(project=project, user=request.user).exists()
    context = {"project": project, "stages": rows[:100], "is_owner": is_owner}
    return render(request, "packages/stages.html", context)


@never_cache
@reauth_required()
def stage_review(request: HttpRequest, name: str, stage_id: str) -> HttpResponse:
    project = _member_project(request, name)
    user = request.user
    assert isinstance(user, User)
    stages.expire_due(project)
    stage = get_object_or_404(
        Stage.objects.select_related("created_by", "closed_by"),
        project=project,
        pk=parse_uuid(stage_id) or _NO_SUCH,
    )
    if request.method == "POST":
        return _stage_action(request, project, stage, user)
    context = {
        "project": project,
        "stage": stage,
        "files": stage.files.select_related("uploader"),
        "changes": stages.changes_from_last_release(stage),
        "index_url": stages.stage_index_url(stage),
        "may_approve": stages.may_approve(project, user),
        "needs_key": stages.approval_needs_key(project),
    }
    return render(request, "packages/stage.html", context)


_NO_SUCH = "00000000-0000-0000-0000-000000000000"


def _stage_action(request: HttpRequest, project: Project, stage: Stage, user: User) -> HttpResponse:
    action = request.POST.get("action", "")
    back = redirect("packages:stage", project.normalized_name, stage.pk)
    refusal = _approval_refusal(project, user)
    if refusal:
        messages.error(request, refusal)
        return back
    if action == "publish":
        needs_key = stages.approval_needs_key(project) or codes_refused(user)
        if not _fresh_second_factor(request, key=needs_key):
            return reauth_redirect(request, window=stages.APPROVAL_SECONDS, key=needs_key)
        try:
            serial = stages.stage_publish(stage=stage, actor=user, request=request)
        except stages.StageError as exc:
            messages.error(request, str(exc))
            return back
        messages.success(
            request,
            f"Published {project.name} {stage.version}: in the index as of serial {serial}.",
        )
        return back
    if action == "discard":
        try:
            stages.stage_discard(stage=stage, actor=user, request=request)
        except stages.StageError as exc:
            messages.error(request, str(exc))
            return back
        messages.success(request, "Discarded. Its file names can never be uploaded again.")
        return back
    messages.error(request, "Unknown action.")
    return back


def _approval_refusal(project: Project, user: User) -> str:
    if not stages.may_approve(project, user):
        return "Only the project's Owners may publish or discard its stages."
    if not user_has_two_factor(user):
        return "Publishing needs a second factor: add one to your account first."
    needs_key = stages.approval_needs_key(project)
    if needs_key and not user_has_security_key(user):
        return (
            "Publishing this project's stages needs a security key or passkey, and your account "
            "has none: add one first."
        )
    return ""


def _fresh_second_factor(request: HttpRequest, *, key: bool) -> bool:
    """Confirmed within APPROVAL_SECONDS with a second factor (a key when `key`)."""
    age = reauth_age(request)
    if age is None or age > stages.APPROVAL_SECONDS:
        return False
    factor = str(request.session.get(REAUTH_FACTOR_KEY, ""))
    if key:
        return factor in PHISHING_RESISTANT_FACTORS
    return factor not in ("", "password")
