"""Index reads answered before Django: the simple API and the JSON API, from rendered pages.

Installers read `/simple/<name>/` far more than anything else is requested. When that page is
stored (see `packages.pages`), it is answered here with one primary-key read and none of the
middleware a web page needs (sessions, CSRF, two-factor policy). Everything else goes on to
Django, which gives the same answer the slower way: private indexes, names to redirect, pages
not rendered yet, query strings, other methods, unknown hosts, plain HTTP where HTTPS is required.
"""

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from packaging.utils import canonicalize_name

from packyard.middleware import CONTENT_SECURITY_POLICY
from packyard.packages import pages, simple

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
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

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        answer = self._answer(environ) if self.enabled else None
        if answer is None:
            return self.app(environ, start_response)
        start_response(_STATUS_LINES[answer.status], answer.headers)
        return [answer.body]

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
            page = pages.lookup(key)
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
            accept_encoding=environ.get("HTTP_ACCEPT_ENCODING", ""),
        )
        answer.headers.extend(self.headers_by_security[secure])
        return answer
