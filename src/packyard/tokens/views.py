from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from packyard.accounts.models import User
from packyard.accounts.reauth import reauth_required
from packyard.packages.models import Project
from packyard.tokens import services
from packyard.tokens.forms import TokenCreateForm
from packyard.tokens.models import ApiToken


def _uploadable_projects(user: User) -> "object":
    return Project.objects.filter(roles__user=user).order_by("normalized_name")


@never_cache
@reauth_required()
def token_list(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    user = request.user
    form = TokenCreateForm(request.POST or None, projects=_uploadable_projects(user))
    if request.method == "POST" and form.is_valid():
        projects = [(p.normalized_name, str(p.id)) for p in form.cleaned_data["projects"]]
        try:
            token, raw = services.token_mint(
                user=user,
                description=form.cleaned_data["description"],
                projects=projects,
                expires=form.expires(),
                request=request,
            )
        except (services.TokenError, ValidationError) as exc:
            form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
        else:
            response = render(request, "tokens/created.html", {"token": token, "raw": raw})
            response["Cache-Control"] = "no-store"
            return response
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    return render(request, "tokens/list.html", {"form": form, "tokens": tokens})


@reauth_required()
@require_POST
def token_delete(request: HttpRequest, token_id: str) -> HttpResponse:
    assert isinstance(request.user, User)
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user, revoked_at__isnull=True)
    services.token_revoke(token=token, request=request)
    messages.success(request, f"Deleted the token {token.description!r}.")
    return redirect("tokens:list")


@reauth_required()
@require_POST
def token_delete_all(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    tokens = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    for token in tokens:
        services.token_revoke(token=token, request=request)
    messages.success(request, "Deleted all your tokens.")
    return redirect("tokens:list")
