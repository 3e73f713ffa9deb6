"""The index fast path: what it answers before Django, byte for byte as Django would, and
everything it must leave to Django."""

import io
from typing import Any

import pytest

from packyard.packages.index.fastpath import IndexFastPath
from packyard.packages.models import File, Project
from packyard.wsgi import django_application

pytestmark = pytest.mark.django_db
JSON_V1 = "application/vnd.pypi.simple.v1+json"
# Headers that differ between any two answers, or that only Django's own stack adds.
INCIDENTAL = {"date", "server"}


class Fallthrough:
    """Stands behind the fast path and records what reached Django."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.paths.append(environ["PATH_INFO"])
        start_response("599 Fell Through", [])
        return [b""]


def fast_get(path: str, app: Any = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    environ = {
        "REQUEST_METHOD": headers.pop("method", "GET"),
        "PATH_INFO": path,
        "QUERY_STRING": headers.pop("query", ""),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": headers.pop("host", "testserver"),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    answer: dict[str, Any] = {}

    def start_response(status: str, header_list: list[tuple[str, str]]) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {k.lower(): v for k, v in header_list}

    iterable = IndexFastPath(app or Fallthrough())(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()  # as a WSGI server must
    return answer["status"], answer["headers"], body


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/simple/demo-pkg/", ""),
        ("/simple/demo-pkg/", JSON_V1),
        ("/simple/demo-pkg/", "application/vnd.pypi.simple.v1+html"),
        ("/simple/", "text/html"),
        ("/simple/", JSON_V1),
        ("/pypi/demo-pkg/json", ""),
    ],
)
def test_fast_path_answers_exactly_as_django(client, published, path, accept):
    through_django = client.get(path, HTTP_ACCEPT=accept)
    assert through_django.status_code == 200
    status, headers, body = fast_get(path, accept=accept)
    assert status == 200, "the page Django just served is stored, so the fast path answers"
    assert body == through_django.content
    django_headers = {
        k.lower(): v for k, v in through_django.headers.items() if k.lower() not in INCIDENTAL
    }
    assert headers == django_headers


@pytest.mark.parametrize(
    ("path", "how"),
    [
        ("/simple/Demo_Pkg/", {}),  # Django redirects to the normalized name
        ("/simple/demo-pkg/", {"query": "format=text/html"}),
        ("/simple/demo-pkg/", {"method": "POST"}),
        ("/simple/demo-pkg/", {"host": "evil.example"}),
        ("/simple/demo-pkg/", {"accept": "image/png"}),  # Django says 406
        ("/simple/no-such-project/", {}),
        ("/simple/demo-pkg", {}),
        ("/simple/demo-pkg/x/", {}),
        ("/pypi/Demo_Pkg/json", {}),
        ("/project/demo-pkg/", {}),
    ],
)
def test_fast_path_leaves_the_rest_to_django(client, published, path, how):
    client.get("/simple/demo-pkg/")
    app = Fallthrough()
    assert fast_get(path, app, **how)[0] == 599
    assert app.paths == [path]


def test_private_index_is_never_answered_by_the_fast_path(client, published, settings):
    client.get("/simple/demo-pkg/")
    settings.PACKYARD_PRIVATE = True
    assert fast_get("/simple/demo-pkg/", Fallthrough())[0] == 599
    status, _, _ = fast_get("/simple/demo-pkg/", django_application)
    assert status == 401


@pytest.mark.parametrize("metadata", [False, True])
@pytest.mark.parametrize("prefix", ["", "/files"])  # PyPI's layout, and where files were before
def test_fast_downloads_answer_exactly_as_django(client, published, metadata, prefix):
    stored = File.objects.get(filename="demo_pkg-2.0-py3-none-any.whl")
    path = f"{prefix}/{stored.metadata_path if metadata else stored.path}"
    status, headers, body = fast_get(path)
    head_status, head_headers, head_body = fast_get(path, method="HEAD")
    # Last: closing a streamed answer ends the test client's request, which on PostgreSQL
    # closes the connection the test's transaction holds.
    through_django = client.get(path)
    assert through_django.status_code == 200
    assert status == 200
    assert body == b"".join(through_django.streaming_content)
    through_django.close()
    django_headers = {
        k.lower(): v for k, v in through_django.headers.items() if k.lower() not in INCIDENTAL
    }
    assert headers == django_headers
    assert (head_status, head_body) == (200, b"")
    assert head_headers["content-length"] == django_headers["content-length"]


@pytest.mark.parametrize(
    "how", [{"range": "bytes=0-9"}, {"if_none_match": '"x"'}, {"method": "POST"}, {"query": "a=b"}]
)
def test_special_downloads_are_left_to_django(client, published, how):
    stored = File.objects.get(filename="demo_pkg-2.0-py3-none-any.whl")
    app = Fallthrough()
    assert fast_get(f"/{stored.path}", app, **how)[0] == 599


def test_quarantined_or_unknown_files_are_left_to_django(client, published):
    stored = File.objects.get(filename="demo_pkg-2.0-py3-none-any.whl")
    Project.objects.filter(normalized_name="demo-pkg").update(quarantined=True)
    assert fast_get(f"/{stored.path}", Fallthrough())[0] == 599
    assert client.get(f"/{stored.path}").status_code == 404
    assert fast_get(f"/{stored.path[:-3]}zip", Fallthrough())[0] == 599


def test_downloads_handed_to_the_front_proxy(client, published, settings):
    settings.PACKYARD_FILES_ACCEL_REDIRECT = "/_stored/"
    stored = File.objects.get(filename="demo_pkg-2.0-py3-none-any.whl")
    for path in (stored.path, stored.metadata_path):
        through_django = client.get(f"/{path}")
        assert through_django["X-Accel-Redirect"] == f"/_stored/{path}"
        assert through_django.content == b""
        status, headers, body = fast_get(f"/{path}")
        assert (status, body) == (200, b"")
        django_headers = {
            k.lower(): v for k, v in through_django.headers.items() if k.lower() not in INCIDENTAL
        }
        assert headers == django_headers
