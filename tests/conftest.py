import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from packyard.accounts.models import User
from packyard.accounts.services import user_create
from packyard.tokens.services import token_mint
from tests import dists

PASSWORD = "a long enough pass phrase 42"


@pytest.fixture(autouse=True)
def _isolated_file_store(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    (tmp_path / "files").mkdir()


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def alice(db: None) -> User:
    return user_create(
        username="alice", email="alice@example.com", password=PASSWORD, verified=True
    )


@pytest.fixture
def bob(db: None) -> User:
    return user_create(username="bob", email="bob@example.com", password=PASSWORD, verified=True)


@pytest.fixture
def unverified(db: None) -> User:
    return user_create(username="charlie", email="charlie@example.com", password=PASSWORD)


@pytest.fixture
def alice_token(alice: User) -> str:
    return token_mint(user=alice, description="alice's token")[1]


@pytest.fixture
def bob_token(bob: User) -> str:
    return token_mint(user=bob, description="bob's token")[1]


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def upload_form(
    name: str = "demo",
    version: str = "1.0",
    *,
    kind: str = "wheel",
    content: bytes | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The multipart form twine sends, with a file built to match."""
    if kind == "wheel":
        filename = dists.wheel_filename(name, version)
        data = content if content is not None else dists.make_wheel(name, version)
        filetype, pyversion = "bdist_wheel", "py3"
    else:
        filename = dists.sdist_filename(name, version)
        data = content if content is not None else dists.make_sdist(name, version)
        filetype, pyversion = "sdist", "source"
    form: dict[str, Any] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.4",
        "name": name,
        "version": version,
        "summary": "test package",
        "filetype": filetype,
        "pyversion": pyversion,
        "sha256_digest": dists.sha256(data),
        "content": SimpleUploadedFile(filename, data, content_type="application/octet-stream"),
    }
    for key, value in overrides.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


@pytest.fixture
def upload(client: Client) -> Callable[..., Any]:
    def post(token: str | None, form: dict[str, Any], path: str = "/legacy/") -> Any:
        headers = {"HTTP_AUTHORIZATION": basic_auth("__token__", token)} if token else {}
        return client.post(path, form, **headers)

    return post
