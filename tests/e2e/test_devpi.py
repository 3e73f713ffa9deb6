"""devpi beside Packyard, both ways: devpi mirrors Packyard and pip installs through it; a team
moves a devpi index into Packyard with `packyard import`."""

import base64
import hashlib
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests import dists
from tests.e2e.conftest import Server, Tools, free_port, run, twine_upload
from tests.e2e.test_clients import simple_json
from tests.packages.importer.legacy import old_pkg_info, tar_sdist, zip_sdist

pytestmark = pytest.mark.e2e
ROOT_PASSWORD = "devpi root pass phrase"


class Devpi:
    def __init__(self, url: str) -> None:
        self.url = url
        login = self.call("POST", "/+login", {"user": "root", "password": ROOT_PASSWORD})
        token = f"root:{login['result']['password']}"
        self.auth = base64.b64encode(token.encode()).decode()

    def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if hasattr(self, "auth"):
            headers["X-Devpi-Auth"] = self.auth
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            result: dict[str, Any] = json.load(answer)
        return result


@pytest.fixture(scope="module")
def devpi(peer_tools: Tools, tmp_path_factory: pytest.TempPathFactory):
    serverdir = tmp_path_factory.mktemp("devpi")
    run([peer_tools.devpi_init, "--serverdir", serverdir, "--root-passwd", ROOT_PASSWORD])
    port = free_port()
    log = (serverdir / "server.log").open("wb")
    command: list[str | Path] = [peer_tools.devpi_server, "--serverdir", serverdir]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/+api", timeout=2):
                break
        except OSError:
            time.sleep(0.3)  # polling a starting server, not timing a test
    yield Devpi(url)
    process.terminate()
    process.wait(timeout=20)
    log.close()


def test_devpi_mirrors_packyard_and_pip_installs_through_it(
    devpi: Devpi, server: Server, tools: Tools, tmp_path: Path
):
    name = "e2e-devpi-mirrored"
    wheel = tmp_path / dists.wheel_filename(name, "1.0")
    wheel.write_bytes(dists.make_wheel(name, "1.0"))
    twine_upload(tools, server, [wheel])
    devpi.call("PUT", "/root/packyard", {"type": "mirror", "mirror_url": server.index_url})
    target = tmp_path / "installed"
    install: list[str | Path] = [tools.pip, "install", "--quiet", "--no-deps", "--target", target]
    run([*install, "--index-url", f"{devpi.url}/root/packyard/+simple/", f"{name}==1.0"])
    assert (target / "e2e_devpi_mirrored-1.0.dist-info").is_dir()


def test_a_devpi_index_is_imported_whole(devpi: Devpi, server: Server, tools: Tools, tmp_path):
    devpi.call("PUT", "/root/team", {"type": "stage", "bases": [], "volatile": True})
    files = {
        "E2E_Devpi_Old-1.0.tar.gz": tar_sdist(
            "E2E_Devpi_Old-1.0", old_pkg_info("E2E_Devpi_Old", "1.0", metadata_version="1.1")
        ),
        # twine refuses to send 1.0 with classifiers (old files have it; a directory imports it)
        "E2E_Devpi_Old-1.1.zip": zip_sdist(
            "E2E_Devpi_Old-1.1", old_pkg_info("E2E_Devpi_Old", "1.1", metadata_version="1.1")
        ),
        "e2e_devpi_old-1.1-py3-none-any.whl": dists.make_wheel("e2e_devpi_old", "1.1"),
    }
    for filename, content in files.items():
        (tmp_path / filename).write_bytes(content)
    upload: list[str | Path] = [tools.twine, "upload", "--non-interactive"]
    upload += ["--repository-url", f"{devpi.url}/root/team/", "-u", "root", "-p", ROOT_PASSWORD]
    run([*upload, *(tmp_path / filename for filename in files)])
    imported = server.packyard("import", f"{devpi.url}/root/team/+simple/", "--owner", "alice")
    assert imported.stdout.strip().endswith("3 imported, 0 skipped, 0 refused."), imported.stdout
    listed = {entry["filename"]: entry for entry in simple_json(server, "e2e-devpi-old")["files"]}
    assert set(listed) == set(files)
    for filename, content in files.items():
        with urllib.request.urlopen(server.url + listed[filename]["url"], timeout=10) as answer:
            assert hashlib.sha256(answer.read()).hexdigest() == hashlib.sha256(content).hexdigest()
