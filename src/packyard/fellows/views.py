"""The programme's pages: the public roster, nominating, and the work group's review."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from packyard.accounts.models import User
from packyard.accounts.reauth import reauth_required
from packyard.fellows import services
from packyard.fellows.models import FellowsEvent, Nomination, ReferenceRequest, Round, Vote
from packyard.http import parse_uuid, row_id_or_404
from packyard.packages.index.access import web_pages_access

View = Callable[..., HttpResponseBase]


def programme_on(view: View) -> View:
    """Every page of the programme is absent (404) unless the operator turned it on."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.PACKYARD_FELLOWS:
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    return wrapper


def work_group(view: Callable[..., HttpResponse]) -> View:
    """Members only (everyone else gets 404, before anything else: nominations and votes are
    not theirs to see), with two-factor authentication, behind a recent re-authentication."""
    confirmed = reauth_required()(view)

    @wraps(confirmed)  # keeps the mark that lets an interrupted form be carried out afterwards
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not isinstance(user, User) or not services.is_member(user):
            raise Http404("No such page")
        refusal = services.member_refusal(user)
        if refusal:
            messages.error(request, refusal)
            return redirect("twofactor:overview")
        return confirmed(request, *args, **kwargs)

    return programme_on(login_required(wrapper))


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _text(request: HttpRequest) -> services.NominationText:
    return services.NominationText(
        nominee_name=request.POST.get("nominee_name", ""),
        nominee_email=request.POST.get("nominee_email", ""),
        links=request.POST.get("links", "").splitlines(),
        statement=request.POST.get("statement", ""),
        nominee_username=request.POST.get("nominee_username", ""),
    )


# --- public -------------------------------------------------------------------------------------


@programme_on
@require_safe
@web_pages_access
def roster(request: HttpRequest) -> HttpResponseBase:
    rounds = Round.objects.filter(state=Round.ANNOUNCED)
    return render(request, "fellows/roster.html", {"fellows": services.roster(), "rounds": rounds})


@programme_on
@require_safe
@web_pages_access
def roster_json(request: HttpRequest) -> HttpResponseBase:  # noqa: ARG001 - a view's signature
    response = JsonResponse(services.roster_json())
    response["Access-Control-Allow-Origin"] = "*"  # for other sites to show it
    return response


@programme_on
@require_safe
@web_pages_access
def round_page(request: HttpRequest, year: int, quarter: int) -> HttpResponseBase:
    round_ = get_object_or_404(Round, year=year, quarter=quarter, state=Round.ANNOUNCED)
    cohort = [fellow for fellow in services.roster() if fellow.round_id == round_.pk]
    return render(request, "fellows/round.html", {"round": round_, "cohort": cohort})


# --- nominators --------------------------------------------------------------------------------


