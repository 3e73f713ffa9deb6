import pytest
from django.core import mail

from packyard.accounts.models import User
from packyard.twofactor.models import RecoveryCode, TOTPDevice
from tests.conftest import PASSWORD, browser_for

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


def test_staff_without_a_key_is_kept_out_where_the_site_requires_keys(alice, settings):
    from tests.twofactor.test_webauthn import key_of

    settings.PACKYARD_REQUIRE_2FA = "phishing-resistant"
    response = browser_for(make_staff(alice)).get("/admin/", follow=True)
    assert b"Packyard administration" not in response.content
    key_of(alice)
    assert browser_for(alice, with_key=True).get("/admin/").status_code == 200


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


def _stale(browser):
    """The session logged in long ago: its re-authentication window has passed."""
    from packyard.accounts.reauth import REAUTH_AT_KEY

    session = browser.session
    session[REAUTH_AT_KEY] = 1.0
    session.save()
    return browser


def test_admin_change_needs_fresh_reauthentication(alice, bob):
    admin = _stale(browser_for(make_staff(alice)))
    page = admin.get("/admin/accounts/user/")
    assert page.status_code == 302
    assert page["Location"].startswith(
        "/account/reauthenticate/?next=%2Fadmin%2Faccounts%2Fuser%2F"
    )
    admin.get("/account/login/")  # a CSRF cookie
    frozen = admin.post(
        "/admin/accounts/user/",
        {
            "action": "freeze_accounts",
            "_selected_action": [str(bob.pk)],
            "csrfmiddlewaretoken": admin.cookies["csrftoken"].value,
        },
    )
    assert frozen.status_code == 302
    assert frozen["Location"].startswith("/account/reauthenticate/")
    bob.refresh_from_db()
    assert bob.is_active


def test_admin_password_views_send_staff_to_the_site(alice, bob):
    admin = browser_for(make_staff(alice))
    own = admin.get("/admin/password_change/")
    assert own.status_code == 302
    assert own["Location"] == "/manage/account/password/"
    other = admin.get(f"/admin/accounts/user/{bob.pk}/password/")
    assert other.status_code == 302
    admin.get("/admin/accounts/user/")
    posted = admin.post(
        f"/admin/accounts/user/{bob.pk}/password/",
        {
            "password1": "set by a staff member 1",
            "password2": "set by a staff member 1",
            "usable_password": "true",
            "csrfmiddlewaretoken": admin.cookies["csrftoken"].value,
        },
    )
    assert posted.status_code == 302
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)
    change_page = admin.get(f"/admin/accounts/user/{bob.pk}/change/").content.decode()
    assert 'name="password"' not in change_page


def test_admin_changes_to_an_account_are_recorded_and_emailed(alice, bob):
    admin = browser_for(make_staff(alice))
    page = admin.get(f"/admin/accounts/user/{bob.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, list | tuple)
    }
    data |= {
        "username": "bob",
        "email": "bob-new@example.com",
        "is_active": "on",
        "email_verified": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "csrfmiddlewaretoken": admin.cookies["csrftoken"].value,
    }
    data.pop("last_login", None)
    saved = admin.post(f"/admin/accounts/user/{bob.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    event = bob.events.get(tag="account:changed_by_admin")
    assert "email" in event.additional["fields"]
    assert any("changed by an administrator" in m.subject for m in mail.outbox)


def test_staff_remove_a_trusted_publisher_as_an_owner_would(alice, bob, oidc):
    from packyard.packages.events import ProjectEventTag
    from packyard.packages.models import ProjectEvent, Publisher
    from tests.packages.trusted.helpers import github_publisher, project_of

    publisher = github_publisher(project_of(bob), oidc["github"])
    staff = browser_for(make_staff(alice))
    page = staff.get(f"/admin/packages/publisher/{publisher.pk}/delete/")
    assert page.status_code == 200
    mail.outbox.clear()
    staff.post(
        f"/admin/packages/publisher/{publisher.pk}/delete/",
        {"post": "yes", "csrfmiddlewaretoken": staff.cookies["csrftoken"].value},
    )
    assert not Publisher.objects.exists()
    removed = ProjectEvent.objects.get(tag=ProjectEventTag.PUBLISHER_REMOVED)
    assert removed.actor == alice
    assert [m.to for m in mail.outbox] == [[bob.email]]
