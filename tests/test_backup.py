"""`packyard backup` and `packyard restore`, run as the operator runs them: an index backed up
and restored into an empty data dir (and database) passes `packyard check` and serves the same
pages byte for byte."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import dists

PAGES = (
    "from packyard.packages.index import pages\n"
    "from packyard.packages.index.routes import INDEX_KEYS, project_keys\n"
    "import hashlib\n"
    "for key in [*INDEX_KEYS, *project_keys('demo'), *project_keys('other')]:\n"
    "    page = pages.index_page(key) if key in INDEX_KEYS else pages.project_page(key.split('/')"
    "[-2], key)\n"
    "    print(key, hashlib.sha256(page.body).hexdigest())\n"
)

Packyard = Callable[..., subprocess.CompletedProcess[str]]


def packyard_in(data_dir: Path, database_url: str) -> Packyard:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKYARD_", "DJANGO_"))}
    env |= {"PACKYARD_DATA_DIR": str(data_dir), "PACKYARD_EMAIL_URL": "console:"}
    env |= {"PACKYARD_SECRET_KEY": "backup-test-key-" + "k" * 40}
    if database_url:
        env["PACKYARD_DATABASE_URL"] = database_url

    def packyard(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "packyard.cli", *args],
            env=env | extra,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    return packyard


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request) -> Iterator[tuple[str, str]]:
    """Two empty databases of the kind: the index's, and the one restored into."""
    if request.param == "sqlite":
        yield "", ""
        return
    server = os.environ.get("PACKYARD_DATABASE_URL")
    if not server:
        pytest.skip("PostgreSQL runs with PACKYARD_DATABASE_URL (scripts/test sets it)")
    from tests.e2e.conftest import drop_postgres_database, fresh_postgres_database

    first, second = fresh_postgres_database(server), fresh_postgres_database(server)
    yield first, second
    drop_postgres_database(first)
    drop_postgres_database(second)


def test_a_restored_index_is_consistent_and_serves_the_same_pages(tmp_path, databases):
    original = packyard_in(tmp_path / "original", databases[0])
    assert original("manage", "migrate", "--verbosity", "0").returncode == 0
    made = original(
        "user",
        "create",
        "erin",
        "--email",
        "erin@example.com",
        PACKYARD_PASSWORD="a long enough pass phrase 9",
    )
    assert made.returncode == 0, made.stderr
    source = tmp_path / "source"
    source.mkdir()
    for name, version in (("demo", "1.0"), ("demo", "2.0"), ("other", "0.1")):
        (source / dists.wheel_filename(name, version)).write_bytes(dists.make_wheel(name, version))
    assert original("import", str(source), "--owner", "erin").returncode == 0
    pages_before = original("manage", "shell", "--no-imports", "-c", PAGES).stdout

    backup_dir = tmp_path / "backup"
    backed = original("backup", str(backup_dir), "--files")
    assert backed.returncode == 0, backed.stderr
    assert "a manifest of 6 file(s), 6 file(s) copied" in backed.stdout  # 3 wheels, 3 METADATA
    again = original("backup", str(backup_dir), "--files")
    assert "0 file(s) copied" in again.stdout  # incremental: nothing new

    restored = packyard_in(tmp_path / "restored", databases[1])
    result = restored("restore", str(backup_dir))
    assert result.returncode == 0, result.stderr
    checked = restored("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert restored("manage", "shell", "--no-imports", "-c", PAGES).stdout == pages_before
    assert pages_before.count("\n") == 8

    refused = restored("restore", str(backup_dir))
    assert refused.returncode != 0
    assert "Restore needs an empty database" in refused.stderr
