import re
import time

import pytest
from django.core import mail
from django.test import Client

from packyard.accounts.models import UserSession
from packyard.accounts.services import user_invitation_send
from packyard.signin import pending
from packyard.twofactor.models import RecoveryCode
from packyard.twofactor.services import (
    SECOND_FACTOR_LIMITS,
    recovery_codes_generate,
)
from tests.accounts.test_accounts import csrf_post, link_in_last_mail
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.django_db


def password_step(client: Client, username: str = "alice", **extra: str):
    return csrf_post(
        client, "/account/login/", {"username": username, "password": PASSWORD}, **extra
    )


def second_step(client: Client, **data: str):
    if "csrftoken" not in client.cookies:
        client.get("/account/login/")
    token = client.cookies["csrftoken"].value
    return client.post("/account/two-factor/", {**data, "csrfmiddlewaretoken": token})


def test_password_alone_does_not_log_in_a_2fa_account(client, alice):
    response = password_step(client)
    assert response["Location"] == "/account/two-factor/"
    assert client.get("/manage/account/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_totp_second_step_logs_in_and_records_the_factor(client, alice):
    password_step(client)
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response.status_code == 302
    assert client.get("/manage/account/").status_code == 200
    assert UserSession.objects.get(user=alice).factor == "password+totp"
    assert alice.events.filter(tag="account:login:success", additional__method="password+totp")


def test_same_totp_code_is_not_accepted_twice(client, alice):
    code = totp_code(alice)
    password_step(client)
    second_step(client, method="totp", code=code)
    other = Client(enforce_csrf_checks=True)
    password_step(other)
    response = second_step(other, method="totp", code=code)
    assert response.status_code == 400
    assert "already used" in response.content.decode()


def test_wrong_code_is_refused_and_recorded(client, alice):
    password_step(client)
    response = second_step(client, method="totp", code="000000")
    assert response.status_code == 400
    assert alice.events.filter(tag="account:two_factor:failure").exists()


def test_code_with_letters_is_a_form_error(client, alice):
    password_step(client)
    response = second_step(client, method="totp", code="12a456")
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_second_step_without_first_step_sends_to_login(client, alice):
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response["Location"] == "/account/login/"
    assert "_auth_user_id" not in client.session


def test_pending_state_expires_after_five_minutes(client, alice):
    password_step(client)
    session = client.session
    session[pending.PENDING_KEY]["at"] = time.time() - pending.PENDING_SECONDS - 1
    session.save()
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response["Location"] == "/account/login/"


def test_pending_state_is_single_use(client, alice):
    password_step(client)
    second_step(client, method="totp", code=totp_code(alice))
    assert pending.PENDING_KEY not in client.session


def test_pending_state_dies_with_a_password_change(client, alice):
    password_step(client)
    alice.set_password("a completely new pass phrase 3")
    alice.save()
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response["Location"] == "/account/login/"


def test_pending_state_of_another_session_is_not_shared(client, alice):
    password_step(client)
    stranger = Client(enforce_csrf_checks=True)
    response = second_step(stranger, method="totp", code=totp_code(alice))
    assert response["Location"] == "/account/login/"


def test_five_failures_lock_the_second_step(client, alice):
    password_step(client)
    for _ in range(5):
        assert second_step(client, method="totp", code="000000").status_code == 400
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("limit", SECOND_FACTOR_LIMITS)
def test_each_second_factor_limit_is_hit_exactly_at_its_count(alice, limit):
    from packyard.accounts.ratelimit import RateLimited

    subject = str(alice.pk)
    for _ in range(limit.count):
        limit.hit(subject)
    with pytest.raises(RateLimited):
        limit.hit(subject)


def test_recovery_code_login_burns_code_emails_and_ends_other_sessions(client, alice):
    codes = recovery_codes_generate(user=alice, request=None)
    laptop = Client(enforce_csrf_checks=True)
    password_step(laptop)
    second_step(laptop, method="totp", code=totp_code(alice))
    assert laptop.get("/manage/account/").status_code == 200
    password_step(client)
    response = second_step(client, method="recovery", recovery_code=codes[0].upper())
    assert response.status_code == 302
    assert client.get("/manage/account/").status_code == 200
    assert laptop.get("/manage/account/").status_code == 302
    assert RecoveryCode.objects.filter(user=alice, burned__isnull=False).count() == 1
    assert "A recovery code was used" in mail.outbox[-1].subject
    assert alice.events.filter(tag="account:recovery_codes:used").exists()


def test_recovery_code_works_once(client, alice):
    codes = recovery_codes_generate(user=alice, request=None)
    password_step(client)
    second_step(client, method="recovery", recovery_code=codes[1])
    again = Client(enforce_csrf_checks=True)
    password_step(again)
    response = second_step(again, method="recovery", recovery_code=codes[1])
    assert response.status_code == 400


def test_mangled_recovery_code_is_refused(client, alice):
    codes = recovery_codes_generate(user=alice, request=None)
    password_step(client)
    response = second_step(client, method="recovery", recovery_code=codes[0].replace("-", "_"))
    assert response.status_code == 400
    assert not RecoveryCode.objects.filter(user=alice, burned__isnull=False).exists()


def test_password_only_account_logs_in_with_password(client, dave):
    response = password_step(client, "dave")
    assert response["Location"] == "/manage/account/"
    assert UserSession.objects.get(user=dave).factor == "password"


def link_in(message) -> str:
    return re.search(r"http://\S+", message.body).group(0).split("localhost:8000")[1]


def test_code_login_from_new_browser_and_address_waits_for_the_emailed_link(client, alice):
    password_step(client, REMOTE_ADDR="10.9.9.9")
    response = csrf_post(
        client,
        "/account/two-factor/",
        {"method": "totp", "code": totp_code(alice)},
        REMOTE_ADDR="10.9.9.9",
    )
    assert "Check your email" in response.content.decode()
    assert "_auth_user_id" not in client.session
    message = mail.outbox[-1]
    assert message.subject.endswith("Confirm a login from a new device")
    assert "10.9.9.9" in message.body
    stranger = Client(enforce_csrf_checks=True)
    assert stranger.get(link_in(message)).status_code == 400
    response = client.get(link_in(message), REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 302
    assert client.get("/manage/account/", REMOTE_ADDR="10.9.9.9").status_code == 200
    assert client.cookies["packyard_device"].value


def test_held_login_dies_when_the_password_changes(client, alice):
    password_step(client, REMOTE_ADDR="10.9.9.9")
    csrf_post(
        client,
        "/account/two-factor/",
        {"method": "totp", "code": totp_code(alice)},
        REMOTE_ADDR="10.9.9.9",
    )
    link = link_in(mail.outbox[-1])
    alice.set_password("the owner changed it in time 7")
    alice.save()
    response = client.get(link, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_known_browser_passes_from_a_new_address(client, alice):
    password_step(client)
    second_step(client, method="totp", code=totp_code(alice))
    assert client.cookies["packyard_device"].value
    csrf = client.cookies["csrftoken"].value
    client.post("/account/logout/", {"csrfmiddlewaretoken": csrf})
    password_step(client, REMOTE_ADDR="10.8.8.8")
    response = csrf_post(
        client,
        "/account/two-factor/",
        {"method": "totp", "code": totp_code(alice)},
        REMOTE_ADDR="10.8.8.8",
    )
    assert response.status_code == 302


def test_opening_the_login_page_again_ends_the_pending_login(client, alice):
    password_step(client)
    client.get("/account/login/")
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response["Location"] == "/account/login/"


def test_cancel_ends_the_half_finished_login(client, alice):
    password_step(client)
    cancelled = csrf_post(client, "/account/two-factor/cancel/", {})
    assert cancelled["Location"] == "/account/login/"
    response = second_step(client, method="totp", code=totp_code(alice))
    assert response.status_code == 302
    assert response["Location"] == "/account/login/"
    assert "_auth_user_id" not in client.session


def test_logging_in_another_way_ends_a_half_finished_login(client, alice, rf):
    """An invitation logs its newcomer in; Alice's password step left in the same browser must
    not survive it, or the newcomer's session could finish Alice's login with her code."""
    password_step(client)
    assert pending.PENDING_KEY in client.session
    alice.is_staff = True
    alice.save()
    user_invitation_send(email="newcomer@example.com", invited_by=alice, request=rf.get("/"))
    link = link_in_last_mail().split("localhost:8000")[1]
    form = {"username": "newcomer", "password": PASSWORD, "password_confirm": PASSWORD}
    assert csrf_post(client, link, form).status_code == 302
    assert pending.PENDING_KEY not in client.session
    assert second_step(client, method="totp", code=totp_code(alice))["Location"] == (
        "/account/login/"
    )
