"""`packyard backup DEST` and `packyard restore SRC`.

A backup is a directory: the database (SQLite's online backup, or `pg_dump`'s custom format),
a manifest naming every stored file with its SHA-256 and size, and with `--files` the files
themselves under `files/` (copied incrementally: a directory backed up into again copies only
what is new; files never change once stored). A bucket is better snapshotted by its own tools:
the manifest says what it must hold. Restoring needs an empty database and data dir."""

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.utils import timezone

from packyard.packages.models import File
from packyard.packages.stages.services import open_staged_files
from packyard.packages.storage_migrate import (
    Copied,
    already_there,
    copy_between,
    objects,
    storage_migrate,
)

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
FILES_DIR = "files"


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why."""


def _postgres_env() -> dict[str, str]:
    """libpq's variables for the configured database: pg_dump and pg_restore read them."""
    database: dict[str, Any] = settings.DATABASES["default"]
    env = dict(os.environ)
    for variable, value in {
        "PGDATABASE": database.get("NAME"),
        "PGUSER": database.get("USER"),
        "PGPASSWORD": database.get("PASSWORD"),
        "PGHOST": database.get("HOST"),
        "PGPORT": database.get("PORT"),
        "PGSSLMODE": database.get("OPTIONS", {}).get("sslmode"),
    }.items():
        if value:
            env[variable] = str(value)
    return env


def _run(args: list[str]) -> None:
    try:
        result = subprocess.run(
            args, env=_postgres_env(), capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BackupError(
            f"{args[0]} is not installed (Debian: apt install postgresql-client)"
        ) from None
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed: {result.stderr.strip()[-2000:]}")


def _sqlite_path() -> str:
    return str(settings.DATABASES["default"]["NAME"])


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _manifest_files() -> Iterator[dict[str, object]]:
    columns = ("path", "sha256_digest", "size", "metadata_path", "metadata_sha256")
    rows = chain(
        File.objects.order_by("pk").values_list(*columns).iterator(),
        # Open stages' files: a restore or a move keeps them publishable.
        open_staged_files().order_by("pk").values_list(*columns).iterator(),
    )
    for path, sha256, size, metadata_path, metadata_sha256 in rows:
        yield {"path": path, "sha256": sha256, "size": size}
        if metadata_path:
            yield {"path": metadata_path, "sha256": metadata_sha256}


@dataclass(frozen=True)
class BackupResult:
    files: int
    copied: list[Copied]


def backup(
    destination: Path, *, with_files: bool, progress: Callable[[], None] = lambda: None
) -> BackupResult:
    destination.mkdir(parents=True, exist_ok=True)
    if _is_postgres():
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={destination / PG_FILE}"])
        database_kind, database_file = "postgresql", PG_FILE
    else:
        # SQLite's online backup: a consistent copy while the server goes on writing.
        partial = destination / (SQLITE_FILE + ".partial")
        partial.unlink(missing_ok=True)
        live = sqlite3.connect(_sqlite_path())
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy)
        finally:
            copy.close()
            live.close()
        partial.replace(destination / SQLITE_FILE)
        database_kind, database_file = "sqlite", SQLITE_FILE
    files = list(_manifest_files())
    manifest = {
        "format": 1,
        "created": timezone.now().isoformat(),
        "database": database_kind,
        "database_file": database_file,
        "storage_url": settings.PACKYARD_STORAGE_URL,
        "files": files,
    }
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=1))
    copied = []
    if with_files:
        into = FileSystemStorage(location=destination / FILES_DIR)
        copied = [c for c in storage_migrate(into, progress=progress) if c.outcome != "present"]
    return BackupResult(files=len(files), copied=copied)


def _database_is_empty() -> bool:
    return "django_migrations" not in connection.introspection.table_names()


def restore(source: Path, progress: Callable[[], None] = lambda: None) -> list[Copied]:
    """Restore the database, then the files (when the backup has them) into the configured
    store; returns the files that could not be restored."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a Packyard backup ({MANIFEST}: {exc})") from None
    wanted = "postgresql" if _is_postgres() else "sqlite"
    if manifest.get("database") != wanted:
        raise BackupError(
            f"The backup holds a {manifest.get('database')} database; this index uses {wanted}."
        )
    if not _database_is_empty():
        raise BackupError("Restore needs an empty database: this one has tables already.")
    if wanted == "postgresql":
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={settings.DATABASES['default']['NAME']}",
                str(source / PG_FILE),
            ]
        )
    else:
        connection.close()
        shutil.copyfile(source / SQLITE_FILE, _sqlite_path())
    if not (source / FILES_DIR).is_dir():
        return []
    return _restore_files(FileSystemStorage(location=source / FILES_DIR), progress)


def _restore_files(backup_files: FileSystemStorage, progress: Callable[[], None]) -> list[Copied]:
    """The backup's files into the configured store, each checked on the way."""
    failed = []
    for path, sha256, size in objects():
        progress()
        if already_there(default_storage, path, size):
            continue
        outcome = copy_between(backup_files, path, sha256, default_storage)
        if outcome.outcome == "refused":
            failed.append(outcome)
    return failed
