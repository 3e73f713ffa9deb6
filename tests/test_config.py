"""The configuration: production refuses unsafe defaults, naming the variable to set."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

SRC = str(Path(__file__).resolve().parent.parent / "src")
GOOD_PRODUCTION = {
    "PACKYARD_ENV": "production",
    "PACKYARD_SECRET_KEY": "k" * 60,
    "PACKYARD_BASE_URL": "https://pypi.example.org",
    "PACKYARD_ALLOWED_HOSTS": "pypi.example.org",
}


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PACKYARD_", "DJANGO_"))}
    clean |= {"PACKYARD_DATA_DIR": str(tmp_path), "PYTHONPATH": SRC} | env
    return subprocess.run(
        [sys.executable, "-c", "import packyard.settings"],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_settings_load_when_complete(tmp_path):
    assert load_settings(tmp_path, **GOOD_PRODUCTION).returncode == 0


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"PACKYARD_SECRET_KEY": ""}, "PACKYARD_SECRET_KEY"),
        ({"PACKYARD_SECRET_KEY": "short"}, "PACKYARD_SECRET_KEY"),
        ({"PACKYARD_BASE_URL": "http://pypi.example.org"}, "PACKYARD_BASE_URL"),
        ({"PACKYARD_BASE_URL": ""}, "PACKYARD_BASE_URL"),
        ({"PACKYARD_ALLOWED_HOSTS": ""}, "PACKYARD_ALLOWED_HOSTS"),
        ({"PACKYARD_DEBUG": "1"}, "PACKYARD_DEBUG"),
    ],
)
def test_production_refuses_to_start_and_names_the_variable(tmp_path, override, named):
    result = load_settings(tmp_path, **(GOOD_PRODUCTION | override))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PACKYARD_MAX_FILE_SIZE": "lots"}, "PACKYARD_MAX_FILE_SIZE"),
        ({"PACKYARD_UPLOAD_AUTH": "maybe"}, "PACKYARD_UPLOAD_AUTH"),
        ({"PACKYARD_PRIVATE": "perhaps"}, "PACKYARD_PRIVATE"),
        ({"PACKYARD_EMAIL_URL": "pigeon://coop"}, "PACKYARD_EMAIL_URL"),
        ({"PACKYARD_DATABASE_URL": "mysql://x/y"}, "PACKYARD_DATABASE_URL"),
        ({"PACKYARD_TOKEN_PREFIX": "my-prefix"}, "PACKYARD_TOKEN_PREFIX"),
    ],
)
def test_bad_values_are_refused_by_name(tmp_path, env, named):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert named in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("upload_auth", "require_2fa"),
    [
        ("any", "all"),
        ("any", "uploaders"),
        ("tokens-if-2fa", "all"),
        ("tokens-if-2fa", "uploaders"),
    ],
)
def test_password_uploads_beside_a_2fa_policy_refuse_to_start(tmp_path, upload_auth, require_2fa):
    env = {"PACKYARD_UPLOAD_AUTH": upload_auth, "PACKYARD_REQUIRE_2FA": require_2fa}
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    last_line = result.stderr.splitlines()[-1]
    assert "PACKYARD_UPLOAD_AUTH" in last_line
    assert "PACKYARD_REQUIRE_2FA" in last_line


def test_password_uploads_start_when_2fa_is_not_required(tmp_path):
    env = {"PACKYARD_UPLOAD_AUTH": "any", "PACKYARD_REQUIRE_2FA": "off"}
    assert load_settings(tmp_path, **env).returncode == 0


def test_secret_key_file_variant_is_read(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("f" * 60 + "\n")
    env = GOOD_PRODUCTION | {"PACKYARD_SECRET_KEY": "", "PACKYARD_SECRET_KEY_FILE": str(key_file)}
    env.pop("PACKYARD_SECRET_KEY")
    assert load_settings(tmp_path, **env).returncode == 0


def test_development_secret_key_is_generated_once_and_private(tmp_path):
    assert load_settings(tmp_path).returncode == 0
    key_file = tmp_path / "secret_key"
    first = key_file.read_text()
    assert load_settings(tmp_path).returncode == 0
    assert key_file.read_text() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_sqlite_runs_in_wal_mode(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
    # The test database lives in memory, where SQLite reports "memory"; a file database is WAL.
    assert mode in {"wal", "memory"}


@pytest.mark.django_db
def test_no_model_changes_without_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_health_is_ok(client):
    response = client.get("/_/health")
    assert response.status_code == 200


@pytest.mark.django_db
def test_health_reports_missing_file_store(client, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "gone"},
        },
    }
    response = client.get("/_/health")
    assert response.status_code == 503
    assert b"file store" in response.content


def test_every_setting_is_documented():
    source = (Path(SRC) / "packyard" / "settings.py").read_text()
    documented = (Path(SRC).parent / "docs" / "configuration.md").read_text()
    names = set(__import__("re").findall(r'"(PACKYARD_[A-Z_]+)"', source))
    assert names, "no settings found"
    missing = sorted(name for name in names if f"`{name}`" not in documented)
    assert not missing, f"undocumented: {missing}"
