"""Receiving the multipart body: malformed forms are refused with a clear message."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import basic_auth, upload_form
from tests.packages.upload.helpers import (
    assert_nothing_stored,
    assert_refused,
)

pytestmark = pytest.mark.django_db


def test_non_multipart_body_refused(client, alice_token):
    response = client.post(
        "/legacy/",
        data=b"name=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
    )
    assert_refused(response, 400, "not a valid multipart form")


def test_malformed_multipart_boundary_refused(client, alice_token):
    response = client.post(
        "/legacy/",
        data=b"--x\r\ngarbage",
        content_type="multipart/form-data",
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
    )
    assert_refused(response, 400, "not a valid multipart form")


def test_missing_content_refused(upload, alice_token):
    form = upload_form()
    form.pop("content")
    response = upload(alice_token, form)
    assert_refused(response, 400, "Upload payload does not have a file.")


def test_field_sent_as_file_refused(upload, alice_token):
    form = upload_form()
    form["version"] = SimpleUploadedFile("version.txt", b"1.0")
    response = upload(alice_token, form)
    assert_refused(response, 400, "The field 'version' must be sent as text, not as a file.")
    assert_nothing_stored()


def test_client_sees_refusal_not_500_for_huge_form_field(upload, alice_token):
    response = upload(alice_token, upload_form(description="x" * (9 * 1024 * 1024)))
    assert_refused(response, 413, "The form fields are too large.")
