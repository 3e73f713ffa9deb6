import pytest
from django.core import mail

from packyard.accounts.models import User
from packyard.twofactor.models import RecoveryCode, TOTPDevice
from tests.conftest import browser_for

pytestmark = pytest.mark.django_db


def make_staff(user: User) -> User:
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    user.refresh_from_db()
    return user


def test_anonymous_admin_goes_to_the_site_login(client):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/account/login/?next=")


def test_staff_without_second_factor_is_kept_out(dave):
    response = browser_for(make_staff(dave)).get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/manage/account/two-factor/"


def test_non_staff_is_kept_out(alice):
    response = browser_for(alice).get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] != "/admin/"
    assert response.status_code == 200
    assert b"Site administration" not in response.content


def test_staff_with_second_factor_gets_in(alice):
    response = browser_for(make_staff(alice)).get("/admin/")
    assert response.status_code == 200
    assert b"Packyard administration" in response.content


def test_admin_resets_a_locked_out_users_factors(alice, bob):
    admin = browser_for(make_staff(alice))
    victim_session = browser_for(bob)
    admin.get("/admin/accounts/user/")
    response = admin.post(
        "/admin/accounts/user/",
        {
            "action": "reset_second_factors",
            "_selected_action": [str(bob.pk)],
            "csrfmiddlewaretoken": admin.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=bob).exists()
    assert not RecoveryCode.objects.filter(user=bob).exists()
    assert bob.events.get(tag="account:two_factor:reset_by_admin").additional["admin"] == "alice"
    assert mail.outbox[-1].to == ["bob@example.com"]
    assert victim_session.get("/manage/account/").status_code == 302
