from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from packyard.accounts.models import User, UserSession
from packyard.accounts.reauth import reauth_required
from packyard.accounts.sessions import current_session_id
from packyard.http import parse_uuid
from packyard.tokens.errors import TokenError
from packyard.tokens.forms import TokenCreateForm
from packyard.tokens.mint import token_mint
from packyard.tokens.models import ApiToken
from packyard.tokens.projects import directory
from packyard.tokens.revoke import tokens_delete
from packyard.tokens.scope import TokenScope


def _like(request: HttpRequest, user: User) -> dict[str, object]:
    """The form pre-filled from one of the user's tokens: "make a new one like this"."""
    token_id = parse_uuid(request.GET.get("like", ""))
    model = ApiToken.objects.filter(user=user, pk=token_id).first() if token_id else None
    if model is None:
        return {}
    scope = TokenScope.from_dict(model.scope)
    return {
        "description": f"{model.description} (new)"[:100],
        "projects": [project.id for project in directory().named(model.project_names)],
        "existing_only": scope.existing_only,
        "version_pattern": scope.version_pattern,
        "source_cidrs": ", ".join(scope.source_cidrs),
        "single_use": scope.single_use,
        "read_only": scope.read_only,
        "stage_only": scope.stage_only,
    }


def _logged_in_with_second_factor(request: HttpRequest) -> bool:
    session_id = current_session_id(request)
    row = UserSession.objects.filter(pk=session_id).first() if session_id else None
    return row is not None and row.factor not in {"", "password"}


@never_cache
@reauth_required()
def token_list(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    user = request.user
    projects = directory().uploadable_by(user)
    form = TokenCreateForm(
        request.POST or None, user=user, projects=projects, initial=_like(request, user)
    )
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = token_mint(
                user=user,
                description=form.cleaned_data["description"],
                scope=form.scope(),
                expires=form.expires(),
                request=request,
                with_second_factor=_logged_in_with_second_factor(request),
            )
        except (TokenError, ValidationError) as exc:
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
    tokens_delete(user=request.user, tokens=[token], request=request)
    messages.success(request, f"Deleted the token {token.description!r}.")
    return redirect("tokens:list")


@reauth_required()
@require_POST
def token_delete_all(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    tokens = list(ApiToken.objects.filter(user=request.user, revoked_at__isnull=True))
    tokens_delete(user=request.user, tokens=tokens, request=request)
    messages.success(request, "Deleted all your tokens.")
    return redirect("tokens:list")
