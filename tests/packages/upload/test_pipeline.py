"""The upload's steps together: the form, digests, authorization, new-project limits, history."""

import pytest
from django.core.files.storage import default_storage

from packyard.packages.models import File, Project, ProjectEvent, Role
from packyard.tokens.mint import token_mint
from tests import dists
from tests.conftest import upload_form
from tests.packages.upload.helpers import (
    assert_nothing_stored,
    assert_refused,
)

# Every test here runs on local files and again on an S3 bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.both_stores]


def test_upload_wheel_creates_project_with_uploader_as_owner(upload, alice, alice_token):
    response = upload(alice_token, upload_form("Demo_Pkg", "1.0"))
    assert response.status_code == 200, response.content
    project = Project.objects.get()
    assert (project.name, project.normalized_name) == ("Demo_Pkg", "demo-pkg")
    assert Role.objects.get(project=project).user == alice
    assert Role.objects.get(project=project).role_name == Role.OWNER
    file = File.objects.get()
    assert file.metadata_sha256
    assert default_storage.exists(file.metadata_path)
    assert file.path.startswith(f"packages/{file.blake2_256_digest[:2]}/")
    with default_storage.open(file.path) as stored:
        assert stored.read() == dists.make_wheel("Demo_Pkg", "1.0")


def test_maintainer_can_upload_to_existing_project(upload, alice_token, bob, bob_token):
    upload(alice_token, upload_form("demo", "1.0"))
    Role.objects.create(project=Project.objects.get(), user=bob, role_name=Role.MAINTAINER)
    assert upload(bob_token, upload_form("demo", "2.0")).status_code == 200


def test_other_user_cannot_upload_to_project(upload, alice_token, bob_token):
    upload(alice_token, upload_form("demo", "1.0"))
    response = upload(bob_token, upload_form("demo", "2.0"))
    assert_refused(response, 403, "The user 'bob' isn't allowed to upload to project 'demo'.")
    assert File.objects.count() == 1


def test_project_name_differing_only_in_normalization_is_the_same_project(
    upload, alice_token, bob_token
):
    upload(alice_token, upload_form("foo-bar", "1.0"))
    response = upload(bob_token, upload_form("Foo_Bar", "2.0"))
    assert_refused(response, 403, "isn't allowed to upload to project 'foo-bar'")


def test_unknown_action_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form() | {":action": "submit"}), 400, "Unknown :action 'submit'"
    )


def test_unknown_protocol_version_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form(protocol_version="2")), 400, "Unknown protocol_version '2'"
    )


def test_wrong_sha256_digest_refused(upload, alice_token):
    response = upload(alice_token, upload_form(sha256_digest="0" * 64))
    assert_refused(response, 400, "The sha256 digest supplied does not match the file.")
    assert_nothing_stored()


def test_wrong_md5_digest_refused(upload, alice_token):
    response = upload(alice_token, upload_form(md5_digest="0" * 32))
    assert_refused(response, 400, "The md5 digest supplied does not match the file.")


def test_wrong_blake2_digest_refused(upload, alice_token):
    response = upload(alice_token, upload_form(blake2_256_digest="0" * 64))
    assert_refused(response, 400, "The blake2_256 digest supplied does not match the file.")


def test_new_projects_per_hour_are_limited(upload, alice_token, settings):
    settings.PACKYARD_NEW_PROJECTS_PER_HOUR = 2
    assert upload(alice_token, upload_form("one", "1.0")).status_code == 200
    assert upload(alice_token, upload_form("two", "1.0")).status_code == 200
    assert upload(alice_token, upload_form("two", "2.0")).status_code == 200  # not a new one
    refused = upload(alice_token, upload_form("three", "1.0"))
    assert_refused(refused, 429, "Too many new projects created.")
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert not Project.objects.filter(normalized_name="three").exists()


def test_projects_per_user_are_limited(upload, alice_token, settings):
    settings.PACKYARD_MAX_PROJECTS_PER_USER = 1
    assert upload(alice_token, upload_form("one", "1.0")).status_code == 200
    assert_refused(upload(alice_token, upload_form("two", "1.0")), 400, "You own 1 projects")


def test_project_creation_is_recorded(upload, alice_token):
    upload(alice_token, upload_form("demo", "1.0"))
    upload(alice_token, upload_form("demo", "2.0"))
    assert ProjectEvent.objects.filter(tag="project:create").count() == 1


def test_operator_tokens_may_import_many_projects(upload, alice, settings):
    settings.PACKYARD_NEW_PROJECTS_PER_HOUR = 1
    _, raw = token_mint(user=alice, description="migration", by_operator=True)
    for name in ("one", "two", "three"):
        assert upload(raw, upload_form(name, "1.0")).status_code == 200
