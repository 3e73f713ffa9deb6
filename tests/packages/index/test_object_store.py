"""Files in an S3 bucket (moto's standalone server, an emulator of the protocol): how the
operator names the bucket, downloads streamed through Packyard or redirected to a presigned
link, and the health check when the bucket is unreachable."""

import urllib.request

import pytest
from django.core.exceptions import ImproperlyConfigured

from packyard.env import storage_from_url
from packyard.packages.models import File
from tests import dists
from tests.conftest import upload_form

pytestmark = pytest.mark.django_db
on_s3 = pytest.mark.parametrize("_isolated_file_store", ["s3"], indirect=True)


@pytest.fixture
def published(upload, alice_token):
    assert upload(alice_token, upload_form("demo", "1.0")).status_code == 200
    return File.objects.get()


def test_an_s3_url_names_bucket_prefix_endpoint_and_region(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    storage = storage_from_url(
        "s3://packages/index/files?endpoint_url=https://minio.example:9000&region=eu-west-1"
        "&addressing_style=path"
    )
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "packages"
    assert options["location"] == "index/files"
    assert options["endpoint_url"] == "https://minio.example:9000"
    assert options["region_name"] == "eu-west-1"
    assert options["addressing_style"] == "path"
    assert "access_key" not in options  # boto3 finds the machine's role or its own config


def test_credentials_come_from_the_aws_variables_or_their_files(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY_FILE", str(secret))
    options = storage_from_url("s3://packages")["OPTIONS"]
    assert (options["access_key"], options["secret_key"]) == ("AKIDEXAMPLE", "s3cr3t")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("gs://bucket", "must be file:///directory or s3://bucket/prefix"),
        ("s3:///no-bucket", "must be file:///directory or s3://bucket/prefix"),
        ("s3://bucket?acl=public-read", "unknown options ['acl']"),
        ("file://relative/dir", "needs an absolute directory"),
    ],
)
def test_a_wrong_storage_url_is_refused_saying_why(url, says):
    with pytest.raises(ImproperlyConfigured, match=says.replace("[", r"\[").replace("]", r"\]")):
        storage_from_url(url)


@on_s3
def test_a_download_streams_from_the_bucket_with_ranges(client, published):
    whole = client.get(f"/{published.path}")
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == dists.make_wheel("demo", "1.0")
    part = client.get(f"/{published.path}", HTTP_RANGE="bytes=0-9")
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == dists.make_wheel("demo", "1.0")[:10]


@on_s3
def test_presigned_downloads_redirect_into_the_bucket_for_minutes(client, published, settings):
    settings.PACKYARD_FILES_REDIRECT = "presigned"
    response = client.get(f"/{published.path}")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert "X-Amz-Expires=300" in location
    with urllib.request.urlopen(location, timeout=10) as answer:
        assert answer.read() == dists.make_wheel("demo", "1.0")
        assert answer.headers["Content-Disposition"] == (
            f'attachment; filename="{published.filename}"'
        )


@on_s3
def test_health_reports_an_unreachable_bucket(client, settings):
    unreachable = storage_from_url("s3://nowhere?endpoint_url=http://127.0.0.1:9&region=us-east-1")
    unreachable["OPTIONS"] |= {"access_key": "testing", "secret_key": "testing"}
    settings.STORAGES = {**settings.STORAGES, "default": unreachable}
    response = client.get("/_/health")
    assert response.status_code == 503
    assert b"file store" in response.content


def test_presigned_downloads_need_a_bucket(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKYARD_", "DJANGO_"))}
    env |= {"PACKYARD_DATA_DIR": str(tmp_path), "PACKYARD_FILES_REDIRECT": "presigned"}
    result = subprocess.run(
        [sys.executable, "-m", "packyard.cli", "manage", "check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "PACKYARD_FILES_REDIRECT=presigned needs an s3://" in result.stderr
