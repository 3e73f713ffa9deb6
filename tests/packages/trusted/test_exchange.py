"""The exchange at /_/oidc/mint-token and the uploads its tokens make: a CI run publishes
with no stored secret, and every wrong identity token is refused with nothing stored."""

import re
import time

import pytest
from django.core import mail

from packyard.oidc.models import UsedJwt
from packyard.packages.events import ProjectEventTag
from packyard.packages.models import File, Project, ProjectEvent, PublisherToken
from packyard.packages.trusted.publishers import publisher_add, publisher_remove
from tests.conftest import browser_for, upload_form
from tests.oidc_issuer import github_claims, gitlab_claims
from tests.packages.trusted.helpers import (
    GITLAB_PUBLISHER,
    github_publisher,
    mint,
    minted,
    project_of,
    refused,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(alice, oidc):
    project = project_of(alice)
    github_publisher(project, oidc["github"])
    return project


def nothing_minted() -> bool:
    return not PublisherToken.objects.exists() and not UsedJwt.objects.exists()


def test_a_github_run_exchanges_its_token_and_uploads(client, demo, oidc, upload):
    response = mint(client, oidc["github"].token(**github_claims()))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["token"].startswith("packyard-")
    assert 14 * 60 <= body["expires"] - time.time() <= 15 * 60

    assert upload(body["token"], upload_form("demo", "1.0")).status_code == 200
    file = File.objects.get(release__project=demo)
    assert file.uploader is None
    assert file.published_by | {"url": ""} == {
        "source": "octo/demo",
        "workflow": "release.yml",
        "ref": "refs/tags/v1.0",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "run": "1001",
        "url": "",
    }
    added = ProjectEvent.objects.get(project=demo, tag=ProjectEventTag.FILE_ADD)
    assert added.additional["method"] == "trusted publisher"
    assert added.additional["run_source"] == "octo/demo"
    assert added.additional["publisher"] == "github octo/demo, workflow release.yml"
    minted_event = ProjectEvent.objects.get(project=demo, tag=ProjectEventTag.PUBLISHER_TOKEN_ADDED)
    assert minted_event.additional["ref"] == "refs/tags/v1.0"


def test_the_history_says_which_publisher_and_run_uploaded(client, alice, demo, oidc, upload):
    token = minted(client, oidc["github"].token(**github_claims()))
    upload(token, upload_form("demo", "1.0"))
    page = browser_for(alice).get("/manage/project/demo/history/").content.decode()
    assert (
        "demo-1.0-py3-none-any.whl uploaded (1.0) by the trusted publisher github octo/demo, "
        "workflow release.yml (octo/demo run 1001 at refs/tags/v1.0)"
    ) in page
    assert "Upload token for 15 minutes given to github octo/demo" in page


def test_the_release_page_says_which_run_published_each_file(client, demo, oidc, upload):
    token = minted(client, oidc["github"].token(**github_claims()))
    upload(token, upload_form("demo", "1.0"))
    page = re.sub(r"<[^>]+>", "", client.get("/project/demo/1.0/").content.decode())
    assert "published by octo/demo release.yml at refs/tags/v1.0" in " ".join(page.split())


def test_the_audience_is_announced(client, oidc):
    assert client.get("/_/oidc/audience").json() == {"audience": "testserver"}


def test_without_issuers_trusted_publishing_says_it_is_off(client, db):
    response = client.get("/_/oidc/audience")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "not-enabled"
    assert mint(client, "x.y.z").json()["errors"][0]["code"] == "not-enabled"


def test_pep_807_discovery_names_the_endpoints(client, oidc, settings):
    response = client.get("/.well-known/pytp", {"discover": "/legacy/"})
    assert response.json() == {
        "audience-endpoint": settings.BASE_URL + "/_/oidc/audience",
        "token-mint-endpoint": settings.BASE_URL + "/_/oidc/mint-token",
    }
    elsewhere = client.get("/.well-known/pytp", {"discover": "/upload/"})
    assert elsewhere.status_code == 404
    assert elsewhere["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"repository_id": "999"}, "the token's repository_id is '999'"),
        ({"repository_owner_id": "1"}, "the token's repository_owner_id is '1'"),
        (
            {"job_workflow_ref": "octo/demo/.github/workflows/ci.yml@refs/heads/main"},
            "the token's workflow is 'octo/demo/.github/workflows/ci.yml'",
        ),
        ({"event_name": "pull_request_target"}, "the event pull_request_target is not allowed"),
        ({"event_name": "workflow_run"}, "the event workflow_run is not allowed"),
    ],
    ids=["recreated-repository", "transferred-owner", "other-workflow", "prt", "workflow-run"],
)
def test_a_near_miss_names_the_claim_that_failed_and_stores_nothing(
    client, demo, oidc, claims, says
):
    error = refused(client, oidc["github"].token(**github_claims(**claims)))
    assert error["code"] == "invalid-publisher"
    assert says in error["description"]
    assert nothing_minted()


