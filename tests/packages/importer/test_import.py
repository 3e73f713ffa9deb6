"""Importing a directory of legacy distributions, and an index over HTTP."""

import hashlib
import json
import os
import tempfile
import threading
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.storage import default_storage

from packyard.packages.importer.reading import ImportRefused
from packyard.packages.importer.service import import_from
from packyard.packages.importer.sources import DirectorySource, IndexSource, JsonListSource
from packyard.packages.models import File, JournalEntry, ProjectEvent, Release
from tests.conftest import basic_auth
from tests.packages.importer.legacy import legacy_tree
from tests.packages.upload.helpers import store_class, store_failure

# Every test here runs on local files and again on an S3 bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.both_stores]
JSON_V1 = "application/vnd.pypi.simple.v1+json"


def statuses(outcomes) -> dict[str, str]:
    return {o.filename: o.status for o in outcomes}


def test_a_directory_of_legacy_files_is_imported_byte_for_byte(tmp_path, alice, client):
    files = legacy_tree(tmp_path / "tree")
    when = datetime(2013, 5, 1, 12, 0, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "tree" / "Django-3.2.tar.gz", (when, when))
    outcomes = import_from(DirectorySource(tmp_path / "tree", patterns=[]), owner=alice)
    assert statuses(outcomes) == {
        "Django-3.2.tar.gz": "imported",
        "PyYAML-5.4.1.zip": "imported",
        "zope.interface-5.4.0.tar.gz": "imported",
        "demo-1.0-py3-none-any.whl": "imported",
        "demo-1.0-py2.7.egg": "refused",
    }
    egg = next(o for o in outcomes if o.filename.endswith(".egg"))
    assert "eggs are not installed" in egg.reason
    for filename, content in files.items():
        if filename.endswith(".egg"):
            continue
        stored = File.objects.get(filename=filename)
        assert stored.sha256_digest == hashlib.sha256(content).hexdigest()
        with default_storage.open(stored.path) as handle:
            assert handle.read() == content
    assert File.objects.get(filename="Django-3.2.tar.gz").upload_time.year == 2013
    zope = Release.objects.get(project__normalized_name="zope-interface")
    assert "`unclosed" in zope.description_html  # shown as text, not refused
    assert alice.projects.count() == 4
    assert ProjectEvent.objects.filter(tag="project:release:import").count() == 4
    simple = client.get("/simple/django/").content.decode()
    assert "Django-3.2.tar.gz" in simple


def test_running_again_skips_what_is_here(tmp_path, alice):
    legacy_tree(tmp_path / "tree")
    source = DirectorySource(tmp_path / "tree", patterns=[])
    import_from(source, owner=alice)
    serial = JournalEntry.objects.count()
    again = import_from(source, owner=alice)
    assert set(statuses(again).values()) == {"skipped", "refused"}
    assert JournalEntry.objects.count() == serial


def test_a_different_file_under_a_name_already_used_is_refused(tmp_path, alice):
    legacy_tree(tmp_path / "tree")
    import_from(DirectorySource(tmp_path / "tree", patterns=["django"]), owner=alice)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Django-3.2.tar.gz").write_bytes(b"other bytes")
    (outcome,) = import_from(DirectorySource(tmp_path / "other", patterns=[]), owner=alice)
    assert (outcome.status, outcome.reason) == (
        "refused",
        "a different file of this name is already here",
    )


def test_projects_that_exist_keep_their_roles(tmp_path, alice, bob, upload, alice_token):
    from tests.conftest import upload_form

    upload(alice_token, upload_form("demo", "0.9"))
    legacy_tree(tmp_path / "tree")
    import_from(DirectorySource(tmp_path / "tree", patterns=["demo"]), owner=bob)
    demo = File.objects.get(filename="demo-1.0-py3-none-any.whl").release.project
    assert [role.user.username for role in demo.roles.all()] == ["alice"]


