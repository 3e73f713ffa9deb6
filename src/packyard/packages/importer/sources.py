"""Where files come from: a directory tree (pypiserver keeps one), or an index's simple API
(PEP 691 JSON or PEP 503 HTML: devpi, pypiserver, Artifactory, Nexus, another Packyard)."""

import base64
import fnmatch
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from packyard.packages.importer.reading import ImportRefused, is_distribution

JSON_V1 = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_V1}, text/html;q=0.1"
MAX_PAGE_BYTES = 64 * 1024 * 1024  # the root of a large index
TIMEOUT = 60


@dataclass
class Candidate:
    """One file to import, with what the source says of it."""

    filename: str
    location: str  # a path, or the URL it is fetched from
    upload_time: datetime | None = None
    yanked: bool = False
    yanked_reason: str = ""
    requires_python: str = ""
    sha256: str = ""  # as the source states it; compared with the bytes


class Source:
    label: str

    def candidates(self) -> Iterator[Candidate]:
        raise NotImplementedError

    def fetch(self, candidate: Candidate, *, max_size: int) -> Path:
        """A local path holding the file's bytes (a temporary copy for remote files: see
        `release`)."""
        raise NotImplementedError

    def release(self, path: Path) -> None:
        """Done with what `fetch` gave."""


class DirectorySource(Source):
    """Every distribution file under a directory; the upload time is the file's mtime."""

    def __init__(self, root: Path, *, patterns: list[str]) -> None:
        self.root = root
        self.patterns = patterns
        self.label = str(root)

    def candidates(self) -> Iterator[Candidate]:
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or not is_distribution(path.name):
                continue
            if not _wanted(path.name.split("-")[0], self.patterns):
                continue
            mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            yield Candidate(filename=path.name, location=str(path), upload_time=mtime)

    def fetch(self, candidate: Candidate, *, max_size: int) -> Path:
        return _local(Path(candidate.location), max_size)


def _local(path: Path, max_size: int) -> Path:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportRefused(f"cannot read it: {exc}") from None
    if size > max_size:
        raise ImportRefused(f"larger than this index's file limit ({max_size} bytes)")
    return path


def _wanted(name: str, patterns: list[str]) -> bool:
    normalized = canonicalize_name(name)
    return not patterns or any(fnmatch.fnmatch(normalized, p) for p in patterns)


def _refuse_userinfo(url: str) -> None:
    """Addresses are printed and written to the report: a password must not be in one."""
    if "@" in urllib.parse.urlsplit(url).netloc:
        raise ImportRefused(
            "credentials go in the variable --credentials-env names, not in the address"
        )


def _headers(credentials: str) -> dict[str, str]:
    headers = {"Accept": ACCEPT, "User-Agent": "packyard-import"}
    if credentials:
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    return headers


