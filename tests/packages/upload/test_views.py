"""The upload endpoint itself: POST only, browsers refused, the declared size checked first."""

import pytest

from tests.conftest import basic_auth, upload_form
from tests.packages.upload.helpers import (
    assert_nothing_stored,
    assert_refused,
)

# Every test here runs on local files and again on an S3 bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.both_stores]


def test_upload_without_trailing_slash_is_accepted_not_redirected(upload, alice_token):
    response = upload(alice_token, upload_form(), path="/legacy")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_MODE": "navigate"},
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "same-site"},
        {"HTTP_ORIGIN": "https://attacker.example"},
        {"HTTP_ORIGIN": "null"},
    ],
)
def test_upload_with_browser_markers_refused(client, alice_token, headers):
    response = client.post(
        "/legacy/",
        upload_form(),
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
        **headers,
    )
    assert_refused(response, 403, "not from web browsers")
    assert_nothing_stored()


def test_upload_from_the_sites_own_origin_is_not_a_browser_marker(client, alice_token):
    response = client.post(
        "/legacy/",
        upload_form(),
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
        HTTP_ORIGIN="http://localhost:8000",
        HTTP_SEC_FETCH_SITE="same-origin",
    )
    assert response.status_code == 200


def test_file_over_limit_refused_with_413(upload, alice_token, settings):
    settings.PACKYARD_MAX_FILE_SIZE = 1000
    response = upload(alice_token, upload_form(content=b"x" * 5000))
    assert_refused(response, 413, "File too large. Limit for this index is")
    assert_nothing_stored()


def test_get_on_upload_url_answers_405(client):
    response = client.get("/legacy/")
    assert response.status_code == 405


def test_malformed_content_length_is_not_a_server_error(client, alice_token):
    response = client.post(
        "/legacy/",
        data=b"x",
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH="lots",
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
    )
    assert response.status_code == 400
