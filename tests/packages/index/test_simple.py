import datetime
import json
import re
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client

from packyard.packages.index import pages
from packyard.packages.models import File, Project, Release
from tests import dists
from tests.conftest import basic_auth, upload_form

# Every test here runs on local files and again on an S3 bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.both_stores]
JSON_V1 = "application/vnd.pypi.simple.v1+json"
FORMAT_JSON = "?format=" + quote(JSON_V1)


@pytest.fixture
def published(upload, alice_token):
    for form in (
        upload_form("Demo_Pkg", "1.0", requires_python=">=3.8"),
        upload_form("Demo_Pkg", "1.0", kind="sdist", requires_python=">=3.8"),
        upload_form("Demo_Pkg", "2.0b1"),
        upload_form("other", "0.1"),
    ):
        assert upload(alice_token, form).status_code == 200


def test_index_html_lists_projects(client, published):
    response = client.get("/simple/")
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Vary"] == "Accept"
    body = response.content.decode()
    assert '<a href="/simple/demo-pkg/">Demo_Pkg</a>' in body
    assert '<meta name="pypi:repository-version" content="1.4">' in body


def test_index_json_lists_projects(client, published):
    response = client.get("/simple/", HTTP_ACCEPT=JSON_V1)
    assert response["Content-Type"] == JSON_V1
    data = json.loads(response.content)
    assert data["meta"]["api-version"] == "1.4"
    assert [p["name"] for p in data["projects"]] == ["Demo_Pkg", "other"]


def test_project_json_has_pep_700_and_658_fields(client, published):
    data = json.loads(client.get("/simple/demo-pkg/", HTTP_ACCEPT=JSON_V1).content)
    assert data["name"] == "demo-pkg"
    assert data["versions"] == ["1.0", "2.0b1"]
    wheel = next(f for f in data["files"] if f["filename"] == "demo_pkg-1.0-py3-none-any.whl")
    stored = File.objects.get(filename=wheel["filename"])
    assert wheel["hashes"] == {"sha256": stored.sha256_digest}
    assert wheel["requires-python"] == ">=3.8"
    assert wheel["size"] == stored.size
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", wheel["upload-time"])
    assert wheel["core-metadata"] == {"sha256": stored.metadata_sha256}
    assert wheel["dist-info-metadata"] == wheel["core-metadata"]
    assert wheel["yanked"] is False
    sdist = next(f for f in data["files"] if f["filename"].endswith(".tar.gz"))
    assert sdist["core-metadata"] is False


def test_project_html_has_hash_requires_python_and_metadata(client, published):
    body = client.get("/simple/demo-pkg/").content.decode()
    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    anchor = re.search(r"<a [^>]*>demo_pkg-1\.0-py3-none-any\.whl</a>", body).group(0)
    assert f'href="/{stored.path}#sha256={stored.sha256_digest}"' in anchor
    assert 'data-requires-python="&gt;=3.8"' in anchor
    assert f'data-core-metadata="sha256={stored.metadata_sha256}"' in anchor
    assert f'data-dist-info-metadata="sha256={stored.metadata_sha256}"' in anchor


def test_yanked_release_marked_with_reason(client, published):
    release = Release.objects.get(version="2.0b1")
    with transaction.atomic():
        Release.objects.filter(pk=release.pk).update(yanked=True, yanked_reason="broken <build>")
        pages.refresh(release.project_id)
    body = client.get("/simple/demo-pkg/").content.decode()
    assert 'data-yanked="broken &lt;build&gt;"' in body
    data = json.loads(client.get("/simple/demo-pkg/" + FORMAT_JSON).content)
    yanked = [f["yanked"] for f in data["files"] if "2.0b1" in f["filename"]]
    assert yanked == ["broken <build>"]


def test_non_normalized_name_redirects_permanently(client, published):
    response = client.get("/simple/Demo_Pkg/" + FORMAT_JSON)
    assert response.status_code == 301
    assert response["Location"] == "/simple/demo-pkg/" + FORMAT_JSON


