"""The recognition programme's rules: the calendar, nominations, the vote rule, a round's steps,
references, invitations and the roster. Every step is recorded (`FellowsEvent`)."""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

import readme_renderer.markdown
from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from packyard.accounts.models import User
from packyard.fellows.models import (
    Fellow,
    FellowsEvent,
    Member,
    Nomination,
    Recusal,
    ReferenceRequest,
    Round,
    Vote,
)
from packyard.twofactor.services import two_factor_missing, user_has_two_factor

MAX_NAME = 200
MAX_EMAIL = 254  # the column's length (an address may be longer by the RFC, not here)
MAX_STATEMENT = 10_000  # characters of Markdown
MAX_LINKS = 10
MAX_LINK = 500
MAX_COMMENT = 5_000
ELIGIBLE_QUARTERS = 4  # a nomination not accepted stays eligible this many rounds
INVITATION_SALT = "packyard.fellows.invitation"
INVITATION_DAYS = 60


class FellowsError(Exception):
    """Refused, with a message for the person."""


# --- the calendar ------------------------------------------------------------------------------


def cutoffs() -> list[tuple[int, int]]:
    """The four cut-off days (month, day), checked: PACKYARD_FELLOWS_CUTOFFS."""
    days = []
    for text in settings.PACKYARD_FELLOWS_CUTOFFS:
        try:
            month, day = (int(part) for part in text.split("-"))
            date(2024, month, day)  # a leap year: 02-29 is a day
        except ValueError:
            raise ImproperlyConfigured(
                f"PACKYARD_FELLOWS_CUTOFFS holds MM-DD days, not {text!r}."
            ) from None
        days.append((month, day))
    if len(days) != 4 or days != sorted(days) or len(set(days)) != 4:
        raise ImproperlyConfigured(
            "PACKYARD_FELLOWS_CUTOFFS names four days of the year in order, one per quarter."
        )
    return days


def _cutoff(year: int, quarter: int) -> datetime:
    month, day = cutoffs()[quarter - 1]
    if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 or year % 400 == 0)):
        day = 28
    return timezone.make_aware(datetime.combine(date(year, month, day), time(23, 59, 59)))


def current_round() -> Round:
    """The round taking nominations now (made when first needed): the first whose cut-off has
    not passed and that the work group has not closed early."""
    now = timezone.now()
    year = now.year
    for offset in range(9):
        quarter_year, quarter = year + offset // 4, offset % 4 + 1
        closes = _cutoff(quarter_year, quarter)
        if closes < now:
            continue
        found, _ = Round.objects.get_or_create(
            year=quarter_year, quarter=quarter, defaults={"closes": closes}
        )
        if found.state == Round.OPEN:
            return found
    raise FellowsError("No round is open.")


def rounds_to_review() -> list[Round]:
    """Rounds whose cut-off passed but which are not announced, oldest first; a round past its
    cut-off moves to review on its own."""
    Round.objects.filter(state=Round.OPEN, closes__lt=timezone.now()).update(state=Round.REVIEW)
    return list(
        Round.objects.exclude(state=Round.ANNOUNCED)
        .exclude(state=Round.OPEN)
        .order_by("year", "quarter")
    )


# --- who may do what ---------------------------------------------------------------------------


def is_member(user: User) -> bool:
    return user.is_authenticated and Member.objects.filter(user=user).exists()


def member_refusal(user: User) -> str:
    """Why this work-group member may not act now, or ""."""
    if not user_has_two_factor(user) or two_factor_missing(user, publishing=True):
        return "Work group members act with two-factor authentication: set it up first."
    return ""


def is_recused(nomination: Nomination, user: User) -> bool:
    return Recusal.objects.filter(nomination=nomination, member=user).exists()


def record(
    tag: str,
    *,
    actor: User | None,
    nomination: Nomination | None = None,
    round: Round | None = None,
    **details: Any,
) -> None:
    FellowsEvent.objects.create(
        tag=tag, actor=actor, nomination=nomination, round=round, details=details
    )


# --- nominations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NominationText:
    nominee_name: str
    nominee_email: str
    links: list[str]
    statement: str
    nominee_username: str = ""


def _checked(text: NominationText) -> tuple[NominationText, str, User | None]:
    """The nomination as it will be kept, its statement rendered, and the nominee's account if
    one was named; raises FellowsError for the first thing wrong."""
    name = text.nominee_name.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise FellowsError(f"Give the nominee's name, on one line, up to {MAX_NAME} characters.")
    email = _checked_email(text.nominee_email)
    links = _checked_links(text.links)
    statement = _checked_statement(text.statement)
    username = text.nominee_username.strip()
    user = None
    if username:
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise FellowsError(f"No user named {username!r} here.")
    html = readme_renderer.markdown.render(statement, variant="GFM") or ""
    return NominationText(name, email, links, statement, username), html, user


