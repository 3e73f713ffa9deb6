"""Serving stored files: always as downloads, with ETag, HEAD and single byte ranges."""

import re
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse

RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
CHUNK = 256 * 1024


def _byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(start, end) inclusive; None for no usable range (serve all); False if unsatisfiable."""
    match = RANGE_RE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # several ranges or a malformed header: the whole file is a valid answer
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
    else:
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            return False
    if start >= size:
        return False
    return start, end


def _read_span(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _common_headers(response: HttpResponse, *, filename: str, etag: str) -> HttpResponse:
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = (
        "private, no-cache" if settings.PACKYARD_PRIVATE else "public, max-age=31536000, immutable"
    )
    return response


def serve_stored(
    request: HttpRequest, *, path: str, filename: str, size: int, sha256: str
) -> HttpResponse:
    etag = f'"{sha256}"'
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        return _common_headers(HttpResponse(status=304), filename=filename, etag=etag)
    span: tuple[int, int] | None | bool = None
    if_range = request.headers.get("If-Range")
    if "Range" in request.headers and (if_range is None or if_range == etag):
        span = _byte_range(request.headers["Range"], size)
    if span is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _common_headers(response, filename=filename, etag=etag)
    start, end = span if isinstance(span, tuple) else (0, size - 1)
    length = end - start + 1 if size else 0
    if request.method == "HEAD":
        response = HttpResponse(status=206 if span else 200, content_type="application/octet-stream")
        response["Content-Length"] = str(length)
    elif span:
        handle = default_storage.open(path, "rb")
        response = StreamingHttpResponse(
            _read_span(handle, start, length), status=206, content_type="application/octet-stream"
        )
        response["Content-Length"] = str(length)
    else:
        response = FileResponse(
            default_storage.open(path, "rb"), content_type="application/octet-stream"
        )
        response["Content-Length"] = str(size)
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return _common_headers(response, filename=filename, etag=etag)
