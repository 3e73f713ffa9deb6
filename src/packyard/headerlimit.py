"""Requests whose headers are too large get 431, not silence.

uWSGI reads a request's head into a buffer of `--buffer-size` bytes and drops the connection,
without an answer, when it does not fit. `packyard serve` gives uWSGI the largest buffer its
protocol allows (64 KiB) and answers here for anything over Packyard's own limit below it, so a
browser with an oversized cookie, say, is told what is wrong.
"""

from collections.abc import Callable, Iterable
from typing import Any

MAX_REQUEST_HEAD = 32 * 1024  # bytes of request line and headers
TOO_LARGE = (
    b"Request Header Fields Too Large: the request's headers exceed 32 KiB. "
    b"Clear this site's cookies, or send shorter headers.\n"
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def request_head_size(environ: dict[str, Any]) -> int:
    size = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) + 16
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            size += len(key) + len(str(value)) + 4
    return size


class HeaderSizeLimit:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if request_head_size(environ) > MAX_REQUEST_HEAD:
            start_response(
                "431 Request Header Fields Too Large",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(TOO_LARGE))),
                    ("X-Content-Type-Options", "nosniff"),
                ],
            )
            return [TOO_LARGE]
        return self.app(environ, start_response)