def _checked_email(text: str) -> str:
    email = text.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise FellowsError("Give the nominee's email address (kept private).") from None
    if len(email) > MAX_EMAIL:
        raise FellowsError(f"An email address has at most {MAX_EMAIL} characters.")
    return email


def _checked_links(lines: list[str]) -> list[str]:
    links = [link.strip() for link in lines if link.strip()]
    if len(links) > MAX_LINKS:
        raise FellowsError(f"Give at most {MAX_LINKS} links.")
    for link in links:
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(link) > MAX_LINK:
            raise FellowsError(
                f"{link[:80]!r} is not a web address: links start with https:// or http://."
            )
    return links


def _checked_statement(text: str) -> str:
    statement = text.strip()
    if not statement:
        raise FellowsError("Write why you nominate them.")
    squeezed = re.sub(r"\s+", "", statement).lower()
    if "<script" in squeezed or "javascript:" in squeezed:
        raise FellowsError(
            "The statement is Markdown: scripts and javascript: links are not allowed in it."
        )
    if len(statement) > MAX_STATEMENT:
        raise FellowsError(
            f"Keep the statement under {MAX_STATEMENT:,} characters (it has {len(statement):,})."
        )
    return statement


def _columns(cleaned: NominationText, html: str, user: User | None) -> dict[str, Any]:
    return {
        "nominee_name": cleaned.nominee_name,
        "nominee_email": cleaned.nominee_email,
        "nominee_user": user,
        "links": cleaned.links,
        "statement": cleaned.statement,
        "statement_html": html,
    }


def nominate(*, nominator: User, text: NominationText) -> Nomination:
    if not nominator.can_publish:
        raise FellowsError("Verify your email address before nominating.")
    cleaned, html, user = _checked(text)
    with transaction.atomic():
        current = Round.objects.select_for_update().get(pk=current_round().pk)
        most = settings.PACKYARD_FELLOWS_NOMINATIONS_PER_ROUND
        made = Nomination.objects.filter(nominator=nominator, first_round=current).count()
        if made >= most:
            raise FellowsError(f"You made {most} nominations this round, the most one may.")
        nomination = Nomination.objects.create(
            nominator=nominator, first_round=current, **_columns(cleaned, html, user)
        )
        record("nomination:created", actor=nominator, nomination=nomination, round=current)
    return nomination


def _editable(nomination: Nomination, nominator: User) -> None:
    if nomination.nominator_id != nominator.pk:
        raise FellowsError("Only its nominator changes a nomination.")
    if nomination.status != Nomination.OPEN or nomination.first_round.state != Round.OPEN:
        raise FellowsError("The round is closed: this nomination can no longer change.")


def nomination_edit(*, nomination: Nomination, nominator: User, text: NominationText) -> None:
    _editable(nomination, nominator)
    cleaned, html, user = _checked(text)
    Nomination.objects.filter(pk=nomination.pk).update(
        updated=timezone.now(), **_columns(cleaned, html, user)
    )
    record("nomination:edited", actor=nominator, nomination=nomination)


def nomination_withdraw(*, nomination: Nomination, nominator: User) -> None:
    if nomination.nominator_id != nominator.pk:
        raise FellowsError("Only its nominator withdraws a nomination.")
    if nomination.status != Nomination.OPEN:
        raise FellowsError("This nomination is no longer open.")
    Nomination.objects.filter(pk=nomination.pk).update(status=Nomination.WITHDRAWN)
    record("nomination:withdrawn", actor=nominator, nomination=nomination)


def eligible(round_: Round) -> list[Nomination]:
    """The nominations a round reviews: open ones made in it or in the three rounds before."""
    return [
        nomination
        for nomination in Nomination.objects.filter(status=Nomination.OPEN).select_related(
            "first_round"
        )
        if 0 <= round_.index - nomination.first_round.index < ELIGIBLE_QUARTERS
    ]


def grouped(nominations: list[Nomination]) -> list[list[Nomination]]:
    """One list per nominee (by email address), in order of their first nomination."""
    groups: dict[str, list[Nomination]] = defaultdict(list)
    for nomination in nominations:
        groups[nomination.nominee_key].append(nomination)
    return list(groups.values())


# --- votes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    yes: int
    no: int
    abstain: int

    @property
    def voted(self) -> int:
        return self.yes + self.no + self.abstain


def vote_outcome(tally: Tally, quorum: int) -> bool:
    """Accepted: at least `quorum` members voted (abstaining counts as taking part), and more
    than half of the votes cast are yes (abstentions are not cast). A tie is not accepted."""
    return tally.voted >= quorum and tally.yes > tally.no


