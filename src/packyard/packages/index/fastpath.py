"""Index reads answered before Django: the simple API and the JSON API, from rendered pages.

Installers read `/simple/<name>/` far more than anything else is requested. When that page is
stored (see `packages.pages`), it is answered here with one primary-key read and none of the
middleware a web page needs (sessions, CSRF, two-factor policy). Everything else goes on to
Django, which gives the same answer the slower way: private indexes, names to redirect, pages
not rendered yet, query strings, other methods, unknown hosts, plain HTTP where HTTPS is required.
"""

import logging
import os
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host

from packyard.middleware import security_headers
from packyard.packages.index import files, pages
from packyard.packages.index.fastdb import fetch_one
from packyard.packages.index.routes import route_for_path
from packyard.packages.models import File, Project, Release

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Files live at PyPI's /packages/... (mirrors accept no other path); /files/packages/... is
# where earlier versions linked them, and keeps answering.
FILE_PATH = re.compile(r"/(?:files/)?(packages/[0-9a-f/]+/[^/]+)")
FILE_PREFIXES = ("/packages/", "/files/")

# A stored file, or its metadata file (PEP 658), by its path: what a download needs to answer.
_DOWNLOAD_SQL = (
    "SELECT f.filename, f.{digest} FROM {file} f"
    " JOIN {release} r ON r.id = f.release_id"
    " JOIN {project} p ON p.id = r.project_id"
    " WHERE f.{path} = %s AND NOT p.quarantined LIMIT 1"
)
_TABLES = {
    "file": File._meta.db_table,
    "release": Release._meta.db_table,
    "project": Project._meta.db_table,
}
_FILE_SQL = _DOWNLOAD_SQL.format(digest="sha256_digest", path="path", **_TABLES)
_METADATA_SQL = _DOWNLOAD_SQL.format(digest="metadata_sha256", path="metadata_path", **_TABLES)
SMALL_FILE = 256 * 1024
# Conditional and partial downloads are rarer; the views answer them.
_DOWNLOAD_SPECIALS = ("HTTP_RANGE", "HTTP_IF_RANGE", "HTTP_IF_NONE_MATCH")
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _is_secure(environ: dict[str, Any], proxy_header: tuple[str, str] | None) -> bool:
    if proxy_header:
        name, value = proxy_header
        return bool(environ.get(name, "").split(",")[0].strip() == value)
    return bool(environ.get("wsgi.url_scheme") == "https")


def _allowed_hosts() -> list[str]:
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


class IndexFastPath:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        # Read once: settings do not change while serving, and lazy settings cost a lookup.
        self.enabled = not settings.PACKYARD_PRIVATE
        self.proxy_ssl_header = settings.SECURE_PROXY_SSL_HEADER
        self.ssl_redirect = settings.SECURE_SSL_REDIRECT
        self.allowed_hosts = _allowed_hosts()
        self.host_verdicts: dict[str, bool] = {}
        self.headers_by_security = {secure: security_headers(secure) for secure in (False, True)}
        # Downloads set their own X-Content-Type-Options.
        self.download_security_headers = {
            secure: [h for h in headers if h[0] != "X-Content-Type-Options"]
            for secure, headers in self.headers_by_security.items()
        }
        self.accel_redirect = settings.PACKYARD_FILES_ACCEL_REDIRECT
        self.file_store = (
            default_storage if isinstance(default_storage, FileSystemStorage) else None
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not self.enabled:
            return self.app(environ, start_response)
        if environ.get("PATH_INFO", "").startswith(FILE_PREFIXES):
            download = self._download(environ, start_response)
            return self.app(environ, start_response) if download is None else download
        answer = self._answer(environ)
        if answer is None:
            return self.app(environ, start_response)
        start_response(_STATUS_LINES[answer.status], answer.headers)
        return [answer.body]

    def _download(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes] | None:
        method = environ["REQUEST_METHOD"]
        if self.file_store is None or method not in ("GET", "HEAD"):
            return None
        if environ.get("QUERY_STRING") or any(key in environ for key in _DOWNLOAD_SPECIALS):
            return None
        match = FILE_PATH.fullmatch(environ["PATH_INFO"])
        if match is None or not self._host_allowed(environ):
            return None
        secure = _is_secure(environ, self.proxy_ssl_header)
        if self.ssl_redirect and not secure:
            return None
        path = match.group(1)
        is_metadata = path.endswith(".metadata")
        try:
            row = fetch_one(_METADATA_SQL if is_metadata else _FILE_SQL, (path,))
        except DatabaseError:
            logger.exception("looking up a download failed; answering through Django")
            return None
        if row is None:
            return None
        filename, sha256 = row
        headers = files.download_headers(
            filename=filename + ".metadata" if is_metadata else filename, etag=f'"{sha256}"'
        )
        if self.accel_redirect:
            # The front proxy sends the bytes (and answers HEAD and Range itself).
            headers += [
                ("Content-Type", files.OCTET_STREAM),
                ("Content-Length", "0"),
                ("X-Accel-Redirect", self.accel_redirect + path),
                *self.download_security_headers[secure],
            ]
            start_response("200 OK", headers)
            return [b""]
        try:
            handle = open(self.file_store.path(path), "rb")  # noqa: SIM115 - the server closes it
        except OSError:
            return None  # Django answers, and logs what is wrong with the store
        size = os.fstat(handle.fileno()).st_size
        headers += [("Content-Type", files.OCTET_STREAM), ("Content-Length", str(size))]
        headers += self.download_security_headers[secure]
        start_response("200 OK", headers)
        if method == "HEAD":
            handle.close()
            return [b""]
        if size <= SMALL_FILE:
            # One write with the headers: a separate sendfile() for a few KiB waits on the
            # client's delayed ACK (about 40 ms a download, measured).
            with handle:
                return [handle.read()]
        wrapper = environ.get("wsgi.file_wrapper")
        return wrapper(handle, files.CHUNK) if wrapper else files.FileChunks(handle)

    def _host_allowed(self, environ: dict[str, Any]) -> bool:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        verdict = self.host_verdicts.get(host)
        if verdict is None:
            domain, _port = split_domain_port(host)
            verdict = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self.host_verdicts) < 64:  # a client cannot grow this with made-up names
                self.host_verdicts[host] = verdict
        return verdict

    def _answer(self, environ: dict[str, Any]) -> pages.Reply | None:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return None
        route = route_for_path(environ.get("PATH_INFO", ""), environ.get("HTTP_ACCEPT", ""))
        if route is None or not self._host_allowed(environ):
            return None
        secure = _is_secure(environ, self.proxy_ssl_header)
        if self.ssl_redirect and not secure:
            return None
        try:
            page = pages.lookup(
                route.key, gzipped=pages.accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
            )
        except DatabaseError:
            logger.exception("reading a rendered page failed; answering through Django")
            return None
        if page is None:
            return None
        answer = pages.reply(
            page,
            content_type=route.content_type,
            vary_accept=route.varies_by_accept,
            head=method == "HEAD",
            if_none_match=environ.get("HTTP_IF_NONE_MATCH", ""),
        )
        answer.headers.extend(self.headers_by_security[secure])
        return answer
