"""Trusted publishing from real clients, unchanged, against the tests' own CI issuers: uv
publishes from a GitHub-style run (behind TLS, as uv insists), and the `id` library finds the
identity token of a GitHub-style and a GitLab-style job for twine to upload with."""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, Tools, run, twine_upload
from tests.e2e.test_clients import README, pep621, published_files
from tests.e2e.tls import TlsFront, tls_front
from tests.oidc_issuer import REQUEST_TOKEN, TestIssuer, github_claims, gitlab_claims

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def front(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFront]:
    port = int(server.url.rsplit(":", 1)[1])
    tls = tls_front(tmp_path_factory.mktemp("tls"), port)
    yield tls
    tls.close()


def github_publisher(server: Server, issuer: TestIssuer, name: str, repo_id: str) -> list[str]:
    claims = {
        "repository": f"octo/{name}",
        "repository_id": repo_id,
        "repository_owner_id": "77",
        "workflow": "release.yml",
    }
    return [
        "publisher",
        "add",
        name,
        "--issuer",
        issuer.url,
        *(f"--claim={key}={value}" for key, value in claims.items()),
    ]


def build(tools: Tools, project_dir, name: str) -> list[Path]:
    root = project_dir(
        {
            "pyproject.toml": pep621(name, "uv_build", "uv_build>=0.8,<1"),
            "README.md": README.format(name=name),
            f"src/{name.replace('-', '_')}/__init__.py": "VALUE = 1\n",
        }
    )
    run([tools.uv, "build", "--out-dir", root / "dist"], cwd=root)
    return sorted(path for path in (root / "dist").iterdir() if path.suffix in (".whl", ".gz"))


def github_run_env(issuer: TestIssuer) -> dict[str, str]:
    """What a GitHub Actions runner gives a job with `id-token: write`."""
    return {
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{issuer.url}/actions-token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN,
    }


def exchange(server: Server, identity_token: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"{server.url}/_/oidc/mint-token",
        data=json.dumps({"token": identity_token}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, object] = json.load(response)
    except urllib.error.HTTPError as refused:
        with refused:
            answer = json.load(refused)
    return answer


def test_uv_publishes_a_new_project_from_a_github_style_run(
    tools, server, front, oidc_servers, project_dir
):
    github = oidc_servers["github"]
    name = "e2e-tp-uv"
    server.packyard(
        *github_publisher(server, github, name, "9001"), "--pending", "--owner", "alice"
    )
    github.request_claims = github_claims(f"octo/{name}", repository_id="9001")
    files = build(tools, project_dir, name)
    env = os.environ | github_run_env(github) | {"SSL_CERT_FILE": str(front.ca_file)}
    result = run(
        [
            tools.uv,
            "publish",
            "--trusted-publishing",
            "always",
            "--publish-url",
            f"{front.url}/legacy/",
            *files,
        ],
        env=env,
    )
    assert published_files(server, name) == {f.name for f in files}
    assert "created the project e2e-tp-uv" in server.mail_to("alice@example.com")
    seen = server.requests_seen()
    assert "POST /_/oidc/mint-token" in seen
    assert "POST /_/oidc/burn-token" in seen, result.stderr  # uv ends the token after uploading
    page = urllib.request.urlopen(f"{server.url}/project/{name}/", timeout=10).read().decode()
    assert "published by" in page
    assert f"octo/{name}" in page


def test_uv_shows_why_a_run_is_refused(tools, server, front, oidc_servers, project_dir):
    github = oidc_servers["github"]
    name = "e2e-tp-refused"
    server.packyard(
        *github_publisher(server, github, name, "9100"), "--pending", "--owner", "alice"
    )
    # The same repository name with another id: deleted and made again by someone else.
    github.request_claims = github_claims(f"octo/{name}", repository_id="6666")
    files = build(tools, project_dir, name)
    env = os.environ | github_run_env(github) | {"SSL_CERT_FILE": str(front.ca_file)}
    result = run(
        [
            tools.uv,
            "publish",
            "--trusted-publishing",
            "always",
            "--publish-url",
            f"{front.url}/legacy/",
            *files,
        ],
        env=env,
        check=False,
    )
    assert result.returncode != 0
    assert "repository_id is '6666'" in result.stdout + result.stderr
    with pytest.raises(urllib.error.HTTPError) as missing:  # the pending publisher made nothing
        published_files(server, name)
    assert missing.value.code == 404
    missing.value.close()


def test_id_finds_a_github_token_and_twine_uploads_with_the_exchange(
    tools, server, oidc_servers, project_dir
):
    github = oidc_servers["github"]
    name = "e2e-tp-twine"
    server.packyard(
        *github_publisher(server, github, name, "9200"), "--pending", "--owner", "alice"
    )
    github.request_claims = github_claims(f"octo/{name}", repository_id="9200")
    audience = urllib.request.urlopen(f"{server.url}/_/oidc/audience", timeout=10)
    audience_name = json.load(audience)["audience"]
    detected = run(
        [tools.python, "-m", "id", audience_name], env=os.environ | github_run_env(github)
    )
    minted = exchange(server, detected.stdout.strip())
    assert minted["success"] is True
    files = build(tools, project_dir, name)
    twine_upload(tools, server, files, token=str(minted["token"]))
    assert published_files(server, name) == {f.name for f in files}


def test_id_reads_a_gitlab_id_token_and_twine_uploads(tools, server, oidc_servers, project_dir):
    gitlab = oidc_servers["gitlab"]
    name = "e2e-tp-gitlab"
    server.create_user("gwen")
    server.packyard(
        "publisher",
        "add",
        name,
        "--issuer",
        gitlab.url,
        f"--claim=project_path=group/{name}",
        "--claim=project_id=31",
        "--claim=namespace_id=9",
        "--claim=ci_config_path=.gitlab-ci.yml",
        "--pending",
        "--owner",
        "gwen",
    )
    audience = "localhost"  # the index's host: its default audience
    # GitLab puts each `id_tokens` entry in a variable; `id` reads <AUDIENCE>_ID_TOKEN.
    identity_token = gitlab.token(aud=audience, **gitlab_claims(f"group/{name}"))
    env = os.environ | {"GITLAB_CI": "true", "LOCALHOST_ID_TOKEN": identity_token}
    detected = run([tools.python, "-m", "id", audience], env=env)
    assert detected.stdout.strip() == identity_token
    minted = exchange(server, identity_token)
    files = build(tools, project_dir, name)
    twine_upload(tools, server, files, token=str(minted["token"]))
    assert published_files(server, name) == {f.name for f in files}
    # The same job's token a second time: refused, nothing more stored.
    again = exchange(server, identity_token)
    assert again["errors"] == [
        {"code": "invalid-reuse-token", "description": "invalid token: already used"}
    ]
