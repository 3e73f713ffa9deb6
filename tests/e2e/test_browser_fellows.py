"""A whole round of the recognition programme in Chromium: two nominators, three work-group
members (one recused), votes, a reference asked and answered, the decision, the announcement,
the nominee's acceptance, and the roster in HTML and JSON."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Server, watch_console
from tests.e2e.test_browser_projects import log_in, person, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def page_for(browser, console_errors, server: Server, name: str) -> Page:
    """A browser of its own, logged in (each person's app has its own last-used code)."""
    context = browser.new_context()
    watch_console(context, console_errors)
    page: Page = context.new_page()
    log_in(page, server, name)
    return page


def nominate(page: Page, server: Server, name: str, email: str, statement: str, **extra) -> None:
    page.goto(f"{server.url}/fellows/nominate/")
    page.get_by_label("Their name").fill(name)
    page.get_by_label(re.compile("Their email address")).fill(email)
    if "username" in extra:
        page.get_by_label(re.compile("Their username here")).fill(extra["username"])
    page.get_by_label(re.compile("Public links")).fill(extra.get("links", ""))
    page.get_by_label(re.compile("Why: what they did")).fill(statement)
    page.get_by_role("button", name="Nominate").click()
    page.get_by_text(f"Nominated {name}. Thank you.").wait_for()


def vote(page: Page, server: Server, nominee: str, choice: str) -> None:
    page.goto(f"{server.url}/fellows/review/")
    page.get_by_role("link", name=re.compile("Nomination by .*")).filter(
        has=page.locator(f"xpath=ancestor::section[@aria-label='Nominations of {nominee}']")
    )
    page.get_by_role("region", name=f"Nominations of {nominee}").get_by_role("link").first.click()
    page.get_by_label(choice, exact=True).check()
    page.get_by_role("button", name=re.compile("^(Vote|Change your vote)$")).click()
    page.get_by_text("Vote recorded.").wait_for()


def test_a_whole_round_to_the_roster(browser, console_errors, server: Server):
    for name in ("nomada", "nomcid", "wgbea", "wgdan", "wgeli", "gracehop"):
        person(server, name)
    server.shell(
        "from packyard.accounts.models import User\n"
        "from packyard.fellows.models import Member\n"
        "for name in ('wgbea', 'wgdan', 'wgeli'):\n"
        "    Member.objects.create(user=User.objects.get(username=name))\n"
    )
    ada = page_for(browser, console_errors, server, "nomada")
    nominate(
        ada,
        server,
        "Grace Hopper",
        "gracehop@example.com",
        "She wrote **the first compiler** and taught us all.",
        username="gracehop",
        links="https://example.org/grace",
    )
    shot(ada, "fellows-nomination")
    cid = page_for(browser, console_errors, server, "nomcid")
    nominate(cid, server, "Lin Docs", "lin@example.org", "Wrote the docs everyone reads.")

    bea = page_for(browser, console_errors, server, "wgbea")
    bea.goto(f"{server.url}/fellows/review/")
    bea.get_by_role("button", name="Close nominations and review now").click()
    bea.get_by_role("heading", name=re.compile("under review")).first.wait_for()
    shot(bea, "fellows-review")

    eli = page_for(browser, console_errors, server, "wgeli")
    eli.goto(f"{server.url}/fellows/review/")
    eli.get_by_role("region", name="Nominations of Grace Hopper").get_by_role("link").first.click()
    eli.get_by_label(re.compile("A conflict of interest")).fill("We work together")
    eli.get_by_role("button", name="Recuse yourself").click()
    eli.get_by_text("do not see or cast votes").wait_for()

    dan = page_for(browser, console_errors, server, "wgdan")
    for page, grace, lin in ((bea, "yes", "yes"), (dan, "yes", "no")):
        vote(page, server, "Grace Hopper", grace)
        vote(page, server, "Lin Docs", lin)
    shot(dan, "fellows-vote")

    # A reference asked of Lin's nominator, and answered.
    bea.goto(f"{server.url}/fellows/review/")
    bea.get_by_role("region", name="Nominations of Lin Docs").get_by_role("link").first.click()
    bea.get_by_label(re.compile("Ask the nominator")).fill("Who else can tell us about Lin?")
    bea.get_by_role("button", name="Ask", exact=True).click()
    bea.get_by_text("The nominator was emailed your question.").wait_for()
    assert "Who else can tell us about Lin?" in server.mail_to("nomcid@example.com")
    cid.goto(f"{server.url}/fellows/nominations/")
    cid.get_by_role("link", name="Lin Docs").click()
    cid.get_by_label(re.compile("Your answer")).fill("Ask the docs team.")
    cid.get_by_role("button", name="Send the answer").click()
    cid.get_by_text("Your answer is with the work group.").wait_for()

    bea.goto(f"{server.url}/fellows/review/")
    bea.get_by_role("button", name=re.compile("Decide the round")).click()
    bea.get_by_text("Decided: 1 accepted.").wait_for()
    assert "accepted your nomination of Grace Hopper" in server.mail_to("nomada@example.com")
    assert "did not accept" in server.mail_to("nomcid@example.com")
    bea.get_by_role("button", name=re.compile("Announce")).click()
    bea.get_by_text("Announced").first.wait_for()

    invitation = server.mail_to("gracehop@example.com")
    assert "nomada" not in invitation  # the nominee never learns who nominated them
    link = re.search(r"http://\S+/fellows/invitation/\S+/", invitation).group(0)
    nominee = browser.new_context().new_page()
    nominee.goto(link)
    shot(nominee, "fellows-invitation")
    nominee.get_by_role("button", name="Yes, list me").click()
    nominee.get_by_text("Welcome: you are on the roster.").wait_for()
    assert nominee.get_by_role("cell", name="Grace Hopper").count() == 1
    shot(nominee, "fellows-roster")

    with urllib.request.urlopen(f"{server.url}/fellows/roster.json") as response:
        roster = json.load(response)
    assert [fellow["name"] for fellow in roster["fellows"]] == ["Grace Hopper"]
    assert roster["fellows"][0]["user"] == "gracehop"
    nominee.goto(f"{server.url}/user/gracehop/")
    nominee.get_by_role("link", name="Fellow", exact=True).wait_for()
    bea.goto(f"{server.url}/fellows/review/")
    for tag in ("recusal", "vote:cast", "reference:replied", "round:announced", "roster:listed"):
        assert bea.get_by_text(re.compile(tag)).count() >= 1, tag
    assert not console_errors, console_errors
