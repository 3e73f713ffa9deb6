"""What the upload tests share: how a refusal must look, and what is stored."""

from typing import Any

from django.core.files.storage import default_storage

from packyard.packages.models import File, Project, Release


def assert_refused(response: Any, status: int, text: str) -> None:
    body = response.content.decode()
    assert response.status_code == status, body
    assert text in body
    assert text.split("'")[0][:40] in response.reason_phrase
    assert response["Content-Type"].startswith("text/plain")


def stored_files() -> list[str]:
    found: list[str] = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        try:
            dirs, files = default_storage.listdir(prefix)
        except FileNotFoundError:  # a directory store not made yet (a bucket lists nothing)
            dirs, files = [], []
        stack.extend(f"{prefix}{d}/" for d in dirs)
        found.extend(f"{prefix}{f}" for f in files)
    return found


def assert_nothing_stored() -> None:
    assert File.objects.count() == 0
    assert Release.objects.count() == 0
    assert Project.objects.count() == 0
    assert stored_files() == []


def raw_multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "packyardboundary"
    parts = []
    for key, value in fields.items():
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def text_fields(form: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def store_class() -> type[Any]:
    """The class of the file store the test runs on (a directory, or an S3 bucket)."""
    from django.core.files.storage import storages

    return type(storages["default"])


def store_failure() -> Exception:
    """What the test's file store raises when its disk fills or its bucket cannot be reached."""
    if hasattr(store_class(), "bucket_name"):
        from botocore.exceptions import EndpointConnectionError

        failure: Exception = EndpointConnectionError(endpoint_url="http://bucket.example")
        return failure
    return OSError("disk full")
