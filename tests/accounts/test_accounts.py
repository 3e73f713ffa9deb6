import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client

from packyard.accounts.models import User
from packyard.accounts.ratelimit import Limit, RateLimited
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.django_db


def csrf_post(client: Client, path: str, data: dict[str, Any], **extra: Any) -> Any:
    """Post as a browser does: fetch the page for its CSRF cookie, send the token back."""
    client.get(path)
    token = client.cookies["csrftoken"].value
    return client.post(path, {**data, "csrfmiddlewaretoken": token}, **extra)


def login(client: Client, username: str, password: str = PASSWORD, **extra: str):
    """Log in as a person does: the password, then the app's code when the account has 2FA."""
    response = csrf_post(
        client, "/account/login/", {"username": username, "password": password}, **extra
    )
    if response.status_code == 302 and response["Location"] == "/account/two-factor/":
        user = User.objects.get(username=username)
        form = {"method": "totp", "code": totp_code(user)}
        response = csrf_post(client, "/account/two-factor/", form, **extra)
    return response


def link_in_last_mail() -> str:
    return re.search(r"http\S+", str(mail.outbox[-1].body)).group(0)


def test_register_sends_verification_link_that_verifies(client):
    response = csrf_post(
        client,
        "/account/register/",
        {
            "username": "dora",
            "email": "dora@example.com",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    assert "_auth_user_id" not in client.session  # the account logs in once verified
    user = User.objects.get(username="dora")
    assert not user.email_verified
    assert mail.outbox[-1].to == ["dora@example.com"]
    link = link_in_last_mail()
    assert client.get(link.split("localhost:8000")[1]).status_code == 302
    user.refresh_from_db()
    assert user.email_verified


def test_verification_link_for_changed_address_is_refused(client):
    user = User.objects.create_user("dora", "dora@example.com", PASSWORD)
    from packyard.accounts.services import email_verification_link

    link = email_verification_link(user=user)
    User.objects.filter(pk=user.pk).update(email="other@example.com")
    response = client.get(link.split("localhost:8000")[1])
    assert response.status_code == 400
    user.refresh_from_db()
    assert not user.email_verified


def test_tampered_verification_link_is_refused(client, unverified):
    assert client.get("/account/verify-email/garbage:abc/").status_code == 400


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"username": "alice"}, "That username is taken."),
        ({"username": "ALICE"}, "That username is taken."),
        ({"password": "short", "password_confirm": "short"}, "too short"),
        ({"password_confirm": "different"}, "The two passwords differ."),
        ({"username": "x" * 51}, "at most 50 characters"),
        ({"username": "\uff41\uff4c\uff49\uff43\uff45"}, "ASCII letters"),
        ({"username": "dora@home"}, "ASCII letters"),
        ({"username": "-dora"}, "ASCII letters"),
        ({"password": "p" * 1_000_000, "password_confirm": "p" * 1_000_000}, "at most 1024"),
    ],
)
def test_register_refusals(client, alice, data, error):
    form = {
        "username": "dora",
        "email": "dora@example.com",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    } | data
    response = csrf_post(client, "/account/register/", form)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not User.objects.filter(email__iexact="dora@example.com").exists()


def test_login_rotates_session_key(client, dave):
    client.get("/account/login/")
    client.session.save()
    before = client.cookies.get("packyard_session")
    response = login(client, "dave")
    assert response.status_code == 302
    assert client.cookies["packyard_session"].value != (before.value if before else None)
    assert client.session[SESSION_KEY] == str(dave.pk)
    assert dave.events.filter(tag="account:login:success").exists()


def test_wrong_password_is_refused_and_recorded(client, alice):
    response = login(client, "alice", "wrong password")
    assert response.status_code == 200
    assert "The username or password is wrong." in response.content.decode()
    assert alice.events.filter(tag="account:login:failure").count() == 1


