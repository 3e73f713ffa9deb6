"""The JSON API answers in PyPI's shape: the same keys and types as a recorded PyPI answer,
null where PyPI has nothing, the links and roles PyPI derives."""

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import RequestFactory

from packyard.packages.collaborators import role_remove
from packyard.packages.index import pages
from packyard.packages.models import Project, Role
from tests.conftest import upload_form

pytestmark = pytest.mark.django_db
PYPI_ANSWER = json.loads(
    (Path(__file__).parents[2] / "data" / "pypi-json-release.json").read_text()
)


def shape(value: Any) -> Any:
    """Keys and JSON types; a list by the shape of its first item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def differences(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """Where our answer's structure differs from PyPI's. PyPI's null stands for "null or a
    value" (a field it may leave empty), and an empty list for a list of anything."""
    if theirs == "NoneType" or theirs == []:
        return []
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{where}: {ours} instead of an object"]
        if where.endswith(".releases") or where.endswith("project_urls"):
            # Keyed by versions or labels: compare the values only.
            theirs = {"*": next(iter(theirs.values()))}
            ours = {"*": next(iter(ours.values()))} if ours else {}
        found = [f"{where}.{key}: missing" for key in theirs.keys() - ours.keys()]
        found += [f"{where}.{key}: not in PyPI's answer" for key in ours.keys() - theirs.keys()]
        for key in theirs.keys() & ours.keys():
            found += differences(ours[key], theirs[key], f"{where}.{key}")
        return found
    if isinstance(theirs, list):
        return differences(ours[0], theirs[0], f"{where}[]") if ours else []
    return [] if ours == theirs else [f"{where}: {ours} instead of {theirs}"]


@pytest.fixture
def full_release(upload, alice_token, bob):
    form = upload_form(
        "sample",
        "4.0.0",
        description="# A sample\n",
        description_content_type="text/markdown",
        author_email="A. Random Developer <author@example.com>",
        maintainer_email="A. Great Maintainer <maintainer@example.com>",
        keywords="sample, development",
        license_expression="MIT",
        license_file="LICENSE.txt",
        classifiers=["Programming Language :: Python :: 3"],
        home_page="https://example.com/home",
        download_url="https://example.com/download",
        project_urls=["Homepage, https://example.com/home", "Source, https://example.com/src"],
        requires_dist=["peppercorn", 'check-manifest; extra == "dev"'],
        provides_extra=["dev"],
        requires_python=">=3.9",
        dynamic=["Requires-Dist"],
    )
    assert upload(alice_token, form).status_code == 200
    assert upload(alice_token, upload_form("sample", "4.0.0", kind="sdist")).status_code == 200
    project = Project.objects.get(normalized_name="sample")
    Role.objects.create(project=project, user=bob, role_name=Role.MAINTAINER)
    with transaction.atomic():
        pages.refresh(project.pk)  # the role was made directly, not through a service
    return project


# Ours alone: the project's PEP 792 status, which PyPI's recorded answer does not carry.
OUR_ADDITIONS = ["answer.info.project_status: not in PyPI's answer"]


def test_the_answer_has_pypi_keys_and_types(client, full_release):
    data = json.loads(client.get("/pypi/sample/json").content)
    assert differences(shape(data), shape(PYPI_ANSWER), "answer") == OUR_ADDITIONS
    versioned = json.loads(client.get("/pypi/sample/4.0.0/json").content)
    expected = {key: value for key, value in PYPI_ANSWER.items() if key != "releases"}
    assert differences(shape(versioned), shape(expected), "answer") == OUR_ADDITIONS
    assert data["info"]["project_status"] == {"status": "active", "reason": None}


def test_fields_read_as_pypi_gives_them(client, full_release):
    info = json.loads(client.get("/pypi/sample/json").content)["info"]
    assert info["description"] == "# A sample\n"
    assert info["license_files"] == ["LICENSE.txt"]
    assert info["dynamic"] == ["Requires-Dist"]  # as declared, not lower-cased
    assert info["downloads"]["last_day"] == -1
    assert (info["docs_url"], info["bugtrack_url"]) == (None, None)
    # Home-page and Download-URL lead, and a Project-URL repeating one is not listed twice.
    assert info["project_urls"] == {
        "Homepage": "https://example.com/home",
        "Download": "https://example.com/download",
        "Source": "https://example.com/src",
    }


def test_empty_fields_are_null(client, upload, alice_token):
    upload(alice_token, upload_form("bare", "1.0", summary=""))
    info = json.loads(client.get("/pypi/bare/json").content)["info"]
    for field in ("summary", "author", "license", "home_page", "keywords", "description"):
        assert info[field] is None, field
    assert (info["project_urls"], info["requires_dist"], info["dynamic"]) == (None, None, None)


def test_ownership_lists_owners_first_and_follows_role_changes(client, full_release, alice, bob):
    data = json.loads(client.get("/pypi/sample/json").content)
    assert data["ownership"] == {
        "organization": None,
        "roles": [{"role": "Owner", "user": "alice"}, {"role": "Maintainer", "user": "bob"}],
    }
    role_remove(role=Role.objects.get(user=bob), owner=alice, request=RequestFactory().post("/"))
    again = json.loads(client.get("/pypi/sample/json").content)
    assert again["ownership"]["roles"] == [{"role": "Owner", "user": "alice"}]
    assert again["last_serial"] > data["last_serial"]


def test_files_name_their_core_metadata(client, full_release):
    files = {
        f["packagetype"]: f for f in json.loads(client.get("/pypi/sample/json").content)["urls"]
    }
    assert files["bdist_wheel"]["core-metadata"]["sha256"]
    assert files["sdist"]["core-metadata"] is False


def test_a_version_is_found_by_its_canonical_form(client, upload, alice_token):
    upload(alice_token, upload_form("demo", "3.2"))
    assert json.loads(client.get("/pypi/demo/3.2.0/json").content)["info"]["version"] == "3.2"
    assert client.get("/pypi/demo/3.2.1/json").status_code == 404
    assert client.get("/pypi/demo/not a version/json").status_code == 404
