"""Attacks on the running server, as an attacker makes them: parallel bursts through real
threads and sockets, not one request at a time through Django's test client."""

import http.client
import re
import threading
from collections import Counter
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest

from tests.e2e.conftest import PASSWORD, Server

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


@pytest.fixture(autouse=True)
def _limits_forgotten(server: Server):
    """Every test here comes from 127.0.0.1, like the other end-to-end tests: leave them a clean
    slate of rate limits."""
    yield
    server.shell(
        "from packyard.accounts.models import RateLimitCounter\n"
        "RateLimitCounter.objects.all().delete()\n"
    )


def burst(send) -> Counter[int]:
    """Send BURST requests at once from real threads; count the answers by status."""
    barrier = threading.Barrier(BURST)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        status = send()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(BURST)]
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
