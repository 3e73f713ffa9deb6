"""The metadata as clients send it, validated by packaging; descriptions rendered safely."""

import pytest

from packyard.packages.models import Release
from tests.conftest import upload_form
from tests.packages.upload.helpers import (
    assert_nothing_stored,
    assert_refused,
)

pytestmark = pytest.mark.django_db


def test_metadata_version_2_5_accepted(upload, alice_token):
    form = upload_form(metadata_version="2.5")
    assert upload(alice_token, form).status_code == 200


def test_metadata_version_1_0_accepted(upload, alice_token):
    form = upload_form(metadata_version="1.0")
    assert upload(alice_token, form).status_code == 200


def test_markdown_readme_is_rendered_without_script(upload, alice_token):
    form = upload_form(
        description="# Title\n\n<script>alert(1)</script>", description_content_type="text/markdown"
    )
    assert upload(alice_token, form).status_code == 200
    html = Release.objects.get().description_html
    assert 'id="user-content-title">Title' in html
    assert "<script>" not in html


def test_invalid_metadata_refused(upload, alice_token):
    response = upload(alice_token, upload_form(requires_python="not a specifier"))
    assert_refused(response, 400, "Invalid metadata: requires-python")
    assert_nothing_stored()


@pytest.mark.parametrize("version", ["3.0", "2.0"])
def test_unsupported_metadata_version_refused(upload, alice_token, version):
    response = upload(alice_token, upload_form(metadata_version=version))
    assert_refused(response, 400, f"metadata-version '{version}' is not one of 1.0, 1.1, 1.2, 2.1,")
    assert_nothing_stored()


def test_missing_version_refused(upload, alice_token):
    form = upload_form()
    form.pop("version")
    assert_refused(upload(alice_token, form), 400, "version is missing")


def test_rst_description_that_fails_to_render_refused(upload, alice_token):
    response = upload(
        alice_token, upload_form(description="Title\n===\n\n.. raw:: html\n\n   <b>x</b>\n")
    )
    assert_refused(response, 400, "The description failed to render")
    assert_nothing_stored()
