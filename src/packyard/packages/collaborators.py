"""Owners and Maintainers: invitations, role changes, removals. Every change is recorded in the
project's history and emailed to the people it concerns."""

from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from packyard.accounts.models import User
from packyard.accounts.services import security_email_send, user_find
from packyard.packages.events import ProjectEventTag, project_event_record
from packyard.packages.index import pages
from packyard.packages.index.journal import journal_record
from packyard.packages.models import Invitation, Project, Role


class CollaboratorError(Exception):
    pass


def _check_unfrozen(project: Project) -> None:
    if project.frozen_message:
        raise CollaboratorError(project.frozen_message)


def _withdraw_invitations_sent_by(
    *, project: Project, former_owner: User, request: HttpRequest
) -> None:
    """Invitations carry their sender's authority: an Owner who is no longer one takes back
    the invitations still open."""
    open_ones = Invitation.objects.filter(
        project=project, inviter=former_owner, answered__isnull=True
    ).select_related("invitee")
    for invitation in open_ones:
        updated = Invitation.objects.filter(pk=invitation.pk, answered__isnull=True).update(
            answered=timezone.now(), outcome="revoked"
        )
        if updated:
            project_event_record(
                projects=[project],
                tag=ProjectEventTag.ROLE_REVOKE_INVITE,
                actor=None,
                request=request,
                invitee=invitation.invitee.username,
                reason=f"{former_owner.username} is no longer an Owner",
            )


def _tell(users: list[User], project: Project, subject: str, what: str) -> None:
    for user in {u.pk: u for u in users}.values():
        security_email_send(
            user=user,
            subject=f"{project.name}: {subject}",
            template="packages/email/collaborators_changed.txt",
            project=project,
            what=what,
        )


def _owners(project: Project) -> list[User]:
    return [r.user for r in Role.objects.owners().filter(project=project).select_related("user")]


def invitation_create(
    *, project: Project, inviter: User, username: str, role_name: str, request: HttpRequest
) -> Invitation:
    if role_name not in (Role.OWNER, Role.MAINTAINER):
        raise CollaboratorError("Choose Owner or Maintainer.")
    _check_unfrozen(project)
    invitee = user_find(username=username.strip()) if len(username) <= 150 else None
    if invitee is None or not invitee.is_active:
        raise CollaboratorError(f"There is no user named {username!r}.")
    if not invitee.email_verified:
        raise CollaboratorError(f"{invitee.username} has not verified an email address yet.")
    if Role.objects.filter(project=project, user=invitee).exists():
        raise CollaboratorError(f"{invitee.username} is already a collaborator.")
    pending = Invitation.objects.filter(
        project=project, invitee=invitee, answered__isnull=True, expires__gt=timezone.now()
    )
    if pending.exists():
        raise CollaboratorError(f"{invitee.username} already has an invitation waiting.")
    with transaction.atomic():
        invitation = Invitation.objects.create(
            project=project,
            invitee=invitee,
            inviter=inviter,
            role_name=role_name,
            expires=timezone.now() + timedelta(days=Invitation.LIFETIME_DAYS),
        )
        project_event_record(
            projects=[project],
            tag=ProjectEventTag.ROLE_INVITE,
            actor=inviter,
            request=request,
            invitee=invitee.username,
            role=role_name,
        )
    what = f"{inviter.username} invited {invitee.username} to be {role_name}"
    _tell([invitee, *_owners(project)], project, f"{invitee.username} invited", what)
    return invitation


