"""Storing: once per file, never half, within the project's size."""

from typing import Any

import pytest

from packyard.packages.models import File, Project
from tests import dists
from tests.conftest import upload_form
from tests.packages.upload.helpers import (
    assert_nothing_stored,
    assert_refused,
    store_class,
    store_failure,
    stored_files,
)

# Every test here runs on local files and again on an S3 bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.both_stores]


def test_identical_reupload_answers_200_and_stores_once(upload, alice_token):
    assert upload(alice_token, upload_form()).status_code == 200
    assert upload(alice_token, upload_form()).status_code == 200
    assert File.objects.count() == 1


def test_second_sdist_for_release_refused(upload, alice_token):
    assert upload(alice_token, upload_form("demo", "1.0", kind="sdist")).status_code == 200
    form = upload_form("demo", "1.0.0", kind="sdist")
    response = upload(alice_token, form)
    assert_refused(response, 400, "Only one sdist may be uploaded per release.")
    assert File.objects.count() == 1


def test_same_filename_different_bytes_refused(upload, alice_token):
    upload(alice_token, upload_form())
    other = dists.make_wheel("demo", "1.0", members={"demo/extra.py": b"changed"})
    response = upload(alice_token, upload_form(content=other))
    assert_refused(response, 400, "File already exists")
    assert File.objects.count() == 1


def test_deleted_filename_cannot_be_reused(upload, alice_token):
    upload(alice_token, upload_form())
    File.objects.all().delete()
    response = upload(alice_token, upload_form())
    assert_refused(response, 400, "previously used by a file that has since been deleted")


def test_failed_storage_leaves_no_rows(upload, alice_token, monkeypatch):
    def broken_save(*args: Any, **kwargs: Any) -> str:  # the disk fills up
        raise store_failure()

    monkeypatch.setattr(store_class(), "save", broken_save)
    response = upload(alice_token, upload_form())
    assert_refused(response, 503, "The file store is unavailable")
    assert File.objects.count() == 0
    assert Project.objects.count() == 0


def test_failed_metadata_store_removes_stored_file(upload, alice_token, monkeypatch):
    real_save = store_class().save
    calls: list[str] = []

    def save_then_fail(storage: Any, name: str, content: Any, *args: Any, **kwargs: Any) -> str:
        calls.append(name)
        if name.endswith(".metadata"):
            raise store_failure()
        return str(real_save(storage, name, content, *args, **kwargs))

    monkeypatch.setattr(store_class(), "save", save_then_fail)
    response = upload(alice_token, upload_form())
    assert response.status_code == 503
    assert len(calls) == 2
    assert_nothing_stored()


def test_project_size_is_limited(upload, alice_token, settings):
    first = upload_form("demo", "1.0")
    assert upload(alice_token, first).status_code == 200
    settings.PACKYARD_MAX_PROJECT_SIZE = File.objects.get().size + 10
    refused = upload(alice_token, upload_form("demo", "2.0"))
    assert_refused(refused, 400, "Project size too large. Limit for project 'demo'")
    assert File.objects.count() == 1


def test_stored_files_are_seen_where_they_are_stored(upload, alice_token):
    """The helper behind `assert_nothing_stored` finds what an upload stores, on either store."""
    assert upload(alice_token, upload_form()).status_code == 200
    assert len(stored_files()) == 2  # the wheel and its METADATA
