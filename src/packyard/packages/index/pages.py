"""Public index pages, rendered once per change and kept in the database for every worker.

A page is stored under a key naming its URL and format: `html /simple/foo/`, `json /simple/foo/`,
`api /pypi/foo/json`, `html /simple/`, `json /simple/`. Reading one costs one primary-key lookup,
whatever the size of the index.

Freshness:
- A project's pages are rendered by the transaction that changes the project (`refresh`),
  after it has locked the project's row, so concurrent changes queue and the last one renders
  what all of them wrote. A project whose pages are missing (new database, a failed render) gets
  them on first read, each page by the first reader that asks for it. An upload into a project
  of more than RENDER_ON_READ_ABOVE_FILES files removes its pages instead (`changed_locked`),
  for their first readers to render.
- The root pages list every project, so rendering them on each new project would be costly:
  a change marks them stale (`index_invalidate`) and the next reader renders them again while
  holding their row's lock, which the changing transaction also takes.

With `PACKYARD_PAGES_DIR` set, every stored page is also written there after the commit, for a
front proxy to serve (see docs/deployment.md); a stale or removed page is deleted from there.
"""

import fcntl
import gzip
import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection, transaction

from packyard.packages.index import jsonapi, simple
from packyard.packages.index.fastdb import fetch_one
from packyard.packages.index.queries import (
    last_serial,
    linked_files,
    project_listing,
    simple_files,
    versions,
)
from packyard.packages.index.routes import INDEX_KEYS, PageKind, project_keys, split_key
from packyard.packages.models import File, Project, Release, RenderedPage

GZIP_ABOVE = 16 * 1024  # smaller pages gain little and cost a header


@dataclass(frozen=True)
class Page:
    body: bytes  # gzip-compressed when `compressed`
    compressed: bool
    has_gzip: bool  # a compressed copy is stored, for clients that accept it
    etag: str  # the uncompressed body's digest; each representation adds its own suffix
    serial: int  # the change serial the page shows (X-PyPI-Last-Serial)


# Only the variant the client takes leaves the database: the root of a large index is megabytes.
# A page stored compressed only (an empty body: see _page_row) sends its compressed copy to
# every client, and the few that refuse gzip get it decompressed here.
# The table's name comes from the model; every value is a parameter.
_LOOKUP_TEMPLATE = (
    "SELECT CASE WHEN {compressed} THEN body_gzip ELSE body END, {compressed},"
    ' body_gzip IS NOT NULL, etag, serial FROM {table} WHERE "key" = %s AND NOT stale'
)
_LOOKUP_SQL = _LOOKUP_TEMPLATE.format(
    compressed="(%s OR length(body) = 0) AND body_gzip IS NOT NULL",
    table=RenderedPage._meta.db_table,
)


def lookup(key: str, *, gzipped: bool = False) -> Page | None:
    """The fresh page stored under `key` (compressed if asked and stored so), or None."""
    row = fetch_one(_LOOKUP_SQL, (gzipped, gzipped, key))
    if row is None:
        return None
    body, compressed, has_gzip, etag, serial = row
    body = bytes(body)
    if compressed and not gzipped:
        body, compressed = gzip.decompress(body), False
    return Page(body, bool(compressed), bool(has_gzip), etag, int(serial))


def accepts_gzip(accept_encoding: str) -> bool:
    """Does this Accept-Encoding take gzip? `gzip;q=0` (or `*;q=0` without gzip) refuses it."""
    wildcard = False
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        refused = params.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
        if coding.strip() == "gzip":
            return not refused
        if coding.strip() == "*":
            wildcard = not refused
    return wildcard


# Above this size a page is compressed at level 1, and only its compressed copy is stored: the
# first reader after an upload into a large project waits for both. Level 6 takes two and a half
# times as long (50 against 20 ms for the 2.9 MB page of 10,000 files) for a body about a tenth
# smaller; writing the 2.9 MB beside the 1 MB copy took PostgreSQL longer than rendering the
# page. Installers all take gzip; the rest get the page decompressed (`lookup`). bench/RESULTS.md.
COMPRESSED_ONLY_ABOVE = 1024 * 1024


