"""The recognition programme: the vote rule, expiry after four quarters, who sees what, each bad
input, and a round from nomination to the roster."""

import json
import re
from datetime import datetime

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone

from packyard.accounts.services import user_create
from packyard.fellows import services
from packyard.fellows.models import (
    Fellow,
    FellowsEvent,
    Member,
    Nomination,
    Recusal,
    Round,
    Vote,
)
from packyard.fellows.services import NominationText, Tally, vote_outcome
from tests.conftest import PASSWORD, browser_for, give_totp

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def programme(settings):
    settings.PACKYARD_FELLOWS = True
    settings.PACKYARD_FELLOWS_QUORUM = 2


def person(name: str):
    user = user_create(username=name, email=f"{name}@example.com", password=PASSWORD, verified=True)
    return give_totp(user)


def member(name: str):
    user = person(name)
    Member.objects.create(user=user)
    return user


def text(name="Grace Hopper", email="grace@example.org", **fields) -> NominationText:
    return NominationText(
        nominee_name=name,
        nominee_email=email,
        links=fields.pop("links", ["https://example.org/grace"]),
        statement=fields.pop("statement", "She **taught** us all."),
        **fields,
    )


def under_review() -> Round:
    current = services.current_round()
    services.round_review(round_=current, actor=None)  # type: ignore[arg-type]
    current.refresh_from_db()
    return current


# --- the vote rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yes", "no", "abstain", "quorum", "accepted"),
    [
        (2, 1, 0, 3, True),  # more than half of the votes cast
        (1, 1, 0, 2, False),  # a tie is not accepted
        (2, 2, 5, 3, False),  # abstentions do not count as cast: still a tie
        (1, 0, 3, 3, True),  # one yes, no no: a majority of the votes cast, and a quorum
        (1, 0, 0, 3, False),  # no quorum
        (1, 0, 1, 2, True),  # abstaining counts toward the quorum
        (0, 0, 4, 3, False),  # only abstentions: nothing cast
        (3, 4, 0, 3, False),
    ],
)
def test_the_vote_rule(yes, no, abstain, quorum, accepted):
    assert vote_outcome(Tally(yes=yes, no=no, abstain=abstain), quorum) is accepted


def test_a_recused_member_cannot_vote_and_their_vote_goes():
    ada, bea = person("ada"), member("bea")
    nomination = services.nominate(nominator=ada, text=text())
    current = under_review()
    services.vote_cast(member=bea, nomination=nomination, round_=current, choice="yes", comment="")
    services.recuse(member=bea, nomination=nomination, reason="we work together")
    assert not Vote.objects.exists()
    with pytest.raises(services.FellowsError, match="conflict of interest"):
        services.vote_cast(
            member=bea, nomination=nomination, round_=current, choice="yes", comment=""
        )
    with pytest.raises(services.FellowsError, match="already recused"):
        services.recuse(member=bea, nomination=nomination, reason="")


def test_a_changed_vote_is_one_vote_and_both_are_logged():
    ada, bea = person("ada"), member("bea")
    nomination = services.nominate(nominator=ada, text=text())
    current = under_review()
    for choice in ("yes", "no"):
        services.vote_cast(
            member=bea, nomination=nomination, round_=current, choice=choice, comment=""
        )
    assert services.tally(nomination, current) == Tally(yes=0, no=1, abstain=0)
    tags = list(FellowsEvent.objects.values_list("tag", flat=True))
    assert "vote:cast" in tags
    assert "vote:changed" in tags


@pytest.mark.parametrize("choice", ["maybe", "", "YES"])
def test_only_yes_no_or_abstain(choice):
    ada, bea = person("ada"), member("bea")
    nomination = services.nominate(nominator=ada, text=text())
    with pytest.raises(services.FellowsError, match="yes, no or abstain"):
        services.vote_cast(
            member=bea, nomination=nomination, round_=under_review(), choice=choice, comment=""
        )