def test_a_refusal_never_shows_what_a_publisher_expects(client, demo, oidc):
    error = refused(client, oidc["github"].token(**github_claims(repository_id="999")))
    assert "4242" not in error["description"]  # the publisher's id stays with its Owners


def test_a_repository_without_a_publisher_is_refused(client, demo, oidc):
    error = refused(client, oidc["github"].token(**github_claims(repository="eve/demo")))
    assert error == {
        "code": "invalid-publisher",
        "description": "valid token, but no corresponding publisher (no publisher is "
        "registered for these claims)",
    }


def test_the_refusal_carries_the_tokens_claims_for_the_client_to_show(client, demo, oidc):
    response = mint(client, oidc["github"].token(**github_claims(repository_id="999")))
    assert response.json()["claims"]["repository_id"] == "999"


def test_an_allowed_event_passes(client, alice, oidc):
    project = project_of(alice)
    publisher_add(
        project=project,
        issuer_url=oidc["github"].url,
        claims={
            "repository": "octo/demo",
            "repository_id": "4242",
            "repository_owner_id": "77",
            "workflow": "release.yml",
        },
        allowed_events=["pull_request_target"],
        actor=None,
    )
    assert minted(client, oidc["github"].token(**github_claims(event_name="pull_request_target")))


def test_an_environment_must_match_when_the_publisher_names_one(client, alice, oidc):
    github_publisher(project_of(alice), oidc["github"], environment="pypi")
    error = refused(client, oidc["github"].token(**github_claims(environment="staging")))
    assert "the token's environment is 'staging'" in error["description"]
    assert minted(client, oidc["github"].token(**github_claims(environment="PyPI")))


def test_an_identity_token_is_exchanged_once(client, demo, oidc):
    token = oidc["github"].token(**github_claims())
    assert minted(client, token)
    error = refused(client, token)
    assert error == {"code": "invalid-reuse-token", "description": "invalid token: already used"}
    assert PublisherToken.objects.count() == 1


def test_a_token_for_another_project_cannot_upload_here(client, alice, demo, oidc, upload):
    other = project_of(alice, "other")
    github_publisher(other, oidc["github"], repository="octo/other", repository_id="5")
    token = minted(client, oidc["github"].token(**github_claims("octo/other", repository_id="5")))
    response = upload(token, upload_form("demo", "1.0"))
    assert response.status_code == 403
    assert "uploads only to the projects whose publisher it was given to (other)" in (
        response.content.decode()
    )
    assert not File.objects.exists()


def test_a_token_cannot_create_a_project(client, demo, oidc, upload):
    token = minted(client, oidc["github"].token(**github_claims()))
    response = upload(token, upload_form("brand-new", "1.0"))
    assert response.status_code == 403
    assert not Project.objects.filter(normalized_name="brand-new").exists()


def test_an_expired_minted_token_is_refused(client, demo, oidc, upload):
    token = minted(client, oidc["github"].token(**github_claims()))
    PublisherToken.objects.update(expires="2000-01-01T00:00:00Z")
    response = upload(token, upload_form("demo", "1.0"))
    assert response.status_code == 403
    assert "expired" in response.content.decode()


def test_a_burned_token_no_longer_uploads_and_burning_again_is_fine(client, demo, oidc, upload):
    token = minted(client, oidc["github"].token(**github_claims()))
    for _ in range(2):
        burned = client.post(
            "/_/oidc/burn-token", f'{{"token": "{token}"}}', content_type="application/json"
        )
        assert burned.json() == {"success": True}
    response = upload(token, upload_form("demo", "1.0"))
    assert response.status_code == 403
    assert "used up" in response.content.decode()


def test_burning_something_else_is_refused(client, oidc, alice_token):
    response = client.post(
        "/_/oidc/burn-token", f'{{"token": "{alice_token}"}}', content_type="application/json"
    )
    assert response.status_code == 422