def _page_row(key: str, body: bytes, serial: int, *, absolute: bool = False) -> RenderedPage:
    compressed = None
    if len(body) > GZIP_ABOVE:
        compressed = gzip.compress(body, 1 if len(body) > COMPRESSED_ONLY_ABOVE else 6, mtime=0)
    return RenderedPage(
        key=key,
        serial=serial,
        base_url=settings.BASE_URL if absolute else "",
        etag=hashlib.sha256(body).hexdigest()[:40],
        body=b"" if len(body) > COMPRESSED_ONLY_ABOVE else body,
        body_gzip=compressed,
        stale=False,
    )


def stored_body(row: RenderedPage) -> bytes:
    """The page a stored row holds, uncompressed."""
    if not row.body and row.body_gzip is not None:
        return gzip.decompress(bytes(row.body_gzip))
    return bytes(row.body)


_STORED_FIELDS = ("etag", "body", "body_gzip", "stale", "serial", "base_url")
# Names from the model and the tuple above; every value is a parameter.
_UPSERT_TEMPLATE = (
    'INSERT INTO {table} ("key", {columns}) VALUES (%s, {values})'
    ' ON CONFLICT ("key") DO UPDATE SET {updates}'
)
_UPSERT_SQL = _UPSERT_TEMPLATE.format(
    table=RenderedPage._meta.db_table,
    columns=", ".join(f'"{field}"' for field in _STORED_FIELDS),
    values=", ".join("%s" for _ in _STORED_FIELDS),
    updates=", ".join(f'"{field}" = EXCLUDED."{field}"' for field in _STORED_FIELDS),
)


def _store(rows: list[RenderedPage]) -> None:
    if connection.vendor == "postgresql":
        _store_bound_by_server(rows)
    else:
        RenderedPage.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["key"], update_fields=_STORED_FIELDS
        )
    _export_after_commit([row.key for row in rows])


def _store_bound_by_server(rows: list[RenderedPage]) -> None:
    """Django's PostgreSQL cursors write parameters into the SQL text: a page of megabytes goes
    as twice as many megabytes of hex that the server parses back. A cursor binding on the
    server sends the bytes as they are, in the same transaction (the same connection): the
    pages of a 10,000-file project are stored in a fraction of the time (bench/RESULTS.md)."""
    connection.ensure_connection()
    # Driver errors become Django's, as on every other query (a lost database answers 503).
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.executemany(
            _UPSERT_SQL,
            [(row.key, *(getattr(row, field) for field in _STORED_FIELDS)) for row in rows],
        )


def refresh(project_id: uuid.UUID) -> None:
    """Render the project's pages again (or remove them). Call inside the changing transaction."""
    project = Project.objects.select_for_update().filter(pk=project_id).first()
    if project is not None:
        refresh_locked(project)


def render(project: Project, key: str) -> RenderedPage | None:
    """The project's page under `key` as it should be stored now, reading only what that page
    shows; None: the project has no such page (the JSON API of a project without releases)."""
    html_key, json_key, api_key = project_keys(project.normalized_name)
    serial = project.last_serial
    if key == html_key:
        return _page_row(key, simple.project_html(project, linked_files(project)), serial)
    if key == json_key:
        body = simple.project_json(project, versions(project), simple_files(project))
        return _page_row(key, body, serial)
    assert key == api_key, f"{key} is not a page of {project.normalized_name}"
    listing = project_listing(project)
    latest = listing.latest
    if latest is None:
        return None
    return _page_row(key, jsonapi.release_json(listing, latest), serial, absolute=True)


def rendered_rows(project: Project) -> tuple[list[RenderedPage], list[str]]:
    """The project's pages as they should be stored now, and the keys it should not have."""
    rows, absent = [], []
    for key in project_keys(project.normalized_name):
        row = render(project, key)
        if row is None:
            absent.append(key)
        else:
            rows.append(row)
    return rows, absent


