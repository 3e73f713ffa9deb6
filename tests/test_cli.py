"""The ``packyard`` command, run as a user runs it: a separate process on a shared data dir."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from packyard.cli import parse_duration


@pytest.fixture
def run(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKYARD_", "DJANGO_"))}
    env |= {"PACKYARD_DATA_DIR": str(tmp_path), "PACKYARD_EMAIL_URL": "console:"}

    def packyard(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "packyard.cli", *args],
            env=env | extra,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    assert packyard("manage", "migrate", "--verbosity", "0").returncode == 0
    return packyard


def _erin(run) -> None:
    created = run(
        "user",
        "create",
        "erin",
        "--email",
        "erin@example.com",
        PACKYARD_PASSWORD="a long enough pass phrase 9",
    )
    assert created.returncode == 0, created.stderr


def test_user_and_token_create(run):
    _erin(run)
    result = run("token", "create", "erin", "--expires", "30d", "--description", "ci")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("packyard-")
    assert " " not in token


def test_read_only_token_create(run):
    _erin(run)
    result = run("token", "create", "erin", "--read-only")
    assert result.returncode == 0, result.stderr
    *summary, token = result.stdout.strip().splitlines()
    assert "read-only" in summary[-1]
    assert token.startswith("packyard-")


def test_user_create_refuses_weak_password(run):
    result = run("user", "create", "erin", "--email", "erin@example.com", PACKYARD_PASSWORD="123")
    assert result.returncode != 0
    assert "too short" in result.stderr


def test_user_create_without_password_and_terminal_explains(run):
    result = run("user", "create", "erin", "--email", "erin@example.com")
    assert result.returncode != 0
    assert "PACKYARD_PASSWORD" in result.stderr


def test_token_create_for_unknown_project_refused(run):
    _erin(run)
    result = run("token", "create", "erin", "--project", "nothing")
    assert result.returncode != 0
    assert "no project named 'nothing'" in result.stderr


def test_token_create_for_unknown_user_refused(run):
    result = run("token", "create", "nobody")
    assert result.returncode != 0
    assert "No user named 'nobody'" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("2w", 1209600)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "0d", "10", "1y", "-1d"])
def test_parse_duration_refuses_nonsense(text):
    with pytest.raises(Exception, match="not a duration"):
        parse_duration(text)


def test_a_wrong_setting_stops_with_its_message_not_a_traceback(run, tmp_path: Path):
    result = run("serve", PACKYARD_GEOIP_DATABASE=str(tmp_path / "GeoLite2-City.mmdb"))
    assert result.returncode == 2
    assert "PACKYARD_GEOIP_DATABASE=" in result.stderr
    assert "is not a readable MaxMind database" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_for_a_new_project_checks_the_name(run):
    _erin(run)
    result = run("token", "create", "erin", "--new-project=not_a name!")
    assert result.returncode != 0
    assert "is not a valid project name" in result.stderr


def test_import_reports_each_file_and_fails_when_one_was_refused(run, tmp_path: Path):
    import json

    from tests.packages.importer.legacy import legacy_tree

    _erin(run)
    legacy_tree(tmp_path / "tree")
    report = tmp_path / "report.json"
    first = run("import", str(tmp_path / "tree"), "--owner", "erin", "--report", str(report))
    assert first.returncode == 1, first.stderr  # the egg
    assert "refused demo-1.0-py2.7.egg: eggs are not installed by pip or uv" in first.stdout
    assert first.stdout.strip().endswith("4 imported, 0 skipped, 1 refused.")
    written = json.loads(report.read_text())
    assert (written["imported"], written["refused"]) == (4, 1)
    assert {entry["status"] for entry in written["files"]} == {"imported", "refused"}
    only_new = run("import", str(tmp_path / "tree"), "--owner", "erin", "--project", "django")
    assert only_new.returncode == 0
    assert only_new.stdout.strip().endswith("0 imported, 1 skipped, 0 refused.")


def test_import_needs_an_owner_and_a_source(run, tmp_path: Path):
    unknown = run("import", str(tmp_path), "--owner", "nobody")
    assert unknown.returncode == 2
    assert "No active user 'nobody'" in unknown.stderr
    _erin(run)
    missing = run("import", str(tmp_path / "nothing"), "--owner", "erin")
    assert missing.returncode == 2
    assert "is neither a directory nor an http(s) index address" in missing.stderr


def test_a_data_dir_that_does_not_exist_yet_is_made_with_a_secret_key_set(run, tmp_path: Path):
    data_dir = tmp_path / "new" / "data"
    result = run(
        "manage",
        "migrate",
        "--verbosity",
        "0",
        PACKYARD_DATA_DIR=str(data_dir),
        PACKYARD_SECRET_KEY="a-set-secret-key-" + "x" * 40,
    )
    assert result.returncode == 0, result.stderr
    assert (data_dir / "packyard.sqlite3").exists()
    assert not (data_dir / "secret_key").exists()  # the key was given: none generated


def test_a_data_dir_that_cannot_be_made_is_named(run, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run(
        "manage",
        "migrate",
        PACKYARD_DATA_DIR=str(blocker / "data"),
        PACKYARD_SECRET_KEY="a-set-secret-key-" + "x" * 40,
    )
    assert result.returncode != 0
    assert "cannot create PACKYARD_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_sweeps_what_killed_uploads_left_and_keeps_live_ones(tmp_path: Path):
    from packyard.cli import STALE_UPLOAD_SECONDS, sweep_upload_temp

    dead = tmp_path / "tmpdead.upload.whl"
    live = tmp_path / "tmplive.upload.tar.gz"
    unrelated = tmp_path / "notes.txt"
    for path in (dead, live, unrelated):
        path.write_bytes(b"partial")
    old = time.time() - STALE_UPLOAD_SECONDS - 60
    os.utime(dead, (old, old))
    os.utime(unrelated, (old, old))
    assert sweep_upload_temp(tmp_path) == 1
    assert not dead.exists()
    assert live.exists()
    assert unrelated.exists()


def test_serve_makes_the_file_store_directory_it_is_given(tmp_path: Path):
    import signal
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = tmp_path / "elsewhere" / "files"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKYARD_", "DJANGO_"))}
    env |= {
        "PACKYARD_DATA_DIR": str(tmp_path / "data"),
        "PACKYARD_STORAGE_URL": f"file://{store}",
        "PACKYARD_EMAIL_URL": "console:",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "packyard.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_/health", timeout=2) as ok:
                    assert ok.status == 200  # the store is there and writable
                    break
            except OSError:
                assert time.monotonic() < deadline
                assert server.poll() is None
                time.sleep(0.2)  # polling a starting server, not timing a test
        assert store.is_dir()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_the_server_holds_malloc_to_two_arenas_unless_the_operator_chose():
    from packyard.cli import server_environ

    assert server_environ({"PATH": "/bin"}) == {"PATH": "/bin", "MALLOC_ARENA_MAX": "2"}
    assert server_environ({"MALLOC_ARENA_MAX": "8"})["MALLOC_ARENA_MAX"] == "8"
