import base64
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.hotp import HOTP
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from packyard.accounts.models import Event, User
from packyard.accounts.reauth import REAUTH_AT_KEY, REAUTH_FACTOR_KEY
from packyard.accounts.services import user_create
from packyard.env import storage_from_url
from packyard.tokens.mint import token_mint
from packyard.twofactor import secretbox, totp
from packyard.twofactor.models import RecoveryCode, TOTPDevice
from packyard.twofactor.services import TOTP_PURPOSE, recovery_codes_generate
from tests import dists
from tests.oidc_issuer import TestIssuer

PASSWORD = "a long enough pass phrase 42"


S3_BUCKET = "packyard-tests"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server (an emulator of the S3 protocol), in a process of its own,
    with the tests' bucket; started once, on first need."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("moto's S3 server did not start") from None
                time.sleep(0.1)  # polling a starting server, not timing a test
        s3_client(endpoint).create_bucket(Bucket=S3_BUCKET)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_storage_url(endpoint: str, prefix: str) -> str:
    return (
        f"s3://{S3_BUCKET}/{prefix}?endpoint_url={endpoint}&region=us-east-1&addressing_style=path"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_stores` run on local files and again on an S3 bucket."""
    if metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("_isolated_file_store", ["files", "s3"], indirect=True)


@pytest.fixture(autouse=True)
def _isolated_file_store(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> None:
    """Each test's own file store: a directory, or (for `both_stores` tests, the second time) a
    prefix of its own in the S3 bucket."""
    if getattr(request, "param", "files") == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        default = storage_from_url(s3_storage_url(endpoint, tmp_path.name))
        options = dict(default["OPTIONS"])
        options |= {"access_key": "testing", "secret_key": "testing"}
        settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}
        return
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    (tmp_path / "files").mkdir()


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


# The authenticator app of every test user with 2FA: codes come from totp_code().
TOTP_SECRET = b"packyard-test-secret"


def give_totp(user: User) -> User:
    sealed = secretbox.seal(TOTP_SECRET, purpose=TOTP_PURPOSE, owner=str(user.pk))
    TOTPDevice.objects.create(user=user, sealed_secret=sealed)
    recovery_codes_generate(user=user, request=None)
    first = RecoveryCode.objects.filter(user=user).order_by("pk").first()
    RecoveryCode.objects.filter(pk=first.pk).update(burned=timezone.now())  # saved and proven
    # The account has logged in from the test client's address before: codes log in at once.
    Event.objects.create(user=user, tag="account:login:success", ip_address="127.0.0.1")
    return user


def totp_code(user: User) -> str:
    """A valid code the user has not used yet, from the current step on.

    The step before the current one would give a third code per window, but it falls out of the
    drift window when a step boundary passes before the server checks it; so a test that needs
    more codes than the window holds forgets the device's last step instead (replays are
    tested with explicit codes)."""
    device = TOTPDevice.objects.get(user=user)
    current = totp.current_step()
    step = max(current, device.last_used_step + 1)
    if step > current + 1:
        TOTPDevice.objects.filter(pk=device.pk).update(last_used_step=current - 1)
        step = current
    hotp = HOTP(TOTP_SECRET, 6, SHA1(), enforce_key_length=False)  # noqa: S303 - RFC 6238
    return hotp.generate(step).decode()


@pytest.fixture
def alice(db: None) -> User:
    """Verified, with an authenticator app and saved recovery codes."""
    user = user_create(
        username="alice", email="alice@example.com", password=PASSWORD, verified=True
    )
    return give_totp(user)


@pytest.fixture
def bob(db: None) -> User:
    user = user_create(username="bob", email="bob@example.com", password=PASSWORD, verified=True)
    return give_totp(user)


@pytest.fixture
def unverified(db: None) -> User:
    return user_create(username="charlie", email="charlie@example.com", password=PASSWORD)


@pytest.fixture
def dave(db: None) -> User:
    """Verified, without a second factor."""
    return user_create(username="dave", email="dave@example.com", password=PASSWORD, verified=True)


def browser_for(user: User, *, reauthenticated: bool = True, with_key: bool = False) -> Client:
    """A CSRF-enforcing client logged in as the user, as if they had just re-authenticated
    (`with_key`: with a security key)."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    if reauthenticated:
        session = browser.session
        session[REAUTH_AT_KEY] = time.time()
        session[REAUTH_FACTOR_KEY] = "password+security-key" if with_key else "password+totp"
        session.save()
    return browser


@pytest.fixture
def alice_token(alice: User) -> str:
    return token_mint(user=alice, description="alice's token")[1]


@pytest.fixture
def bob_token(bob: User) -> str:
    return token_mint(user=bob, description="bob's token")[1]


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def upload_form(
    name: str = "demo",
    version: str = "1.0",
    *,
    kind: str = "wheel",
    content: bytes | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The multipart form twine sends, with a file built to match."""
    if kind == "wheel":
        filename = dists.wheel_filename(name, version)
        data = content if content is not None else dists.make_wheel(name, version)
        filetype, pyversion = "bdist_wheel", "py3"
    else:
        filename = dists.sdist_filename(name, version)
        data = content if content is not None else dists.make_sdist(name, version)
        filetype, pyversion = "sdist", "source"
    form: dict[str, Any] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.4",
        "name": name,
        "version": version,
        "summary": "test package",
        "filetype": filetype,
        "pyversion": pyversion,
        "sha256_digest": dists.sha256(data),
        "content": SimpleUploadedFile(filename, data, content_type="application/octet-stream"),
    }
    for key, value in overrides.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


@pytest.fixture
def upload(client: Client) -> Callable[..., Any]:
    def post(token: str | None, form: dict[str, Any], path: str = "/legacy/") -> Any:
        headers: dict[str, Any] = (
            {"HTTP_AUTHORIZATION": basic_auth("__token__", token)} if token else {}
        )
        return client.post(path, form, **headers)

    return post


# --- trusted publishing: the tests' own OpenID Connect issuers ---------------------------------


@pytest.fixture(scope="session")
def oidc_servers() -> Any:
    """One loopback issuer per kind the tests configure: GitHub-like, GitLab-like, generic."""
    servers = {kind: TestIssuer().start() for kind in ("github", "gitlab", "generic")}
    yield servers
    for server in servers.values():
        server.stop()


def issuers_file(path: Path, servers: dict[str, TestIssuer], audience: str | None) -> Path:
    """The issuers as the operator lists them; with no audience, the index's host is theirs."""
    entries = [
        {"url": server.url, "kind": kind} | ({"audience": audience} if audience else {})
        for kind, server in servers.items()
    ]
    path.write_text(json.dumps(entries))
    return path


@pytest.fixture
def oidc(settings: Any, tmp_path: Path, oidc_servers: dict[str, TestIssuer]) -> Any:
    """Trusted publishing turned on with the test issuers (fresh key caches per test); yields
    the issuers by kind. Tokens name the audience "testserver", the test client's host."""
    settings.PACKYARD_OIDC_ISSUERS_FILE = str(
        issuers_file(tmp_path / "issuers.json", oidc_servers, "testserver")
    )
    settings.PACKYARD_OIDC_AUDIENCE = "testserver"
    return oidc_servers
