"""What the benchmark scripts share: a fresh PostgreSQL database, and `packyard serve` from this
virtualenv pinned to the server core (CPU 0), answering its health check or failing loudly."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

VENV_BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recreate_postgres_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-qc", sql], check=True)


def serve_pinned(
    env: dict[str, str],
    log: IO[bytes] | int = subprocess.DEVNULL,
    extra_args: list[str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server and wait for /_/health; the process and its base URL."""
    port = free_port()
    command = [str(VENV_BIN / "packyard"), "serve", "--port", str(port), *(extra_args or [])]
    server = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            urllib.request.urlopen(base + "/_/health", timeout=1).close()  # noqa: S310 - loopback
            return server, base
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()
                raise SystemExit(f"packyard serve did not answer on {base}") from None
            time.sleep(0.1)
