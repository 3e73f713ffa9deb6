"""PostgreSQL restarting under a running server: while it is down, requests get 503 with a
message and Retry-After (installers retry), health names the database; when it is back, the
same server answers again, without a restart."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, running_server

pytestmark = pytest.mark.e2e


@dataclass
class Cluster:
    url: str
    run_as: list[str]
    pg_ctl: str
    data: Path
    log: Path
    port: int

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.data), *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("-l", str(self.log), "-w", "-o", options, "start")

    def stop(self) -> None:
        self.ctl("-m", "immediate", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this test's own, which it may stop and start."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL's server binaries are not installed (scripts/test installs them)")
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="packyard-restart-"))
    run_as: list[str] = []
    if os.getuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    cluster = Cluster(
        url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        run_as=run_as,
        pg_ctl=str(bin_dir / "pg_ctl"),
        data=root / "data",
        log=root / "log",
        port=port,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(
            [*run_as, cluster.pg_ctl, "-D", str(cluster.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def answer(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as ok:
            return ok.status, ok.read().decode(), ""
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.read().decode(), refused.headers.get("Retry-After", "")


def test_the_server_answers_503_while_the_database_restarts_and_recovers(
    cluster, tmp_path_factory, oidc_servers
):
    with running_server(
        tmp_path_factory.mktemp("restart"), oidc_servers, shared_database=cluster.url
    ) as server:
        assert answer(f"{server.url}/simple/")[0] == 200
        cluster.stop()
        status, text, retry_after = answer(f"{server.url}/simple/")
        assert status == 503
        assert "database is unavailable" in text
        assert retry_after == "5"
        status, text, _ = answer(f"{server.url}/_/health")
        assert status == 503
        assert "database" in text
        cluster.start()
        deadline = time.monotonic() + 30
        while answer(f"{server.url}/_/health")[0] != 200:
            assert time.monotonic() < deadline, "the server did not reconnect"
            time.sleep(0.2)  # polling the server's state, not timing a test
        assert answer(f"{server.url}/simple/")[0] == 200