def tally(nomination: Nomination, round_: Round) -> Tally:
    choices = list(
        Vote.objects.filter(nomination=nomination, round=round_).values_list("choice", flat=True)
    )
    return Tally(
        yes=choices.count(Vote.YES), no=choices.count(Vote.NO), abstain=choices.count(Vote.ABSTAIN)
    )


def _reviewing(round_: Round) -> None:
    if round_.state != Round.REVIEW:
        raise FellowsError("Votes are cast while the round is under review.")


def vote_cast(
    *, member: User, nomination: Nomination, round_: Round, choice: str, comment: str
) -> None:
    _reviewing(round_)
    if choice not in Vote.CHOICES:
        raise FellowsError("Vote yes, no or abstain.")
    if len(comment) > MAX_COMMENT:
        raise FellowsError(f"Keep the comment under {MAX_COMMENT:,} characters.")
    if is_recused(nomination, member):
        raise FellowsError("You declared a conflict of interest: you do not vote on it.")
    if nomination not in eligible(round_):
        raise FellowsError("This nomination is not in this round's review.")
    with transaction.atomic():
        _, created = Vote.objects.update_or_create(
            nomination=nomination,
            round=round_,
            voter=member,
            defaults={"choice": choice, "comment": comment.strip(), "updated": timezone.now()},
        )
        tag = "vote:cast" if created else "vote:changed"
        record(tag, actor=member, nomination=nomination, round=round_)


def recuse(*, member: User, nomination: Nomination, reason: str) -> None:
    """A conflict of interest: the member's vote on it goes, and they see no votes on it."""
    try:
        with transaction.atomic():
            Recusal.objects.create(nomination=nomination, member=member, reason=reason[:500])
            Vote.objects.filter(nomination=nomination, voter=member).delete()
            record("recusal", actor=member, nomination=nomination, reason=reason[:500])
    except IntegrityError:
        raise FellowsError("You are already recused from this nomination.") from None


# --- references --------------------------------------------------------------------------------


def reference_ask(*, member: User, nomination: Nomination, question: str) -> ReferenceRequest:
    question = question.strip()
    if not question or len(question) > MAX_COMMENT:
        raise FellowsError(f"Write what you ask, up to {MAX_COMMENT:,} characters.")
    request = ReferenceRequest.objects.create(
        nomination=nomination, asked_by=member, question=question
    )
    record("reference:asked", actor=member, nomination=nomination)
    _email(
        nomination.nominator.email,
        f"The {programme()} work group asks about your nomination",
        "fellows/email/reference_request.txt",
        nomination=nomination,
        question=question,
    )
    record("email:sent", actor=None, nomination=nomination, what="reference request")
    return request


def reference_reply(*, request: ReferenceRequest, nominator: User, reply: str) -> None:
    if request.nomination.nominator_id != nominator.pk:
        raise FellowsError("Only the nominator answers.")
    reply = reply.strip()
    if not reply or len(reply) > MAX_STATEMENT:
        raise FellowsError(f"Write your answer, up to {MAX_STATEMENT:,} characters.")
    ReferenceRequest.objects.filter(pk=request.pk).update(reply=reply, replied=timezone.now())
    record("reference:replied", actor=nominator, nomination=request.nomination)


# --- a round's steps ---------------------------------------------------------------------------


def round_review(*, round_: Round, actor: User) -> None:
    """Close nominations early (the cut-off does it on its own)."""
    if round_.state != Round.OPEN:
        raise FellowsError("Only an open round moves to review.")
    Round.objects.filter(pk=round_.pk).update(state=Round.REVIEW)
    record("round:review", actor=actor, round=round_)


