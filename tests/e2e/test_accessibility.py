"""Every page a person uses, checked by axe-core in Chromium (no serious or critical
violation), with no error in the browser's console, and photographed at a desktop's width and
a phone's (.cache/screenshots/a11y-*). axe-core comes from the npm registry (scripts/test)."""

import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import PASSWORD, ROOT, Server, watch_console
from tests.e2e.test_browser_projects import SCREENSHOTS, SECRET, log_in, person

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
AXE = ROOT / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": 1280, "phone": 390}
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""


# The elements reaching past the right edge of the screen, innermost first: what to fix.
WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .reverse().slice(0, 3)
  .map((e) => `${e.tagName.toLowerCase()}.${e.className} ends at ${
    Math.round(e.getBoundingClientRect().right)}px`)"""


def check(page: Page, name: str, errors: list[str]) -> None:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(RUN_AXE)
    assert not violations, f"{name}: {violations}"
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        culprits = page.evaluate(WIDEST)
        assert overflow <= 1, f"{name} is {overflow}px wider than a {width}px screen: {culprits}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"a11y-{name}-{label}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not errors, f"{name}: console errors {errors}"


@pytest.fixture
def audited_page(browser: Browser):
    if not Path(AXE).exists():
        pytest.fail(f"axe-core is missing at {AXE}: scripts/test installs it")
    # axe is injected as an inline script, which the site's CSP rightly refuses.
    context = browser.new_context(bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    watch_console(context, errors)
    yield page, errors
    context.close()


def test_pages_are_accessible_and_hold_at_phone_width(audited_page, server: Server):
    page, errors = audited_page
    for name, path in (("login", "/account/login/"), ("register", "/account/register/")):
        page.goto(f"{server.url}{path}")
        check(page, name, errors)
    person(server, "a11y")
    log_in(page, server, "a11y")
    for name, path in (
        ("account", "/manage/account/"),
        ("two-factor", "/manage/account/two-factor/"),
        ("tokens", "/manage/account/tokens/"),
        ("sessions", "/manage/account/sessions/"),
        ("history", "/manage/account/history/"),
        ("projects", "/manage/projects/"),
        ("home", "/"),
        ("search", "/search/?q=a"),
    ):
        page.goto(f"{server.url}{path}")
        check(page, name, errors)
    page.goto(f"{server.url}/manage/account/tokens/")
    page.get_by_label("Token name").fill("a11y token")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url(re.compile("/manage/account/tokens/"))
    check(page, "token-created", errors)


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element is focused, as a keyboard user moves through the page."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_login_and_token_creation_by_keyboard_alone(audited_page, server: Server):
    page, errors = audited_page
    person(server, "keys")
    page.goto(f"{server.url}/account/login/")
    tab_to(page, "#id_username")
    page.keyboard.type("keys")
    tab_to(page, "#id_password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/account/two-factor/"))
    tab_to(page, "input[name=code]")
    page.keyboard.type(pyotp.TOTP(SECRET).now())
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('input[name=code]')")
    if page.get_by_text("Check your email").count():
        link = re.search(
            r"http://\S+/account/confirm-login/\S+", server.mail_to("keys@example.com")
        )
        page.goto(link.group(0))
    page.wait_for_url(re.compile("/manage/account/$"))
    page.goto(f"{server.url}/manage/account/tokens/")
    tab_to(page, "#id_description")
    page.keyboard.type("typed token")
    tab_to(page, "button[type=submit]:not(.link)")
    page.keyboard.press("Enter")
    page.get_by_text("Token created").wait_for()
    assert not errors, errors
