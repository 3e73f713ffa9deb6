"""Rendered index pages: kept fresh by every change, on both the fast path and Django's."""

import gzip
import io
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from packyard.packages import services
from packyard.packages.index import pages
from packyard.packages.models import File, Project, Release, RenderedPage
from tests.conftest import browser_for, upload_form
from tests.packages.index.test_fastpath import JSON_V1, Fallthrough, fast_get
from tests.packages.test_search_and_admin import post_admin
from tests.test_admin import make_staff

pytestmark = pytest.mark.django_db


def test_upload_is_visible_at_once_on_both_paths(client, published, upload, alice_token):
    _, _, before = fast_get("/simple/demo-pkg/")
    assert b"demo_pkg-3.0-py3-none-any.whl" not in before
    assert upload(alice_token, upload_form("Demo_Pkg", "3.0")).status_code == 200
    status, _, after = fast_get("/simple/demo-pkg/")
    assert status == 200
    assert b"demo_pkg-3.0-py3-none-any.whl" in after
    api = json.loads(fast_get("/pypi/demo-pkg/json")[2])
    assert api["info"]["version"] == "3.0"


def test_new_project_marks_the_root_stale_until_read(client, published, upload, alice_token):
    assert b"brand-new" not in client.get("/simple/").content
    assert upload(alice_token, upload_form("brand-new", "1.0")).status_code == 200
    app = Fallthrough()
    assert fast_get("/simple/", app)[0] == 599, "a stale root is not served"
    assert b'href="/simple/brand-new/"' in client.get("/simple/").content
    status, _, body = fast_get("/simple/")
    assert status == 200
    assert b'href="/simple/brand-new/"' in body


def _owner_request(alice):
    request = Client().get("/").wsgi_request
    request.user = alice
    return request


def test_yank_and_unyank_change_the_pages(client, published, alice):
    release = Release.objects.get(version="2.0")
    services.release_yank(release=release, reason="bad", actor=alice, request=_owner_request(alice))
    assert b'data-yanked="bad"' in fast_get("/simple/demo-pkg/")[2]
    assert json.loads(fast_get("/pypi/demo-pkg/json")[2])["info"]["version"] == "1.0"
    services.release_unyank(release=release, actor=alice, request=_owner_request(alice))
    assert b"data-yanked" not in fast_get("/simple/demo-pkg/")[2]


def test_deletions_change_the_pages(client, published, alice):
    request = _owner_request(alice)
    wheel = File.objects.get(filename="demo_pkg-2.0-py3-none-any.whl")
    services.file_delete(file=wheel, actor=alice, request=request)
    assert b"demo_pkg-2.0-py3" not in fast_get("/simple/demo-pkg/")[2]
    for version in ("1.0", "2.0"):
        release = Release.objects.get(version=version)
        services.release_delete(release=release, actor=alice, request=request)
    body = json.loads(fast_get("/simple/demo-pkg/", accept=JSON_V1)[2])
    assert body["files"] == []
    assert fast_get("/pypi/demo-pkg/json", Fallthrough())[0] == 599
    assert client.get("/pypi/demo-pkg/json").status_code == 404
    project = Project.objects.get(normalized_name="demo-pkg")
    services.project_delete(project=project, actor=alice, request=request)
    assert not RenderedPage.objects.filter(key__contains="demo-pkg").exists()
    assert client.get("/simple/demo-pkg/").status_code == 404
    assert b"demo-pkg" not in client.get("/simple/").content


def test_quarantine_hides_the_pages(alice, published):
    project = Project.objects.get(normalized_name="demo-pkg")
    post_admin(
        browser_for(make_staff(alice)),
        "/admin/packages/project/",
        {"action": "quarantine_projects", "_selected_action": [str(project.pk)]},
    )
    assert fast_get("/simple/demo-pkg/", Fallthrough())[0] == 599
    assert Client().get("/simple/demo-pkg/").status_code == 404
    assert b"demo-pkg" not in Client().get("/simple/").content


