import pytest

from tests.conftest import upload_form


@pytest.fixture
def published(upload, alice_token):
    for form in (
        upload_form("Demo_Pkg", "1.0"),
        upload_form("Demo_Pkg", "2.0"),
        upload_form("other", "0.1"),
    ):
        assert upload(alice_token, form).status_code == 200