def refresh_locked(project: Project) -> None:
    """`refresh` for a caller that already holds the project's row lock in this transaction
    (the upload): saves reading the row again."""
    if project.quarantined:
        return
    rows, absent = rendered_rows(project)
    if absent:
        _remove(absent)
    _store(rows)


# Above this many files, a project's pages (megabytes, half a second for all three at 10,000
# files: bench/RESULTS.md) are not rendered by each upload but removed, and each is rendered by
# its first reader.
RENDER_ON_READ_ABOVE_FILES = 1000


def changed_locked(project: Project) -> None:
    """The project changed (an upload, an import) in this transaction, which holds its row lock:
    its pages are rendered now, or for a large project removed so that the first reader renders
    them. Either way no reader ever gets a page older than the rows."""
    if project.quarantined:
        return
    if File.objects.filter(release__project=project).count() > RENDER_ON_READ_ABOVE_FILES:
        _remove(list(project_keys(project.normalized_name)))
    else:
        refresh_locked(project)


def remove_project(normalized_name: str) -> None:
    """Forget a project's pages: it is deleted or hidden. Call inside the changing transaction."""
    _remove(list(project_keys(normalized_name)))


def _remove(keys: list[str]) -> None:
    RenderedPage.objects.filter(key__in=keys).delete()
    _export_after_commit(keys)


def project_page(normalized_name: str, key: str, *, gzipped: bool = False) -> Page | None:
    """The page under `key` for this project, rendered now if it is missing (only that one: the
    reader waits for it); None: no project, or no such page."""
    page = lookup(key, gzipped=gzipped)
    if page is not None:
        return page
    if key == project_keys(normalized_name)[2] and not _has_release(normalized_name):
        return None  # without taking the project's lock: a project with no release has no JSON
    with transaction.atomic():
        project = (
            Project.objects.select_for_update()
            .filter(normalized_name=normalized_name, quarantined=False)
            .first()
        )
        if project is None:
            return None
        # Readers who waited for the lock behind the one that rendered find the page there.
        page = lookup(key, gzipped=gzipped)
        if page is not None:
            return page
        row = render(project, key)
        if row is None:
            return None
        _store([row])
    return _page_of(row, gzipped=gzipped)


def _page_of(row: RenderedPage, *, gzipped: bool) -> Page:
    """What `lookup` would read back of a row just stored, without reading megabytes back."""
    if gzipped and row.body_gzip is not None:
        return Page(bytes(row.body_gzip), True, True, row.etag, row.serial)
    return Page(stored_body(row), False, row.body_gzip is not None, row.etag, row.serial)


def _has_release(normalized_name: str) -> bool:
    return Release.objects.filter(
        project__normalized_name=normalized_name, project__quarantined=False
    ).exists()


def forget_other_addresses() -> int:
    """Drop the pages of projects rendered with another PACKYARD_BASE_URL than this one (the
    address changed): they are rendered again, with this address, when first read. All of a
    project's pages go, since a missing JSON API page beside a stored HTML page means "no
    release". Returns how many projects."""
    stale = (
        RenderedPage.objects.exclude(base_url="")
        .exclude(base_url=settings.BASE_URL)
        .values_list("key", flat=True)
    )
    names = {split_key(key)[1].split("/")[2] for key in stale}  # "api /pypi/<name>/json"
    if names:
        with transaction.atomic():
            _remove([key for name in names for key in project_keys(name)])
    return len(names)


def index_invalidate() -> None:
    """The list of projects changed: mark the root pages stale. Call inside that transaction."""
    RenderedPage.objects.bulk_create(
        [RenderedPage(key=key, etag="", body=b"", stale=True) for key in INDEX_KEYS],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["stale"],
    )
    _export_after_commit(list(INDEX_KEYS))


