"""A team moves in from pypiserver: `packyard import` reads its index over HTTP, every file
arrives byte for byte under its old name, and pip installs from Packyard."""

import hashlib
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests import dists
from tests.e2e.conftest import Server, Tools, free_port, run
from tests.e2e.test_clients import simple_json
from tests.packages.importer.legacy import old_pkg_info, tar_sdist, zip_sdist

pytestmark = pytest.mark.e2e


def legacy_files() -> dict[str, bytes]:
    """Names an old index holds: capitals, dots, a zip sdist, metadata 1.0 and 2.0."""
    return {
        "E2E_Legacy-3.2.tar.gz": tar_sdist("E2E_Legacy-3.2", old_pkg_info("E2E_Legacy", "3.2")),
        "E2E.Zipped-5.4.1.zip": zip_sdist(
            "E2E.Zipped-5.4.1", old_pkg_info("E2E.Zipped", "5.4.1", metadata_version="2.0")
        ),
        "e2e_legacy-3.2-py3-none-any.whl": dists.make_wheel("e2e_legacy", "3.2"),
    }


@pytest.fixture
def pypiserver(peer_tools: Tools, tmp_path: Path):
    packages = tmp_path / "pypiserver-packages"
    packages.mkdir()
    files = legacy_files()
    for filename, content in files.items():
        (packages / filename).write_bytes(content)
    port = free_port()
    log = (tmp_path / "pypiserver.log").open("wb")
    # No authentication, as many teams run it: -a . -P .
    command: list[str | Path] = [
        peer_tools.pypi_server,
        "run",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-a",
        ".",
        "-P",
    ]
    process = subprocess.Popen(
        [*command, ".", packages],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/simple/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except OSError:
            time.sleep(0.2)  # polling a starting server, not timing a test
    yield url, files
    process.terminate()
    process.wait(timeout=10)
    log.close()


def test_import_from_pypiserver_then_install(server: Server, pypiserver, tools: Tools, tmp_path):
    url, files = pypiserver
    report = tmp_path / "report.json"
    imported = server.packyard("import", url, "--owner", "alice", "--report", str(report))
    assert imported.stdout.strip().endswith("3 imported, 0 skipped, 0 refused.")
    assert json.loads(report.read_text())["imported"] == 3

    listed = {}
    for project in ("e2e-legacy", "e2e-zipped"):
        for entry in simple_json(server, project)["files"]:
            listed[entry["filename"]] = entry
    assert set(listed) == set(files)
    for filename, content in files.items():
        assert listed[filename]["url"].startswith("/packages/")
        with urllib.request.urlopen(server.url + listed[filename]["url"], timeout=10) as answer:
            assert hashlib.sha256(answer.read()).digest() == hashlib.sha256(content).digest()

    target = tmp_path / "installed"
    install: list[str | Path] = [
        tools.pip,
        "install",
        "--quiet",
        "--no-deps",
        "--only-binary",
        ":all:",
    ]
    run([*install, "--target", target, "--index-url", server.index_url, "e2e-legacy==3.2"])
    assert (target / "e2e_legacy-3.2.dist-info").is_dir()

    again = server.packyard("import", url, "--owner", "alice")
    assert again.stdout.strip().endswith("0 imported, 3 skipped, 0 refused.")
