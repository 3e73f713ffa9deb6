"""`packyard check`: is the index consistent? Every file row has its bytes (the right size and
SHA-256) and its core metadata, every stored page is what a fresh render gives, every project's
serial is its newest journal entry, and the file store holds nothing no row names (an object
left by a crash between storing and committing). `repair` removes such objects and renders
differing pages again; missing or damaged bytes can only be reported."""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from packyard.packages.filestore import STORE_ERRORS
from packyard.packages.index import pages
from packyard.packages.models import File, JournalEntry, Project, RenderedPage
from packyard.packages.stages.services import open_staged_files

READ_CHUNK = 1024 * 1024
FILES_ROOT = "packages"


@dataclass(frozen=True)
class Problem:
    kind: str  # "missing", "damaged", "page", "serial", "orphan"
    subject: str
    detail: str
    repairable: bool = False

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


def _digest(path: str) -> tuple[int, str]:
    sha256 = hashlib.sha256()
    size = 0
    with default_storage.open(path, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            size += len(chunk)
            sha256.update(chunk)
    return size, sha256.hexdigest()


def _check_bytes(path: str, subject: str, size: int | None, sha256: str) -> Problem | None:
    try:
        found_size, found_sha256 = _digest(path)
    except STORE_ERRORS:
        return Problem("missing", subject, f"{path} is not in the file store")
    if (size is not None and found_size != size) or found_sha256 != sha256:
        return Problem("damaged", subject, f"{path} does not have the bytes its row records")
    return None


def file_problems(progress: Callable[[], None] = lambda: None) -> Iterator[Problem]:
    columns = ("filename", "path", "size", "sha256_digest", "metadata_path", "metadata_sha256")
    rows = chain(
        File.objects.order_by("pk").values_list(*columns).iterator(),
        open_staged_files().order_by("pk").values_list(*columns).iterator(),
    )
    for filename, path, size, sha256, metadata_path, metadata_sha256 in rows:
        problem = _check_bytes(path, filename, size, sha256)
        if problem is not None:
            yield problem
        if metadata_path:
            problem = _check_bytes(metadata_path, f"{filename} (metadata)", None, metadata_sha256)
            if problem is not None:
                yield problem
        progress()


def page_problems() -> Iterator[Problem]:
    stored = {row.key: row for row in RenderedPage.objects.all()}
    for project in Project.objects.filter(quarantined=False).order_by("normalized_name"):
        rows, absent = pages.rendered_rows(project)
        for row in rows:
            kept = stored.get(row.key)
            if kept is None:
                continue  # rendered on first read: not an inconsistency
            if pages.stored_body(kept) != pages.stored_body(row) or kept.serial != row.serial:
                yield Problem("page", row.key, "differs from a fresh render", repairable=True)
        for key in absent:
            if key in stored:
                yield Problem("page", key, "is stored but the project has no such page", True)


def serial_problems() -> Iterator[Problem]:
    newest = dict(
        JournalEntry.objects.values("normalized_name")
        .annotate(serial=Max("id"))
        .values_list("normalized_name", "serial")
    )
    for name, serial in Project.objects.values_list("normalized_name", "last_serial"):
        if newest.get(name, 0) != serial:
            yield Problem(
                "serial",
                name,
                f"last_serial is {serial}, its newest journal entry {newest.get(name, 0)}",
                repairable=True,
            )


def _stored_paths(prefix: str = FILES_ROOT) -> Iterator[str]:
    try:
        directories, names = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in names:
        yield f"{prefix}/{name}"
    for directory in directories:
        yield from _stored_paths(f"{prefix}/{directory}")


def orphan_problems(min_age: timedelta = timedelta(0)) -> Iterator[Problem]:
    """Objects no row names, at least `min_age` old (younger ones may be an upload in
    progress, whose row commits after its bytes are stored)."""
    named = set(File.objects.values_list("path", flat=True))
    named |= set(File.objects.exclude(metadata_path="").values_list("metadata_path", flat=True))
    # Open stages' files: stored, and published from there.
    staged = open_staged_files()
    named |= set(staged.values_list("path", flat=True))
    named |= set(staged.exclude(metadata_path="").values_list("metadata_path", flat=True))
    cutoff = timezone.now() - min_age
    for path in _stored_paths():
        if path in named:
            continue
        if min_age and default_storage.get_modified_time(path) > cutoff:
            continue
        yield Problem("orphan", path, "is stored but no file row names it", repairable=True)


def check(
    *, min_age: timedelta = timedelta(0), progress: Callable[[], None] = lambda: None
) -> list[Problem]:
    return [
        *file_problems(progress),
        *orphan_problems(min_age),
        *serial_problems(),
        *page_problems(),
    ]


def repair(problems: list[Problem]) -> list[Problem]:
    """Repair what can be: orphans removed, serials set to the newest journal entry, pages
    rendered again. Returns the problems that remain."""
    remaining = []
    for problem in problems:
        if problem.kind == "orphan":
            default_storage.delete(problem.subject)
        elif problem.kind == "serial":
            _repair_serial(problem.subject)
        elif problem.kind != "page":
            remaining.append(problem)
    if any(problem.kind in ("page", "serial") for problem in problems):
        for project_id in Project.objects.values_list("pk", flat=True):
            with transaction.atomic():
                pages.refresh(project_id)
        with transaction.atomic():
            pages.index_invalidate()
    return remaining


def _repair_serial(normalized_name: str) -> None:
    newest = JournalEntry.objects.filter(normalized_name=normalized_name).aggregate(
        serial=Max("id")
    )["serial"]
    Project.objects.filter(normalized_name=normalized_name).update(last_serial=newest or 0)
