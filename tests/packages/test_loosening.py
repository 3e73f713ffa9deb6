"""A project's security settings tighten at once and loosen loudly: every Owner emailed, a
delay, a cancel; the page, its re-authentication with a key, and the attackers of both."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from packyard.packages import loosening
from packyard.packages.events import ProjectEventTag
from packyard.packages.models import Project, ProjectEvent, Role, SettingChange
from packyard.packages.services import ProjectActionError, project_create, project_quarantine
from tests.conftest import browser_for, give_totp, upload_form
from tests.twofactor.test_webauthn import key_of

pytestmark = pytest.mark.django_db
PAGE = "/manage/project/demo/security/"


@pytest.fixture
def project(alice, bob):
    """demo: alice and bob are its Owners."""
    created = project_create(name="demo", normalized_name="demo", owner=alice)
    Role.objects.create(project=created, user=bob, role_name=Role.OWNER)
    return created


def keys(project, on, actor):
    return loosening.setting_change(
        project=project,
        setting="require_phishing_resistant",
        value=on,
        actor=actor,
        request=None,
    )


def make_due(change):
    SettingChange.objects.filter(pk=change.pk).update(effective=timezone.now())


def tags(project):
    return list(
        ProjectEvent.objects.filter(project=project).order_by("time").values_list("tag", flat=True)
    )


def test_tightening_takes_effect_at_once_and_tells_owners_and_members_without_keys(
    project, alice, bob, dave, django_capture_on_commit_callbacks
):
    key_of(alice)
    Role.objects.create(project=project, user=dave, role_name=Role.MAINTAINER)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert keys(project, True, alice) is None
    assert Project.objects.get(pk=project.pk).require_phishing_resistant
    assert ProjectEventTag.KEYS_REQUIRED_ON in tags(project)
    subjects = {(m.to[0], m.subject.removeprefix("[Packyard] ")) for m in mail.outbox}
    # bob and dave have no key: told what to do; alice has one.
    assert ("bob@example.com", "demo now needs a security key to publish") in subjects
    assert ("dave@example.com", "demo now needs a security key to publish") in subjects
    assert ("alice@example.com", "demo now needs a security key to publish") not in subjects
    assert {to for to, subject in subjects if "security setting changed" in subject} == {
        "alice@example.com",
        "bob@example.com",
    }


def test_loosening_waits_the_delay_announced_to_every_owner(project, alice, bob, settings):
    settings.PACKYARD_LOOSEN_DELAY = 24 * 3600
    keys(project, True, alice)
    mail.outbox.clear()
    change = keys(project, False, alice)
    assert change is not None
    assert timezone.now() + timedelta(hours=23) < change.effective
    assert Project.objects.get(pk=project.pk).require_phishing_resistant  # not yet
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    body = mail.outbox[0].body
    assert "takes effect only at" in body
    assert "/manage/project/demo/security/" in body  # where to cancel it
    assert tags(project)[-1] == ProjectEventTag.SETTING_LOOSEN_REQUESTED
    # Not due: reading it applies nothing.
    assert loosening.apply_due(project).require_phishing_resistant
    mail.outbox.clear()
    make_due(change)
    assert not loosening.apply_due(project).require_phishing_resistant
    assert tags(project)[-1] == ProjectEventTag.KEYS_REQUIRED_OFF
    assert (
        sorted(m.subject.removeprefix("[Packyard] ") for m in mail.outbox)
        == ["demo: security keys required of Owners and Maintainers loosened"] * 2
    )
    # Applied once: a second reader finds nothing due.
    fresh = Project.objects.get(pk=project.pk)
    assert loosening.apply_due(fresh).require_phishing_resistant is False
    assert tags(project).count(ProjectEventTag.KEYS_REQUIRED_OFF) == 1


def test_any_owner_cancels_and_nothing_changes(project, alice, bob):
    keys(project, True, alice)
    change = keys(project, False, alice)
    mail.outbox.clear()
    loosening.change_cancel(change=change, actor=bob, request=None)
    make_due(change)
    assert loosening.apply_due(project).require_phishing_resistant
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    assert "cancelled" in mail.outbox[0].subject
    assert tags(project)[-1] == ProjectEventTag.SETTING_LOOSEN_CANCELLED
    with pytest.raises(loosening.SettingError, match="no longer waiting"):
        loosening.change_cancel(change=change, actor=alice, request=None)


def test_tightening_again_cancels_the_waiting_loosening(project, alice, bob):
    keys(project, True, alice)
    change = keys(project, False, alice)
    assert keys(project, True, bob) is None
    change.refresh_from_db()
    assert change.cancelled is not None
    assert change.cancelled_by == bob


def test_a_second_loosening_of_the_same_setting_is_refused_while_one_waits(project, alice, bob):
    keys(project, True, alice)
    keys(project, False, alice)
    with pytest.raises(loosening.SettingError, match="already waiting"):
        keys(project, False, bob)
    assert SettingChange.objects.count() == 1


def test_no_delay_loosens_at_once_still_announced(project, alice, bob, settings):
    settings.PACKYARD_LOOSEN_DELAY = 0
    keys(project, True, alice)
    mail.outbox.clear()
    change = keys(project, False, alice)
    assert change is not None
    assert change.applied is not None
    assert not Project.objects.get(pk=project.pk).require_phishing_resistant
    subjects = sorted(m.subject for m in mail.outbox)
    assert len([s for s in subjects if "will be loosened" in s]) == 2
    assert len([s for s in subjects if s.endswith("loosened") and "will" not in s]) == 2


def test_the_cron_command_applies_due_changes_and_refreshes_the_index(
    project, alice, client, upload, alice_token
):
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    loosening.setting_change(
        project=project,
        setting="status",
        value=loosening.status_value("archived", ""),
        actor=alice,
        request=None,
    )
    assert b"pypi:project-status" in client.get("/simple/demo/").content
    change = loosening.setting_change(
        project=project,
        setting="status",
        value=loosening.status_value("active", ""),
        actor=alice,
        request=None,
    )
    assert change is not None
    make_due(change)
    call_command("apply_setting_changes")
    assert b"pypi:project-status" not in client.get("/simple/demo/").content
    assert Project.objects.get(pk=project.pk).status == ""


def test_a_quarantined_projects_settings_do_not_change(project, alice, admin_user, rf):
    project_quarantine(project=project, on=True, admin=admin_user, request=rf.get("/"))
    project.refresh_from_db()
    with pytest.raises(ProjectActionError, match="quarantined"):
        keys(project, True, alice)


# --- the page --------------------------------------------------------------------------------


def post(browser, data, **extra):
    browser.get(PAGE)
    return browser.post(
        PAGE, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value}, **extra
    )


def test_an_owner_with_a_key_loosens_only_after_confirming_with_it(project, alice):
    key_of(alice)
    keys(project, True, alice)
    browser = browser_for(alice)  # confirmed with a code
    response = post(
        browser, {"action": "set", "setting": "require_phishing_resistant", "value": "off"}
    )
    assert response.status_code == 302
    assert "factor=key" in response["Location"]
    assert "intent=" in response["Location"]  # carried out after the key
    assert not SettingChange.objects.exists()
    with_key = browser_for(alice, with_key=True)
    response = post(
        with_key,
        {"action": "set", "setting": "require_phishing_resistant", "value": "off"},
        follow=True,
    )
    assert "takes effect at" in response.content.decode()
    assert SettingChange.objects.get().value is False


def test_the_reauth_page_asked_for_a_key_offers_no_code_field(project, alice):
    key_of(alice)
    browser = browser_for(alice, reauthenticated=False)
    page = browser.get("/account/reauthenticate/?next=/manage/&factor=key").content.decode()
    assert "security key or passkey" in page
    assert 'name="code"' not in page


def test_an_owner_without_a_key_loosens_with_the_usual_confirmation(project, alice):
    keys(project, True, alice)
    response = post(
        browser_for(alice),
        {"action": "set", "setting": "require_phishing_resistant", "value": "off"},
    )
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert SettingChange.objects.filter(applied__isnull=True).count() == 1


def test_the_page_lists_waiting_changes_and_an_owner_cancels_one(project, alice, bob):
    keys(project, True, alice)
    change = keys(project, False, alice)
    page = browser_for(bob).get(PAGE).content.decode()
    assert "Waiting to take effect" in page
    assert "Security keys required of Owners and Maintainers: to <strong>off</strong>" in page
    post(browser_for(bob), {"action": "cancel", "change": str(change.pk)})
    change.refresh_from_db()
    assert change.cancelled_by == bob


def test_a_maintainer_or_a_stranger_cannot_open_or_post_the_page(project, alice, dave):
    keys(project, True, alice)
    change = keys(project, False, alice)
    Role.objects.create(project=project, user=dave, role_name=Role.MAINTAINER)
    maintainer = browser_for(give_totp(dave))
    assert maintainer.get(PAGE).status_code == 404
    maintainer.get("/manage/projects/")
    response = maintainer.post(
        PAGE,
        {
            "action": "cancel",
            "change": str(change.pk),
            "csrfmiddlewaretoken": maintainer.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 404
    change.refresh_from_db()
    assert change.cancelled is None
    stranger = Client(enforce_csrf_checks=True)
    assert stranger.get(PAGE)["Location"].startswith("/account/login/")


def test_another_projects_change_cannot_be_cancelled_from_this_page(project, alice, bob):
    other = project_create(name="other", normalized_name="other", owner=bob)
    loosening.setting_change(
        project=other, setting="require_phishing_resistant", value=True, actor=bob, request=None
    )
    theirs = loosening.setting_change(
        project=other, setting="require_phishing_resistant", value=False, actor=bob, request=None
    )
    for value in (str(theirs.pk), "not-a-uuid", ""):
        assert post(browser_for(alice), {"action": "cancel", "change": value}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.cancelled is None


def test_a_form_from_another_site_is_refused(project, alice):
    browser = browser_for(alice)
    assert (
        browser.post(
            PAGE, {"action": "set", "setting": "require_phishing_resistant", "value": "on"}
        ).status_code
        == 403
    )
    assert not Project.objects.get(pk=project.pk).require_phishing_resistant


@pytest.mark.parametrize(
    "data",
    [
        {"action": "status", "status": "quarantined"},
        {"action": "status", "status": "archived", "reason": "x" * 5000},
        {"action": "status", "status": "archived", "reason": "a\x00b"},
        {"action": "nonsense"},
        {},
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_changes(project, alice, data):
    response = post(browser_for(alice), data, follow=True)
    assert response.status_code == 200
    assert 'class="error' in response.content.decode() or "error" in response.content.decode()
    project.refresh_from_db()
    assert (project.status, project.require_phishing_resistant) == ("", False)
    assert not SettingChange.objects.exists()


# --- uploads ---------------------------------------------------------------------------------


def test_a_project_requiring_keys_refuses_a_totp_only_maintainers_upload(
    project, alice, dave, upload
):
    from packyard.tokens.mint import token_mint

    give_totp(dave)
    Role.objects.create(project=project, user=dave, role_name=Role.MAINTAINER)
    token = token_mint(user=dave, description="dave's")[1]
    keys(project, True, alice)
    response = upload(token, upload_form("demo", "1.0"))
    assert response.status_code == 403
    assert "security key or passkey" in response.reason_phrase
    assert "/manage/account/two-factor/" in response.content.decode()
    assert not project.releases.exists()
    key_of(dave)
    assert upload(token, upload_form("demo", "1.0")).status_code == 200


def test_a_loosening_that_came_due_is_applied_before_the_upload_is_judged(
    project, alice, upload, alice_token
):
    key_of(alice)
    loosening.setting_change(
        project=project,
        setting="status",
        value=loosening.status_value("archived", ""),
        actor=alice,
        request=None,
    )
    change = loosening.setting_change(
        project=project,
        setting="status",
        value=loosening.status_value("active", ""),
        actor=alice,
        request=None,
    )
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 403
    make_due(change)
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
