"""The ``packyard`` command, run as a user runs it: a separate process on a shared data dir."""

import os
import subprocess
import sys
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
