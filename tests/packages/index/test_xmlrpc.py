"""The XML-RPC calls mirrors make at /pypi, and what they refuse."""

import xmlrpc.client

import pytest

from packyard.packages import services
from packyard.packages.models import JournalEntry, Project, Release
from packyard.tokens.mint import token_mint
from packyard.tokens.scope import TokenScope
from tests.conftest import basic_auth, upload_form

pytestmark = pytest.mark.django_db


def call(client, method, *params, **headers):
    body = xmlrpc.client.dumps(params, method, allow_none=True)
    response = client.post("/pypi", body, content_type="text/xml", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    try:
        return xmlrpc.client.loads(response.content, use_builtin_types=True)[0][0]
    except xmlrpc.client.Fault as fault:
        return fault


@pytest.fixture
def index(upload, alice_token):
    for form in (
        upload_form("Demo_Pkg", "1.0"),
        upload_form("Demo_Pkg", "2.0"),
        upload_form("Demo_Pkg", "3.0b1"),
        upload_form("other", "0.1"),
    ):
        assert upload(alice_token, form).status_code == 200
    return {p.normalized_name: p for p in Project.objects.all()}


def newest() -> int:
    return JournalEntry.objects.order_by("-id").values_list("id", flat=True)[0]


def test_list_packages_with_serial(client, index):
    assert call(client, "list_packages_with_serial") == {
        "Demo_Pkg": index["demo-pkg"].last_serial,
        "other": index["other"].last_serial,
    }


def test_changelog_follows_every_change(client, index, alice, rf):
    last = call(client, "changelog_last_serial")
    assert last == newest()
    assert call(client, "changelog_since_serial", last) == []
    release = Release.objects.get(version="2.0")
    services.release_yank(release=release, reason="", actor=alice, request=rf.post("/"))
    (entry,) = call(client, "changelog_since_serial", last)
    name, version, timestamp, action, serial = entry
    assert (name, version, action, serial) == ("Demo_Pkg", "2.0", "yank release", last + 1)
    assert isinstance(timestamp, int)
    everything = call(client, "changelog_since_serial", 0)
    assert [e[4] for e in everything] == list(range(everything[0][4], last + 2))
    assert everything[0][1] is None  # the project's creation names no version, as PyPI's


def test_package_releases_latest_or_all(client, index):
    assert call(client, "package_releases", "demo-pkg") == ["2.0"]
    assert call(client, "package_releases", "Demo.Pkg", True) == ["3.0b1", "2.0", "1.0"]
    assert call(client, "package_releases", "nothing") == []


def test_quarantined_projects_are_not_listed(client, index, alice, rf):
    services.project_quarantine(project=index["other"], on=True, admin=alice, request=rf.post("/"))
    assert list(call(client, "list_packages_with_serial")) == ["Demo_Pkg"]
    assert call(client, "package_releases", "other") == []


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("system.listMethods", (), -32601),
        ("user_packages", ("alice",), -32601),
        ("changelog_since_serial", (), -32602),
        ("changelog_since_serial", ("1",), -32602),
        ("changelog_since_serial", (True,), -32602),
        ("package_releases", (1,), -32602),
        ("package_releases", ("demo-pkg", True, 3), -32602),
    ],
)
def test_other_methods_and_wrong_arguments_are_faults(client, index, method, params, code):
    fault = call(client, method, *params)
    assert isinstance(fault, xmlrpc.client.Fault)
    assert fault.faultCode == code


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<methodCall><methodName>changelog_last_serial</methodName>",
        # Entities that expand a thousandfold at each level: refused, not expanded.
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
        )
        + b"]><methodCall><methodName>&i;</methodName></methodCall>",
    ],
)
def test_malformed_calls_are_parse_faults(client, index, body):
    response = client.post("/pypi", body, content_type="text/xml")
    assert response.status_code == 200
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(response.content)
    assert fault.value.faultCode == -32700


def test_only_xml_posts_of_a_bounded_size(client, index):
    assert client.get("/pypi").status_code == 405
    body = xmlrpc.client.dumps((), "changelog_last_serial")
    wrong_type = client.post("/pypi", body, content_type="text/plain")
    assert wrong_type.status_code == 415
    huge = body.replace("</methodCall>", " " * 70_000 + "</methodCall>")
    too_big = client.post("/pypi", huge, content_type="text/xml")
    assert too_big.status_code == 413
    assert "64 KiB" in too_big.content.decode()


def test_a_private_index_needs_read_credentials(client, index, alice, settings):
    settings.PACKYARD_PRIVATE = True
    body = xmlrpc.client.dumps((), "list_packages_with_serial")
    assert client.post("/pypi", body, content_type="text/xml").status_code == 401
    bad = client.post(
        "/pypi", body, content_type="text/xml", HTTP_AUTHORIZATION=basic_auth("__token__", "x")
    )
    assert bad.status_code == 401
    demo = index["demo-pkg"]
    raw = token_mint(
        user=alice,
        description="mirror",
        scope=TokenScope(projects=(("demo-pkg", str(demo.id)),), read_only=True),
    )[1]
    auth = {"HTTP_AUTHORIZATION": basic_auth("__token__", raw)}
    assert call(client, "list_packages_with_serial", **auth) == {"Demo_Pkg": demo.last_serial}
    assert call(client, "changelog_last_serial", **auth) == demo.last_serial < newest()
    changes = call(client, "changelog_since_serial", 0, **auth)
    assert {entry[0] for entry in changes} == {"Demo_Pkg"}
    assert call(client, "package_releases", "other", **auth) == []