@programme_on
@never_cache
@login_required
def nominate(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        try:
            nomination = services.nominate(nominator=user, text=_text(request))
        except services.FellowsError as exc:
            messages.error(request, str(exc))
            return render(request, "fellows/nominate.html", {"form": request.POST}, status=400)
        messages.success(request, f"Nominated {nomination.nominee_name}. Thank you.")
        return redirect("fellows:nomination", nomination.pk)
    try:
        current = services.current_round()
    except services.FellowsError:
        current = None
    return render(request, "fellows/nominate.html", {"form": {}, "round": current})


@programme_on
@login_required
@require_safe
def my_nominations(request: HttpRequest) -> HttpResponse:
    rows = Nomination.objects.filter(nominator=_user(request)).select_related("first_round")
    return render(request, "fellows/my_nominations.html", {"nominations": rows})


@programme_on
@never_cache
@login_required
def nomination(request: HttpRequest, nomination_id: str) -> HttpResponse:
    """The nominator's own nomination: edit it while the round is open, withdraw it, answer the
    work group's questions. Nobody else's."""
    user = _user(request)
    found = get_object_or_404(
        Nomination.objects.select_related("first_round"),
        pk=parse_uuid(nomination_id) or _NONE,
        nominator=user,
    )
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "edit":
                services.nomination_edit(nomination=found, nominator=user, text=_text(request))
                messages.success(request, "Saved.")
            elif action == "withdraw":
                services.nomination_withdraw(nomination=found, nominator=user)
                messages.success(request, "Withdrawn.")
            elif action == "reply":
                asked = get_object_or_404(
                    ReferenceRequest,
                    nomination=found,
                    pk=row_id_or_404(request.POST.get("request", "")),
                )
                services.reference_reply(
                    request=asked, nominator=user, reply=request.POST.get("reply", "")
                )
                messages.success(request, "Your answer is with the work group.")
            else:
                raise services.FellowsError("Unknown action.")
        except services.FellowsError as exc:
            messages.error(request, str(exc))
        return redirect("fellows:nomination", found.pk)
    context = {
        "nomination": found,
        "editable": found.status == Nomination.OPEN and found.first_round.state == Round.OPEN,
        "requests": found.reference_requests.all(),
        "form": {
            "nominee_name": found.nominee_name,
            "nominee_email": found.nominee_email,
            "nominee_username": found.nominee_user.username if found.nominee_user else "",
            "links": "\n".join(found.links),
            "statement": found.statement,
        },
    }
    return render(request, "fellows/nomination.html", context)


_NONE = "00000000-0000-0000-0000-000000000000"


# --- the work group ----------------------------------------------------------------------------


@never_cache
@work_group
def review(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        round_ = get_object_or_404(Round, pk=row_id_or_404(request.POST.get("round", "")))
        action = request.POST.get("action", "")
        try:
            if action == "review":
                services.round_review(round_=round_, actor=user)
            elif action == "decide":
                accepted = services.round_decide(
                    round_=round_, actor=user, not_accepted_text=request.POST.get("text", "")
                )
                messages.success(request, f"Decided: {len(accepted)} accepted.")
            elif action == "announce":
                services.round_announce(round_=round_, actor=user)
                messages.success(request, "Announced: the accepted nominees are invited.")
            else:
                raise services.FellowsError("Unknown action.")
        except services.FellowsError as exc:
            messages.error(request, str(exc))
        return redirect("fellows:review")
    rounds = services.rounds_to_review()
    under_review = [r for r in rounds if r.state == Round.REVIEW]
    groups = services.grouped(services.eligible(under_review[0])) if under_review else []
    current = Round.objects.filter(state=Round.OPEN).order_by("year", "quarter").first()
    context = {
        "rounds": rounds,
        "current": current,
        "reviewing": under_review[0] if under_review else None,
        "groups": groups,
        "default_text": services.default_not_accepted_text(),
        "log": FellowsEvent.objects.select_related("actor", "round", "nomination")[:100],
    }
    return render(request, "fellows/review.html", context)


@never_cache
@work_group
def review_nomination(request: HttpRequest, nomination_id: str) -> HttpResponse:
    user = _user(request)
    found = get_object_or_404(
        Nomination.objects.select_related("nominator", "first_round"),
        pk=parse_uuid(nomination_id) or _NONE,
    )
    reviewing = next((r for r in services.rounds_to_review() if r.state == Round.REVIEW), None)
    recused = services.is_recused(found, user)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "vote" and reviewing is not None:
                services.vote_cast(
                    member=user,
                    nomination=found,
                    round_=reviewing,
                    choice=request.POST.get("choice", ""),
                    comment=request.POST.get("comment", ""),
                )
                messages.success(request, "Vote recorded.")
            elif action == "recuse":
                services.recuse(
                    member=user, nomination=found, reason=request.POST.get("reason", "")
                )
                messages.success(request, "Recused: you no longer see or cast votes on it.")
            elif action == "ask":
                services.reference_ask(
                    member=user, nomination=found, question=request.POST.get("question", "")
                )
                messages.success(request, "The nominator was emailed your question.")
            else:
                raise services.FellowsError("Votes are cast while a round is under review.")
        except services.FellowsError as exc:
            messages.error(request, str(exc))
        return redirect("fellows:review-nomination", found.pk)
    votes = []
    if not recused and reviewing is not None:
        votes = list(Vote.objects.filter(nomination=found, round=reviewing).select_related("voter"))
    mine = next((vote for vote in votes if vote.voter_id == user.pk), None)
    others = Nomination.objects.filter(nominee_email__iexact=found.nominee_email).exclude(
        pk=found.pk
    )
    context = {
        "nomination": found,
        "reviewing": reviewing,
        "recused": recused,
        "votes": votes,
        "mine": mine,
        "tally": services.tally(found, reviewing) if reviewing and not recused else None,
        "others": others.exclude(status=Nomination.WITHDRAWN),
        "requests": found.reference_requests.select_related("asked_by"),
        "log": found.events.select_related("actor", "round")[:50],
        "choices": Vote.CHOICES,
    }
    return render(request, "fellows/review_nomination.html", context)


# --- the accepted nominee ----------------------------------------------------------------------


@programme_on
@never_cache
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        fellow = services.invitation_fellow(token)
    except services.FellowsError as exc:
        return render(request, "fellows/invitation.html", {"error": str(exc)}, status=400)
    if request.method == "POST":
        accept = request.POST.get("answer") == "accept"
        try:
            services.invitation_answer(fellow=fellow, accept=accept)
        except services.FellowsError as exc:
            messages.error(request, str(exc))
        else:
            if accept:
                messages.success(request, "Welcome: you are on the roster.")
                return redirect("fellows:roster")
            messages.success(request, "Understood: you are not listed.")
        fellow.refresh_from_db()
    return render(request, "fellows/invitation.html", {"fellow": fellow})
