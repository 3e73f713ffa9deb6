"""`packyard storage migrate --to URL`: from the data dir's files into a bucket, each checked,
resumable, and a damaged file left behind with a reason."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from packyard.cli import main
from packyard.packages.models import File
from packyard.packages.storage_migrate import storage_at
from tests.conftest import S3_BUCKET, s3_client, s3_storage_url, upload_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(upload, alice_token):
    for form in (upload_form("demo", "1.0"), upload_form("demo", "1.0", kind="sdist")):
        assert upload(alice_token, form).status_code == 200


@pytest.fixture
def bucket_url(s3_endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return s3_storage_url(s3_endpoint, f"migrated-{tmp_path.name}")


def test_every_file_is_copied_to_the_bucket_and_a_second_run_copies_nothing(
    published, bucket_url, s3_endpoint, tmp_path, capsys
):
    assert main(["storage", "migrate", "--to", bucket_url]) == 0
    out = capsys.readouterr().out
    assert "3 copied, 0 already there, 0 refused." in out  # wheel, its metadata, the sdist
    target = storage_at(bucket_url)
    for file in File.objects.all():
        with target.open(file.path, "rb") as copied, default_storage.open(file.path) as here:
            assert copied.read() == here.read()
    keys = s3_client(s3_endpoint).list_objects_v2(
        Bucket=S3_BUCKET, Prefix=f"migrated-{tmp_path.name}/"
    )["KeyCount"]
    assert keys == 3
    assert main(["storage", "migrate", "--to", bucket_url]) == 0
    assert "0 copied, 3 already there, 0 refused." in capsys.readouterr().out


def test_a_damaged_file_is_not_copied_and_the_run_fails(published, bucket_url, capsys):
    sdist = File.objects.get(packagetype="sdist")
    default_storage.delete(sdist.path)
    default_storage.save(sdist.path, ContentFile(b"damaged"))
    assert main(["storage", "migrate", "--to", bucket_url]) == 1
    out = capsys.readouterr().out
    assert f"refused: {sdist.path}: its bytes do not match the SHA-256" in out
    assert not storage_at(bucket_url).exists(sdist.path)


def test_a_wrong_target_is_refused_before_anything_is_copied(published):
    with pytest.raises(SystemExit, match="--to must be file:///directory or s3://"):
        main(["storage", "migrate", "--to", "ftp://elsewhere"])