class IndexSource(Source):
    """A simple API: the root lists projects, each project page its files."""

    def __init__(self, url: str, *, credentials: str = "", patterns: list[str]) -> None:
        _refuse_userinfo(url)
        self.root = url.rstrip("/") + "/"
        self.label = self.root
        self.patterns = patterns
        self.headers = _headers(credentials)

    def _get(self, url: str, *, limit: int) -> tuple[str, bytes]:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ImportRefused(f"not an http(s) address: {url}")
        request = urllib.request.Request(url, headers=self.headers)  # noqa: S310 - http(s), checked
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
                body = answer.read(limit + 1)
                content_type = answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            exc.close()
            raise ImportRefused(f"could not read {url}: {exc}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ImportRefused(f"could not read {url}: {exc}") from None
        if len(body) > limit:
            raise ImportRefused(f"{url} is larger than {limit} bytes")
        return content_type, body

    def projects(self) -> list[str]:
        content_type, body = self._get(self.root, limit=MAX_PAGE_BYTES)
        if content_type.startswith(JSON_V1):
            names = [str(p["name"]) for p in json.loads(body)["projects"]]
        else:
            names = [text for _href, text, _attrs in _anchors(body)]
        return [name for name in names if _wanted(name, self.patterns)]

    def candidates(self) -> Iterator[Candidate]:
        for name in self.projects():
            url = urllib.parse.urljoin(self.root, f"{canonicalize_name(name)}/")
            content_type, body = self._get(url, limit=MAX_PAGE_BYTES)
            if content_type.startswith(JSON_V1):
                yield from _json_files(url, json.loads(body))
            else:
                yield from _html_files(url, body)

    def fetch(self, candidate: Candidate, *, max_size: int) -> Path:
        return _download(candidate.location, self.headers, max_size)

    def release(self, path: Path) -> None:
        path.unlink(missing_ok=True)


def _download(url: str, headers: dict[str, str], max_size: int) -> Path:
    """The file at `url` in a temporary file, refused past `max_size` bytes."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ImportRefused(f"not an http(s) address: {url}")
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s), checked
    handle, name = tempfile.mkstemp(prefix="packyard-import-")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(request, timeout=TIMEOUT) as answer,  # noqa: S310
        ):
            copied = _copy_bounded(answer, out, max_size)
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()
        os.unlink(name)
        raise ImportRefused(f"could not download it: {exc}") from None
    if copied > max_size:
        os.unlink(name)
        raise ImportRefused(f"larger than this index's file limit ({max_size} bytes)")
    return Path(name)


class JsonListSource(Source):
    """A list of files with what a directory cannot say: `[{"path": ... or "url": ...,
    "upload_time": ISO 8601, "yanked": true or a reason, "requires_python": ...,
    "sha256": ...}, ...]`."""

    def __init__(self, listing: Path, *, credentials: str, patterns: list[str]) -> None:
        self.listing = listing
        self.label = str(listing)
        self.patterns = patterns
        self.headers = _headers(credentials)
        self._downloaded: set[Path] = set()

    def candidates(self) -> Iterator[Candidate]:
        try:
            entries = json.loads(self.listing.read_text())
        except (OSError, ValueError) as exc:
            raise ImportRefused(f"cannot read the list {self.listing}: {exc}") from None
        if not isinstance(entries, list):
            raise ImportRefused("the list must be a JSON array of objects")
        for number, entry in enumerate(entries, start=1):
            candidate = _listed(entry, number, self.listing.parent)
            if _wanted(candidate.filename.split("-")[0], self.patterns):
                yield candidate

    def fetch(self, candidate: Candidate, *, max_size: int) -> Path:
        if candidate.location.startswith(("http://", "https://")):
            path = _download(candidate.location, self.headers, max_size)
            self._downloaded.add(path)
            return path
        return _local(Path(candidate.location), max_size)

    def release(self, path: Path) -> None:
        if path in self._downloaded:
            self._downloaded.discard(path)
            path.unlink(missing_ok=True)


def _listed(entry: Any, number: int, base: Path) -> Candidate:
    if not isinstance(entry, dict) or not (entry.get("path") or entry.get("url")):
        raise ImportRefused(f"entry {number} of the list names no path or url")
    location = str(entry.get("url") or base / str(entry["path"]))
    if entry.get("url"):
        _refuse_userinfo(location)
    yanked = entry.get("yanked", False)
    try:
        uploaded = _parse_time(str(entry["upload_time"])) if entry.get("upload_time") else None
    except ValueError:
        raise ImportRefused(f"entry {number}: upload_time is not an ISO 8601 time") from None
    return Candidate(
        filename=str(entry.get("filename") or location.rsplit("/", 1)[-1]),
        location=location,
        upload_time=uploaded,
        yanked=yanked is not False,
        yanked_reason=yanked if isinstance(yanked, str) else "",
        requires_python=str(entry.get("requires_python") or ""),
        sha256=str(entry.get("sha256") or ""),
    )


def _copy_bounded(source: Any, target: Any, max_size: int) -> int:
    copied = 0
    while copied <= max_size and (chunk := source.read(1024 * 1024)):
        target.write(chunk)
        copied += len(chunk)
    return copied


def _json_files(page_url: str, page: dict[str, Any]) -> Iterator[Candidate]:
    for entry in page.get("files", []):
        url, _, fragment = urllib.parse.urljoin(page_url, entry["url"]).partition("#")
        yanked = entry.get("yanked", False)
        uploaded = entry.get("upload-time")
        yield Candidate(
            filename=str(entry["filename"]),
            location=url,
            upload_time=_parse_time(uploaded) if uploaded else None,
            yanked=yanked is not False,
            yanked_reason=yanked if isinstance(yanked, str) else "",
            requires_python=entry.get("requires-python") or "",
            sha256=(entry.get("hashes") or {}).get("sha256", "") or _fragment_sha256(fragment),
        )


def _html_files(page_url: str, body: bytes) -> Iterator[Candidate]:
    for href, text, attrs in _anchors(body):
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        yanked = attrs.get("data-yanked")
        yield Candidate(
            filename=text.strip() or url.rsplit("/", 1)[-1],
            location=url,
            yanked=yanked is not None,
            yanked_reason=yanked or "",
            requires_python=attrs.get("data-requires-python") or "",
            sha256=_fragment_sha256(fragment),
        )


def _fragment_sha256(fragment: str) -> str:
    kind, _, value = fragment.partition("=")
    return value if kind == "sha256" else ""


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str, dict[str, str | None]]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            href = self._open.get("href")
            if href:
                self.anchors.append((href, "".join(self._text).strip(), self._open))
            self._open = None


def _anchors(body: bytes) -> list[tuple[str, str, dict[str, str | None]]]:
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", "replace"))
    return parser.anchors


def source_for(
    location: str, *, credentials: str, patterns: list[str], listing: bool = False
) -> Source:
    """The source a command line names: a JSON list (`listing`), an index's address, or a
    directory."""
    if listing:
        return JsonListSource(Path(location), credentials=credentials, patterns=patterns)
    if location.startswith(("http://", "https://")):
        return IndexSource(location, credentials=credentials, patterns=patterns)
    root = Path(location)
    if not root.is_dir():
        raise ImportRefused(f"{location} is neither a directory nor an http(s) index address")
    return DirectorySource(root, patterns=patterns)