def index_page(key: str, *, gzipped: bool = False) -> Page:
    page = lookup(key, gzipped=gzipped)
    if page is not None:
        return page
    with transaction.atomic():
        RenderedPage.objects.bulk_create(
            [RenderedPage(key=k, etag="", body=b"", stale=True) for k in INDEX_KEYS],
            ignore_conflicts=True,
        )
        # Waits for a transaction that is adding or removing a project; what we read after
        # this line includes its change.
        locked = list(RenderedPage.objects.select_for_update().filter(key__in=INDEX_KEYS))
        if any(row.stale for row in locked):
            projects = list(
                Project.objects.filter(quarantined=False)
                .order_by("normalized_name")
                .only("name", "normalized_name", "last_serial")
            )
            serial = last_serial()
            _store(
                [
                    _page_row("html /simple/", simple.index_html(projects), serial),
                    _page_row("json /simple/", simple.index_json(projects, serial), serial),
                ]
            )
    page = lookup(key, gzipped=gzipped)
    assert page is not None, "the root pages were stored in the transaction above"
    return page


# Answering with a page: the same answer from the WSGI fast path and from the views.


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


_REPRESENTATION_TAGS: dict[str, str] = {}


def _etag(page: Page, content_type: str, gzipped: bool) -> str:
    # One strong tag per representation: the same bytes under another type, or compressed,
    # are a different representation to a cache.
    tag = _REPRESENTATION_TAGS.get(content_type)
    if tag is None:
        tag = _REPRESENTATION_TAGS[content_type] = hashlib.sha256(
            content_type.encode()
        ).hexdigest()[:6]
    return f'"{page.etag}-{tag}{"-gz" if gzipped else ""}"'


def _matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    bare = etag.strip('"')
    return any(
        candidate.strip().removeprefix("W/").strip('"') == bare
        for candidate in if_none_match.split(",")
    )


def reply(
    page: Page,
    *,
    content_type: str,
    vary_accept: bool,
    head: bool,
    if_none_match: str,
) -> Reply:
    gzipped = page.compressed
    etag = _etag(page, content_type, gzipped)
    vary = ["Accept"] if vary_accept else []
    if page.has_gzip:
        vary.append("Accept-Encoding")
    headers = [
        ("ETag", etag),
        ("Cache-Control", settings.PACKYARD_INDEX_CACHE_CONTROL),
        ("X-PyPI-Last-Serial", str(page.serial)),
    ]
    if vary:
        headers.append(("Vary", ", ".join(vary)))
    if if_none_match and _matches(if_none_match, etag):
        return Reply(304, headers, b"")
    body = page.body
    headers.append(("Content-Type", content_type))
    headers.append(("Content-Length", str(len(body))))
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return Reply(200, headers, b"" if head else body)


# Pages on disk, for a front proxy.


def _disk_path(key: str) -> Path | None:
    root = settings.PACKYARD_PAGES_DIR
    if root is None:
        return None
    kind, url = split_key(key)
    relative = url.lstrip("/")
    if kind is PageKind.API:
        return root / relative
    return root / relative / ("index.json" if kind is PageKind.JSON else "index.html")


def _export_after_commit(keys: list[str]) -> None:
    if settings.PACKYARD_PAGES_DIR is not None:
        transaction.on_commit(lambda: export(keys))


@contextmanager
def _key_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def export(keys: list[str]) -> None:
    """Bring the files of these pages in line with the database, after a commit.

    Writers of one directory take turns, and each reads the page after taking its turn: the
    last writer always writes what the last commit stored, whatever order the commits ran in."""
    for key in keys:
        path = _disk_path(key)
        if path is None:
            return
        with _key_lock(path):
            page = lookup(key)
            compressed = lookup(key, gzipped=True) if page is not None and page.has_gzip else None
            gz = path.with_name(path.name + ".gz")
            if page is None:
                for stale in (path, gz):
                    stale.unlink(missing_ok=True)
                continue
            _write_atomically(path, page.body)
            if compressed is not None:
                _write_atomically(gz, compressed.body)
            else:
                gz.unlink(missing_ok=True)


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
