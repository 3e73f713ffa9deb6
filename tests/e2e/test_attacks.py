"""Attacks on the running server, as an attacker makes them: parallel bursts through real
threads and sockets, not one request at a time through Django's test client."""

import base64
import http.client
import http.server
import json
import re
import socket
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Browser

from tests import dists
from tests.e2e.conftest import PASSWORD, SOCKET_TIMEOUT, Server
from tests.oidc_issuer import github_claims

pytestmark = pytest.mark.e2e

BURST = 32


class Browserless:
    """A cookie-keeping HTTP client on one host, enough to walk the login forms."""

    def __init__(self, server: Server, address: str = "") -> None:
        parts = urlsplit(server.url)
        self.host, self.port = parts.hostname or "localhost", parts.port or 80
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode({**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        connection.close()
        return response.status, text


def raw_exchange(server: Server, request: bytes, *, timeout: float) -> tuple[str, bytes]:
    """Send bytes no HTTP library would, and read the whole answer: its status line, and all."""
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode(), answer


@pytest.fixture(autouse=True)
def _limits_forgotten(server: Server):
    """Every test here comes from 127.0.0.1, like the other end-to-end tests: leave them a clean
    slate of rate limits."""
    yield
    server.shell(
        "from packyard.accounts.models import RateLimitCounter\n"
        "RateLimitCounter.objects.all().delete()\n"
    )


def burst(send, size: int = BURST) -> Counter[int]:
    """Send `size` requests at once from real threads; count the answers by status."""
    barrier = threading.Barrier(size)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        status = send()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


def test_parallel_wrong_passwords_are_checked_at_most_the_limit(server: Server):
    server.create_user("burstpw")

    def wrong_password() -> int:
        client = Browserless(server)
        client.request("GET", "/account/login/")
        status, _ = client.request(
            "POST", "/account/login/", {"username": "burstpw", "password": "not the password"}
        )
        return status

    answers = burst(wrong_password)
    # 200 is a checked, wrong password; 429 a refusal before any check. The limit is 10 per
    # address and per account.
    assert answers[200] <= 10
    assert answers[200] + answers[429] == BURST


def test_parallel_wrong_codes_are_checked_at_most_the_limit(server: Server):
    server.create_user("bursttotp")
    server.shell(
        "from packyard.accounts.models import User\n"
        "from packyard.twofactor import secretbox\n"
        "from packyard.twofactor.models import TOTPDevice\n"
        "from packyard.twofactor.services import TOTP_PURPOSE\n"
        "user = User.objects.get(username='bursttotp')\n"
        "sealed = secretbox.seal(b'burst test secret!!!', purpose=TOTP_PURPOSE,\n"
        "                        owner=str(user.pk))\n"
        "TOTPDevice.objects.create(user=user, sealed_secret=sealed)\n"
    )
    client = Browserless(server)
    client.request("GET", "/account/login/")
    status, _ = client.request(
        "POST", "/account/login/", {"username": "bursttotp", "password": PASSWORD}
    )
    assert status == 302  # on to the second step, with the pending login in the session

    def wrong_code() -> int:
        status, text = client.request(
            "POST", "/account/two-factor/", {"method": "totp", "code": "000000"}
        )
        assert status != 400 or re.search("not right", text)
        return status

    answers = burst(wrong_code)
    # 400 is a checked, wrong code; 429 a refusal before any check. The limit is 5.
    assert answers[400] <= 5
    assert answers[400] + answers[429] == BURST


ATTACKER_PAGE = """<!doctype html><title>Free stickers</title>
<form id="upload" method="post" enctype="multipart/form-data" action="{action}">
{fields}<input type="file" name="content" id="content"></form>
<script>
const bytes = Uint8Array.from(atob("{payload}"), (c) => c.charCodeAt(0));
const chosen = new DataTransfer();
chosen.items.add(new File([bytes], "{filename}", {{type: "application/octet-stream"}}));
document.getElementById("content").files = chosen.files;
document.getElementById("upload").submit();
</script>"""


@pytest.fixture
def attacker_site() -> Iterator[tuple[str, dict[str, bytes]]]:
    """Another origin on loopback (127.0.0.1, where the index is localhost): serves whatever
    pages the test puts in the dict."""
    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}", pages
    site.shutdown()
    site.server_close()


@pytest.mark.browser
def test_web_page_cannot_upload_with_the_browsers_cached_token(
    browser: Browser, server: Server, attacker_site
):
    origin, pages = attacker_site
    name, version = "browser-borne", "1.0"
    wheel = dists.make_wheel(name, version)
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.4",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
    }
    pages["/"] = ATTACKER_PAGE.format(
        action=server.upload_url,
        fields="".join(
            f'<input type="hidden" name="{key}" value="{value}">' for key, value in fields.items()
        ),
        payload=base64.b64encode(wheel).decode(),
        filename=dists.wheel_filename(name, version),
    ).encode()
    # The browser holds the token for the index, as after someone typed it into a Basic prompt.
    context = browser.new_context(
        http_credentials={"username": "__token__", "password": server.token}
    )
    try:
        page = context.new_page()
        page.goto(f"{origin}/")
        page.wait_for_url(server.upload_url)
        page.get_by_text("was refused").wait_for()
        assert "not from web browsers" in page.content()
    finally:
        context.close()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{server.index_url}{name}/")
    missing.value.close()
    assert missing.value.code == 404


