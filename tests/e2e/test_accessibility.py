"""Every page a person uses, checked by axe-core in Chromium (no serious or critical
violation), with no error in the browser's console, and photographed at a desktop's width and
a phone's (.cache/screenshots/a11y-*). axe-core comes from the npm registry (scripts/test)."""

import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import PASSWORD, ROOT, Server, Tools, watch_console
from tests.e2e.test_browser_projects import (
    SCREENSHOTS,
    SECRET,
    log_in,
    person,
    publish,
    token_for,
)

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


def test_login_steps_and_project_pages_are_accessible(
    audited_page, server: Server, tools: Tools, tmp_path: Path
):
    page, errors = audited_page
    page.goto(f"{server.url}/account/reset-password/")
    check(page, "password-reset", errors)
    # A link that does not verify is answered 400, which the browser reports in its console.
    assert page.goto(f"{server.url}/account/verify-email/not-a-token/").status == 400
    errors.remove(
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    )
    check(page, "verify-failed", errors)
    page.goto(f"{server.url}/account/reset-password/")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_role("button", name=re.compile("Send")).click()
    page.wait_for_url(re.compile("/account/reset-password/.+"))
    check(page, "password-reset-sent", errors)
    page.goto(f"{server.url}/account/register/")
    page.get_by_label("Username").fill("a11ynew")
    page.get_by_label("Email").fill("a11ynew@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Check your email").wait_for()
    check(page, "register-sent", errors)

    # The login's own steps: the second factor, then the hold for a browser never seen before.
    person(server, "a11ysteps")
    page.goto(f"{server.url}/account/reset-password/")
    page.get_by_label("Email").fill("a11ysteps@example.com")
    page.get_by_role("button", name=re.compile("Send")).click()
    page.wait_for_url(re.compile("/account/reset-password/.+"))
    reset = server.mail_to("a11ysteps@example.com")
    page.goto(re.search(r"http://\S+/account/reset-password/\S+", reset).group(0))
    page.get_by_label("New password", exact=True).wait_for()
    check(page, "password-reset-confirm", errors)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(re.compile("/account/reset-password/done/"))
    check(page, "password-reset-done", errors)
    assert page.goto(f"{server.url}/project/no-such-project/").status == 404
    errors.remove("Failed to load resource: the server responded with a status of 404 (Not Found)")
    check(page, "not-found", errors)
    page.goto(f"{server.url}/account/login/")
    page.get_by_label("Username").fill("a11ysteps")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(re.compile("/account/two-factor/"))
    check(page, "login-second-step", errors)
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(SECRET).now())
    page.get_by_role("button", name="Verify").click()
    page.get_by_text("Check your email").wait_for()
    check(page, "login-held", errors)
    mail = server.mail_to("a11ysteps@example.com")
    page.goto(re.search(r"http://\S+/account/confirm-login/\S+", mail).group(0))
    page.wait_for_url(re.compile("/manage/account/$"))

    publish(tools, server, token_for(server, "a11ysteps"), tmp_path, "a11y-pages", ["1.0"])
    for name, path in (
        ("project", "/project/a11y-pages/"),
        ("release", "/project/a11y-pages/1.0/"),
        ("user", "/user/a11ysteps/"),
        ("manage-project", "/manage/project/a11y-pages/"),
        ("collaborators", "/manage/project/a11y-pages/collaborators/"),
        ("credentials", "/manage/project/a11y-pages/credentials/"),
        ("project-history", "/manage/project/a11y-pages/history/"),
        ("publishing", "/manage/project/a11y-pages/publishing/"),
        ("project-security", "/manage/project/a11y-pages/security/"),
        ("stages", "/manage/project/a11y-pages/stages/"),
        ("fellows", "/fellows/"),
        ("fellows-nominate", "/fellows/nominate/"),
        ("fellows-nominations", "/fellows/nominations/"),
        ("pending-publishing", "/manage/account/publishing/"),
        ("invitations", "/manage/account/invitations/"),
        ("password-change", "/manage/account/password/"),
        ("reauthenticate", "/account/reauthenticate/?next=/manage/account/"),
        ("totp-replace", "/manage/account/totp/"),
    ):
        page.goto(f"{server.url}{path}")
        check(page, name, errors)
    page.goto(f"{server.url}/manage/account/two-factor/")
    page.get_by_role("button", name="Generate new recovery codes").click()
    page.locator("ol.codes code").first.wait_for()
    check(page, "recovery-codes", errors)

    # Inviting a person is for staff; others read why not (the page closed registration uses).
    assert page.goto(f"{server.url}/manage/invite-user/").status == 403
    errors.remove("Failed to load resource: the server responded with a status of 403 (Forbidden)")
    check(page, "invite-refused", errors)
    # Staff's page for inviting a person, and the operator's admin behind it.
    server.shell(
        "from packyard.accounts.models import User\n"
        "User.objects.filter(username='a11ysteps').update(is_staff=True, is_superuser=True)\n"
    )
    page.goto(f"{server.url}/manage/account/")
    page.get_by_role("link", name="Invite a user").click()
    page.wait_for_url(re.compile("/manage/invite-user/"))
    check(page, "invite-user", errors)
    page.get_by_label("Their email address").fill("a11yinvited@example.com")
    page.get_by_role("button", name="Send the invitation").click()
    page.get_by_text(re.compile("sent", re.I)).first.wait_for()
    page.goto(f"{server.url}/admin/")
    check(page, "admin", errors)
    page.goto(f"{server.url}/manage/account/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/$"))
    invitation = server.mail_to("a11yinvited@example.com")
    page.goto(re.search(r"http://\S+/account/register/invited/\S+", invitation).group(0))
    page.get_by_text("For a11yinvited@example.com").wait_for()
    check(page, "register-invited", errors)


def test_two_factor_setup_by_keyboard_alone(audited_page, server: Server):
    page, errors = audited_page
    server.create_user("keysetup")
    page.goto(f"{server.url}/account/login/")
    tab_to(page, "#id_username")
    page.keyboard.type("keysetup")
    tab_to(page, "#id_password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/manage/account/"))
    page.goto(f"{server.url}/manage/account/two-factor/")
    tab_to(page, "form[action$='/recovery-codes/'] button")
    page.keyboard.press("Enter")
    page.locator("ol.codes code").first.wait_for()
    codes = page.locator("ol.codes code").all_inner_texts()
    tab_to(page, "input[name=recovery_code]")
    page.keyboard.type(codes[0])
    page.keyboard.press("Enter")
    page.get_by_text("Recovery codes saved").wait_for()
    tab_to(page, "a[href$='/manage/account/totp/']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/manage/account/totp/"))
    check(page, "totp-setup", errors)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    tab_to(page, "input[name=code]")
    page.keyboard.type(pyotp.TOTP(secret).now())
    page.keyboard.press("Enter")
    page.get_by_text("Your authenticator app is set up.").wait_for()
    assert not errors, errors
