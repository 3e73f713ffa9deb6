"""A team moves in from pypiserver: `packyard import` reads its index over HTTP, every file
arrives byte for byte under its old name, and pip installs from Packyard."""

import hashlib
import json
import os
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import dists
from tests.e2e.conftest import Server, Tools, free_port, run
from tests.e2e.test_clients import simple_json
from tests.packages.importer.legacy import old_pkg_info, tar_sdist, zip_sdist

pytestmark = pytest.mark.e2e


def legacy_files(prefix: str = "E2E") -> dict[str, bytes]:
    """Names an old index holds: capitals, dots, a zip sdist, metadata 1.0 and 2.0; the sdists
    build (setuptools, no network), so pip can install every file."""
    legacy, zipped = f"{prefix}_Legacy", f"{prefix}.Zipped"
    return {
        f"{legacy}-3.2.tar.gz": tar_sdist(
            f"{legacy}-3.2", old_pkg_info(legacy, "3.2"), buildable=True
        ),
        f"{zipped}-5.4.1.zip": zip_sdist(
            f"{zipped}-5.4.1",
            old_pkg_info(zipped, "5.4.1", metadata_version="2.0"),
            buildable=True,
        ),
        f"{legacy.lower()}-3.3-py3-none-any.whl": dists.make_wheel(legacy.lower(), "3.3"),
    }


def pip_installs(tools: Tools, server: Server, target: Path, requirement: str) -> None:
    """pip builds an sdist with the setuptools beside it: the index holds only the import."""
    install: list[str | Path] = [tools.pip, "install", "--quiet", "--no-deps", "--target", target]
    run([*install, "--no-build-isolation", "--index-url", server.index_url, requirement])


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
    pip_installs(tools, server, target, "e2e-legacy==3.3")
    assert (target / "e2e_legacy-3.3.dist-info").is_dir()

    again = server.packyard("import", url, "--owner", "alice")
    assert again.stdout.strip().endswith("0 imported, 3 skipped, 0 refused.")


def test_a_directory_is_imported_with_its_times_and_every_file_installs(
    server: Server, tools: Tools, tmp_path: Path
):
    tree = tmp_path / "packages"
    tree.mkdir()
    files = legacy_files("E2E_Dir")
    for number, (filename, content) in enumerate(files.items()):
        (tree / filename).write_bytes(content)
        moment = datetime(2013, 5, 1 + number, 12, 0, tzinfo=UTC).timestamp()
        os.utime(tree / filename, (moment, moment))
    imported = server.packyard("import", str(tree), "--owner", "alice")
    assert imported.stdout.strip().endswith("3 imported, 0 skipped, 0 refused.")

    with urllib.request.urlopen(f"{server.url}/pypi/e2e-dir-legacy/json", timeout=10) as answer:
        releases = json.load(answer)["releases"]
    times = {f["filename"]: f["upload_time_iso_8601"] for r in releases.values() for f in r}
    assert times == {
        "E2E_Dir_Legacy-3.2.tar.gz": "2013-05-01T12:00:00Z",
        "e2e_dir_legacy-3.3-py3-none-any.whl": "2013-05-03T12:00:00Z",
    }
    for requirement, installed in (
        ("e2e-dir-legacy==3.2", "e2e_dir_legacy-3.2.dist-info"),  # built from the old sdist
        ("e2e-dir-legacy==3.3", "e2e_dir_legacy-3.3.dist-info"),
        ("e2e-dir-zipped==5.4.1", "e2e_dir_zipped-5.4.1.dist-info"),
    ):
        target = tmp_path / requirement
        pip_installs(tools, server, target, requirement)
        assert (target / installed).is_dir(), sorted(p.name for p in target.iterdir())


# Real files from the public index, as old as PyPI's own history: sdists named before PEP 625,
# metadata 1.0 to 2.1 (six 1.10.0's wheel says 2.0), a .zip sdist from 2013.
REAL_FILES = {
    "pyyaml": "PyYAML-5.4.1.tar.gz",
    "zope-interface": "zope.interface-5.4.0.tar.gz",
    "six": "six-1.10.0-py2.py3-none-any.whl",
    "pytz": "pytz-2013.6.zip",
}


def pypi_entry(project: str, filename: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"https://pypi.org/simple/{project}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    entry: dict[str, Any] = next(f for f in files if f["filename"] == filename)
    return entry


def test_real_legacy_files_from_pypi_arrive_as_pypi_has_them(
    server: Server, tools: Tools, tmp_path: Path
):
    """A directory as a team's old index keeps it: real files, their modification times the
    times PyPI lists for them."""
    tree = tmp_path / "old-index"
    tree.mkdir()
    entries = {filename: pypi_entry(project, filename) for project, filename in REAL_FILES.items()}
    for filename, entry in entries.items():
        with urllib.request.urlopen(entry["url"], timeout=60) as answer:
            (tree / filename).write_bytes(answer.read())
        moment = datetime.fromisoformat(entry["upload-time"].replace("Z", "+00:00")).timestamp()
        os.utime(tree / filename, (moment, moment))
    imported = server.packyard("import", str(tree), "--owner", "alice")
    assert imported.stdout.strip().endswith("4 imported, 0 skipped, 0 refused."), imported.stdout
    for project, filename in REAL_FILES.items():
        with urllib.request.urlopen(f"{server.url}/pypi/{project}/json", timeout=10) as answer:
            data = json.load(answer)
        (ours,) = (f for r in data["releases"].values() for f in r if f["filename"] == filename)
        assert ours["digests"]["sha256"] == entries[filename]["hashes"]["sha256"]
        # PyPI keeps microseconds; the JSON API shows seconds, as PyPI's does.
        assert ours["upload_time_iso_8601"][:19] == entries[filename]["upload-time"][:19]
    # A wheel, and an old sdist pip builds (pytz 2013.6's setup.py fails with today's setuptools).
    for requirement, installed in (
        ("six==1.10.0", "six-1.10.0.dist-info"),
        ("pyyaml==5.4.1", "pyyaml-5.4.1.dist-info"),
    ):
        target = tmp_path / requirement
        pip_installs(tools, server, target, requirement)
        assert (target / installed).is_dir()