@pytest.fixture(params=["json", "html"])
def index_server(request, tmp_path):
    """A static PEP 691 index on loopback, as a simple index serves one."""
    root = tmp_path / "site"
    files = legacy_tree(root / "files")
    pages = {
        "simple/index.json": {"meta": {"api-version": "1.1"}, "projects": [{"name": "Django"}]},
        "simple/django/index.json": {
            "meta": {"api-version": "1.1"},
            "name": "django",
            "files": [
                {
                    "filename": "Django-3.2.tar.gz",
                    "url": "../../files/Django-3.2.tar.gz",
                    "hashes": {"sha256": hashlib.sha256(files["Django-3.2.tar.gz"]).hexdigest()},
                    "upload-time": "2021-04-06T07:38:31.123456Z",
                    "yanked": "a broken release",
                },
                {
                    "filename": "PyYAML-5.4.1.zip",
                    "url": "../../files/PyYAML-5.4.1.zip",
                    "hashes": {"sha256": "0" * 64},
                },
            ],
        },
    }
    for name, page in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(page))
    # The same as PEP 503 HTML, as older indexes serve it.
    (root / "simple/index.html").write_text('<a href="django/">Django</a>')
    django_sha256 = hashlib.sha256(files["Django-3.2.tar.gz"]).hexdigest()
    (root / "simple/django/index.html").write_text(
        f'<a href="../../files/Django-3.2.tar.gz#sha256={django_sha256}" '
        'data-yanked="a broken release">Django-3.2.tar.gz</a>\n'
        f'<a href="../../files/PyYAML-5.4.1.zip#sha256={"0" * 64}">PyYAML-5.4.1.zip</a>'
    )

    page_file = "index.json" if request.param == "json" else "index.html"

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {".json": JSON_V1, ".html": "text/html", "": "application/octet-stream"}

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.headers.get("Authorization") != basic_auth("reader", "secret"):
                self.send_error(401)
                return
            if self.path.endswith("/"):
                self.path += page_file  # a project's page, as an index serves it
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/", request.param
    server.shutdown()
    server.server_close()


def test_wrong_credentials_stop_the_import(index_server, alice):
    source = IndexSource(index_server[0], credentials="reader:wrong", patterns=[])
    with pytest.raises(ImportRefused, match="HTTP Error 401"):
        import_from(source, owner=alice)


def test_an_index_is_imported_with_times_yanks_and_hashes_checked(index_server, alice, client):
    url, kind = index_server
    source = IndexSource(url, credentials="reader:secret", patterns=[])
    outcomes = {o.filename: o for o in import_from(source, owner=alice)}
    assert outcomes["Django-3.2.tar.gz"].status == "imported"
    pyyaml = outcomes["PyYAML-5.4.1.zip"]
    assert pyyaml.status == "refused"
    assert "but the source lists 0000" in pyyaml.reason
    django = File.objects.get(filename="Django-3.2.tar.gz")
    source_time = datetime(2021, 4, 6, 7, 38, 31, 123456, tzinfo=UTC)
    # PEP 700 times come with JSON; an HTML page has none, and the import's time is kept.
    assert (django.upload_time == source_time) == (kind == "json")
    assert (django.release.yanked, django.release.yanked_reason) == (True, "a broken release")
    assert 'data-yanked="a broken release"' in client.get("/simple/django/").content.decode()


def test_a_json_list_says_what_a_directory_cannot(tmp_path, alice):
    files = legacy_tree(tmp_path / "tree")
    listing = tmp_path / "list.json"
    listing.write_text(
        json.dumps(
            [
                {
                    "path": "tree/Django-3.2.tar.gz",
                    "upload_time": "2013-05-01T12:00:00Z",
                    "yanked": "security hole",
                    "sha256": hashlib.sha256(files["Django-3.2.tar.gz"]).hexdigest(),
                },
                {"path": "tree/PyYAML-5.4.1.zip", "sha256": "1" * 64},
                {"path": "tree/missing-1.0.tar.gz"},
            ]
        )
    )
    outcomes = {
        o.filename: o
        for o in import_from(JsonListSource(listing, credentials="", patterns=[]), owner=alice)
    }
    assert [o.status for o in outcomes.values()] == ["imported", "refused", "refused"]
    assert "cannot read it" in outcomes["missing-1.0.tar.gz"].reason
    django = File.objects.get(filename="Django-3.2.tar.gz")
    assert django.upload_time == datetime(2013, 5, 1, 12, 0, tzinfo=UTC)
    assert django.release.yanked_reason == "security hole"


