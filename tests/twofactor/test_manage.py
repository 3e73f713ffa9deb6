import re
import time
from datetime import timedelta

import pyotp
import pytest
from django.core import mail
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from packyard.accounts.models import UserSession
from packyard.accounts.reauth import REAUTH_AT_KEY
from packyard.tokens.mint import token_mint
from packyard.twofactor.models import RecoveryCode, TOTPDevice
from tests.accounts.test_accounts import login
from tests.conftest import PASSWORD, browser_for, totp_code, upload_form

pytestmark = pytest.mark.django_db


def post(browser: Client, path: str, data: dict[str, str] | None = None):
    if "csrftoken" not in browser.cookies:
        browser.get("/account/login/")
    return browser.post(
        path, {**(data or {}), "csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    )


def codes_in(response) -> list[str]:
    return re.findall(
        r"<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>", response.content.decode()
    )


def set_up_recovery_codes(browser: Client) -> list[str]:
    codes = codes_in(post(browser, "/manage/account/recovery-codes/"))
    post(browser, "/manage/account/recovery-codes/confirm/", {"recovery_code": codes[0]})
    return codes


# --- recovery codes ------------------------------------------------------------------------


def test_generate_recovery_codes_shows_ten_once(dave):
    browser = browser_for(dave)
    response = post(browser, "/manage/account/recovery-codes/")
    assert "no-store" in response["Cache-Control"]
    codes = codes_in(response)
    assert len(codes) == 10
    assert RecoveryCode.objects.filter(user=dave).count() == 10
    assert not any(code in str(RecoveryCode.objects.values_list("code_digest")) for code in codes)
    assert dave.events.filter(tag="account:recovery_codes:generated").exists()


def test_entering_a_saved_code_confirms_the_set(dave):
    browser = browser_for(dave)
    set_up_recovery_codes(browser)
    assert RecoveryCode.objects.filter(user=dave, burned__isnull=False).count() == 1
    assert RecoveryCode.objects.filter(user=dave, burned__isnull=True).count() == 9


def test_regenerating_needs_reauthentication_within_its_own_window(alice, settings):
    browser = browser_for(alice)
    session = browser.session
    session[REAUTH_AT_KEY] = time.time() - settings.PACKYARD_RECOVERY_CODES_REAUTH_SECONDS - 1
    session.save()
    response = post(browser, "/manage/account/recovery-codes/")
    assert response["Location"].startswith("/account/reauthenticate/")
    assert "window=300" in response["Location"]


def test_regenerating_replaces_the_set_and_emails(alice):
    old = set(RecoveryCode.objects.filter(user=alice).values_list("code_digest", flat=True))
    codes_in(post(browser_for(alice), "/manage/account/recovery-codes/"))
    new = set(RecoveryCode.objects.filter(user=alice).values_list("code_digest", flat=True))
    assert not old & new
    assert mail.outbox[-1].subject.endswith("New recovery codes")


def test_few_recovery_codes_left_is_a_warning_that_stands_out(dave):
    browser = browser_for(dave)
    set_up_recovery_codes(browser)
    assert "callout" not in browser.get("/manage/account/two-factor/").content.decode()
    unused = RecoveryCode.objects.filter(user=dave, burned__isnull=True)
    RecoveryCode.objects.filter(pk__in=list(unused.values_list("pk", flat=True))[2:]).update(
        burned=timezone.now()
    )
    page = browser.get("/manage/account/two-factor/").content.decode()
    assert re.search(r'class="callout warning" role="alert">.*Only 2 unused recovery codes', page)


# --- TOTP ----------------------------------------------------------------------------------


def test_totp_needs_saved_recovery_codes_first(dave):
    response = browser_for(dave).get("/manage/account/totp/")
    assert response["Location"] == "/manage/account/two-factor/"


def test_totp_setup_from_the_page(dave):
    browser = browser_for(dave)
    set_up_recovery_codes(browser)
    page = browser.get("/manage/account/totp/").content.decode()
    assert 'src="data:image/svg+xml' in page
    secret = (
        re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    )
    response = post(browser, "/manage/account/totp/", {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == "/manage/account/two-factor/"
    assert TOTPDevice.objects.filter(user=dave).exists()
    assert "A second factor was added" in mail.outbox[-1].subject
    assert dave.events.filter(tag="account:two_factor:method_added").exists()


def test_totp_setup_refuses_a_wrong_code(dave):
    browser = browser_for(dave)
    set_up_recovery_codes(browser)
    browser.get("/manage/account/totp/")
    response = post(browser, "/manage/account/totp/", {"code": "000000"})
    assert response.status_code == 200
    assert "does not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=dave).exists()


def test_totp_secret_is_stored_sealed(alice):
    device = TOTPDevice.objects.get(user=alice)
    assert b"packyard-test-secret" not in bytes(device.sealed_secret)


def test_removing_the_last_factor_is_refused_while_policy_requires_one(alice):
    post(browser_for(alice), "/manage/account/totp/remove/")
    assert TOTPDevice.objects.filter(user=alice).exists()


def test_removing_the_last_factor_is_allowed_when_policy_is_off(alice, settings):
    settings.PACKYARD_REQUIRE_2FA = "off"
    post(browser_for(alice), "/manage/account/totp/remove/")
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert "A second factor was removed" in mail.outbox[-1].subject


def test_adding_a_factor_ends_other_sessions(dave):
    other = browser_for(dave)
    browser = browser_for(dave)
    set_up_recovery_codes(browser)
    page = browser.get("/manage/account/totp/").content.decode()
    secret = (
        re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    )
    post(browser, "/manage/account/totp/", {"code": pyotp.TOTP(secret).now()})
    assert other.get("/manage/account/").status_code == 302
    assert browser.get("/manage/account/").status_code == 200


# --- re-authentication -----------------------------------------------------------------------


def test_reauthentication_with_password_and_code(alice):
    browser = browser_for(alice, reauthenticated=False)
    response = browser.get("/manage/account/tokens/")
    assert response["Location"].startswith("/account/reauthenticate/")
    response = post(
        browser,
        "/account/reauthenticate/",
        {"password": PASSWORD, "code": totp_code(alice), "next": "/manage/account/tokens/"},
    )
    assert response["Location"] == "/manage/account/tokens/"
    assert browser.get("/manage/account/tokens/").status_code == 200


def test_reauthentication_needs_the_code_too(alice):
    browser = browser_for(alice, reauthenticated=False)
    response = post(browser, "/account/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 200
    assert browser.get("/manage/account/tokens/").status_code == 302


def test_reauthentication_refuses_a_wrong_password(alice):
    browser = browser_for(alice, reauthenticated=False)
    response = post(
        browser, "/account/reauthenticate/", {"password": "nope", "code": totp_code(alice)}
    )
    assert "That password is not right." in response.content.decode()


SENSITIVE = {
    "packages:security",
    "packages:stage",
    "twofactor:keys-only",
    "tokens:list",
    "tokens:delete",
    "tokens:delete-all",
    "accounts:password-change",
    "twofactor:recovery-codes",
    "twofactor:recovery-codes-confirm",
    "twofactor:totp-setup",
    "twofactor:totp-remove",
    "twofactor:webauthn-options",
    "twofactor:webauthn-verify",
    "twofactor:webauthn-rename",
    "twofactor:webauthn-remove",
    "packages:credentials",
    "packages:credential-revoke",
    "packages:yank",
    "packages:delete-file",
    "packages:delete-release",
    "packages:delete-project",
    "packages:collaborators",
    "packages:publishing",
    "packages:pending-publishing",
    "accounts:invite-user",
}
# Pages under /manage/ that only show things, or only end sessions (which protects the user).
NOT_SENSITIVE = {
    "packages:history",
    "packages:stages",
    "packages:my-projects",
    "packages:invitations",
    "packages:settings",
    "accounts:manage",
    "accounts:sessions",
    "accounts:session-revoke",
    "accounts:history",
    "twofactor:overview",
}


def _manage_patterns() -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                ns = entry.namespace or namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), ns)
            elif isinstance(entry, URLPattern) and (prefix + str(entry.pattern)).startswith(
                "manage/"
            ):
                found[f"{namespace}:{entry.name}"] = entry.callback

    walk(get_resolver().url_patterns, "", "")
    return found


def test_every_sensitive_view_requires_reauthentication():
    patterns = _manage_patterns()
    unclassified = set(patterns) - SENSITIVE - NOT_SENSITIVE
    assert not unclassified, f"classify these /manage/ views: {sorted(unclassified)}"
    missing = [name for name in SENSITIVE if not getattr(patterns[name], "packyard_reauth", None)]
    assert not missing, f"sensitive views without @reauth_required: {missing}"


# --- sessions and history --------------------------------------------------------------------


def test_sessions_page_lists_and_ends_a_session(alice):
    phone, laptop = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    login(phone, "alice")
    login(laptop, "alice")
    page = laptop.get("/manage/account/sessions/").content.decode()
    assert page.count("password and authenticator app") == 2
    assert page.count("this session") == 1
    assert "End all other sessions" in page
    phone_session = UserSession.objects.exclude(pk=laptop.session["packyard_sid"]).get()
    post(laptop, "/manage/account/sessions/revoke/", {"session": str(phone_session.pk)})
    assert phone.get("/manage/account/").status_code == 302
    assert laptop.get("/manage/account/").status_code == 200


def test_sessions_name_browsers_in_words_and_offer_ending_others_only_when_there_are(alice):
    chrome = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    laptop = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=chrome)
    login(laptop, "alice")
    page = laptop.get("/manage/account/sessions/").content.decode()
    assert "Chrome 131 on Linux" in page
    assert "End all other sessions" not in page


def test_end_all_other_sessions(alice):
    others = [browser_for(alice) for _ in range(3)]
    mine = browser_for(alice)
    post(mine, "/manage/account/sessions/revoke/", {"session": "others"})
    assert all(other.get("/manage/account/").status_code == 302 for other in others)
    assert mine.get("/manage/account/").status_code == 200


def test_security_history_shows_events(alice):
    browser = Client(enforce_csrf_checks=True)
    login(browser, "alice")
    page = browser.get("/manage/account/history/").content.decode()
    assert "Logged in with password and authenticator app" in page
    assert "account:login:success" not in page


def test_security_history_reads_as_sentences_filters_pages_and_gives_json(alice):
    from packyard.accounts.events import EventTag, event_record
    from packyard.accounts.models import Event
    from packyard.accounts.views import HISTORY_PAGE

    token_mint(user=alice, description="ci-release")
    event_record(user=alice, tag=EventTag.TWO_FACTOR_METHOD_ADDED, method="webauthn", label="YK5")
    for _ in range(HISTORY_PAGE):
        event_record(user=alice, tag=EventTag.LOGIN_FAILURE)
    browser = browser_for(alice)
    page = browser.get("/manage/account/history/?kind=two_factor").content.decode()
    assert "Security key &quot;YK5&quot; added" in page
    assert "Wrong password" not in page
    tokens = browser.get("/manage/account/history/?kind=api_token").content.decode()
    assert "Token &quot;ci-release&quot; created (Whole account" in tokens
    assert "by_operator" not in tokens
    first = browser.get("/manage/account/history/").content.decode()
    assert "Page 1 of 2" in first
    raw = browser.get("/manage/account/history/?format=json&page=2").json()["events"]
    total = Event.objects.filter(user=alice).count()
    assert len(raw) == total - HISTORY_PAGE
    assert {"time", "tag", "ip_address", "user_agent", "details"} <= set(raw[0])


# --- the policy ------------------------------------------------------------------------------


def test_policy_all_keeps_an_account_without_2fa_to_setting_it_up(dave):
    browser = browser_for(dave)
    assert browser.get("/manage/account/").status_code == 200
    assert browser.get("/manage/account/two-factor/").status_code == 200
    for path in (
        "/manage/account/password/",
        "/manage/account/tokens/",
        "/manage/account/sessions/",
    ):
        assert browser.get(path)["Location"] == "/manage/account/two-factor/"


def test_policy_uploaders_guards_tokens_only(dave, settings):
    settings.PACKYARD_REQUIRE_2FA = "uploaders"
    browser = browser_for(dave)
    assert browser.get("/manage/account/sessions/").status_code == 200
    assert browser.get("/manage/account/tokens/")["Location"] == "/manage/account/two-factor/"


@pytest.mark.parametrize("policy", ["all", "uploaders"])
def test_upload_with_token_of_account_without_2fa_is_refused(upload, dave, settings, policy):
    settings.PACKYARD_REQUIRE_2FA = policy
    _, raw = token_mint(user=dave, description="old token")
    response = upload(raw, upload_form())
    assert response.status_code == 403
    assert "has no second factor" in response.content.decode()
    assert "/manage/account/two-factor/" in response.content.decode()


def test_operator_token_uploads_for_account_without_2fa(upload, dave):
    _, raw = token_mint(user=dave, description="bootstrap", by_operator=True)
    assert upload(raw, upload_form()).status_code == 200
    assert dave.events.filter(tag="account:api_token:added", additional__by_operator=True)


def test_policy_off_lets_any_token_upload(upload, dave, settings):
    settings.PACKYARD_REQUIRE_2FA = "off"
    _, raw = token_mint(user=dave, description="t")
    assert upload(raw, upload_form()).status_code == 200


def test_password_upload_refused_for_2fa_account_under_tokens_if_2fa(client, alice, dave, settings):
    from tests.conftest import basic_auth

    settings.PACKYARD_UPLOAD_AUTH = "tokens-if-2fa"
    settings.PACKYARD_REQUIRE_2FA = "off"
    refused = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)
    )
    assert refused.status_code == 403
    allowed = client.post(
        "/legacy/", upload_form("other"), HTTP_AUTHORIZATION=basic_auth("dave", PASSWORD)
    )
    assert allowed.status_code == 200


def test_idle_session_ends(alice):
    browser = browser_for(alice)
    UserSession.objects.filter(user=alice).update(last_seen=timezone.now() - timedelta(hours=3))
    assert browser.get("/manage/account/")["Location"].startswith("/account/login/")


def test_session_ends_after_its_absolute_lifetime(alice):
    browser = browser_for(alice)
    UserSession.objects.filter(user=alice).update(created=timezone.now() - timedelta(hours=13))
    assert browser.get("/manage/account/")["Location"].startswith("/account/login/")


def test_totp_setup_with_an_unreadable_stored_secret_starts_over(dave):
    browser = browser_for(dave)
    set_up_recovery_codes(browser)
    browser.get("/manage/account/totp/")
    session = browser.session
    session["packyard_totp_setup"] = "bm90IHNlYWxlZA=="
    session.save()
    response = post(browser, "/manage/account/totp/", {"code": "123456"})
    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(user=dave).exists()