def test_removing_the_publisher_ends_its_tokens(client, demo, oidc, upload):
    token = minted(client, oidc["github"].token(**github_claims()))
    publisher_remove(publisher=demo.publishers.get(), actor=None)
    response = upload(token, upload_form("demo", "1.0"))
    assert response.status_code == 403
    assert not File.objects.exists()


def test_a_minted_token_does_not_read_a_private_index(client, demo, oidc, settings):
    settings.PACKYARD_PRIVATE = True
    token = minted(client, oidc["github"].token(**github_claims()))
    from tests.conftest import basic_auth

    response = client.get("/simple/demo/", HTTP_AUTHORIZATION=basic_auth("__token__", token))
    assert response.status_code in (401, 403)


def test_a_gitlab_job_is_bound_to_its_project_and_namespace_ids(client, alice, oidc, upload):
    project = project_of(alice)
    publisher_add(
        project=project, issuer_url=oidc["gitlab"].url, claims=GITLAB_PUBLISHER, actor=None
    )
    gitlab = oidc["gitlab"]
    for claims, says in [
        ({"namespace_id": "10"}, "namespace_id is '10'"),
        ({"project_id": "32"}, "project_id is '32'"),
        (
            {"ci_config_ref_uri": "gitlab.example/group/demo//ci/other.yml@refs/tags/v1.0"},
            "ci_config_ref_uri is",
        ),
    ]:
        assert says in refused(client, gitlab.token(**gitlab_claims(**claims)))["description"]
    token = minted(client, gitlab.token(**gitlab_claims()))
    assert upload(token, upload_form("demo", "1.0")).status_code == 200
    file = File.objects.get()
    assert file.published_by["url"] == "https://gitlab.example/group/demo/-/jobs/556"


def test_a_generic_issuer_matches_any_claims_with_prefixes(client, alice, oidc):
    publisher_add(
        project=project_of(alice),
        issuer_url=oidc["generic"].url,
        claims={"sub": "pipeline:acme/*", "team_id": "17"},
        actor=None,
    )
    generic = oidc["generic"]
    assert minted(client, generic.token(sub="pipeline:acme/release", team_id=17))
    error = refused(client, generic.token(sub="pipeline:evil/release", team_id=17))
    assert error["code"] == "invalid-publisher"
    assert refused(client, generic.token(sub="pipeline:acme/release", team_id=[17]))


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b'{"token": 5}', b"[]", b'{"jwt": "x"}'],
    ids=["empty", "not-json", "not-a-string", "list", "wrong-key"],
)
def test_a_malformed_body_is_refused_plainly(client, oidc, body):
    response = client.post("/_/oidc/mint-token", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid-payload"


def test_a_huge_body_is_refused_before_it_is_read(client, oidc):
    response = client.post(
        "/_/oidc/mint-token",
        b'{"token": "' + b"x" * (1024 * 1024) + b'"}',
        content_type="application/json",
    )
    assert response.status_code == 413


def test_failed_exchanges_from_one_address_are_limited(client, demo, oidc, settings):
    from packyard.packages.trusted import views

    for _ in range(views.EXCHANGE_FAILURES[0]):
        refused(client, "garbage")
    response = mint(client, oidc["github"].token(**github_claims()))
    assert response.status_code == 429
    assert response["Retry-After"]
    assert PublisherToken.objects.count() == 0


def test_the_minting_is_told_to_nobody_but_recorded(client, demo, oidc):
    mail.outbox.clear()
    minted(client, oidc["github"].token(**github_claims()))
    assert mail.outbox == []
    assert ProjectEvent.objects.filter(tag=ProjectEventTag.PUBLISHER_TOKEN_ADDED).count() == 1


def test_an_issuer_whose_keys_cannot_be_fetched_answers_503(client, alice, settings, tmp_path):
    import json as json_module

    from tests.oidc_issuer import TestIssuer

    gone = TestIssuer().start()
    token = gone.token(**github_claims())
    gone.stop()  # the issuer is down: its keys cannot be fetched
    path = tmp_path / "down.json"
    path.write_text(
        json_module.dumps([{"url": gone.url, "kind": "github", "audience": "testserver"}])
    )
    settings.PACKYARD_OIDC_ISSUERS_FILE = str(path)
    response = mint(client, token)
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "issuer-unavailable"
    assert nothing_minted()
