"""Publishers as Owners, registrants and the operator manage them: pending publishers that
create their project, the "trusted publishing only" policy, the pages and their attackers."""

import pytest
from django.core import mail
from django.utils import timezone

from packyard.accounts.events import EventTag
from packyard.accounts.models import Event
from packyard.cli import main
from packyard.packages import loosening
from packyard.packages.events import ProjectEventTag
from packyard.packages.models import (
    File,
    Project,
    ProjectEvent,
    Publisher,
    PublisherToken,
    Role,
    SettingChange,
)
from packyard.packages.services import project_create
from packyard.packages.trusted.publishers import (
    PublisherError,
    pending_publisher_add,
    trusted_only_set,
)
from tests.conftest import browser_for, give_totp, upload_form
from tests.oidc_issuer import github_claims
from tests.packages.trusted.helpers import (
    GITHUB_PUBLISHER,
    github_publisher,
    minted,
    project_of,
    refused,
)

pytestmark = pytest.mark.django_db


def pending(user, oidc, name="fresh", **claims):
    return pending_publisher_add(
        name=name,
        issuer_url=oidc["github"].url,
        claims=GITHUB_PUBLISHER | {"repository": "octo/fresh", "repository_id": "88"} | claims,
        user=user,
    )


FRESH = {"repository": "octo/fresh", "repository_id": "88"}


def test_a_pending_publisher_creates_its_project_at_the_first_exchange(client, bob, oidc, upload):
    pending(bob, oidc)
    assert not Project.objects.filter(normalized_name="fresh").exists()
    mail.outbox.clear()
    token = minted(client, oidc["github"].token(**github_claims(**FRESH)))
    project = Project.objects.get(normalized_name="fresh")
    assert Role.objects.get(project=project).user == bob
    assert Role.objects.get(project=project).role_name == Role.OWNER
    publisher = Publisher.objects.get()
    assert publisher.project == project
    assert not publisher.is_pending
    assert [m.to for m in mail.outbox] == [[bob.email]]
    assert "created the project fresh" in mail.outbox[0].subject
    tags = set(ProjectEvent.objects.filter(project=project).values_list("tag", flat=True))
    assert {ProjectEventTag.CREATE, ProjectEventTag.PUBLISHER_ADDED} <= tags
    assert upload(token, upload_form("fresh", "0.1")).status_code == 200


def test_registering_does_not_reserve_the_name_and_a_taken_name_is_refused(
    client, alice, bob, oidc
):
    pending(bob, oidc)
    project_of(alice, "fresh")  # alice makes it first, by upload or otherwise
    error = refused(client, oidc["github"].token(**github_claims(**FRESH)))
    assert error["code"] in ("invalid-pending-publisher", "invalid-publisher")
    assert not Role.objects.filter(user=bob).exists()
    assert not PublisherToken.objects.exists()


def test_a_pending_publisher_for_an_existing_project_is_refused(bob, alice, oidc):
    project_of(alice, "taken")
    with pytest.raises(PublisherError, match="exists already"):
        pending(bob, oidc, name="taken")


def test_a_pending_publisher_is_refused_for_a_look_alike_name(bob, alice, oidc):
    project_of(alice, "requests")
    with pytest.raises(PublisherError, match="too similar"):
        pending(bob, oidc, name="req-uests")


def test_pending_publishers_are_limited_per_account(bob, oidc, settings):
    settings.PACKYARD_OIDC_PENDING_PER_USER = 2
    pending(bob, oidc, name="one")
    pending(bob, oidc, name="two")
    with pytest.raises(PublisherError, match="2 pending publishers"):
        pending(bob, oidc, name="three")


def test_an_unverified_account_cannot_register_one(unverified, oidc):
    with pytest.raises(PublisherError, match="Verify your email"):
        pending(unverified, oidc)


def test_a_publisher_needs_the_immutable_ids_of_its_kind(alice, oidc):
    from packyard.packages.trusted.publishers import publisher_add

    project = project_of(alice)
    with pytest.raises(PublisherError, match="needs the claims repository_id"):
        publisher_add(
            project=project,
            issuer_url=oidc["github"].url,
            claims={k: v for k, v in GITHUB_PUBLISHER.items() if k != "repository_id"},
            actor=alice,
        )
    with pytest.raises(PublisherError, match="is not a trusted issuer"):
        publisher_add(
            project=project, issuer_url="https://ci.example", claims=GITHUB_PUBLISHER, actor=alice
        )


# --- trusted publishing only -----------------------------------------------------------------


