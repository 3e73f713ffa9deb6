"""`packyard check`: what it finds in an index gone out of step, and what --repair mends."""

import gzip
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from packyard.cli import main
from packyard.packages.check import check, repair
from packyard.packages.models import File, Project, RenderedPage
from tests.conftest import upload_form

# Every test here runs on local files and again on an S3 bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.both_stores]


@pytest.fixture
def published(upload, alice_token, client):
    for form in (upload_form("demo", "1.0"), upload_form("demo", "1.0", kind="sdist")):
        assert upload(alice_token, form).status_code == 200
    client.get("/simple/demo/")  # its pages are stored
    return File.objects.get(packagetype="bdist_wheel")


def kinds(problems) -> list[tuple[str, str]]:
    return sorted((problem.kind, problem.subject) for problem in problems)


def test_a_consistent_index_has_no_problems(published, capsys):
    assert check() == []
    assert main(["check"]) == 0
    assert "The index is consistent." in capsys.readouterr().out


def test_missing_and_damaged_bytes_are_reported_and_not_repairable(published, capsys):
    default_storage.delete(published.path)
    sdist = File.objects.get(packagetype="sdist")
    default_storage.delete(sdist.path)
    default_storage.save(sdist.path, ContentFile(b"not the sdist"))
    problems = check()
    assert kinds(problems) == [
        ("damaged", sdist.filename),
        ("missing", published.filename),
    ]
    assert repair(problems) == problems
    assert main(["check", "--repair"]) == 1
    assert f"missing: {published.filename}" in capsys.readouterr().out


def test_missing_metadata_is_reported(published):
    default_storage.delete(published.metadata_path)
    assert kinds(check()) == [("missing", f"{published.filename} (metadata)")]


def test_an_object_no_row_names_is_removed_by_repair_unless_too_young(published):
    orphan = "packages/ab/cd/" + "e" * 60 + "/crashed-1.0-py3-none-any.whl"
    default_storage.save(orphan, ContentFile(b"left by a crash before the commit"))
    assert kinds(check(min_age=timedelta(hours=1))) == []  # perhaps an upload in progress
    problems = check()
    assert kinds(problems) == [("orphan", orphan)]
    assert repair(problems) == []
    assert not default_storage.exists(orphan)
    assert check() == []


def test_pages_and_serials_out_of_step_are_rendered_again(published, client):
    RenderedPage.objects.filter(key__startswith="html /simple/demo").update(body=b"old")
    Project.objects.update(last_serial=0)
    problems = check()
    assert {problem.kind for problem in problems} == {"page", "serial"}
    assert repair(problems) == []
    assert check() == []
    assert b"demo-1.0-py3-none-any.whl" in client.get("/simple/demo/").content


def test_pages_kept_compressed_only_are_compared_whole(published, monkeypatch):
    from packyard.packages.index import pages

    monkeypatch.setattr(pages, "GZIP_ABOVE", 50)
    monkeypatch.setattr(pages, "COMPRESSED_ONLY_ABOVE", 100)
    pages.refresh(Project.objects.get(normalized_name="demo").pk)
    assert RenderedPage.objects.filter(body=b"").exists()
    assert check() == []
    stale = gzip.compress(b"an older page")
    RenderedPage.objects.filter(key="json /simple/demo/").update(body_gzip=stale)
    assert [(p.kind, p.subject) for p in check()] == [("page", "json /simple/demo/")]
