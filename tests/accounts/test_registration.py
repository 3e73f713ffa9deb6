"""Who may make an account: open registration answers the same for known and new addresses and
is limited; a private index takes accounts from the operator, staff invitations, or listed
email domains only."""

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from packyard.accounts.models import User
from packyard.accounts.services import user_create
from packyard.packages.models import Project, Role
from tests.accounts.test_accounts import csrf_post, link_in_last_mail
from tests.conftest import PASSWORD, browser_for

pytestmark = pytest.mark.django_db


def _register(client: Client, username: str, email: str, **extra: str):
    form = {
        "username": username,
        "email": email,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }
    return csrf_post(client, "/account/register/", form, **extra)


def test_known_address_gets_the_same_answer_and_its_owner_a_mail(client, alice):
    known = _register(client, "dora", "ALICE@example.com")
    new = _register(Client(enforce_csrf_checks=True), "erin", "erin@example.com")
    assert known.status_code == new.status_code == 200
    assert known.content.replace(b"ALICE@example.com", b"X") == new.content.replace(
        b"erin@example.com", b"X"
    )
    assert not User.objects.filter(username="dora").exists()
    to_alice = [message for message in mail.outbox if message.to == ["alice@example.com"]]
    assert "Someone tried to register with your address" in to_alice[-1].subject


def test_known_address_costs_the_same_password_hashing(client, alice, monkeypatch):
    from django.contrib.auth.hashers import make_password

    from packyard.accounts import services

    hashed: list[str] = []
    real = make_password

    def counted(password: str) -> str:
        hashed.append(password)
        return real(password)

    monkeypatch.setattr(services, "make_password", counted)
    _register(client, "dora", "alice@example.com")
    assert hashed == [PASSWORD]


def test_registration_limited_per_address(client):
    for index in range(5):
        assert _register(client, f"user{index}", f"u{index}@example.com").status_code == 200
    refused = _register(client, "user9", "u9@example.com")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert not User.objects.filter(username="user9").exists()
    elsewhere = _register(client, "user9", "u9@example.com", REMOTE_ADDR="192.0.2.9")
    assert elsewhere.status_code == 200


def test_unverified_accounts_are_deleted_after_seven_days(client):
    old = user_create(username="squatter", email="s@example.com", password=PASSWORD)
    fresh = user_create(username="newbie", email="n@example.com", password=PASSWORD)
    keeper = user_create(username="keeper", email="k@example.com", password=PASSWORD)
    project = Project.objects.create(name="kept", normalized_name="kept")
    Role.objects.create(project=project, user=keeper, role_name=Role.MAINTAINER)
    week_ago = timezone.now() - timedelta(days=7, minutes=1)
    User.objects.filter(pk__in=[old.pk, keeper.pk]).update(date_joined=week_ago)
    output = io.StringIO()
    call_command("delete_unverified_accounts", stdout=output)
    assert "Deleted 1 unverified account(s)." in output.getvalue()
    assert not User.objects.filter(pk=old.pk).exists()
    assert User.objects.filter(pk__in=[fresh.pk, keeper.pk]).count() == 2
    # Each registration clears them too: the squatted name is free again.
    User.objects.filter(pk=fresh.pk).update(date_joined=week_ago)
    assert _register(client, "newbie", "other@example.com").status_code == 200
    assert User.objects.get(username="newbie").email == "other@example.com"


def test_private_index_closes_registration(client, settings):
    settings.PACKYARD_PRIVATE = True
    page = client.get("/account/register/")
    assert page.status_code == 403
    assert "invitation only" in page.content.decode()
    client.get("/account/login/")  # a CSRF cookie, as from any earlier page
    assert _register(client, "dora", "dora@example.com").status_code == 403
    assert not User.objects.filter(username="dora").exists()
    assert "/account/register/" not in client.get("/account/login/").content.decode()


def test_registration_domains_allow_listed_addresses_only(client, settings):
    settings.PACKYARD_PRIVATE = True
    settings.PACKYARD_REGISTRATION_DOMAINS = ["example.org"]
    refused = _register(client, "dora", "dora@elsewhere.example")
    assert "does not take registrations from that address" in refused.content.decode()
    assert _register(client, "erin", "erin@EXAMPLE.org").status_code == 200
    assert User.objects.filter(username="erin", email_verified=False).exists()


def test_staff_invitation_makes_a_verified_account_once(client, alice, settings):
    settings.PACKYARD_PRIVATE = True
    alice.is_staff = True
    alice.save()
    staff = browser_for(alice)
    sent = csrf_post(staff, "/manage/invite-user/", {"email": "newcomer@example.com"})
    assert sent.status_code == 302
    assert alice.events.filter(tag="account:user_invited").exists()
    link = link_in_last_mail().split("localhost:8000")[1]
    assert mail.outbox[-1].to == ["newcomer@example.com"]
    newcomer = Client(enforce_csrf_checks=True)
    page = newcomer.get(link)
    assert "newcomer@example.com" in page.content.decode()
    form = {"username": "newcomer", "password": PASSWORD, "password_confirm": PASSWORD}
    created = csrf_post(newcomer, link, form | {"email": "attacker@example.com"})
    assert created.status_code == 302
    user = User.objects.get(username="newcomer")
    assert (user.email, user.email_verified) == ("newcomer@example.com", True)
    again = Client(enforce_csrf_checks=True).get(link)
    assert again.status_code == 400
    assert "was used" in again.content.decode()


def test_invitation_expires_after_seven_days(client, alice, settings, monkeypatch):
    from packyard.accounts import services

    alice.is_staff = True
    alice.save()
    csrf_post(browser_for(alice), "/manage/invite-user/", {"email": "late@example.com"})
    link = link_in_last_mail().split("localhost:8000")[1]
    monkeypatch.setattr(services, "INVITATION_MAX_AGE", -1)
    expired = client.get(link)
    assert expired.status_code == 400
    assert "expired" in expired.content.decode()


def test_forged_invitation_is_refused(client):
    response = client.get("/account/register/invited/eyJlIjoieEB5LnoifQ:forged/")
    assert response.status_code == 400


def test_only_staff_invite(bob):
    refused = csrf_post(browser_for(bob), "/manage/invite-user/", {"email": "x@example.com"})
    assert refused.status_code == 403
    assert len(mail.outbox) == 0 or mail.outbox[-1].to != ["x@example.com"]


def test_fullwidth_copy_of_a_username_is_refused_everywhere(alice):
    from packyard.accounts.services import AccountError

    with pytest.raises(AccountError, match="ASCII"):
        user_create(
            username="\uff41\uff4c\uff49\uff43\uff45", email="fw@example.com", password=PASSWORD
        )
    with pytest.raises(AccountError, match="taken"):
        user_create(username="ALICE", email="a2@example.com", password=PASSWORD)
