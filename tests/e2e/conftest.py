"""A real ``packyard serve`` on a loopback port, and the real publishing and install tools."""

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import issuers_file
from tests.oidc_issuer import TestIssuer

ROOT = Path(__file__).resolve().parents[2]
# pdm 2.29 breaks with hishel 2 (removed SyncSqliteStorage); pdm[locked] pins hishel 1 too.
# setuptools and wheel: pip builds old sdists with them (--no-build-isolation), offline.
TOOLS = ["twine", "uv", "poetry", "hatch", "pdm", "hishel<2", "flit", "build", "pip"]
TOOLS += ["setuptools", "wheel"]
# The identity-token detection pypa's publish action uses (GitHub, GitLab, and others).
TOOLS += ["id"]
# 6.8.0 is the newest bandersnatch that runs on Python 3.11; 8.2.0 behaves the same towards us.
PEER_TOOLS = ["bandersnatch==6.8.0", "pypiserver==2.4.2", "devpi-server==6.20.3"]
TOOLS_DIR = Path(os.environ.get("PACKYARD_E2E_TOOLS", ROOT / ".cache" / "e2e-tools"))
COMMAND_TIMEOUT = 600
PASSWORD = "an end-to-end pass phrase 1"
SOCKET_TIMEOUT = 5


def run(
    args: list[str | Path],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def twine_upload(
    tools: "Tools", server: "Server", files: list[Path], *, token: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            tools.twine,
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            server.upload_url,
            "-u",
            "__token__",
            "-p",
            token or server.token,
            *files,
        ],
        check=check,
    )


@dataclass
class Tools:
    bin: Path

    def __getattr__(self, name: str) -> Path:
        return self.bin / name.replace("_", "-")


def _tool_venv(directory: Path, packages: list[str]) -> Tools:
    """A venv with these tools, kept between runs and rebuilt when the list changes."""
    stamp = hashlib.sha256(" ".join(packages).encode() + sys.version.encode()).hexdigest()
    marker = directory / "tools.stamp"
    if not (marker.exists() and marker.read_text() == stamp):
        shutil.rmtree(directory, ignore_errors=True)
        run([sys.executable, "-m", "venv", directory])
        run([directory / "bin" / "pip", "install", "--quiet", "--upgrade", *packages])
        marker.write_text(stamp)
    return Tools(bin=directory / "bin")


@pytest.fixture(scope="session")
def tools() -> Tools:
    """One venv with every client."""
    return _tool_venv(TOOLS_DIR, TOOLS)


@pytest.fixture(scope="session")
def peer_tools() -> Tools:
    """Other indexes and mirrors (pypiserver, devpi, bandersnatch), in a venv of their own: they pin
    their own versions of what the clients also use."""
    return _tool_venv(TOOLS_DIR.with_name(TOOLS_DIR.name + "-peers"), PEER_TOOLS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_postgres_database(url: str) -> str:
    """A database of its own for the server, beside the one pytest-django made for the tests."""
    import psycopg

    parts = urlsplit(url)
    name = f"packyard_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"  # servers may run side by side
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log: Path
    token: str
    pid: int = 0  # the uWSGI master's

    @property
    def upload_url(self) -> str:
        return f"{self.url}/legacy/"

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple/"

    def packyard(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([sys.executable, "-m", "packyard.cli", *args], env=self.env)

    def shell(self, code: str) -> None:
        self.packyard("manage", "shell", "--no-imports", "-c", code)

    def requests_seen(self) -> str:
        return self.log.read_text()

    def create_user(self, name: str, password: str = PASSWORD) -> None:
        run(
            [
                sys.executable,
                "-m",
                "packyard.cli",
                "user",
                "create",
                name,
                "--email",
                f"{name}@example.com",
            ],
            env=self.env | {"PACKYARD_PASSWORD": password},
        )

    def mail_to(self, address: str) -> str:
        """The newest message sent to the address, from the server's mail directory."""
        messages = sorted(
            (Path(self.env["PACKYARD_DATA_DIR"]) / "mail").glob("*.log"),
            key=lambda path: path.stat().st_mtime,
        )
        for path in reversed(messages):
            text = path.read_text()
            if f"To: {address}" in text:
                return text
        raise AssertionError(f"no mail to {address}")


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"packyard serve exited:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling a starting server, not timing a test
    raise AssertionError(f"packyard serve did not become healthy:\n{log.read_text()[-4000:]}")


@contextlib.contextmanager
def running_server(
    data_dir: Path,
    oidc_servers: dict[str, TestIssuer],
    *,
    port: int = 0,
    shared_database: str = "",
    with_alice: bool = True,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`packyard serve` on a loopback port, its own data dir and (when the tests run on
    PostgreSQL) its own database unless given `shared_database`, with alice and her token;
    stopped on leaving."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    # localhost, not 127.0.0.1: browsers accept localhost as a WebAuthn relying party.
    url = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKYARD_", "DJANGO_"))}
    env |= {
        "PACKYARD_DATA_DIR": str(data_dir),
        "PACKYARD_BASE_URL": url,
        "PACKYARD_EMAIL_URL": f"file://{data_dir / 'mail'}",
        # The recognition programme, for its browser test (a quorum its three members can reach).
        "PACKYARD_FELLOWS": "1",
        "PACKYARD_FELLOWS_QUORUM": "2",
        "PYTHONPATH": str(ROOT / "src"),
        # The tests' own CI issuers (tests/oidc_issuer.py), for trusted publishing.
        "PACKYARD_OIDC_ISSUERS_FILE": str(
            issuers_file(data_dir / "issuers.json", oidc_servers, audience=None)
        ),
    }
    env |= extra_env or {}
    database_url = "" if shared_database else os.environ.get("PACKYARD_DATABASE_URL")
    if database_url:
        env["PACKYARD_DATABASE_URL"] = fresh_postgres_database(database_url)
    elif shared_database:
        env["PACKYARD_DATABASE_URL"] = shared_database
    log = data_dir / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "packyard.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
                # Short, so the stalled-upload test waits seconds, not the default half minute.
                "--socket-timeout",
                str(SOCKET_TIMEOUT),
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(url, process, log)
        base = Server(url=url, env=env, log=log, token="", pid=process.pid)
        token = ""
        if with_alice:
            base.create_user("alice")
            token = base.packyard("token", "create", "alice").stdout.strip().splitlines()[-1]
        yield Server(url=url, env=env, log=log, token=token, pid=process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if database_url:
            drop_postgres_database(env["PACKYARD_DATABASE_URL"])


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, oidc_servers: dict[str, TestIssuer]
) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server"), oidc_servers) as running:
        yield running


@pytest.fixture
def project_dir(tmp_path: Path):
    """Write a small project: files given as {relative path: text}."""

    def make(files: dict[str, str]) -> Path:
        for relative, text in files.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return tmp_path

    return make


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def watch_console(context: BrowserContext, errors: list[str]) -> None:
    """Collect every error a page of the context writes to its console or throws: a page that
    works logs none."""
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda error: errors.append(str(error.error)))


@pytest.fixture
def console_errors() -> list[str]:
    """The console errors of the test's browser context; a test that provokes one on purpose
    removes it, and any left fail the test."""
    return []


@pytest.fixture
def context(browser: Browser, console_errors: list[str]) -> Iterator[BrowserContext]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    watch_console(context, console_errors)
    yield context
    context.close()
    assert not console_errors, f"the pages wrote errors to the browser's console: {console_errors}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
