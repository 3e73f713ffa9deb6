"""Receiving the multipart body: fields in memory, the file streamed to disk while it is hashed."""

import hashlib
import os
from dataclasses import dataclass
from typing import IO, Any, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from packyard.packages.upload.errors import UploadRefused

FILE_FIELD = "content"


@dataclass
class ReceivedFile:
    upload: TemporaryUploadedFile
    client_filename: str
    size: int
    sha256: str
    blake2_256: str
    md5: str

    @property
    def path(self) -> str:
        return str(self.upload.temporary_file_path())


def _size_text(size: int) -> str:
    return f"{size / 1024 / 1024:g} MiB"


class HashingUploadHandler(FileUploadHandler):
    """Writes the one file field to a temporary file, hashing and counting as it goes."""

    chunk_size = 256 * 1024

    def __init__(self, request: HttpRequest, max_size: int) -> None:
        super().__init__(request)
        self.max_size = max_size
        self.received: ReceivedFile | None = None

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != FILE_FIELD:
            raise UploadRefused(f"The field {field_name!r} must be sent as text, not as a file.")
        if self.received is not None:
            raise UploadRefused("Upload one file per request.")
        super().new_file(field_name, file_name, *args, **kwargs)
        os.makedirs(settings.FILE_UPLOAD_TEMP_DIR, exist_ok=True)
        self.temp = TemporaryUploadedFile(file_name, "application/octet-stream", 0, None)
        self.sha256 = hashlib.sha256()
        self.blake2_256 = hashlib.blake2b(digest_size=32)
        self.md5 = hashlib.md5()  # noqa: S324 - a digest PyPI publishes, not a security check
        self.size = 0

    def discard(self) -> None:
        temp = getattr(self, "temp", None)
        if temp is not None:
            temp.close()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:  # noqa: ARG002 - Django's
        self.size += len(raw_data)
        if self.size > self.max_size:
            raise UploadRefused(
                f"File too large. Limit for this index is {_size_text(self.max_size)}.", 413
            )
        self.temp.write(raw_data)
        self.sha256.update(raw_data)
        self.blake2_256.update(raw_data)
        self.md5.update(raw_data)

    def file_complete(self, file_size: int) -> TemporaryUploadedFile:  # noqa: ARG002 - Django's
        self.temp.flush()
        self.temp.seek(0)
        self.temp.size = self.size
        self.received = ReceivedFile(
            upload=self.temp,
            client_filename=self.file_name or "",
            size=self.size,
            sha256=self.sha256.hexdigest(),
            blake2_256=self.blake2_256.hexdigest(),
            md5=self.md5.hexdigest(),
        )
        return self.temp


class StrictMultiPartParser(MultiPartParser):
    """Refuses file names that Django would quietly rewrite (paths, control characters)."""

    def sanitize_file_name(self, file_name: str) -> str | None:
        sanitized = super().sanitize_file_name(file_name)
        if sanitized != file_name or ".." in file_name or "\x00" in file_name:
            raise UploadRefused(
                "Invalid filename: it must not contain '/', '\\', '..' or control characters."
            )
        return sanitized


def receive(request: HttpRequest, *, max_size: int) -> tuple[QueryDict, ReceivedFile]:
    handler = HashingUploadHandler(request, max_size)
    try:
        fields = _parse(request, handler)
    except BaseException:
        handler.discard()
        raise
    if handler.received is None:
        raise UploadRefused("Upload payload does not have a file.")
    return fields, handler.received


def _parse(request: HttpRequest, handler: HashingUploadHandler) -> QueryDict:
    try:
        body = cast(IO[bytes], request)  # the request reads its body like a file
        parser = StrictMultiPartParser(request.META, body, [handler], request.encoding)
        fields, _files = parser.parse()
    except MultiPartParserError as exc:
        raise UploadRefused(f"The request body is not a valid multipart form: {exc}") from None
    except RequestDataTooBig:
        raise UploadRefused("The form fields are too large.", 413) from None
    except (TooManyFieldsSent, TooManyFilesSent):
        raise UploadRefused("The form has too many fields.") from None
    except OSError:
        # The server's read of the body timed out or the connection broke mid-body.
        raise UploadRefused(STALLED, 408) from None
    return fields


STALLED = "The upload stopped arriving before it was complete. Nothing was stored; send it again."