def test_trusted_only_refuses_token_uploads_naming_the_setting(
    client, alice, alice_token, oidc, upload
):
    project = project_of(alice)
    github_publisher(project, oidc["github"])
    trusted_only_set(project=project, on=True, actor=alice)
    response = upload(alice_token, upload_form("demo", "1.0"))
    assert response.status_code == 403
    assert "trusted publishing only" in response.content.decode()
    assert not File.objects.exists()
    token = minted(client, oidc["github"].token(**github_claims()))
    assert upload(token, upload_form("demo", "1.0")).status_code == 200


def test_trusted_only_needs_a_publisher(alice):
    with pytest.raises(PublisherError, match="Add a trusted publisher first"):
        trusted_only_set(project=project_of(alice), on=True, actor=alice)


def test_turning_trusted_only_off_waits_tells_every_owner_and_is_recorded(alice, bob, oidc):
    project = project_of(alice)
    Role.objects.create(project=project, user=bob, role_name=Role.OWNER)
    github_publisher(project, oidc["github"])
    trusted_only_set(project=project, on=True, actor=alice)
    mail.outbox.clear()
    waiting = trusted_only_set(project=project, on=False, actor=alice)
    assert waiting is not None
    assert waiting.applied is None
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, bob.email]
    assert "will be loosened" in mail.outbox[0].subject
    project.refresh_from_db()
    assert project.trusted_publishing_only  # not before the delay
    SettingChange.objects.filter(pk=waiting.pk).update(effective=timezone.now())
    assert not loosening.apply_due(project).trusted_publishing_only
    assert ProjectEvent.objects.filter(tag=ProjectEventTag.TRUSTED_ONLY_OFF).count() == 1
    assert ProjectEvent.objects.filter(tag=ProjectEventTag.TRUSTED_ONLY_ON).count() == 1