def round_decide(*, round_: Round, actor: User, not_accepted_text: str = "") -> list[Nomination]:
    """Apply the vote rule to every nomination under review; tell every nominator. Returns the
    accepted nominations."""
    _reviewing(round_)
    if len(not_accepted_text) > MAX_STATEMENT:
        raise FellowsError(f"Keep the text to nominators under {MAX_STATEMENT:,} characters.")
    quorum = settings.PACKYARD_FELLOWS_QUORUM
    accepted: list[Nomination] = []
    told: list[tuple[Nomination, bool]] = []
    with transaction.atomic():
        for nomination in eligible(round_):
            result = tally(nomination, round_)
            if vote_outcome(result, quorum):
                Nomination.objects.filter(pk=nomination.pk).update(
                    status=Nomination.ACCEPTED, decided_round=round_
                )
                Fellow.objects.create(
                    name=nomination.nominee_name,
                    email=nomination.nominee_email,
                    round=round_,
                    nomination=nomination,
                    user=nomination.nominee_user,
                    links=nomination.links,
                )
                accepted.append(nomination)
            elif round_.index - nomination.first_round.index >= ELIGIBLE_QUARTERS - 1:
                Nomination.objects.filter(pk=nomination.pk).update(status=Nomination.EXPIRED)
            told.append((nomination, nomination in accepted))
            record(
                "decision",
                actor=actor,
                nomination=nomination,
                round=round_,
                accepted=nomination in accepted,
                yes=result.yes,
                no=result.no,
                abstain=result.abstain,
            )
        for stale in Nomination.objects.filter(status=Nomination.OPEN).select_related(
            "first_round"
        ):
            # Open, but past its four quarters without a review (rounds nobody decided).
            if round_.index - stale.first_round.index >= ELIGIBLE_QUARTERS:
                Nomination.objects.filter(pk=stale.pk).update(status=Nomination.EXPIRED)
                record("nomination:expired", actor=None, nomination=stale, round=round_)
        Round.objects.filter(pk=round_.pk).update(
            state=Round.DECIDED, decided=timezone.now(), not_accepted_text=not_accepted_text
        )
        record("round:decided", actor=actor, round=round_, accepted=len(accepted))
    text = not_accepted_text.strip() or default_not_accepted_text()
    for nomination, was_accepted in told:
        _email(
            nomination.nominator.email,
            f"Your {programme()} nomination of {nomination.nominee_name}",
            "fellows/email/decision.txt",
            nomination=nomination,
            accepted=was_accepted,
            text=text,
            expired=Nomination.objects.get(pk=nomination.pk).status == Nomination.EXPIRED,
        )
        record("email:sent", actor=None, nomination=nomination, what="decision to the nominator")
    return accepted


def default_not_accepted_text() -> str:
    return (
        f"The work group did not accept the nomination this round. It stays eligible for the "
        f"next rounds, for {ELIGIBLE_QUARTERS} quarters from when it was made; you can add to it "
        "by nominating again with what is new."
    )


def round_announce(*, round_: Round, actor: User) -> None:
    """Invite the accepted nominees to be listed; the round's page shows those who accept."""
    if round_.state != Round.DECIDED:
        raise FellowsError("A round is announced once it is decided.")
    Round.objects.filter(pk=round_.pk).update(state=Round.ANNOUNCED, announced=timezone.now())
    record("round:announced", actor=actor, round=round_)
    for fellow in Fellow.objects.filter(round=round_, listing=Fellow.INVITED):
        token = signing.dumps({"fellow": fellow.pk}, salt=INVITATION_SALT)
        _email(
            fellow.email,
            f"You are invited to be listed among the {programme()}",
            "fellows/email/invitation.txt",
            fellow=fellow,
            url=f"{settings.BASE_URL}/fellows/invitation/{token}/",
        )
        Fellow.objects.filter(pk=fellow.pk).update(invited=timezone.now())
        record("email:sent", actor=None, round=round_, what=f"invitation to {fellow.name}")


def invitation_fellow(token: str) -> Fellow:
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_DAYS * 86400)
    except signing.BadSignature:
        raise FellowsError("This invitation link is not valid, or it expired.") from None
    fellow = Fellow.objects.filter(pk=data.get("fellow")).select_related("round").first()
    if fellow is None:
        raise FellowsError("This invitation link is not valid, or it expired.")
    return fellow


def invitation_answer(*, fellow: Fellow, accept: bool) -> None:
    if fellow.listing != Fellow.INVITED:
        raise FellowsError("This invitation was already answered.")
    listing = Fellow.LISTED if accept else Fellow.DECLINED
    Fellow.objects.filter(pk=fellow.pk).update(listing=listing, answered=timezone.now())
    record("roster:" + listing, actor=None, round=fellow.round, name=fellow.name)


# --- the roster --------------------------------------------------------------------------------


def roster() -> list[Fellow]:
    return list(
        Fellow.objects.filter(listing=Fellow.LISTED)
        .select_related("round", "user")
        .order_by("round__year", "round__quarter", "name")
    )


def roster_json() -> dict[str, Any]:
    return {
        "programme": programme(),
        "fellows": [
            {
                "name": fellow.name,
                "year": fellow.round.year,
                "quarter": fellow.round.quarter,
                "status": fellow.status,
                "links": fellow.links,
                "user": fellow.user.username if fellow.user else None,
            }
            for fellow in roster()
        ],
    }


def is_fellow(user: User) -> bool:
    return Fellow.objects.filter(user=user, listing=Fellow.LISTED).exists()


def programme() -> str:
    return str(settings.PACKYARD_FELLOWS_NAME)


def _email(to: str, subject: str, template: str, **context: Any) -> None:
    context |= {
        "programme": programme(),
        "site_name": settings.SITE_NAME,
        "base_url": settings.BASE_URL,
    }
    send_mail(
        subject=f"[{settings.SITE_NAME}] {subject}",
        message=render_to_string(template, context),
        from_email=None,
        recipient_list=[to],
    )
