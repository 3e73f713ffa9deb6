from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from packyard.packages.models import Invitation, Project, ProjectEvent, Role
from tests.conftest import browser_for, upload_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(upload, alice, alice_token):
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    return Project.objects.get()


def post(browser, path: str, data: dict[str, str]):
    browser.get("/manage/projects/")
    return browser.post(path, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})


def invite(alice, username: str, role: str = "Maintainer"):
    return post(
        browser_for(alice),
        "/manage/project/demo/collaborators/",
        {"action": "invite", "username": username, "role": role},
    )


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.wsgi_request._messages)


def test_invitation_round_trip_lets_the_maintainer_upload(upload, alice, bob, bob_token, demo):
    invite(alice, "bob")
    assert any(m.to == ["bob@example.com"] and "bob invited" in m.subject for m in mail.outbox)
    invitation = Invitation.objects.get()
    post(
        browser_for(bob),
        "/manage/account/invitations/",
        {"invitation": str(invitation.pk), "answer": "accept"},
    )
    assert Role.objects.get(user=bob).role_name == "Maintainer"
    assert upload(bob_token, upload_form("demo", "2.0")).status_code == 200
    tags = set(ProjectEvent.objects.values_list("tag", flat=True))
    assert {"project:role:invite", "project:role:accepted"} <= tags


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "There is no user named 'nobody'."),
        ("charlie", "has not verified"),
        ("alice", "already a collaborator"),
    ],
)
def test_bad_invitations_change_nothing(alice, unverified, demo, username, message):
    response = invite(alice, username)
    assert message in messages_of(response)
    assert not Invitation.objects.exists()


def test_inviting_twice_is_refused(alice, bob, demo):
    invite(alice, "bob")
    assert "already has an invitation" in messages_of(invite(alice, "bob"))
    assert Invitation.objects.count() == 1


def test_someone_elses_invitation_cannot_be_accepted(alice, bob, dave, demo, settings):
    settings.PACKYARD_REQUIRE_2FA = "off"
    invite(alice, "bob")
    invitation = Invitation.objects.get()
    response = post(
        browser_for(dave),
        "/manage/account/invitations/",
        {"invitation": str(invitation.pk), "answer": "accept"},
    )
    assert "not yours" in messages_of(response)
    assert not Role.objects.filter(user=dave).exists()


@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_expired_or_withdrawn_invitation_cannot_be_accepted(alice, bob, demo, state):
    invite(alice, "bob")
    invitation = Invitation.objects.get()
    if state == "expired":
        Invitation.objects.update(expires=timezone.now() - timedelta(seconds=1))
    else:
        post(
            browser_for(alice),
            "/manage/project/demo/collaborators/",
            {"action": "revoke", "invitation": str(invitation.pk)},
        )
    response = post(
        browser_for(bob),
        "/manage/account/invitations/",
        {"invitation": str(invitation.pk), "answer": "accept"},
    )
    assert "expired or was already answered" in messages_of(response)
    assert not Role.objects.filter(user=bob).exists()


def test_declining(alice, bob, demo):
    invite(alice, "bob")
    invitation = Invitation.objects.get()
    post(
        browser_for(bob),
        "/manage/account/invitations/",
        {"invitation": str(invitation.pk), "answer": "decline"},
    )
    assert not Role.objects.filter(user=bob).exists()
    assert "invitation declined" in mail.outbox[-1].subject


def test_sole_owner_cannot_leave_or_step_down(alice, demo):
    role = Role.objects.get(user=alice)
    browser = browser_for(alice)
    for data in ({"action": "remove"}, {"action": "change", "role": "Maintainer"}):
        response = post(
            browser, "/manage/project/demo/collaborators/", {**data, "role_id": str(role.pk)}
        )
        assert "A project needs an Owner" in messages_of(response)
    assert Role.objects.get(user=alice).role_name == "Owner"


def test_transfer_of_ownership(alice, bob, demo):
    invite(alice, "bob", "Owner")
    post(
        browser_for(bob),
        "/manage/account/invitations/",
        {"invitation": str(Invitation.objects.get().pk), "answer": "accept"},
    )
    alice_role = Role.objects.get(user=alice)
    post(
        browser_for(alice),
        "/manage/project/demo/collaborators/",
        {"action": "remove", "role_id": str(alice_role.pk)},
    )
    assert list(Role.objects.values_list("user__username", "role_name")) == [("bob", "Owner")]


def test_owner_changes_a_role_and_everyone_concerned_is_told(alice, bob, demo):
    role = Role.objects.create(project=demo, user=bob, role_name=Role.MAINTAINER)
    post(
        browser_for(alice),
        "/manage/project/demo/collaborators/",
        {"action": "change", "role_id": str(role.pk), "role": "Owner"},
    )
    assert Role.objects.get(pk=role.pk).role_name == "Owner"
    assert {m.to[0] for m in mail.outbox[-2:]} == {"alice@example.com", "bob@example.com"}


def test_maintainer_cannot_manage_collaborators(alice, bob, demo):
    Role.objects.create(project=demo, user=bob, role_name=Role.MAINTAINER)
    assert browser_for(bob).get("/manage/project/demo/collaborators/").status_code == 404


@pytest.mark.parametrize("value", ["abc", "-1", "99999999999999999999"])
def test_malformed_ids_in_collaborator_forms_are_404(alice, bob, demo, value):
    assert (
        post(browser_for(bob), "/manage/account/invitations/", {"invitation": value}).status_code
        == 404
    )
    response = post(
        browser_for(alice),
        "/manage/project/demo/collaborators/",
        {"action": "remove", "role_id": value},
    )
    assert response.status_code == 404
    assert Role.objects.filter(project=demo).count() == 1
