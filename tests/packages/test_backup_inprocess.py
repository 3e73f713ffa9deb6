"""`restore()` refusals in the test process (the whole round trip runs as the operator runs it
in tests/test_backup.py)."""

import json

import pytest
from django.db import connection

from packyard.packages.backup import BackupError, restore
from tests.conftest import upload_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(upload, alice_token):
    for form in (upload_form("demo", "1.0"), upload_form("demo", "1.0", kind="sdist")):
        assert upload(alice_token, form).status_code == 200


def test_restore_refuses_what_is_not_a_backup_and_a_database_in_use(tmp_path, published):
    with pytest.raises(BackupError, match="is not a Packyard backup"):
        restore(tmp_path)
    (tmp_path / "manifest.json").write_text(
        json.dumps({"database": connection.vendor.replace("postgresql", "postgresql")})
    )
    with pytest.raises(BackupError, match="Restore needs an empty database"):
        restore(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"database": "oracle"}))
    with pytest.raises(BackupError, match="holds a oracle database"):
        restore(tmp_path)
