"""Change serials: every change to a project's pages is a journal entry whose id mirrors follow,
served where PyPI serves it."""

import json

import pytest

from packyard.packages import services
from packyard.packages.models import File, JournalEntry, Project, Release
from packyard.tokens.mint import token_mint
from packyard.tokens.scope import TokenScope
from tests.conftest import basic_auth, upload_form

pytestmark = pytest.mark.django_db
JSON_V1 = "application/vnd.pypi.simple.v1+json"


def journal() -> list[tuple[str, str, str]]:
    return [(e.name, e.version, e.action) for e in JournalEntry.objects.order_by("id")]


def newest() -> int:
    return JournalEntry.objects.order_by("-id").values_list("id", flat=True)[0]


@pytest.fixture
def demo(upload, alice_token):
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    assert upload(alice_token, upload_form("demo", "1.0", kind="sdist")).status_code == 200
    return Project.objects.get(normalized_name="demo")


def test_an_upload_journals_the_project_the_release_and_each_file(demo):
    assert journal() == [
        ("demo", "", "create"),
        ("demo", "1.0", "new release"),
        ("demo", "1.0", "add py3 file demo-1.0-py3-none-any.whl"),
        ("demo", "1.0", "add source file demo-1.0.tar.gz"),
    ]
    assert demo.last_serial == newest()


def test_every_answer_carries_the_project_serial(client, demo):
    serial = str(demo.last_serial)
    answers = {
        "html": client.get("/simple/demo/"),
        "json": client.get("/simple/demo/", HTTP_ACCEPT=JSON_V1),
        "api": client.get("/pypi/demo/json"),
        "api release": client.get("/pypi/demo/1.0/json"),
    }
    assert {
        kind: answer["X-PyPI-Last-Serial"] for kind, answer in answers.items()
    } == dict.fromkeys(answers, serial)
    assert answers["html"].content.decode().endswith(f"</html>\n<!--SERIAL {serial}-->\n")
    assert json.loads(answers["json"].content)["meta"]["_last-serial"] == demo.last_serial
    assert json.loads(answers["api"].content)["last_serial"] == demo.last_serial
    assert json.loads(answers["api release"].content)["last_serial"] == demo.last_serial


def test_the_root_lists_each_project_serial_and_follows_changes(
    client, demo, upload, alice, alice_token, rf
):
    upload(alice_token, upload_form("other", "0.1"))
    other = Project.objects.get(normalized_name="other")
    client.get("/simple/", HTTP_ACCEPT=JSON_V1)  # rendered and stored now
    services.release_yank(
        release=Release.objects.get(project=demo), reason="", actor=alice, request=rf.post("/")
    )
    demo.refresh_from_db()
    answer = client.get("/simple/", HTTP_ACCEPT=JSON_V1)
    data = json.loads(answer.content)
    assert data["meta"]["_last-serial"] == demo.last_serial == newest()
    assert {p["name"]: p["_last-serial"] for p in data["projects"]} == {
        "demo": demo.last_serial,
        "other": other.last_serial,
    }
    assert answer["X-PyPI-Last-Serial"] == str(newest())
    assert client.get("/simple/")["X-PyPI-Last-Serial"] == str(newest())


def test_yank_delete_and_quarantine_are_journaled_in_pypi_words(demo, alice, rf):
    request = rf.post("/")
    release = Release.objects.get(project=demo)
    before = newest()
    services.release_yank(release=release, reason="bad", actor=alice, request=request)
    services.release_unyank(release=release, actor=alice, request=request)
    wheel = File.objects.get(filename="demo-1.0-py3-none-any.whl")
    services.file_delete(file=wheel, actor=alice, request=request)
    services.release_delete(release=release, actor=alice, request=request)
    demo.refresh_from_db()
    services.project_quarantine(project=demo, on=True, admin=alice, request=request)
    services.project_quarantine(project=demo, on=False, admin=alice, request=request)
    demo.refresh_from_db()
    services.project_delete(project=demo, actor=alice, request=request, by_staff=True)
    entries = JournalEntry.objects.filter(id__gt=before).order_by("id")
    assert [(e.version, e.action) for e in entries] == [
        ("1.0", "yank release"),
        ("1.0", "unyank release"),
        ("1.0", "remove file demo-1.0-py3-none-any.whl"),
        ("1.0", "remove release"),
        ("", "quarantine"),
        ("", "release from quarantine"),
        ("", "remove project"),
    ]
    assert list(entries.values_list("id", flat=True)) == sorted(
        entries.values_list("id", flat=True)
    )


def test_a_refused_upload_journals_nothing(demo, upload, alice_token, settings):
    """Refused after its release was journaled (the project is full): the entry goes too."""
    settings.PACKYARD_MAX_PROJECT_SIZE = 1
    before = journal()
    refused = upload(alice_token, upload_form("demo", "2.0"))
    assert refused.status_code == 400
    assert "Project size too large" in refused.content.decode()
    assert journal() == before
    demo.refresh_from_db()
    assert demo.last_serial == newest()


def test_a_scoped_token_root_shows_only_its_projects_serial(
    client, demo, alice, upload, alice_token, settings
):
    settings.PACKYARD_PRIVATE = True
    upload(alice_token, upload_form("other", "0.1"))
    raw = token_mint(
        user=alice,
        description="mirror",
        scope=TokenScope(projects=(("demo", str(demo.id)),), read_only=True),
    )[1]
    answer = client.get(
        "/simple/", HTTP_ACCEPT=JSON_V1, HTTP_AUTHORIZATION=basic_auth("__token__", raw)
    )
    data = json.loads(answer.content)
    assert [p["name"] for p in data["projects"]] == ["demo"]
    assert data["meta"]["_last-serial"] == demo.last_serial < newest()
    assert answer["X-PyPI-Last-Serial"] == str(demo.last_serial)


def test_an_upload_marks_the_root_stale_only_after_its_bytes_are_stored(
    client, demo, upload, alice_token, monkeypatch
):
    """Marking the root stale locks its row until the commit: done before the bytes are written,
    it would make every upload to any project wait for the others' bytes (on PostgreSQL)."""
    from django.core.files.storage import FileSystemStorage

    from packyard.packages.models import RenderedPage

    client.get("/simple/", HTTP_ACCEPT=JSON_V1)  # the root rendered, fresh
    seen = []
    saving = FileSystemStorage.save

    def watching(storage, name, content, *args, **kwargs):
        seen.append(RenderedPage.objects.get(key="json /simple/").stale)
        return saving(storage, name, content, *args, **kwargs)

    monkeypatch.setattr(FileSystemStorage, "save", watching)
    assert upload(alice_token, upload_form("demo", "2.0")).status_code == 200
    assert seen  # the bytes were written
    assert not any(seen)  # while the root was still fresh
    assert RenderedPage.objects.get(key="json /simple/").stale
    data = json.loads(client.get("/simple/", HTTP_ACCEPT=JSON_V1).content)
    assert data["meta"]["_last-serial"] == newest()
