"""The login's first step: the password, then the second step when the account has one."""

from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from packyard.accounts import services
from packyard.accounts.forms import LoginForm
from packyard.accounts.models import User
from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.sessions import session_start
from packyard.http import safe_next
from packyard.signin import pending
from packyard.twofactor.services import user_has_two_factor


def _too_many_attempts(request: HttpRequest, form: Form, exc: RateLimited) -> HttpResponse:
    form.add_error(None, exc.refusal("Too many failed attempts").message)
    response = render(request, "signin/login.html", {"form": form}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _safe_next(request: HttpRequest) -> str:
    return safe_next(request, request.POST.get("next") or request.GET.get("next") or "")


@sensitive_post_parameters("password")
@sensitive_variables("password")
def login_view(request: HttpRequest) -> HttpResponse:
    pending.pending_clear(request)  # starting over ends any half-finished two-factor login
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password"]
        try:
            user = services.password_check(
                request=request, username=form.cleaned_data["username"], password=password
            )
        except RateLimited as exc:
            return _too_many_attempts(request, form, exc)
        if user is not None:
            return _password_accepted(request, user)
        form.add_error(None, "The username or password is wrong.")
    return render(request, "signin/login.html", {"form": form, "next": _safe_next(request)})


def _password_accepted(request: HttpRequest, user: User) -> HttpResponse:
    if user_has_two_factor(user):
        pending.pending_start(request, user, _safe_next(request))
        return redirect("signin:second-step")
    session_start(request, user, factor="password")
    return redirect(_safe_next(request))