def test_no_votes_while_the_round_takes_nominations():
    ada, bea = person("ada"), member("bea")
    nomination = services.nominate(nominator=ada, text=text())
    with pytest.raises(services.FellowsError, match="under review"):
        services.vote_cast(
            member=bea,
            nomination=nomination,
            round_=services.current_round(),
            choice="yes",
            comment="",
        )


# --- eligibility and expiry ---------------------------------------------------------------------


def _round(year: int, quarter: int, state: str = Round.REVIEW) -> Round:
    return Round.objects.create(
        year=year, quarter=quarter, state=state, closes=timezone.make_aware(datetime(year, 1, 1))
    )


def _nomination_of_lin(nominator, first: Round) -> Nomination:
    """Made directly, in a round of the tests' choosing (the service takes the current one)."""
    return Nomination.objects.create(
        nominator=nominator,
        nominee_name="Lin",
        nominee_email="lin@example.org",
        statement="x",
        statement_html="x",
        first_round=first,
    )


def test_a_nomination_stays_eligible_four_quarters_then_expires():
    ada = person("ada")
    first = _round(2030, 1, Round.OPEN)
    nomination = _nomination_of_lin(ada, first)
    for offset, (year, quarter) in enumerate([(2030, 1), (2030, 2), (2030, 3), (2030, 4)]):
        round_ = first if offset == 0 else _round(year, quarter)
        Round.objects.filter(pk=round_.pk).update(state=Round.REVIEW)
        round_.refresh_from_db()
        assert nomination in services.eligible(round_)
        mail.outbox.clear()
        services.round_decide(round_=round_, actor=ada)
        nomination.refresh_from_db()
        expected = Nomination.EXPIRED if offset == 3 else Nomination.OPEN
        assert nomination.status == expected, offset
        assert mail.outbox[0].to == ["ada@example.com"]  # told either way
    assert "expired" in mail.outbox[0].body
    assert nomination not in services.eligible(_round(2031, 1))


def test_a_nomination_past_four_quarters_unreviewed_expires_at_the_next_decision():
    ada = person("ada")
    old = _round(2030, 1, Round.ANNOUNCED)
    nomination = _nomination_of_lin(ada, old)
    services.round_decide(round_=_round(2031, 2), actor=ada)
    nomination.refresh_from_db()
    assert nomination.status == Nomination.EXPIRED


