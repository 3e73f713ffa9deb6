"""bandersnatch mirrors a Packyard index, in its simple mode and its serial (XML-RPC) mode, and
follows a yank and an upload on the next sync; pip installs from the mirror."""

import hashlib
from pathlib import Path

import pytest

from tests import dists
from tests.e2e.conftest import Server, Tools, run, twine_upload

pytestmark = pytest.mark.e2e


def publish(tools: Tools, server: Server, directory: Path, name: str, version: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = [
        directory / dists.wheel_filename(name, version),
        directory / dists.sdist_filename(name, version),
    ]
    files[0].write_bytes(dists.make_wheel(name, version))
    files[1].write_bytes(dists.make_sdist(name, version))
    twine_upload(tools, server, files)
    return files


def mirror(peer_tools: Tools, server: Server, directory: Path, name: str, api: str) -> None:
    config = directory / "bandersnatch.conf"
    config.write_text(
        "[mirror]\n"
        f"directory = {directory / 'mirror'}\n"
        f"master = {server.url}\n"
        "allow-non-https = true\n"
        f"api-method = {api}\n"
        "stop-on-error = true\n"
        "workers = 1\n"
        "verifiers = 1\n"
        "timeout = 20\n"
        "global-timeout = 300\n"
        "[plugins]\nenabled =\n    allowlist_project\n"
        f"[allowlist]\npackages =\n    {name}\n"
    )
    run([peer_tools.bandersnatch, "--config", config, "mirror"])


def mirrored_files(directory: Path) -> dict[str, str]:
    web = directory / "mirror" / "web" / "packages"
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in web.rglob("*")
        if path.is_file()
    }


def sha256s(files: list[Path]) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def yank(server: Server, name: str, version: str) -> None:
    server.shell(
        "from packyard.accounts.models import User\n"
        "from packyard.packages import services\n"
        "from packyard.packages.models import Release\n"
        f"release = Release.objects.get(project__normalized_name={name!r}, version={version!r})\n"
        "services.release_yank(release=release, reason='broken', actor=User.objects.get("
        "username='alice'), request=None)\n"
    )


@pytest.mark.parametrize("api", ["simple", "xmlrpc"])
def test_bandersnatch_mirrors_and_follows_changes(
    tools: Tools, peer_tools: Tools, server: Server, tmp_path: Path, api: str
):
    name = f"e2e-mirrored-{api}"
    first = publish(tools, server, tmp_path / "dist", name, "1.0")
    first += publish(tools, server, tmp_path / "dist", name, "2.0")
    mirror(peer_tools, server, tmp_path, name, api)
    assert mirrored_files(tmp_path) == sha256s(first)  # every file, byte for byte

    simple = tmp_path / "mirror" / "web" / "simple"
    target = tmp_path / "installed"
    run(
        [
            tools.pip,
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            target,
            "--index-url",
            simple.as_uri() + "/",
            name,
        ]
    )
    assert (target / f"{name.replace('-', '_')}-2.0.dist-info").is_dir()

    yank(server, name, "2.0")
    later = publish(tools, server, tmp_path / "dist", name, "3.0")
    mirror(peer_tools, server, tmp_path, name, api)
    assert mirrored_files(tmp_path) == sha256s(first + later)
    page = (simple / name / "index.html").read_text()
    wheel_2 = dists.wheel_filename(name, "2.0")
    assert f'data-yanked="broken">{wheel_2}<' in page.replace("\n", "")
