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
from packaging.utils import canonicalize_name

from packyard.fastdb import fetch_one
from packyard.middleware import CONTENT_SECURITY_POLICY
from packyard.packages import files, pages, simple

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
FILE_PATH = re.compile(r"/files/(packages/[0-9a-f/]+/[^/]+)")
_FILE_SQL = (
    "SELECT f.filename, f.sha256_digest FROM packages_file f"
    " JOIN packages_release r ON r.id = f.release_id"
    " JOIN packages_project p ON p.id = r.project_id"
    " WHERE f.path = %s AND NOT p.quarantined LIMIT 1"
)
_METADATA_SQL = (
    "SELECT f.filename, f.metadata_sha256 FROM packages_file f"
    " JOIN packages_release r ON r.id = f.release_id"
    " JOIN packages_project p ON p.id = r.project_id"
    " WHERE f.metadata_path = %s AND NOT p.quarantined LIMIT 1"
)
SMALL_FILE = 256 * 1024
# Conditional and partial downloads are rarer; the views answer them.
_DOWNLOAD_SPECIALS = ("HTTP_RANGE", "HTTP_IF_RANGE", "HTTP_IF_NONE_MATCH")
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def security_headers(secure: bool) -> list[tuple[str, str]]:
    """What the security middleware adds to every answer, for answers that skip it."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", settings.SECURE_REFERRER_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
    ]
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        headers.append(("Strict-Transport-Security", value))
    return headers


def _is_secure(environ: dict[str, Any], proxy_header: tuple[str, str] | None) -> bool:
    if proxy_header:
        name, value = proxy_header
        return bool(environ.get(name, "").split(",")[0].strip() == value)
    return bool(environ.get("wsgi.url_scheme") == "https")


def _allowed_hosts() -> list[str]:
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


def _route(path: str, accept: str) -> tuple[str, str, bool] | None:
    """(page key, Content-Type, varies by Accept) for a path the fast path answers."""
    if path.startswith("/simple/"):
        name = path[len("/simple/") : -1]
        if not path.endswith("/") or "/" in name or (name and canonicalize_name(name) != name):
            return None
        negotiated = simple.negotiate_accept(accept)
        if negotiated is None:
            return None
        is_json = negotiated == simple.JSON_V1
        url = f"/simple/{name}/" if name else "/simple/"
        content_type = negotiated if is_json else f"{negotiated}; charset=utf-8"
        return (f"{'json' if is_json else 'html'} {url}", content_type, True)
    if path.startswith("/pypi/") and path.endswith("/json"):
        name = path[len("/pypi/") : -len("/json")]
        if not name or "/" in name or canonicalize_name(name) != name:
            return None
        return (f"api /pypi/{name}/json", "application/json", False)
    return None


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
        if environ.get("PATH_INFO", "").startswith("/files/"):
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
        route = _route(environ.get("PATH_INFO", ""), environ.get("HTTP_ACCEPT", ""))
        if route is None or not self._host_allowed(environ):
            return None
        secure = _is_secure(environ, self.proxy_ssl_header)
        if self.ssl_redirect and not secure:
            return None
        key, content_type, vary_accept = route
        try:
            page = pages.lookup(
                key, gzipped=pages.accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
            )
        except DatabaseError:
            logger.exception("reading a rendered page failed; answering through Django")
            return None
        if page is None:
            return None
        answer = pages.reply(
            page,
            content_type=content_type,
            vary_accept=vary_accept,
            head=method == "HEAD",
            if_none_match=environ.get("HTTP_IF_NONE_MATCH", ""),
        )
        answer.headers.extend(self.headers_by_security[secure])
        return answer
