"""Project names and quarantine, attacked: look-alike names, a deleted project's name taken by
somebody else, an Owner undoing a quarantine by deleting and uploading again, and invitations
that outlive their sender's Owner role."""

import pytest

from packyard.packages.models import (
    File,
    Invitation,
    Project,
    Release,
    ReservedName,
    Role,
    name_skeleton,
)
from tests.conftest import browser_for, give_totp, upload_form
from tests.packages.test_manage import post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("existing", "copy"),
    [
        ("Req-Uests-x", "requests-x"),
        ("Req-Uests-x", "requestsx"),
        ("Req-Uests-x", "req-uest-s-x"),
        ("hello-x", "he1lo-x"),
        ("hello-x", "HELL0_X"),
        ("pillow-x", "piiiow-x"),
    ],
)
def test_look_alike_project_names_are_refused(upload, alice_token, bob_token, existing, copy):
    assert upload(alice_token, upload_form(existing, "1.0")).status_code == 200
    refused = upload(bob_token, upload_form(copy, "1.0"))
    assert refused.status_code == 400
    assert f"too similar to the existing project {existing!r}" in refused.content.decode()
    assert Project.objects.count() == 1


def test_name_skeleton_folds_separators_and_look_alikes():
    assert name_skeleton("req-uests-x") == name_skeleton("requestsx") == "requestsx"
    assert name_skeleton("he1lo") == name_skeleton("hello") == name_skeleton("heiio")


def test_the_same_project_keeps_uploading(upload, alice_token):
    assert upload(alice_token, upload_form("Req-Uests-x", "1.0")).status_code == 200
    assert upload(alice_token, upload_form("req_uests.x", "2.0")).status_code == 200


@pytest.fixture
def suspect(upload, alice, alice_token):
    assert upload(alice_token, upload_form("suspect", "1.0")).status_code == 200
    project = Project.objects.get(normalized_name="suspect")
    Project.objects.filter(pk=project.pk).update(quarantined=True)
    project.refresh_from_db()
    return project


def test_owner_cannot_delete_or_change_a_quarantined_project(alice, suspect, bob):
    owner = browser_for(alice)
    post(owner, "/manage/project/suspect/delete/", {"confirm": "suspect"})
    post(owner, "/manage/project/suspect/yank/", {"version": "1.0", "reason": "x"})
    post(owner, "/manage/project/suspect/delete-release/", {"version": "1.0", "confirm": "1.0"})
    filename = File.objects.get().filename
    post(owner, "/manage/project/suspect/delete-file/", {"filename": filename, "confirm": filename})
    invited = post(
        owner,
        "/manage/project/suspect/collaborators/",
        {"action": "invite", "username": "bob", "role": Role.OWNER},
    )
    assert invited.status_code == 302
    assert Project.objects.filter(pk=suspect.pk).exists()
    assert not Release.objects.get().yanked
    assert File.objects.count() == 1
    assert not Invitation.objects.exists()


def test_deleted_quarantined_name_stays_closed_even_to_its_owner(upload, alice_token, suspect):
    from django.test import RequestFactory

    from packyard.packages.services import project_delete

    staff_request = RequestFactory().post("/admin/")
    owner = Role.objects.get(project=suspect).user
    project_delete(project=suspect, actor=owner, request=staff_request, by_staff=True)
    assert ReservedName.objects.get(normalized_name="suspect").quarantined
    again = upload(alice_token, upload_form("suspect", "2.0"))
    assert again.status_code == 403
    assert "deleted in quarantine" in again.content.decode()
    assert not Project.objects.exists()


def test_deleted_name_is_reserved_for_its_former_owners(upload, alice, alice_token, bob_token):
    assert upload(alice_token, upload_form("mine", "1.0")).status_code == 200
    post(browser_for(alice), "/manage/project/mine/delete/", {"confirm": "mine"})
    assert not Project.objects.exists()
    taken = upload(bob_token, upload_form("mine", "1.0"))
    assert taken.status_code == 403
    assert "reserved" in taken.content.decode()
    look_alike = upload(bob_token, upload_form("m1ne", "1.0"))
    assert look_alike.status_code == 400
    assert upload(alice_token, upload_form("mine", "2.0")).status_code == 200
    assert not ReservedName.objects.exists()


def test_invitations_of_a_demoted_owner_are_withdrawn(alice, bob, dave, upload, alice_token):
    assert upload(alice_token, upload_form("shared", "1.0")).status_code == 200
    project = Project.objects.get()
    Role.objects.create(project=project, user=bob, role_name=Role.OWNER)
    bob_browser = browser_for(bob)
    post(
        bob_browser,
        "/manage/project/shared/collaborators/",
        {"action": "invite", "username": "dave", "role": Role.OWNER},
    )
    invitation = Invitation.objects.get(invitee=dave)
    bob_role = Role.objects.get(user=bob)
    post(
        browser_for(alice),
        "/manage/project/shared/collaborators/",
        {"action": "change", "role_id": str(bob_role.pk), "role": Role.MAINTAINER},
    )
    invitation.refresh_from_db()
    assert invitation.outcome == "revoked"
    post(
        browser_for(give_totp(dave)),
        "/manage/account/invitations/",
        {"invitation": str(invitation.pk), "answer": "accept"},
    )
    assert not Role.objects.filter(user=dave).exists()


def test_invitation_whose_sender_left_cannot_be_accepted(alice, bob, dave, upload, alice_token):
    from django.test import RequestFactory

    from packyard.packages.collaborators import CollaboratorError, invitation_answer

    assert upload(alice_token, upload_form("shared", "1.0")).status_code == 200
    project = Project.objects.get()
    Role.objects.create(project=project, user=bob, role_name=Role.OWNER)
    invitation = Invitation.objects.create(
        project=project,
        invitee=dave,
        inviter=bob,
        role_name=Role.OWNER,
        expires=project.created.replace(year=project.created.year + 1),
    )
    Role.objects.filter(user=bob).delete()  # however the role went, the invitation goes too
    with pytest.raises(CollaboratorError, match="withdrawn"):
        invitation_answer(
            invitation=invitation, user=dave, accept=True, request=RequestFactory().post("/")
        )
    assert not Role.objects.filter(user=dave).exists()