def invitation_answer(
    *, invitation: Invitation, user: User, accept: bool, request: HttpRequest
) -> None:
    if invitation.invitee_id != user.pk:
        raise CollaboratorError("This invitation is not yours.")
    if not invitation.is_open:
        raise CollaboratorError("This invitation has expired or was already answered.")
    _check_unfrozen(invitation.project)
    inviter_still_owner = (
        Role.objects.owners().filter(project=invitation.project, user=invitation.inviter).exists()
    )
    if accept and not inviter_still_owner:
        raise CollaboratorError("This invitation was withdrawn: its sender is no longer an Owner.")
    outcome = "accepted" if accept else "declined"
    with transaction.atomic():
        updated = Invitation.objects.filter(pk=invitation.pk, answered__isnull=True).update(
            answered=timezone.now(), outcome=outcome
        )
        if not updated:
            raise CollaboratorError("This invitation was already answered.")
        if accept:
            Role.objects.create(
                project=invitation.project, user=user, role_name=invitation.role_name
            )
            _ownership_changed(invitation.project, f"add {invitation.role_name} {user.username}")
        project_event_record(
            projects=[invitation.project],
            tag=ProjectEventTag.ROLE_ACCEPTED if accept else ProjectEventTag.ROLE_DECLINED,
            actor=user,
            request=request,
            role=invitation.role_name,
        )
    what = f"{user.username} {outcome} the invitation to be {invitation.role_name}"
    _tell(_owners(invitation.project), invitation.project, f"invitation {outcome}", what)


def invitation_revoke(*, invitation: Invitation, owner: User, request: HttpRequest) -> None:
    updated = Invitation.objects.filter(pk=invitation.pk, answered__isnull=True).update(
        answered=timezone.now(), outcome="revoked"
    )
    if not updated:
        raise CollaboratorError("This invitation was already answered.")
    project_event_record(
        projects=[invitation.project],
        tag=ProjectEventTag.ROLE_REVOKE_INVITE,
        actor=owner,
        request=request,
        invitee=invitation.invitee.username,
    )
    what = f"{owner.username} withdrew the invitation of {invitation.invitee.username}"
    _tell(
        [invitation.invitee, *_owners(invitation.project)],
        invitation.project,
        "invitation withdrawn",
        what,
    )


def _ownership_changed(project: Project, action: str) -> None:
    """The JSON API lists a project's roles, as PyPI's does: a change is a change of its pages,
    journaled in PyPI's words."""
    journal_record(project=project, action=action)
    pages.refresh(project.pk)


def _refuse_leaving_without_owner(role: Role, new_role: str | None) -> None:
    if role.role_name != Role.OWNER or new_role == Role.OWNER:
        return
    if Role.objects.owners().filter(project=role.project).count() <= 1:
        raise CollaboratorError(
            "A project needs an Owner: invite another Owner before this one steps down."
        )


def role_change(*, role: Role, new_role: str, owner: User, request: HttpRequest) -> None:
    if new_role not in (Role.OWNER, Role.MAINTAINER):
        raise CollaboratorError("Choose Owner or Maintainer.")
    _check_unfrozen(role.project)
    _refuse_leaving_without_owner(role, new_role)
    old = role.role_name
    with transaction.atomic():
        Role.objects.filter(pk=role.pk).update(role_name=new_role)
        _ownership_changed(role.project, f"change {old} {role.user.username} to {new_role}")
        if old == Role.OWNER and new_role != Role.OWNER:
            _withdraw_invitations_sent_by(
                project=role.project, former_owner=role.user, request=request
            )
        project_event_record(
            projects=[role.project],
            tag=ProjectEventTag.ROLE_CHANGE,
            actor=owner,
            request=request,
            user=role.user.username,
            old=old,
            new=new_role,
        )
    what = f"{owner.username} made {role.user.username} {new_role} (was {old})"
    _tell([role.user, *_owners(role.project)], role.project, "role changed", what)


def role_remove(*, role: Role, owner: User, request: HttpRequest) -> None:
    _check_unfrozen(role.project)
    _refuse_leaving_without_owner(role, None)
    with transaction.atomic():
        role.delete()
        _ownership_changed(role.project, f"remove {role.role_name} {role.user.username}")
        if role.role_name == Role.OWNER:
            _withdraw_invitations_sent_by(
                project=role.project, former_owner=role.user, request=request
            )
        project_event_record(
            projects=[role.project],
            tag=ProjectEventTag.ROLE_REMOVE,
            actor=owner,
            request=request,
            user=role.user.username,
            role=role.role_name,
        )
    what = f"{owner.username} removed {role.user.username} ({role.role_name})"
    _tell([role.user, *_owners(role.project)], role.project, "collaborator removed", what)