# --- nominations: limits and bad input -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"statement": "x" * 10_001}, "under 10,000 characters"),
        ({"statement": "Hi <SCRIPT >alert(1)</script>"}, "scripts and javascript: links"),
        ({"statement": "[me](Java Script:alert(1))"}, "scripts and javascript: links"),
        ({"statement": "   "}, "Write why"),
        ({"name": ""}, "nominee's name"),
        ({"name": "two\nlines"}, "on one line"),
        ({"email": "not-an-address"}, "email address"),
        (
            {"email": "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "org"},  # 312: valid, too long
            "at most 254",
        ),
        ({"links": ["javascript:alert(1)"]}, "not a web address"),
        ({"links": ["data:text/html,<script>x</script>"]}, "not a web address"),
        ({"links": ["//example.org"]}, "not a web address"),
        ({"links": ["https://example.org"] * 11}, "at most 10 links"),
        ({"nominee_username": "nobody-here"}, "No user named"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_stored(fields, message):
    ada = person("ada")
    with pytest.raises(services.FellowsError, match=message):
        services.nominate(nominator=ada, text=text(**fields))
    assert not Nomination.objects.exists()


def test_a_statement_is_rendered_and_sanitized_as_readmes_are():
    ada = person("ada")
    statement = (
        'Good work <img src=x onerror="alert(1)"> <iframe src="https://x"></iframe> **bold**'
    )
    nomination = services.nominate(nominator=ada, text=text(statement=statement))
    html = nomination.statement_html
    assert "<strong>bold</strong>" in html
    assert "onerror" not in html
    assert "<iframe" not in html


def test_nominations_per_round_are_limited(settings):
    settings.PACKYARD_FELLOWS_NOMINATIONS_PER_ROUND = 2
    ada = person("ada")
    for n in range(2):
        services.nominate(nominator=ada, text=text(email=f"n{n}@example.org"))
    with pytest.raises(services.FellowsError, match="2 nominations this round"):
        services.nominate(nominator=ada, text=text(email="n3@example.org"))


def test_an_unverified_account_cannot_nominate():
    user = user_create(username="eve", email="eve@example.com", password=PASSWORD)
    with pytest.raises(services.FellowsError, match="Verify your email"):
        services.nominate(nominator=user, text=text())


def test_nominators_edit_and_withdraw_only_their_own_and_only_while_open():
    ada, cid = person("ada"), person("cid")
    nomination = services.nominate(nominator=ada, text=text())
    with pytest.raises(services.FellowsError, match="Only its nominator"):
        services.nomination_edit(nomination=nomination, nominator=cid, text=text(name="X"))
    services.nomination_edit(nomination=nomination, nominator=ada, text=text(name="Grace B."))
    nomination.refresh_from_db()
    assert nomination.nominee_name == "Grace B."
    under_review()
    nomination.refresh_from_db()
    with pytest.raises(services.FellowsError, match="round is closed"):
        services.nomination_edit(nomination=nomination, nominator=ada, text=text())
    services.nomination_withdraw(nomination=nomination, nominator=ada)
    assert Nomination.objects.get().status == Nomination.WITHDRAWN


def test_several_nominations_of_one_person_are_grouped():
    ada, cid = person("ada"), person("cid")
    services.nominate(nominator=ada, text=text(email="Grace@Example.org"))
    services.nominate(nominator=cid, text=text(email="grace@example.org"))
    services.nominate(nominator=cid, text=text(name="Lin", email="lin@example.org"))
    groups = services.grouped(services.eligible(under_review()))
    assert sorted(len(group) for group in groups) == [1, 2]


def test_the_calendar_is_checked(settings):
    settings.PACKYARD_FELLOWS_CUTOFFS = ["03-31", "06-30", "09-31", "12-31"]
    with pytest.raises(ImproperlyConfigured, match="MM-DD"):
        services.cutoffs()
    settings.PACKYARD_FELLOWS_CUTOFFS = ["06-30", "03-31", "09-30", "12-31"]
    with pytest.raises(ImproperlyConfigured, match="in order"):
        services.cutoffs()


# --- who sees what ------------------------------------------------------------------------------


def test_non_members_see_no_nominations_or_votes():
    ada, cid = person("ada"), person("cid")
    nomination = services.nominate(nominator=ada, text=text())
    stale = browser_for(cid, reauthenticated=False)  # told 404, not asked to confirm first
    for browser in (browser_for(cid), browser_for(ada), stale):
        assert browser.get("/fellows/review/").status_code == 404
        assert browser.get(f"/fellows/review/{nomination.pk}/").status_code == 404
    assert Client().get("/fellows/review/")["Location"].startswith("/account/login/")
    # Another person's nomination page is theirs alone.
    assert browser_for(cid).get(f"/fellows/nominations/{nomination.pk}/").status_code == 404


def test_a_recused_member_sees_no_votes():
    ada, bea, dan = person("ada"), member("bea"), member("dan")
    nomination = services.nominate(nominator=ada, text=text())
    current = under_review()
    services.vote_cast(
        member=dan, nomination=nomination, round_=current, choice="no", comment="secret words"
    )
    services.recuse(member=bea, nomination=nomination, reason="my colleague")
    page = browser_for(bea).get(f"/fellows/review/{nomination.pk}/").content.decode()
    assert "secret words" not in page
    assert "do not see or cast votes" in page
    assert (
        "secret words" in browser_for(dan).get(f"/fellows/review/{nomination.pk}/").content.decode()
    )


def test_a_member_without_two_factor_is_sent_to_set_it_up():
    bea = user_create(username="bea", email="bea@example.com", password=PASSWORD, verified=True)
    Member.objects.create(user=bea)
    response = browser_for(bea).get("/fellows/review/")
    assert response.status_code == 302
    assert response["Location"] == "/manage/account/two-factor/"


def test_the_work_group_acts_after_confirming_it_is_them():
    from django.urls import resolve

    bea = member("bea")
    response = browser_for(bea, reauthenticated=False).get("/fellows/review/")
    assert "/account/reauthenticate/" in response["Location"]
    # A form sent after the confirmation ran out is kept and carried out once confirmed.
    assert getattr(resolve("/fellows/review/").func, "packyard_reauth", None)


def test_the_nominee_never_sees_the_nominator():
    ada, bea, cid = person("ada"), member("bea"), member("cid")
    nomination = services.nominate(nominator=ada, text=text())
    current = under_review()
    for voter in (bea, cid):
        services.vote_cast(
            member=voter, nomination=nomination, round_=current, choice="yes", comment=""
        )
    services.round_decide(round_=current, actor=bea)
    mail.outbox.clear()
    services.round_announce(round_=Round.objects.get(pk=current.pk), actor=bea)
    invitation = next(m for m in mail.outbox if m.to == ["grace@example.org"])
    assert "ada" not in invitation.body
    url = re.search(r"http://\S+/fellows/invitation/\S+/", str(invitation.body)).group(0)
    page = Client().get(url.replace("http://localhost:8000", "")).content.decode()
    assert "ada" not in page
    roster = json.loads(Client().get("/fellows/roster.json").content)
    assert "ada" not in json.dumps(roster)


def test_a_private_index_keeps_its_roster_to_readers(settings):
    settings.PACKYARD_PRIVATE = True
    for url in ("/fellows/", "/fellows/roster.json"):
        response = Client().get(url)
        assert response.status_code == 401, url
    assert browser_for(person("ada")).get("/fellows/roster.json").status_code == 200


def test_the_work_groups_words_to_nominators_are_bounded():
    bea = member("bea")
    with pytest.raises(services.FellowsError, match="under 10,000 characters"):
        services.round_decide(round_=under_review(), actor=bea, not_accepted_text="x" * 10_001)
    assert Round.objects.get().state == Round.REVIEW


def test_the_programme_is_absent_unless_turned_on(settings):
    settings.PACKYARD_FELLOWS = False
    for url in ("/fellows/", "/fellows/roster.json", "/fellows/nominate/"):
        assert Client().get(url).status_code == 404


def test_a_forged_or_changed_invitation_link_is_refused():
    for token in ("nonsense", "eyJmZWxsb3ciOjF9:1abc:def"):
        response = Client().get(f"/fellows/invitation/{token}/")
        assert response.status_code == 400
        assert "not valid" in response.content.decode()


# --- a round, end to end through the pages ------------------------------------------------------


def post(browser, url, data):
    browser.get(url)
    return browser.post(url, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})


def test_a_round_from_nominations_to_the_roster(settings):
    ada, cid = person("ada"), person("cid")
    bea, dan, eli = member("bea"), member("dan"), member("eli")
    grace_user = person("grace")
    post(
        browser_for(ada),
        "/fellows/nominate/",
        {
            "nominee_name": "Grace Hopper",
            "nominee_email": "grace@example.com",
            "nominee_username": "grace",
            "links": "https://example.org/grace",
            "statement": "Compilers.",
        },
    )
    post(
        browser_for(cid),
        "/fellows/nominate/",
        {
            "nominee_name": "Lin",
            "nominee_email": "lin@example.org",
            "links": "",
            "statement": "Docs.",
        },
    )
    grace, lin = (
        Nomination.objects.get(nominee_name="Grace Hopper"),
        Nomination.objects.get(nominee_name="Lin"),
    )
    current = services.current_round()
    post(browser_for(bea), "/fellows/review/", {"round": current.pk, "action": "review"})
    post(browser_for(eli), f"/fellows/review/{grace.pk}/", {"action": "recuse", "reason": "friend"})
    for voter, grace_choice, lin_choice in ((bea, "yes", "yes"), (dan, "yes", "no")):
        post(
            browser_for(voter),
            f"/fellows/review/{grace.pk}/",
            {"action": "vote", "choice": grace_choice, "comment": ""},
        )
        post(
            browser_for(voter),
            f"/fellows/review/{lin.pk}/",
            {"action": "vote", "choice": lin_choice, "comment": ""},
        )
    assert Recusal.objects.count() == 1
    mail.outbox.clear()
    post(
        browser_for(bea), "/fellows/review/", {"round": current.pk, "action": "decide", "text": ""}
    )
    assert Nomination.objects.get(pk=grace.pk).status == Nomination.ACCEPTED
    assert Nomination.objects.get(pk=lin.pk).status == Nomination.OPEN  # a tie: eligible again
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "cid@example.com"]
    post(browser_for(bea), "/fellows/review/", {"round": current.pk, "action": "announce"})
    invitation = next(m for m in mail.outbox if m.to == ["grace@example.com"])
    path = re.search(r"/fellows/invitation/\S+/", str(invitation.body)).group(0)
    nominee = Client(enforce_csrf_checks=True)
    nominee.get(path)
    nominee.post(
        path, {"answer": "accept", "csrfmiddlewaretoken": nominee.cookies["csrftoken"].value}
    )
    fellow = Fellow.objects.get()
    assert fellow.listing == Fellow.LISTED
    roster = json.loads(Client().get("/fellows/roster.json").content)
    assert roster["fellows"] == [
        {
            "name": "Grace Hopper",
            "year": current.year,
            "quarter": current.quarter,
            "status": "active",
            "links": ["https://example.org/grace"],
            "user": "grace",
        }
    ]
    assert "Grace Hopper" in Client().get(f"/fellows/{current.slug}/").content.decode()
    assert "Fellow</a>" in Client().get(f"/user/{grace_user.username}/").content.decode()
    tags = set(FellowsEvent.objects.values_list("tag", flat=True))
    assert {
        "nomination:created",
        "round:review",
        "recusal",
        "vote:cast",
        "decision",
        "round:decided",
        "round:announced",
        "email:sent",
        "roster:listed",
    } <= tags