def test_upload_that_stalls_mid_body_gets_408(server: Server):
    """A client that declares a body and stops sending it: after the server's socket timeout
    it hears 408 (not 500, not silence), and nothing is stored."""
    parts = urlsplit(server.url)
    boundary = "stall"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="content"; filename="stalled-1.0-py3-none-any.whl"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode() + bytes(4096)
    token = base64.b64encode(f"__token__:{server.token}".encode()).decode()
    request = (
        "POST /legacy/ HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n"
        f"Authorization: Basic {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + 1024 * 1024}\r\n\r\n"
    ).encode() + head
    status_line, answer = raw_exchange(server, request, timeout=SOCKET_TIMEOUT * 4)
    assert status_line.startswith("HTTP/1.1 408"), answer[:300]
    assert b"stopped arriving" in answer
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{server.index_url}stalled/")
    missing.value.close()
    assert missing.value.code == 404


@pytest.mark.parametrize("size", [40 * 1024, 60 * 1024])
def test_oversized_request_headers_get_431(server: Server, size: int):
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    connection.request("GET", "/simple/", headers={"Cookie": "big=" + "x" * size})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 431
    assert b"exceed 32 KiB" in body


def test_request_headers_under_the_limit_pass(server: Server):
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    connection.request("GET", "/simple/", headers={"Cookie": "big=" + "x" * 20 * 1024})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200


def test_parallel_exchanges_of_one_identity_token_mint_once(server: Server, oidc_servers):
    """One CI token sent 16 times at once, to a pending publisher whose first exchange creates
    the project: one upload token, one project, the rest refused."""
    github = oidc_servers["github"]
    server.create_user("burstci")
    claims = {
        "repository": "octo/e2e-burst",
        "repository_id": "5150",
        "repository_owner_id": "77",
        "workflow": "release.yml",
    }
    server.packyard(
        "publisher",
        "add",
        "e2e-burst",
        "--issuer",
        github.url,
        *(f"--claim={key}={value}" for key, value in claims.items()),
        "--pending",
        "--owner",
        "burstci",
    )
    identity_token = github.token(
        aud="localhost", **github_claims("octo/e2e-burst", repository_id="5150")
    )
    body = json.dumps({"token": identity_token}).encode()

    def exchange() -> int:
        request = urllib.request.Request(
            f"{server.url}/_/oidc/mint-token",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as refused:
            with refused:
                return int(refused.code)

    answers = burst(exchange, size=16)
    assert answers[200] == 1
    assert answers[422] == 15
    counted = server.packyard(
        "manage",
        "shell",
        "--no-imports",
        "-c",
        "from packyard.packages.models import Project, PublisherToken\n"
        "print(Project.objects.filter(normalized_name='e2e-burst').count(), "
        "PublisherToken.objects.filter(run__source='octo/e2e-burst').count())",
    )
    assert counted.stdout.split() == ["1", "1"]


@pytest.mark.parametrize("path", ["/legacy/", "/account/login/", "/_/oidc/mint-token"])
def test_a_content_length_that_is_not_a_number_gets_400_not_500(server: Server, path: str):
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {urlsplit(server.url).netloc}\r\nContent-Length: abc\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\na=1"
    )
    status_line, answer = raw_exchange(server, request.encode(), timeout=SOCKET_TIMEOUT)
    assert status_line.startswith("HTTP/1.1 400"), answer[:300]
    assert b"Content-Length header must be a whole number" in answer
