"""Serving stored files: always as downloads, with ETag, HEAD and single byte ranges."""

import logging
import re
from collections.abc import Iterator
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase

from packyard.http import plain_error
from packyard.packages.filestore import STORE_ERRORS

RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
CHUNK = 256 * 1024
OCTET_STREAM = "application/octet-stream"

logger = logging.getLogger(__name__)


def _byte_range(header: str, size: int) -> tuple[int, int] | bool | None:
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


def _object_store() -> Any:
    """The S3 storage when files live in a bucket (django-storages), else None."""
    return default_storage if hasattr(default_storage, "bucket_name") else None


def _object_span(store: Any, path: str, start: int, length: int) -> Iterator[bytes]:
    """A span of an object, fetched now (a missing object raises here, before the response
    starts) and streamed: django-storages' file objects would buffer the whole object first."""
    key = f"{store.location}/{path}" if store.location else path
    try:
        answer = store.connection.meta.client.get_object(
            Bucket=store.bucket_name, Key=key, Range=f"bytes={start}-{start + length - 1}"
        )
    except STORE_ERRORS as exc:
        raise OSError(f"the object store could not give {key}: {exc}") from exc
    body = answer["Body"]

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    return chunks()


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


def download_headers(*, filename: str, etag: str) -> list[tuple[str, str]]:
    return [
        ("ETag", etag),
        ("Accept-Ranges", "bytes"),
        ("Content-Disposition", f'attachment; filename="{filename}"'),
        ("X-Content-Type-Options", "nosniff"),
        (
            "Cache-Control",
            "private, no-cache"
            if settings.PACKYARD_PRIVATE
            else "public, max-age=31536000, immutable",
        ),
    ]


def _common_headers(response: HttpResponseBase, *, filename: str, etag: str) -> HttpResponseBase:
    for header, value in download_headers(filename=filename, etag=etag):
        response[header] = value
    return response


class FileChunks:
    """A stored file as a WSGI body, read in large blocks and closed when the server is done."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.handle.read(CHUNK):
            yield chunk

    def close(self) -> None:
        self.handle.close()


def _requested_span(request: HttpRequest, etag: str, size: int) -> tuple[int, int] | bool | None:
    if_range = request.headers.get("If-Range")
    if "Range" not in request.headers or (if_range is not None and if_range != etag):
        return None
    return _byte_range(request.headers["Range"], size)


def _body(
    request: HttpRequest, path: str, size: int, span: tuple[int, int] | None
) -> HttpResponseBase:
    start, end = span or (0, size - 1)
    length = end - start + 1 if size else 0
    response: HttpResponseBase
    store = _object_store()
    if request.method == "HEAD":
        response = HttpResponse(status=206 if span else 200, content_type=OCTET_STREAM)
    elif store is not None:
        chunks = _object_span(store, path, start, length) if length else iter(())
        response = StreamingHttpResponse(
            chunks, status=206 if span else 200, content_type=OCTET_STREAM
        )
    elif span:
        chunks = _read_span(default_storage.open(path, "rb"), start, length)
        response = StreamingHttpResponse(chunks, status=206, content_type=OCTET_STREAM)
    else:
        # FileResponse hands the file to the server's sendfile where it has one.
        response = FileResponse(default_storage.open(path, "rb"), content_type=OCTET_STREAM)
        response.block_size = CHUNK  # where the server has no sendfile, Django's 4 KiB is slow
    response["Content-Length"] = str(length)
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


PRESIGNED_SECONDS = 300


def _presigned_redirect(path: str, filename: str) -> HttpResponseBase:
    """A link into the bucket, good for five minutes, which the client follows; never kept by
    a cache, for it stops working."""
    url = _object_store().url(
        path,
        parameters={
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": OCTET_STREAM,
        },
        expire=PRESIGNED_SECONDS,
    )
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"
    return response


def serve_stored_or_503(
    request: HttpRequest, *, path: str, filename: str, size: int | None, sha256: str
) -> HttpResponseBase:
    """`serve_stored`, the size read from the store when the row has none (core metadata); a
    row whose bytes the store does not have gets 503: the store is failing, or out of step with
    the database (`packyard check` lists such files). Installers retry a 503; a 500 makes pip
    give up."""
    try:
        known = size if size is not None else default_storage.size(path)
        return serve_stored(request, path=path, filename=filename, size=known, sha256=sha256)
    except STORE_ERRORS:
        logger.exception("the file store has no bytes for %s", path)
        response = plain_error(
            503, "This file is missing from the index's file store; try again later."
        )
        response["Retry-After"] = "60"
        return response


def serve_stored(
    request: HttpRequest, *, path: str, filename: str, size: int, sha256: str
) -> HttpResponseBase:
    etag = f'"{sha256}"'
    response: HttpResponseBase
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        if settings.PACKYARD_FILES_REDIRECT == "presigned":
            return _presigned_redirect(path, filename)  # the bucket answers Range and HEAD
        span = _requested_span(request, etag, size)
        if settings.PACKYARD_FILES_ACCEL_REDIRECT:
            # The front proxy sends the bytes, and answers HEAD and Range requests itself.
            response = HttpResponse(content_type=OCTET_STREAM)
            response["X-Accel-Redirect"] = settings.PACKYARD_FILES_ACCEL_REDIRECT + path
        elif span is False:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
        else:
            response = _body(request, path, size, span if isinstance(span, tuple) else None)
    return _common_headers(response, filename=filename, etag=etag)