def test_a_json_list_of_urls_is_downloaded_with_credentials(
    index_server, tmp_path, alice, monkeypatch
):
    url, _kind = index_server
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(downloads))
    files_url = url.replace("/simple/", "/files/")
    listing = tmp_path / "list.json"
    listing.write_text(
        json.dumps(
            [
                {"url": files_url + "Django-3.2.tar.gz", "upload_time": "2021-04-06T07:38:31Z"},
                {"url": files_url + "missing-1.0.tar.gz"},
            ]
        )
    )
    source = JsonListSource(listing, credentials="reader:secret", patterns=[])
    outcomes = {o.filename: o for o in import_from(source, owner=alice)}
    assert outcomes["Django-3.2.tar.gz"].status == "imported"
    assert "HTTP Error 404" in outcomes["missing-1.0.tar.gz"].reason
    assert not list(downloads.iterdir())  # no download left behind


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{}", "must be a JSON array"),
        ("not json", "cannot read the list"),
        ('[{"upload_time": "2013"}]', "entry 1 of the list names no path or url"),
        ('[{"path": "x.tar.gz", "upload_time": "yesterday"}]', "not an ISO 8601 time"),
    ],
)
def test_a_malformed_list_stops_the_import_with_its_reason(tmp_path, alice, content, reason):
    listing = tmp_path / "list.json"
    listing.write_text(content)
    with pytest.raises(ImportRefused, match=reason):
        import_from(JsonListSource(listing, credentials="", patterns=[]), owner=alice)


def test_a_file_the_store_refuses_leaves_nothing_and_the_next_run_goes_on(
    tmp_path, alice, monkeypatch
):
    legacy_tree(tmp_path / "tree")
    source = DirectorySource(tmp_path / "tree", patterns=["django", "pyyaml"])
    saving = store_class().save

    def full_disk(storage, name, content, *args, **kwargs):
        if name.endswith(".zip"):
            raise store_failure()
        return saving(storage, name, content, *args, **kwargs)

    monkeypatch.setattr(store_class(), "save", full_disk)
    first = {o.filename: o for o in import_from(source, owner=alice)}
    assert first["Django-3.2.tar.gz"].status == "imported"
    assert (first["PyYAML-5.4.1.zip"].status, first["PyYAML-5.4.1.zip"].reason) == (
        "refused",
        "The file store is unavailable; nothing was stored. Try again later.",
    )
    assert not File.objects.filter(filename="PyYAML-5.4.1.zip").exists()
    assert not Release.objects.filter(project__normalized_name="pyyaml").exists()
    monkeypatch.undo()
    again = statuses(import_from(source, owner=alice))
    assert again == {"Django-3.2.tar.gz": "skipped", "PyYAML-5.4.1.zip": "imported"}


def test_a_name_staff_closed_is_not_imported(tmp_path, alice):
    from packyard.packages.models import ReservedName, name_skeleton

    ReservedName.objects.create(
        normalized_name="django", name_skeleton=name_skeleton("django"), quarantined=True
    )
    legacy_tree(tmp_path / "tree")
    (outcome,) = import_from(DirectorySource(tmp_path / "tree", patterns=["django"]), owner=alice)
    assert outcome.status == "refused"
    assert outcome.reason == "staff closed the name 'django' (a quarantined project)"


def test_only_http_is_fetched_and_within_bounds(index_server, alice, monkeypatch):
    from packyard.packages.importer import sources

    with pytest.raises(ImportRefused, match="not an http"):
        IndexSource("file:///etc/", credentials="", patterns=[]).projects()
    url, _kind = index_server
    source = IndexSource(url, credentials="reader:secret", patterns=[])
    candidate = next(iter(source.candidates()))
    with pytest.raises(ImportRefused, match="larger than this index's file limit"):
        source.fetch(candidate, max_size=100)
    monkeypatch.setattr(sources, "MAX_PAGE_BYTES", 10)
    with pytest.raises(ImportRefused, match="is larger than 10 bytes"):
        source.projects()


def test_an_address_with_a_password_in_it_is_refused_unprinted(tmp_path, alice):
    with pytest.raises(ImportRefused, match="credentials go in the variable") as info:
        IndexSource("https://me:secret@pypi.example.org/simple/", patterns=[])
    assert "secret" not in str(info.value)
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([{"url": "https://me:secret@pypi.example.org/x-1.0.tar.gz"}]))
    with pytest.raises(ImportRefused, match="credentials go in the variable"):
        import_from(JsonListSource(listing, credentials="", patterns=[]), owner=alice)