def test_owners_hear_of_a_token_upload_to_a_project_with_a_publisher(
    alice, alice_token, oidc, upload, django_capture_on_commit_callbacks
):
    project = project_of(alice)
    github_publisher(project, oidc["github"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "without its trusted publisher" in mail.outbox[0].subject


def test_no_email_for_token_uploads_to_projects_without_publishers(
    alice, alice_token, upload, django_capture_on_commit_callbacks
):
    project_of(alice)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    assert mail.outbox == []


# --- the pages -------------------------------------------------------------------------------


def test_an_owner_adds_and_removes_a_publisher_on_the_page(alice, oidc):
    project = project_of(alice)
    browser = browser_for(alice)
    page = browser.get("/manage/project/demo/publishing/")
    assert page.status_code == 200
    claims = "\n".join(f"{k}={v}" for k, v in GITHUB_PUBLISHER.items())
    response = browser.post(
        "/manage/project/demo/publishing/",
        {
            "action": "add",
            "issuer": oidc["github"].url,
            "claims": claims,
            "csrfmiddlewaretoken": page.cookies["csrftoken"].value
            if "csrftoken" in page.cookies
            else browser.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    publisher = Publisher.objects.get(project=project)
    assert publisher.claims == GITHUB_PUBLISHER
    assert ProjectEvent.objects.filter(tag=ProjectEventTag.PUBLISHER_ADDED).exists()
    browser.post(
        "/manage/project/demo/publishing/",
        {
            "action": "remove",
            "publisher": str(publisher.pk),
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )
    assert not Publisher.objects.exists()
    assert ProjectEvent.objects.filter(tag=ProjectEventTag.PUBLISHER_REMOVED).exists()


def test_the_page_asks_to_confirm_it_is_you_first(alice, oidc):
    project_of(alice)
    response = browser_for(alice, reauthenticated=False).get("/manage/project/demo/publishing/")
    assert response.status_code == 302
    assert "/account/confirm/" in response["Location"] or "reauth" in response["Location"]


def test_a_maintainer_and_a_stranger_cannot_see_or_change_publishers(alice, bob, dave, oidc):
    project = project_of(alice)
    Role.objects.create(project=project, user=bob, role_name=Role.MAINTAINER)
    for user in (bob, give_totp(dave)):
        browser = browser_for(user)
        assert browser.get("/manage/project/demo/publishing/").status_code == 404
        browser.get("/manage/account/")
        response = browser.post(
            "/manage/project/demo/publishing/",
            {
                "action": "add",
                "issuer": oidc["github"].url,
                "claims": "repository=x",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
            },
        )
        assert response.status_code == 404
    assert not Publisher.objects.exists()


def test_a_form_from_another_site_is_refused(alice, oidc):
    project_of(alice)
    browser = browser_for(alice)
    response = browser.post(
        "/manage/project/demo/publishing/",
        {"action": "trusted-only-off"},
    )
    assert response.status_code == 403


def test_a_registrant_removes_only_their_own_pending_publishers(alice, bob, oidc):
    theirs = pending(bob, oidc)
    browser = browser_for(alice)
    browser.get("/manage/account/publishing/")
    browser.post(
        "/manage/account/publishing/",
        {
            "action": "remove",
            "publisher": str(theirs.pk),
            "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
        },
    )
    assert Publisher.objects.filter(pk=theirs.pk).exists()
    assert Event.objects.filter(user=bob, tag=EventTag.PENDING_PUBLISHER_ADDED).exists()


def test_pending_publishers_from_one_address_are_limited(bob, oidc, settings):
    from packyard.packages.trusted import publishers

    settings.PACKYARD_OIDC_PENDING_PER_USER = 100
    browser = browser_for(bob)
    browser.get("/manage/account/publishing/")
    claims = "\n".join(f"{k}={v}" for k, v in (GITHUB_PUBLISHER | FRESH).items())
    for index in range(publishers.PENDING_PER_ADDRESS_PER_HOUR + 1):
        response = browser.post(
            "/manage/account/publishing/",
            {
                "action": "add",
                "project": f"fresh-{index}",
                "issuer": oidc["github"].url,
                "claims": claims,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
            },
            follow=True,
        )
    assert "Too many pending publishers" in response.content.decode()
    assert Publisher.objects.count() == publishers.PENDING_PER_ADDRESS_PER_HOUR


# --- the command line ------------------------------------------------------------------------


def test_the_operator_adds_lists_and_removes_publishers(alice, oidc, capsys):
    project_create(name="demo", normalized_name="demo", owner=alice)
    claims = [f"--claim={k}={v}" for k, v in GITHUB_PUBLISHER.items()]
    assert main(["publisher", "add", "demo", "--issuer", oidc["github"].url, *claims]) == 0
    publisher = Publisher.objects.get()
    assert str(publisher.id) in capsys.readouterr().out
    assert main(["publisher", "list", "demo"]) == 0
    assert "repository_id=4242" in capsys.readouterr().out
    assert main(["publisher", "remove", str(publisher.id)]) == 0
    assert not Publisher.objects.exists()


def test_the_command_line_adds_a_pending_publisher_for_an_owner(bob, oidc, capsys):
    claims = [f"--claim={k}={v}" for k, v in (GITHUB_PUBLISHER | FRESH).items()]
    argv = ["publisher", "add", "fresh", "--issuer", oidc["github"].url, *claims]
    assert main([*argv, "--pending", "--owner", "bob"]) == 0
    assert Publisher.objects.get().added_by == bob
    with pytest.raises(SystemExit, match="needs the claims"):
        main(
            [
                "publisher",
                "add",
                "fresh",
                "--issuer",
                oidc["github"].url,
                "--pending",
                "--owner",
                "bob",
            ]
        )


def test_an_owner_turns_trusted_only_on_and_off_on_the_page(alice, oidc):
    project = project_of(alice)
    github_publisher(project, oidc["github"])
    browser = browser_for(alice)
    browser.get("/manage/project/demo/publishing/")
    token = browser.cookies["csrftoken"].value
    browser.post(
        "/manage/project/demo/publishing/",
        {"action": "trusted-only-on", "csrfmiddlewaretoken": token},
    )
    project.refresh_from_db()
    assert project.trusted_publishing_only
    page = browser.get("/manage/project/demo/publishing/").content.decode()
    assert "Allow API token uploads again" in page
    browser.post(
        "/manage/project/demo/publishing/",
        {"action": "trusted-only-off", "csrfmiddlewaretoken": token},
    )
    project.refresh_from_db()
    assert project.trusted_publishing_only  # loosening waits PACKYARD_LOOSEN_DELAY
    assert SettingChange.objects.get(project=project).value is False
    response = browser.post(
        "/manage/project/demo/publishing/",
        {"action": "nonsense", "csrfmiddlewaretoken": token},
        follow=True,
    )
    assert "Unknown action." in response.content.decode()


@pytest.mark.parametrize(
    "claims",
    [
        {f"claim_{n}": "x" for n in range(21)},
        {"sub": "x" * 301},
        {"n" * 65: "x"},
    ],
    ids=["too-many", "long-value", "long-name"],
)
def test_an_oversized_publisher_is_refused_and_not_stored(alice, oidc, claims):
    from packyard.packages.trusted.publishers import publisher_add

    with pytest.raises(PublisherError, match="at most 20 claims"):
        publisher_add(
            project=project_of(alice), issuer_url=oidc["generic"].url, claims=claims, actor=alice
        )
    assert not Publisher.objects.exists()