def test_etag_revalidation_and_head(client, published):
    status, headers, _ = fast_get("/simple/demo-pkg/")
    assert headers["cache-control"] == "max-age=600, public"
    etag = headers["etag"]
    status, headers, body = fast_get("/simple/demo-pkg/", if_none_match=etag)
    assert (status, body) == (304, b"")
    assert headers["etag"] == etag
    assert "content-type" not in headers
    response = client.get("/simple/demo-pkg/", HTTP_IF_NONE_MATCH=f"W/{etag}")
    assert response.status_code == 304
    json_etag = fast_get("/simple/demo-pkg/", accept=JSON_V1)[1]["etag"]
    assert json_etag != etag, "each representation has its own tag"
    assert fast_get("/simple/demo-pkg/", accept=JSON_V1, if_none_match=etag)[0] == 200
    status, headers, body = fast_get("/simple/demo-pkg/", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == len(client.get("/simple/demo-pkg/").content)


def test_a_change_changes_the_etag(client, published, upload, alice_token):
    before = fast_get("/simple/demo-pkg/")[1]["etag"]
    assert upload(alice_token, upload_form("Demo_Pkg", "3.0")).status_code == 200
    status, headers, _ = fast_get("/simple/demo-pkg/", if_none_match=before)
    assert status == 200
    assert headers["etag"] != before


def test_large_root_is_compressed_for_clients_that_ask(client, published):
    with transaction.atomic():
        Project.objects.bulk_create(
            Project(name=f"filler-{n:04}", normalized_name=f"filler-{n:04}") for n in range(800)
        )
        pages.index_invalidate()
    plain = client.get("/simple/")
    assert "Content-Encoding" not in plain
    status, headers, body = fast_get("/simple/", accept_encoding="gzip, deflate")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept, Accept-Encoding"
    assert gzip.decompress(body) == plain.content
    assert len(body) < len(plain.content) / 4
    assert headers["etag"] != plain["ETag"]


def test_a_page_above_a_mebibyte_is_kept_compressed_only_and_served_whole_to_everyone(
    client, published, monkeypatch
):
    monkeypatch.setattr(pages, "GZIP_ABOVE", 50)
    monkeypatch.setattr(pages, "COMPRESSED_ONLY_ABOVE", 100)
    pages.refresh(Project.objects.get(normalized_name="demo-pkg").pk)
    stored = RenderedPage.objects.get(key="json /simple/demo-pkg/")
    assert bytes(stored.body) == b""
    # The gzip header's XFL byte: 4 is "fastest algorithm" (level 1).
    assert bytes(stored.body_gzip or b"")[8] == 4
    status, headers, body = fast_get("/simple/demo-pkg/", accept=JSON_V1, accept_encoding="gzip")
    assert (status, headers["content-encoding"]) == (200, "gzip")
    plain = client.get("/simple/demo-pkg/", HTTP_ACCEPT=JSON_V1)
    assert "Content-Encoding" not in plain
    assert gzip.decompress(body) == plain.content
    assert json.loads(plain.content)["name"] == "demo-pkg"
    status, plain_headers, fast_plain = fast_get("/simple/demo-pkg/", accept=JSON_V1)
    assert (status, fast_plain) == (200, plain.content)
    assert "content-encoding" not in plain_headers
    assert plain_headers["etag"] != headers["etag"]


@pytest.mark.parametrize(
    ("accept_encoding", "takes_gzip"),
    [
        ("gzip, deflate", True),
        ("GZIP", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000, *", False),
        ("*;q=0", False),
        ("identity", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(accept_encoding, takes_gzip):
    assert pages.accepts_gzip(accept_encoding) is takes_gzip


def test_missing_pages_are_rendered_on_first_read(client, published):
    RenderedPage.objects.all().delete()
    assert fast_get("/simple/demo-pkg/", Fallthrough())[0] == 599
    assert b"demo_pkg-2.0" in client.get("/simple/demo-pkg/").content
    assert fast_get("/simple/demo-pkg/")[0] == 200


def test_pages_written_to_disk_follow_every_change(
    client, published, settings, tmp_path, alice, upload, alice_token,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.PACKYARD_PAGES_DIR = tmp_path / "pages"
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(alice_token, upload_form("Demo_Pkg", "3.0")).status_code == 200
    html = tmp_path / "pages/simple/demo-pkg/index.html"
    assert html.read_bytes() == client.get("/simple/demo-pkg/").content
    stored_json = (tmp_path / "pages/simple/demo-pkg/index.json").read_bytes()
    assert stored_json == client.get("/simple/demo-pkg/", HTTP_ACCEPT=JSON_V1).content
    api = json.loads((tmp_path / "pages/pypi/demo-pkg/json").read_bytes())
    assert api["info"]["version"] == "3.0"
    root = tmp_path / "pages/simple/index.html"
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(alice_token, upload_form("brand-new", "1.0")).status_code == 200
    assert not root.exists(), "a stale root is removed, so the proxy asks Packyard"
    with django_capture_on_commit_callbacks(execute=True):
        assert b"brand-new" in client.get("/simple/").content
    assert b"brand-new" in root.read_bytes()
    project = Project.objects.get(normalized_name="demo-pkg")
    with django_capture_on_commit_callbacks(execute=True):
        services.project_delete(project=project, actor=alice, request=_owner_request(alice))
    assert not html.exists()
    assert not (tmp_path / "pages/pypi/demo-pkg/json").exists()


def test_read_check_for_a_front_proxy(client, settings, alice_token):
    assert client.get("/_/auth/read").status_code == 204
    settings.PACKYARD_PRIVATE = True
    refused = client.get("/_/auth/read")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Basic")
    allowed = client.get("/_/auth/read", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    assert allowed.status_code == 204
    assert "no-cache" in allowed["Cache-Control"]
    forged = client.get("/_/auth/read", HTTP_AUTHORIZATION=f"Bearer {alice_token[:-4]}AAAA")
    assert forged.status_code == 401


def test_private_reads_limit_failed_token_checks(
    client, published, settings, alice_token, monkeypatch
):
    settings.PACKYARD_TOKEN_FAILURE_LIMIT = (2, 300)
    settings.PACKYARD_PRIVATE = True
    forged = f"Bearer {alice_token[:-4]}AAAA"
    for _ in range(2):
        assert client.get("/simple/demo-pkg/", HTTP_AUTHORIZATION=forged).status_code == 401
    limited = client.get("/simple/demo-pkg/", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 300
    assert "Too many failed API token checks" in limited.content.decode()
    # A front proxy's auth_request passes on only 401 and 403.
    checked = client.get("/_/auth/read", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    assert checked.status_code == 403
    elsewhere = client.get(
        "/simple/demo-pkg/", HTTP_AUTHORIZATION=f"Bearer {alice_token}", REMOTE_ADDR="192.0.2.7"
    )
    assert elsewhere.status_code == 200


def test_render_pages_command_renders_everything(client, published, settings, tmp_path):
    settings.PACKYARD_PAGES_DIR = tmp_path / "pages"
    RenderedPage.objects.all().delete()
    out = io.StringIO()
    call_command("render_pages", stdout=out)
    assert "Rendered the pages of 2 project(s)" in out.getvalue()
    assert fast_get("/simple/demo-pkg/")[0] == 200
    assert fast_get("/simple/")[0] == 200
    call_command("render_pages", "--missing", stdout=out)
    assert "Rendered the pages of 0 project(s)" in out.getvalue()


def test_deleting_in_the_admin_is_a_full_deletion(alice, published):
    project = Project.objects.get(normalized_name="demo-pkg")
    assert fast_get("/simple/demo-pkg/")[0] == 200
    post_admin(
        browser_for(make_staff(alice)),
        "/admin/packages/project/",
        {"action": "delete_selected", "_selected_action": [str(project.pk)], "post": "yes"},
    )
    assert not Project.objects.filter(normalized_name="demo-pkg").exists()
    assert fast_get("/simple/demo-pkg/", Fallthrough())[0] == 599
    assert b"demo-pkg" not in Client().get("/simple/").content
    assert alice.events.filter(tag="account:project:deleted").exists()


def test_pages_of_another_address_are_rendered_again(client, published, settings):
    """The JSON API names files by full URL: after PACKYARD_BASE_URL changes, the stored pages
    that name the old address go (at `packyard serve`), and the next read names the new one."""
    assert "http://localhost:8000/packages/" in client.get("/pypi/demo-pkg/json").content.decode()
    settings.BASE_URL = "https://pypi.example.org"
    assert pages.forget_other_addresses() == 2  # both projects
    assert not RenderedPage.objects.filter(key="html /simple/demo-pkg/").exists()
    answer = client.get("/pypi/demo-pkg/json").content.decode()
    assert "https://pypi.example.org/packages/" in answer
    assert "localhost:8000" not in answer
    assert pages.forget_other_addresses() == 0


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://localhost:9000"),
        ("0.0.0.0", "http://localhost:9000"),  # noqa: S104 - an address named, not bound
        ("pypi.internal", "http://pypi.internal:9000"),
    ],
)
def test_development_links_name_the_address_served(host, url):
    from packyard.cli import _development_base_url

    assert _development_base_url(host, 9000) == url


def test_a_large_projects_upload_leaves_its_pages_to_the_first_reader(
    client, upload, alice_token, monkeypatch
):
    """Above RENDER_ON_READ_ABOVE_FILES the upload removes the pages instead of rendering them
    (half a second at 10,000 files); the first read of each renders that one, and none is ever
    out of date."""
    monkeypatch.setattr(pages, "RENDER_ON_READ_ABOVE_FILES", 1)
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    assert RenderedPage.objects.filter(key__contains="/demo/").count() == 3  # one file: rendered
    assert upload(alice_token, upload_form("demo", "2.0")).status_code == 200
    assert not RenderedPage.objects.filter(key__contains="/demo/").exists()
    first = client.get("/simple/demo/")
    assert "demo-2.0-py3-none-any.whl" in first.content.decode()
    again = client.get("/simple/demo/")  # read back from the database
    assert (first.content, first["ETag"]) == (again.content, again["ETag"])
    assert set(RenderedPage.objects.values_list("key", flat=True)) >= {"html /simple/demo/"}
    assert not RenderedPage.objects.filter(key__in=["json /simple/demo/", "api /pypi/demo/json"])
    json_page = client.get("/simple/demo/", HTTP_ACCEPT=JSON_V1).json()
    assert json_page["versions"] == ["1.0", "2.0"]
    assert client.get("/pypi/demo/json").json()["info"]["version"] == "2.0"
    assert RenderedPage.objects.filter(key__contains="/demo/").count() == 3
