"""`packyard storage migrate --to URL`: copy every stored file (and its core metadata) from the
current store to another one, each checked against its row's SHA-256 on the way. Objects the
target already has at the right size are left as they are, so an interrupted copy starts again
where it stopped. The index keeps serving from the current store until the operator switches
PACKYARD_STORAGE_URL."""

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.core.files import File as DjangoFile
from django.core.files.storage import Storage, default_storage
from django.utils.module_loading import import_string

from packyard.env import storage_from_url
from packyard.packages.filestore import STORE_ERRORS
from packyard.packages.models import File
from packyard.packages.stages.services import open_staged_files

READ_CHUNK = 1024 * 1024
# Copies held in memory up to this size, then in a temporary file.
SPOOL_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Copied:
    path: str
    outcome: str  # "copied", "present", "refused"
    reason: str = ""


def storage_at(url: str) -> Storage:
    """A storage for a PACKYARD_STORAGE_URL-style address."""
    described: dict[str, Any] = storage_from_url(url, name="--to")
    storage: Storage = import_string(described["BACKEND"])(**described["OPTIONS"])
    return storage


def objects() -> Iterator[tuple[str, str, int | None]]:
    """(path, sha256, size) of every stored object: files and their core metadata."""
    columns = ("path", "sha256_digest", "size", "metadata_path", "metadata_sha256")
    rows = chain(
        File.objects.order_by("pk").values_list(*columns).iterator(),
        # Open stages' files: a restore or a move keeps them publishable.
        open_staged_files().order_by("pk").values_list(*columns).iterator(),
    )
    for path, sha256, size, metadata_path, metadata_sha256 in rows:
        yield path, sha256, size
        if metadata_path:
            yield metadata_path, metadata_sha256, None


def copy_between(source: Storage, path: str, sha256: str, target: Storage) -> Copied:
    """Copy one object, checking its SHA-256 on the way."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as copy:
        try:
            with source.open(path, "rb") as reading:
                while chunk := reading.read(READ_CHUNK):
                    digest.update(chunk)
                    copy.write(chunk)
        except STORE_ERRORS as exc:
            return Copied(path, "refused", f"cannot be read from the store it is in: {exc}")
        if digest.hexdigest() != sha256:
            return Copied(path, "refused", "its bytes do not match the SHA-256 its row records")
        copy.seek(0)
        try:
            saved = target.save(path, DjangoFile(copy))
        except STORE_ERRORS as exc:
            return Copied(path, "refused", f"the target store refused it: {exc}")
    if saved != path:
        return Copied(path, "refused", f"the target store named it {saved!r}")
    return Copied(path, "copied")


def already_there(target: Storage, path: str, size: int | None) -> bool:
    try:
        return target.exists(path) and (size is None or target.size(path) == size)
    except STORE_ERRORS:
        return False


def storage_migrate(
    target: Storage, progress: Callable[[], None] = lambda: None
) -> Iterator[Copied]:
    """Copy every object of the configured store that the target lacks."""
    for path, sha256, size in objects():
        if already_there(target, path, size):
            yield Copied(path, "present")
        else:
            yield copy_between(default_storage, path, sha256, target)
        progress()


def objects_count() -> int:
    return File.objects.count() + File.objects.exclude(metadata_path="").count()