def test_unknown_project_is_404(client, db):
    assert client.get("/simple/nothing/").status_code == 404


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "text/html"),
        ("*/*", "text/html"),
        (JSON_V1, JSON_V1),
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        (f"text/html;q=0.5, {JSON_V1};q=0.9", JSON_V1),
        (
            f"{JSON_V1};q=0.1, application/vnd.pypi.simple.v1+html",
            "application/vnd.pypi.simple.v1+html",
        ),
        ("application/json", None),
        (f"{JSON_V1};q=0", None),
    ],
)
def test_content_negotiation(client, published, accept, expected):
    response = client.get("/simple/demo-pkg/", HTTP_ACCEPT=accept)
    if expected is None:
        assert response.status_code == 406
    else:
        assert response["Content-Type"].split(";")[0] == expected


def test_format_query_parameter_overrides_accept(client, published):
    response = client.get("/simple/demo-pkg/" + FORMAT_JSON, HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == JSON_V1


def test_file_download_headers(client, published):
    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    response = client.get(f"/{stored.path}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == dists.make_wheel("Demo_Pkg", "1.0")
    assert response["Content-Disposition"] == f'attachment; filename="{stored.filename}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["ETag"] == f'"{stored.sha256_digest}"'
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(stored.size)


@pytest.mark.parametrize("suffix", ["", ".metadata"], ids=["file", "metadata"])
def test_a_file_whose_bytes_are_missing_answers_503_not_500(client, published, suffix):
    """Seen when the bytes were stored on another node's disk: installers retry a 503."""
    from django.core.files.storage import default_storage

    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    default_storage.delete(stored.path + suffix)
    response = client.get(f"/{stored.path}{suffix}")
    assert response.status_code == 503
    assert "missing from the index's file store" in response.content.decode()
    assert response["Retry-After"] == "60"


def test_file_head_has_length_and_no_body(client, published):
    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    response = client.head(f"/{stored.path}")
    assert response.status_code == 200
    assert response["Content-Length"] == str(stored.size)
    assert response.content == b""


def test_file_range_request(client, published):
    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    data = dists.make_wheel("Demo_Pkg", "1.0")
    response = client.get(f"/{stored.path}", HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == data[10:20]
    assert response["Content-Range"] == f"bytes 10-19/{len(data)}"
    suffix = client.get(f"/{stored.path}", HTTP_RANGE="bytes=-22")
    assert b"".join(suffix.streaming_content) == data[-22:]


def test_file_range_beyond_end_is_416(client, published):
    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    response = client.get(f"/{stored.path}", HTTP_RANGE=f"bytes={stored.size}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{stored.size}"


def test_file_if_none_match_is_304(client, published):
    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    response = client.get(f"/{stored.path}", HTTP_IF_NONE_MATCH=f'"{stored.sha256_digest}"')
    assert response.status_code == 304


def test_metadata_file_matches_advertised_hash(client, published):
    stored = File.objects.get(filename="demo_pkg-1.0-py3-none-any.whl")
    response = client.get(f"/{stored.path}.metadata")
    content = b"".join(response.streaming_content)
    assert dists.sha256(content) == stored.metadata_sha256
    assert content.startswith(b"Metadata-Version: 2.4\nName: Demo_Pkg")


def test_unknown_file_is_404(client, db):
    assert client.get("/packages/aa/bb/cc/nothing-1.0.tar.gz").status_code == 404


def test_json_api_project(client, published):
    data = json.loads(client.get("/pypi/Demo_Pkg/json").content)
    assert data["info"]["version"] == "1.0"  # the pre-release is not the latest
    assert data["info"]["requires_python"] == ">=3.8"
    assert set(data["releases"]) == {"1.0", "2.0b1"}
    assert {f["packagetype"] for f in data["urls"]} == {"bdist_wheel", "sdist"}
    digests = data["urls"][0]["digests"]
    assert set(digests) == {"md5", "sha256", "blake2b_256"}


def test_json_api_release(client, published):
    data = json.loads(client.get("/pypi/demo-pkg/2.0b1/json").content)
    assert data["info"]["version"] == "2.0b1"
    assert "releases" not in data
    assert client.get("/pypi/demo-pkg/9.9/json").status_code == 404


def test_project_page_renders_readme_safely(client, upload, alice_token):
    form = upload_form(
        "demo",
        "1.0",
        description="# Hello\n<script>alert(1)</script>",
        description_content_type="text/markdown",
    )
    upload(alice_token, form)
    body = client.get("/project/demo/").content.decode()
    assert "Hello" in body
    assert "<script>alert(1)</script>" not in body
    assert client.get("/project/Demo/").status_code == 301
    assert client.get("/project/demo/1.0/").status_code == 200


def test_project_page_links_only_web_addresses_from_metadata(client, upload, alice_token):
    form = upload_form(
        "demo",
        "1.0",
        home_page="javascript:alert(document.cookie)",
        download_url="https://example.org/demo.tar.gz",
        project_urls=[
            "Source, https://example.org/src",
            "Docs, data:text/html,<script>alert(1)</script>",
            "Chat, JaVaScRiPt:alert(1)",
            "Tracker, http://example.org/issues",
        ],
    )
    assert upload(alice_token, form).status_code == 200
    body = client.get("/project/demo/").content.decode()
    hrefs = re.findall(r'href="([^"]+)" rel="nofollow noopener"', body)
    assert hrefs == [
        "https://example.org/src",
        "http://example.org/issues",
        "https://example.org/demo.tar.gz",
    ]
    assert "Homepage: <code>javascript:alert(document.cookie)</code>" in body
    assert "Docs: <code>data:text/html,&lt;script&gt;" in body


def test_home_page_lists_latest_release(client, published):
    body = client.get("/").content.decode()
    assert "other 0.1" in body


class TestPrivateIndex:
    @pytest.fixture(autouse=True)
    def _private(self, settings):
        settings.PACKYARD_PRIVATE = True

    @pytest.mark.parametrize(
        "path", ["/simple/", "/simple/demo-pkg/", "/pypi/demo-pkg/json", "/project/demo-pkg/", "/"]
    )
    def test_anonymous_read_gets_401_with_basic_challenge(self, client, published, path):
        response = client.get(path)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic")

    def test_token_can_read(self, client, published, alice_token):
        response = client.get(
            "/simple/demo-pkg/", HTTP_AUTHORIZATION=basic_auth("__token__", alice_token)
        )
        assert response.status_code == 200
        assert "private" in response["Cache-Control"]

    def test_files_need_credentials(self, client, published, alice_token):
        stored = File.objects.first()
        assert client.get(f"/{stored.path}").status_code == 401
        ok = client.get(f"/{stored.path}", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
        assert ok.status_code == 200
        ok.close()

    def test_session_can_read(self, published, alice):
        browser = Client()
        browser.force_login(alice)
        assert browser.get("/simple/").status_code == 200

    def test_bad_token_gets_401(self, client, published):
        response = client.get(
            "/simple/", HTTP_AUTHORIZATION=basic_auth("__token__", "packyard-AAAA")
        )
        assert response.status_code == 401


def test_user_page_lists_their_projects(client, published):
    page = client.get("/user/alice/").content.decode()
    assert "Demo_Pkg" in page
    assert "other" in page
    assert client.get("/user/nobody/").status_code == 404


def test_upload_times_are_written_in_utc_with_microseconds_as_pypi_does(client, published):
    """A time on a whole second still has its six digits; the JSON API's short form has none."""
    File.objects.filter(filename="demo_pkg-1.0-py3-none-any.whl").update(
        upload_time=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    )
    pages.refresh(Project.objects.get(normalized_name="demo-pkg").pk)
    data = json.loads(client.get("/simple/demo-pkg/", HTTP_ACCEPT=JSON_V1).content)
    wheel = next(f for f in data["files"] if f["filename"] == "demo_pkg-1.0-py3-none-any.whl")
    assert wheel["upload-time"] == "2026-01-02T03:04:05.000000Z"
    api = client.get("/pypi/demo-pkg/json").json()
    entry = next(f for f in api["releases"]["1.0"] if f["filename"] == wheel["filename"])
    assert (entry["upload_time"], entry["upload_time_iso_8601"]) == (
        "2026-01-02T03:04:05",
        "2026-01-02T03:04:05Z",
    )