def test_login_from_strangers_backs_off_per_user_after_ten_failures(client, alice):
    for index in range(10):
        stranger = Client(enforce_csrf_checks=True)
        assert login(stranger, "alice", "wrong", REMOTE_ADDR=f"10.0.1.{index}").status_code == 200
    # Another unknown address waits: the eleventh attempt from strangers backs off.
    response = login(client, "alice", PASSWORD, REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_strangers_failures_do_not_lock_out_a_known_device(alice):
    laptop = Client(enforce_csrf_checks=True)
    assert login(laptop, "alice").status_code == 302  # a full login: the browser becomes known
    assert "packyard_device" in laptop.cookies
    for index in range(12):
        stranger = Client(enforce_csrf_checks=True)
        login(stranger, "alice", "wrong", REMOTE_ADDR=f"10.0.3.{index}")
    # The owner's known browser, from a fresh address, is not held back by the strangers.
    csrf_post(laptop, "/account/logout/", {})
    response = csrf_post(
        laptop,
        "/account/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.4.1",
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/two-factor/"


def test_backoff_doubles_its_wait_and_forgets_on_success(db):
    from packyard.accounts.models import RateLimitCounter
    from packyard.accounts.ratelimit import Backoff

    backoff = Backoff("test-backoff", free=2, base=10, cap=60, forget=3600)
    backoff.hit("s")
    backoff.hit("s")
    with pytest.raises(RateLimited) as first:
        backoff.hit("s")
    assert 9 <= first.value.retry_after <= 10
    # Pretend the wait passed: one more attempt goes, and the next wait is twice as long.
    row = RateLimitCounter.objects.get(key=backoff.key("s"))
    RateLimitCounter.objects.filter(pk=row.pk).update(
        window_start=row.window_start - timedelta(seconds=11)
    )
    backoff.hit("s")
    with pytest.raises(RateLimited) as second:
        backoff.hit("s")
    assert 19 <= second.value.retry_after <= 20
    backoff.reset("s")
    backoff.hit("s")


def test_login_limited_per_address_across_users(client, dave):
    for index in range(10):
        login(client, f"nobody{index}", "wrong", REMOTE_ADDR="10.0.0.3")
    assert login(client, "dave", PASSWORD, REMOTE_ADDR="10.0.0.3").status_code == 429
    assert login(client, "dave", PASSWORD, REMOTE_ADDR="10.0.0.4").status_code == 302


def test_overlong_password_is_refused_without_hashing(client, alice):
    response = login(client, "alice", "p" * 1_000_000)
    assert response.status_code == 200
    assert "at most 1024" in response.content.decode()


def test_rate_limit_window_counts_and_resets(db):
    limit = Limit("test", 2, 60)
    limit.hit("s")
    limit.hit("s")
    with pytest.raises(RateLimited):
        limit.hit("s")
    assert limit.used("s") == 2  # the refused attempt was given back
    limit.give_back("s")
    limit.hit("s")
    limit.reset("s")
    assert limit.used("s") == 0


def test_password_change_logs_out_other_sessions(alice):
    phone, laptop = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    login(phone, "alice")
    login(laptop, "alice")
    new_password = "an entirely new pass phrase 7"
    response = csrf_post(
        laptop,
        "/manage/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )
    assert response.status_code == 302
    assert laptop.get("/manage/account/").status_code == 200
    assert phone.get("/manage/account/").status_code == 302
    assert "Your password has changed" in mail.outbox[-1].subject


def test_password_reset_same_answer_for_unknown_address(client, alice):
    known = csrf_post(client, "/account/reset-password/", {"email": "alice@example.com"})
    unknown = csrf_post(client, "/account/reset-password/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(mail.outbox) == 1


def _reset_link(client: Client) -> str:
    csrf_post(client, "/account/reset-password/", {"email": "alice@example.com"})
    return link_in_last_mail().split("localhost:8000")[1]


def _use_reset_link(client: Client, link: str, password: str):
    page = client.get(link, follow=True)
    if page.status_code != 200 or "new_password1" not in page.content.decode():
        return page
    token = client.cookies["csrftoken"].value
    return client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else link,
        {"new_password1": password, "new_password2": password, "csrfmiddlewaretoken": token},
    )


def test_password_reset_link_works_once(client, alice):
    link = _reset_link(client)
    response = _use_reset_link(client, link, "a brand new pass phrase 1")
    assert response.status_code == 302
    again = _use_reset_link(Client(enforce_csrf_checks=True), link, "another new pass phrase 2")
    assert "This link no longer works" in again.content.decode()
    assert alice.events.filter(tag="account:password:reset").exists()


def test_password_reset_link_dies_after_login(client, alice):
    link = _reset_link(client)
    login(Client(enforce_csrf_checks=True), "alice")
    response = _use_reset_link(Client(enforce_csrf_checks=True), link, "a brand new pass phrase 1")
    assert "This link no longer works" in response.content.decode()


def test_logout_needs_post(client, alice):
    login(client, "alice")
    assert client.get("/account/logout/").status_code == 405
    csrf_post(client, "/manage/account/tokens/", {})  # any page to refresh the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post("/account/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get("/manage/account/").status_code == 302


def test_form_without_csrf_token_is_refused(client, alice):
    response = client.post("/account/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_password_reset_mails_are_limited_per_address(client, alice):
    for _ in range(5):
        response = csrf_post(client, "/account/reset-password/", {"email": "alice@example.com"})
        assert response.status_code == 302
    assert len(mail.outbox) == 3


def test_verification_mails_are_limited(unverified):
    browser = Client(enforce_csrf_checks=True)
    login(browser, "charlie")
    for _ in range(5):
        browser.get("/manage/account/")
        token = browser.cookies["csrftoken"].value
        browser.post("/account/verify-email-again/", {"csrfmiddlewaretoken": token})
    assert len(mail.outbox) == 3


def test_wrong_current_password_on_change_is_limited(alice):
    browser = Client(enforce_csrf_checks=True)
    login(browser, "alice")
    new_password = "an entirely new pass phrase 7"
    form = {"old_password": "wrong", "new_password1": new_password, "new_password2": new_password}
    for _ in range(10):
        csrf_post(browser, "/manage/account/password/", form)
    response = csrf_post(browser, "/manage/account/password/", form | {"old_password": PASSWORD})
    assert "Too many wrong passwords" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_inputs_point_at_their_help_and_errors(client):
    """A screen reader reads a field's help and errors through aria-describedby: every id it
    names is on the page."""
    page = csrf_post(
        client,
        "/account/register/",
        {"username": "x y", "email": "bad", "password": "short", "password_confirm": "other"},
    ).content.decode()
    described = {
        name for names in re.findall(r'aria-describedby="([^"]+)"', page) for name in names.split()
    }
    assert any(name.endswith("_error") for name in described)
    assert any(name.endswith("_helptext") for name in described)
    for name in described:
        assert f'id="{name}"' in page, name
