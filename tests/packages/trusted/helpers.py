import json
from typing import Any

from django.test import Client

from packyard.accounts.models import User
from packyard.packages.models import Project, Publisher
from packyard.packages.services import project_create
from packyard.packages.trusted.publishers import publisher_add
from tests.oidc_issuer import TestIssuer

GITHUB_PUBLISHER = {
    "repository": "octo/demo",
    "repository_id": "4242",
    "repository_owner_id": "77",
    "workflow": "release.yml",
}
GITLAB_PUBLISHER = {
    "project_path": "group/demo",
    "project_id": "31",
    "namespace_id": "9",
    "ci_config_path": ".gitlab-ci.yml",
}


def project_of(owner: User, name: str = "demo") -> Project:
    return project_create(name=name, normalized_name=name, owner=owner)


def github_publisher(project: Project, issuer: TestIssuer, **claims: str) -> Publisher:
    return publisher_add(
        project=project,
        issuer_url=issuer.url,
        claims=GITHUB_PUBLISHER | claims,
        actor=None,
    )


def mint(client: Client, identity_token: str) -> Any:
    return client.post(
        "/_/oidc/mint-token",
        json.dumps({"token": identity_token}),
        content_type="application/json",
    )


def minted(client: Client, identity_token: str) -> str:
    response = mint(client, identity_token)
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def refused(client: Client, identity_token: str) -> dict[str, str]:
    """The one error of a refused exchange, in PyPI's shape."""
    response = mint(client, identity_token)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["message"] == "Token request failed"
    assert len(body["errors"]) == 1
    return dict(body["errors"][0])
