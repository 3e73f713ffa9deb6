"""Token scopes as users meet them: twine and uv show each refusal's reason."""

from pathlib import Path

import pytest
from pypitoken import Token

from tests import dists
from tests.e2e.conftest import Server, Tools, run, twine_upload

pytestmark = pytest.mark.e2e


def wheel(tmp_path: Path, name: str, version: str) -> Path:
    path = tmp_path / dists.wheel_filename(name, version)
    path.write_bytes(dists.make_wheel(name, version))
    return path


def twine(tools: Tools, server: Server, token: str, file: Path):
    return twine_upload(tools, server, [file], token=token, check=False)


def uv_publish(tools: Tools, server: Server, token: str, file: Path):
    return run(
        [tools.uv, "publish", "--publish-url", server.upload_url, "--token", token, file],
        check=False,
    )


def said(result) -> str:
    """What the client printed, with the line wrapping of its console undone."""
    return " ".join((result.stdout + result.stderr).split())


def mint(server: Server, *args: str) -> str:
    return server.packyard("token", "create", "alice", *args).stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def scoped_project(tools: Tools, server: Server, tmp_path_factory) -> str:
    first = wheel(tmp_path_factory.mktemp("w"), "e2e-scoped", "1.0")
    assert twine(tools, server, server.token, first).returncode == 0
    return "e2e-scoped"


def test_project_scoped_token_with_twine(tools, server, scoped_project, tmp_path):
    token = mint(server, "--project", scoped_project)
    assert twine(tools, server, token, wheel(tmp_path, "e2e-scoped", "2.0")).returncode == 0
    refused = twine(tools, server, token, wheel(tmp_path, "e2e-elsewhere", "1.0"))
    assert refused.returncode != 0
    assert "project-scoped token is not valid for project: 'e2e-elsewhere'" in said(refused)


def test_project_scoped_token_with_uv(tools, server, scoped_project, tmp_path):
    token = mint(server, "--project", scoped_project)
    assert uv_publish(tools, server, token, wheel(tmp_path, "e2e-scoped", "3.0")).returncode == 0
    refused = uv_publish(tools, server, token, wheel(tmp_path, "e2e-elsewhere", "1.0"))
    assert refused.returncode != 0
    assert "project-scoped token is not valid for project" in said(refused)


def test_expired_token(tools, server, tmp_path):
    output = server.packyard("token", "create", "alice", "--description", "to expire").stdout
    token = output.strip().splitlines()[-1]
    token_id = Token.load(token)._macaroon.identifier.decode()
    server.shell(
        "from django.utils import timezone; from packyard.tokens.models import ApiToken; "
        f"ApiToken.objects.filter(pk='{token_id}').update(expires=timezone.now())"
    )
    refused = twine(tools, server, token, wheel(tmp_path, "e2e-expired", "1.0"))
    assert "token is expired" in said(refused)


def test_token_narrowed_offline_with_pypitoken(tools, server, tmp_path):
    narrowed = Token.load(server.token).restrict(project_names=["e2e-narrow"]).dump()
    assert twine(tools, server, narrowed, wheel(tmp_path, "e2e-narrow", "1.0")).returncode == 0
    refused = twine(tools, server, narrowed, wheel(tmp_path, "e2e-wide", "1.0"))
    assert "not valid for project: 'e2e-wide'" in said(refused)


def test_address_restricted_tokens(tools, server, tmp_path):
    allowed = mint(server, "--from", "127.0.0.0/8", "--from", "::1/128")
    refused_token = mint(server, "--from", "192.0.2.0/24")
    assert twine(tools, server, allowed, wheel(tmp_path, "e2e-cidr", "1.0")).returncode == 0
    refused = twine(tools, server, refused_token, wheel(tmp_path, "e2e-cidr", "2.0"))
    assert "token is not valid from address" in said(refused)


def test_single_use_token_used_twice(tools, server, tmp_path):
    token = mint(server, "--single-use")
    assert twine(tools, server, token, wheel(tmp_path, "e2e-once", "1.0")).returncode == 0
    again = twine(tools, server, token, wheel(tmp_path, "e2e-once", "2.0"))
    assert "token has been revoked" in said(again)