@pytest.mark.parametrize("value", ["abc", "", "-1", "99999999999999999999", "1e3"])
def test_malformed_row_ids_in_forms_are_404_not_500(value):
    ada, bea = person("ada"), member("bea")
    nomination = services.nominate(nominator=ada, text=text())
    review = post(browser_for(bea), "/fellows/review/", {"round": value, "action": "review"})
    assert review.status_code == 404
    reply = post(
        browser_for(ada),
        f"/fellows/nominations/{nomination.pk}/",
        {"action": "reply", "request": value, "reply": "x"},
    )
    assert reply.status_code == 404


def test_a_form_from_another_site_nominates_nobody():
    ada = person("ada")
    response = browser_for(ada).post(
        "/fellows/nominate/",
        {"nominee_name": "X", "nominee_email": "x@example.org", "statement": "y"},
    )
    assert response.status_code == 403
    assert not Nomination.objects.exists()


def test_an_invitation_is_answered_once():
    fellow = Fellow.objects.create(
        name="Lin", email="lin@example.org", round=services.current_round()
    )
    services.invitation_answer(fellow=fellow, accept=False)
    fellow.refresh_from_db()
    with pytest.raises(services.FellowsError, match="already answered"):
        services.invitation_answer(fellow=fellow, accept=True)
    assert Fellow.objects.get().listing == Fellow.DECLINED


@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_of_nominations_keeps_to_the_limit(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: the burst needs PostgreSQL's row locks")
    import threading

    settings.PACKYARD_FELLOWS_NOMINATIONS_PER_ROUND = 2
    ada = person("ada")
    services.current_round()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def nominate(n: int) -> None:
        barrier.wait()
        try:
            services.nominate(nominator=ada, text=text(email=f"p{n}@example.org"))
            outcomes.append("made")
        except services.FellowsError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=nominate, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("made") == 2
    assert Nomination.objects.count() == 2
