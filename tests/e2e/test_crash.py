"""A worker killed (SIGKILL) in the middle of an upload: nothing of the upload is visible, the
server goes on, and `packyard check` finds the index consistent."""

import os
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import dists
from tests.conftest import basic_auth
from tests.e2e.conftest import Server, Tools, running_server, twine_upload

pytestmark = pytest.mark.e2e


def workers_of(master: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.append(int(entry.name))
    return children


def start_upload(server: Server, name: str, size: int, sent: int) -> socket.socket:
    """An upload whose body stops after `sent` of its bytes, the connection left open."""
    wheel = dists.make_wheel(name, "1.0", members={"big.bin": os.urandom(size)})
    boundary = "crashboundary"
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        for key, value in {
            ":action": "file_upload",
            "protocol_version": "1",
            "metadata_version": "2.4",
            "name": name,
            "version": "1.0",
            "filetype": "bdist_wheel",
            "pyversion": "py3",
        }.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{dists.wheel_filename(name, "1.0")}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + wheel + f"\r\n--{boundary}--\r\n".encode()
    parts = urlsplit(server.url)
    connection = socket.create_connection((parts.hostname, parts.port or 80))
    connection.sendall(
        (
            "POST /legacy/ HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\n"
            f"Authorization: {basic_auth('__token__', server.token)}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body[:sent]
    )
    return connection


def test_a_worker_killed_mid_upload_leaves_nothing_visible(
    tmp_path_factory, oidc_servers, tools: Tools, tmp_path
):
    data_dir = tmp_path_factory.mktemp("crash")
    with running_server(data_dir, oidc_servers) as server:
        connection = start_upload(server, "e2e-crash", size=4 * 1024 * 1024, sent=2 * 1024 * 1024)
        receiving = data_dir / "tmp"
        deadline = time.monotonic() + 30
        while not list(receiving.glob("*.upload*")):  # the worker is writing the file down
            assert time.monotonic() < deadline, "the upload never reached a worker"
            time.sleep(0.05)  # polling for the server's state, not timing a test
        killed = workers_of(server.pid)
        assert killed
        for worker in killed:
            os.kill(worker, signal.SIGKILL)
        connection.close()

        # uWSGI's master starts new workers; the index answers and has nothing of the upload.
        path = tmp_path / dists.wheel_filename("e2e-after-crash", "1.0")
        path.write_bytes(dists.make_wheel("e2e-after-crash", "1.0"))
        twine_upload(tools, server, [path])
        listing = server.packyard(
            "manage",
            "shell",
            "--no-imports",
            "-c",
            "from packyard.packages.models import File\n"
            "print(sorted(File.objects.values_list('filename', flat=True)))",
        )
        assert listing.stdout.strip() == "['e2e_after_crash-1.0-py3-none-any.whl']"
        stored = sorted(p.name for p in (data_dir / "files").rglob("*") if p.is_file())
        assert stored == [
            "e2e_after_crash-1.0-py3-none-any.whl",
            "e2e_after_crash-1.0-py3-none-any.whl.metadata",
        ]
        checked = server.packyard("check")
        assert "The index is consistent." in checked.stdout
    # What the killed worker was writing is left (a worker that lived would have removed it)
    # until the next start sweeps it.
    assert list(receiving.glob("*.upload*"))
