"""Requests whose head Packyard cannot take get a clear answer, not silence or a 500.

- Headers too large: 431. uWSGI reads a request's head into a buffer of `--buffer-size` bytes and
  drops the connection, without an answer, when it does not fit. `packyard serve` gives uWSGI
  the largest buffer its protocol allows (64 KiB) and answers here for anything over Packyard's
  own limit below it, so a browser with an oversized cookie, say, is told what is wrong.
- A Content-Length that is not a whole number: 400. uWSGI passes the header on as it came, and
  Django reading such a request's body raises (a 500) in every view that reads one.
"""

from collections.abc import Callable, Iterable
from typing import Any

MAX_REQUEST_HEAD = 32 * 1024  # bytes of request line and headers
TOO_LARGE = (
    b"Request Header Fields Too Large: the request's headers exceed 32 KiB. "
    b"Clear this site's cookies, or send shorter headers.\n"
)
BAD_LENGTH = b"Bad Request: the Content-Length header must be a whole number of bytes.\n"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def request_head_size(environ: dict[str, Any]) -> int:
    size = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) + 16
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            size += len(key) + len(str(value)) + 4
    return size


def _refuse(start_response: Callable[..., Any], status: str, body: bytes) -> Iterable[bytes]:
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [body]


def _well_formed_length(value: str) -> bool:
    # ASCII digits only: int() would also take "+5", " 5", "1_000" and Arabic-Indic digits.
    return value.isascii() and value.isdigit()


class RequestHeadCheck:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if request_head_size(environ) > MAX_REQUEST_HEAD:
            return _refuse(start_response, "431 Request Header Fields Too Large", TOO_LARGE)
        length = environ.get("CONTENT_LENGTH")
        if length and not _well_formed_length(str(length)):
            return _refuse(start_response, "400 Bad Request", BAD_LENGTH)
        return self.app(environ, start_response)
