from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from packyard.accounts import history, services
from packyard.accounts.events import EventTag, event_record
from packyard.accounts.forms import (
    BoundedPasswordChangeForm,
    BoundedSetPasswordForm,
    InviteUserForm,
    RegisterForm,
)
from packyard.accounts.models import Event, User
from packyard.accounts.places import place_of
from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.reauth import reauth_required
from packyard.accounts.sessions import (
    client_in_words,
    current_session_id,
    factor_in_words,
    session_start,
    sessions_end,
    sessions_live,
    sessions_revoke,
)
from packyard.http import client_ip

HISTORY_DAYS = 90
HISTORY_PAGE = 50


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@sensitive_post_parameters("password", "password_confirm")
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:manage")
    if not services.registration_open():
        return _registration_closed(request)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            services.REGISTRATIONS_PER_IP.hit(client_ip(request))
            services.registration_submit(
                username=form.cleaned_data["username"],
                email=email,
                password=form.cleaned_data["password"],
                request=request,
            )
        except RateLimited as exc:
            form.add_error(None, exc.refusal("Too many attempts from this address").message)
            response = render(request, "accounts/register.html", {"form": form}, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        except services.AccountError as exc:
            form.add_error(None, str(exc))
        else:
            return render(request, "accounts/register_sent.html", {"email": email})
    return render(request, "accounts/register.html", {"form": form})


def _registration_closed(request: HttpRequest) -> HttpResponse:
    if settings.PACKYARD_REGISTRATION_DOMAINS:
        reason = "Only addresses at some domains may register here."
    else:
        reason = (
            "This index makes accounts by invitation only: ask one of its administrators to "
            "invite you."
        )
    return render(request, "accounts/register_closed.html", {"reason": reason}, status=403)


@sensitive_post_parameters("password", "password_confirm")
def register_invited_view(request: HttpRequest, token: str) -> HttpResponse:
    """An account from a staff invitation: the address is verified by the link itself."""
    if request.user.is_authenticated:
        return redirect("accounts:manage")
    try:
        email = services.user_invitation_email(token)
    except services.AccountError as exc:
        return render(request, "accounts/register_closed.html", {"reason": str(exc)}, status=400)
    form = RegisterForm(request.POST or None, email=email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                username=form.cleaned_data["username"],
                email=email,
                password=form.cleaned_data["password"],
                verified=True,
            )
        except services.AccountError as exc:
            form.add_error(None, str(exc))
        else:
            event_record(user=user, tag=EventTag.CREATE, request=request, invited=True)
            session_start(request, user, factor="password")
            return redirect("accounts:manage")
    return render(request, "accounts/register_invited.html", {"form": form, "email": email})


@reauth_required()
def invite_user_view(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    if not request.user.is_staff:
        return render(
            request,
            "accounts/register_closed.html",
            {
                "heading": "Only staff invite people",
                "reason": "Ask the index's operators to invite the person.",
            },
            status=403,
        )
    form = InviteUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_invitation_send(
                email=form.cleaned_data["email"], invited_by=request.user, request=request
            )
        except services.AccountError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("accounts:invite-user")
    return render(request, "accounts/invite_user.html", {"form": form})


def verify_email_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        services.email_verify(token=token, request=request)
    except services.AccountError as exc:
        return render(request, "accounts/verify_failed.html", {"error": str(exc)}, status=400)
    messages.success(request, "Your email address is verified.")
    return redirect("accounts:manage" if request.user.is_authenticated else "signin:login")


@login_required
@require_POST
def resend_verification_view(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    user = request.user
    if user.email_verified:
        return redirect("accounts:manage")
    if services.mail_allowed([(services.VERIFY_MAILS_PER_USER, str(user.pk))]):
        services.email_verification_send(user=user)
        messages.info(request, f"We sent a new verification link to {user.email}.")
    else:
        messages.error(request, "We sent several links in the last hour; use one of those.")
    return redirect("accounts:manage")


@login_required
@require_safe
def manage_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/manage.html")


@method_decorator(reauth_required(), name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = BoundedPasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:manage")

    def form_valid(self, form: BoundedPasswordChangeForm) -> HttpResponse:
        form.save()
        # Keeps this session; every other session fails its auth-hash check from now on.
        update_session_auth_hash(self.request, form.user)
        services.password_changed(user=form.user, request=self.request)
        messages.success(self.request, "Your password has changed. Other sessions are logged out.")
        return redirect(self.get_success_url())


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-sent")
    extra_email_context = {"site_name": settings.SITE_NAME, "base_url": settings.BASE_URL}

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        limits = [
            (services.RESET_MAILS_PER_ADDRESS, form.cleaned_data["email"].lower()),
            (services.RESET_MAILS_PER_IP, client_ip(self.request)),
        ]
        if not services.mail_allowed(limits):
            # The same answer as always: the page tells nobody whether an account exists.
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = BoundedSetPasswordForm
    success_url = reverse_lazy("accounts:password-reset-done")

    def form_valid(self, form: Form) -> HttpResponse:
        response = super().form_valid(form)
        assert self.user is not None
        sessions_revoke(user=self.user)
        event_record(user=self.user, tag=EventTag.PASSWORD_RESET, request=self.request)
        return response


@login_required
@require_safe
def sessions_view(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    current = current_session_id(request)
    sessions = [
        {
            "session": session,
            "this": str(session.pk) == current,
            "client": client_in_words(session.user_agent),
            "place": place_of(session.ip_address),
            "factor": factor_in_words(session.factor),
        }
        for session in sessions_live(request.user)
    ]
    others = any(not row["this"] for row in sessions)
    return render(request, "accounts/sessions.html", {"sessions": sessions, "others": others})


@login_required
@require_POST
def session_revoke_view(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    count = sessions_end(user=request.user, choice=request.POST.get("session", ""), request=request)
    messages.success(request, f"Ended {count} session{'s' if count != 1 else ''}.")
    return redirect("accounts:sessions")


@login_required
@require_safe
def history_view(request: HttpRequest) -> HttpResponse:
    """The last HISTORY_DAYS days of the account's security events: sentences, a filter by
    kind, pages of HISTORY_PAGE; `?format=json` gives the same page's raw events."""
    assert isinstance(request.user, User)
    since = timezone.now() - timedelta(days=HISTORY_DAYS)
    events = Event.objects.filter(user=request.user, time__gte=since)
    kind = request.GET.get("kind", "")
    if kind == "other":
        for known in history.KINDS:
            if known != "other":
                events = events.exclude(tag__startswith=f"account:{known}:")
    elif kind in history.KINDS:
        events = events.filter(tag__startswith=f"account:{kind}:")
    else:
        kind = ""
    page = Paginator(events, HISTORY_PAGE).get_page(request.GET.get("page"))
    if request.GET.get("format") == "json":
        return JsonResponse({"events": [_event_json(event) for event in page]})
    rows = [
        (
            event,
            history.event_sentence(event.tag, event.additional),
            client_in_words(event.user_agent) if event.user_agent else "",
        )
        for event in page
    ]
    context = {
        "rows": rows,
        "page": page,
        "days": HISTORY_DAYS,
        "kinds": history.KINDS,
        "kind": kind,
    }
    return render(request, "accounts/history.html", context)


def _event_json(event: Event) -> dict[str, object]:
    return {
        "time": event.time.isoformat(),
        "tag": event.tag,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "details": event.additional,
    }
