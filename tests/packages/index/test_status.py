"""PEP 792 project status in the simple API (HTML and JSON), the JSON API and the project page,
read back by pypi-simple, a parser that knows the markers."""

import json

import pytest
from django.utils import timezone
from pypi_simple import ProjectPage, ProjectStatus

from packyard.packages import loosening
from packyard.packages.index import pages, simple
from packyard.packages.index.routes import project_keys
from packyard.packages.models import Project, RenderedPage, SettingChange
from tests.conftest import upload_form

pytestmark = pytest.mark.django_db
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def demo(upload, alice_token, alice):
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    return Project.objects.get(normalized_name="demo")


def set_status(project, alice, status, reason=""):
    loosening.setting_change(
        project=project,
        setting="status",
        value=loosening.status_value(status, reason),
        actor=alice,
        request=None,
    )


def pages_of(client):
    html = client.get("/simple/demo/")
    data = client.get("/simple/demo/", HTTP_ACCEPT=JSON)
    return (
        ProjectPage.from_html("demo", html.content, base_url="http://testserver/simple/demo/"),
        ProjectPage.from_json_data(json.loads(data.content), base_url="http://testserver/"),
        html.content.decode(),
        json.loads(data.content),
    )


def test_an_archived_project_says_so_in_both_formats_as_pypi_simple_reads_them(client, demo, alice):
    set_status(demo, alice, "archived", 'Moved to "demo2" <see there> & thanks')
    from_html, from_json, html, data = pages_of(client)
    for page in (from_html, from_json):
        assert page.status is ProjectStatus.ARCHIVED
        assert page.status_reason == 'Moved to "demo2" <see there> & thanks'
        assert page.repository_version == "1.4"
        assert [p.filename for p in page.packages] == ["demo-1.0-py3-none-any.whl"]
    assert '<meta name="pypi:project-status" content="archived">' in html
    assert "&lt;see there&gt;" in html  # escaped where it is written
    assert data["project-status"] == {
        "status": "archived",
        "reason": 'Moved to "demo2" <see there> & thanks',
    }


def test_the_stored_pages_the_fast_path_serves_carry_the_status_at_once(demo, alice):
    set_status(demo, alice, "deprecated", "use demo2")
    html_key, json_key, _ = project_keys("demo")
    stored = {row.key: pages.stored_body(row) for row in RenderedPage.objects.all()}
    assert b'<meta name="pypi:project-status" content="deprecated">' in stored[html_key]
    assert json.loads(stored[json_key])["project-status"]["status"] == "deprecated"
    assert not RenderedPage.objects.filter(key__in=[html_key, json_key], stale=True).exists()


def test_an_active_project_carries_no_marker_and_parses_as_active(client, demo):
    from_html, from_json, html, data = pages_of(client)
    # Absent means active (PEP 792); pypi-simple reports it as not given.
    assert from_html.status is None
    assert from_json.status is None
    assert "pypi:project-status" not in html
    assert "project-status" not in data
    assert data["meta"]["api-version"] == simple.API_VERSION == "1.4"


def test_deprecated_then_active_again_takes_effect_at_once(client, demo, alice):
    set_status(demo, alice, "deprecated", "use demo2")
    assert pages_of(client)[0].status is ProjectStatus.DEPRECATED
    set_status(demo, alice, "active")
    demo.refresh_from_db()
    assert (demo.status, demo.status_reason) == ("", "")
    assert pages_of(client)[0].status is None


def test_the_json_api_and_the_project_page_show_the_status(client, demo, alice):
    set_status(demo, alice, "archived", "finished")
    info = json.loads(client.get("/pypi/demo/json").content)["info"]
    assert info["project_status"] == {"status": "archived", "reason": "finished"}
    page = client.get("/project/demo/").content.decode()
    assert "This project is archived by its Owners" in page
    assert "finished" in page


def test_a_status_change_is_a_new_serial_for_mirrors(client, demo, alice):
    before = Project.objects.get(pk=demo.pk).last_serial
    set_status(demo, alice, "archived")
    after = Project.objects.get(pk=demo.pk).last_serial
    assert after > before
    assert client.get("/simple/demo/")["X-PyPI-Last-Serial"] == str(after)


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        ("gone", "", "active, archived or deprecated"),
        ("quarantined", "", "active, archived or deprecated"),  # staff's, not an Owner's
        ("archived", "x" * 401, "under 400 characters"),
        ("deprecated", "two\nlines", "on one line"),
    ],
)
def test_a_bad_status_is_refused_with_nothing_changed(demo, alice, status, reason, message):
    with pytest.raises(loosening.SettingError, match=message):
        set_status(demo, alice, status, reason)
    demo.refresh_from_db()
    assert (demo.status, demo.status_reason) == ("", "")


def test_an_archived_project_takes_no_uploads_and_a_deprecated_one_does(
    upload, alice_token, demo, alice
):
    set_status(demo, alice, "archived")
    response = upload(alice_token, upload_form("demo", "2.0"))
    assert response.status_code == 403
    assert "archived by its Owners" in response.reason_phrase
    assert "archived by its Owners" in response.content.decode()
    assert not demo.releases.filter(version="2.0").exists()
    # Unarchiving loosens: it waits.
    set_status(demo, alice, "deprecated", "use demo2")
    assert upload(alice_token, upload_form("demo", "2.0")).status_code == 403
    SettingChange.objects.update(effective=timezone.now())
    assert upload(alice_token, upload_form("demo", "2.0")).status_code == 200
    demo.refresh_from_db()
    assert demo.status == "deprecated"
