"""The distribution file itself: its name, its archive, the metadata inside."""

import io
import tarfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from packyard.packages.models import File
from tests import dists
from tests.conftest import basic_auth, upload_form
from tests.packages.upload.helpers import (
    assert_nothing_stored,
    assert_refused,
    raw_multipart,
    text_fields,
)

pytestmark = pytest.mark.django_db


def test_upload_sdist_accepted(upload, alice_token):
    response = upload(alice_token, upload_form("demo", "1.0", kind="sdist"))
    assert response.status_code == 200, response.content
    assert File.objects.get().packagetype == "sdist"


def test_name_disagreeing_with_filename_refused(upload, alice_token):
    form = upload_form("demo", "1.0", content=dists.make_wheel("other", "1.0"))
    form["content"] = SimpleUploadedFile(
        dists.wheel_filename("other", "1.0"), dists.make_wheel("other", "1.0")
    )
    form["sha256_digest"] = dists.sha256(dists.make_wheel("other", "1.0"))
    assert_refused(upload(alice_token, form), 400, "does not match the project name 'demo'")


def test_version_disagreeing_with_filename_refused(upload, alice_token):
    form = upload_form("demo", "2.0")
    form["content"] = SimpleUploadedFile(
        dists.wheel_filename("demo", "1.0"), dists.make_wheel("demo", "1.0")
    )
    form.pop("sha256_digest")
    assert_refused(upload(alice_token, form), 400, "does not match the version 2.0")


def _upload_named(client, token: str, filename: str):
    """A wheel sent under a file name Django's test client would not send as it is."""
    data = dists.make_wheel("demo", "1.0")
    body, content_type = raw_multipart(text_fields(upload_form()), filename, data)
    return client.generic(
        "POST",
        "/legacy/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_auth("__token__", token),
    )


@pytest.mark.parametrize(
    "filename",
    [
        "../demo-1.0-py3-none-any.whl",
        "a/demo-1.0-py3-none-any.whl",
        "a\\demo-1.0-py3-none-any.whl",
        "demo-1.0\x01-py3-none-any.whl",
        "demo-1.0-py3-none-any.whl\x00",
    ],
)
def test_unsafe_filename_refused(client, alice_token, filename):
    assert_refused(_upload_named(client, alice_token, filename), 400, "Invalid filename")
    assert_nothing_stored()


@pytest.mark.parametrize(
    "tags",
    ["py3-none-any#x", "py3-none-any?x=1", 'py3-none-an"y', "py3-no ne-any", "py3-none-<any>"],
)
def test_wheel_tags_outside_the_allowed_characters_refused(client, alice_token, tags):
    response = _upload_named(client, alice_token, f"demo-1.0-{tags}.whl")
    assert_refused(response, 400, "Invalid wheel filename")
    assert_nothing_stored()


def test_wheel_with_compressed_tag_sets_accepted(upload, alice_token):
    data = dists.make_wheel("demo", "1.0")
    form = upload_form(content=data)
    form["content"] = SimpleUploadedFile("demo-1.0-py2.py3-none-manylinux_2_17_x86_64.whl", data)
    assert upload(alice_token, form).status_code == 200


def test_empty_file_refused(upload, alice_token):
    response = upload(alice_token, upload_form(content=b""))
    assert_refused(response, 400, "the file is empty")
    assert_nothing_stored()


def test_corrupt_zip_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form(content=b"PK\x03\x04 not a zip")), 400, "not a valid zip"
    )
    assert_nothing_stored()


def test_zip_member_with_bad_crc_refused(upload, alice_token):
    buffer = io.BytesIO(dists.make_wheel("demo", "1.0"))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("demo/big.txt", b"A" * 5000, compress_type=zipfile.ZIP_STORED)
    data = bytearray(buffer.getvalue())
    data[data.index(b"A" * 100) + 50] = ord("B")  # the stored bytes no longer match their CRC
    response = upload(alice_token, upload_form(content=bytes(data)))
    assert_refused(response, 400, "a member fails its CRC check")
    assert_nothing_stored()


def test_corrupt_tar_refused(upload, alice_token):
    response = upload(alice_token, upload_form(kind="sdist", content=b"\x1f\x8b\x08 not a tar"))
    assert_refused(response, 400, "not a valid .tar.gz archive")
    assert_nothing_stored()


def test_zip_bomb_refused(upload, alice_token):
    bomb = dists.make_wheel("demo", "1.0", members={"demo/zeros.bin": b"\0" * (65 * 1024 * 1024)})
    response = upload(alice_token, upload_form(content=bomb))
    assert_refused(response, 400, "expands to more than 10 times its size")
    assert_nothing_stored()


def test_zip_with_other_compression_refused(upload, alice_token):
    buffer = io.BytesIO(dists.make_wheel("demo", "1.0"))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("demo/data.bin", b"x" * 100, compress_type=zipfile.ZIP_BZIP2)
    response = upload(alice_token, upload_form(content=buffer.getvalue()))
    assert_refused(response, 400, "compression method other than stored or deflate")


def test_wheel_without_metadata_refused(upload, alice_token):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo/__init__.py", b"")
    response = upload(alice_token, upload_form(content=buffer.getvalue()))
    assert_refused(response, 400, "demo-1.0.dist-info/METADATA is missing")


def test_wheel_metadata_for_another_project_refused(upload, alice_token):
    wheel = dists.make_wheel("demo", "1.0", metadata=dists.core_metadata("other", "1.0"))
    response = upload(alice_token, upload_form(content=wheel))
    assert_refused(response, 400, "METADATA names other 1.0")


def test_sdist_without_pkg_info_refused(upload, alice_token):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("demo-1.0/setup.py")
        archive.addfile(info, io.BytesIO(b""))
    response = upload(alice_token, upload_form(kind="sdist", content=buffer.getvalue()))
    assert_refused(response, 400, "demo-1.0/PKG-INFO is missing")


def _sdist_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.mark.parametrize("top", ["Demo-1.0", "demo-1.0-renamed", "./demo-1.0"])
def test_sdist_metadata_is_read_from_its_one_top_level_directory(upload, alice_token, top):
    """As PyPI: a renamed copy of an old sdist keeps its old directory inside."""
    content = _sdist_of(
        {f"{top}/PKG-INFO": dists.core_metadata("demo", "1.0"), f"{top}/setup.py": b""}
    )
    assert upload(alice_token, upload_form(kind="sdist", content=content)).status_code == 200


@pytest.mark.parametrize(
    "members",
    [
        {"demo-1.0/PKG-INFO": b"", "other/setup.py": b""},
        {"PKG-INFO": b"", "demo-1.0/setup.py": b""},
        {"../PKG-INFO": b""},
    ],
)
def test_sdist_with_more_than_one_top_level_directory_refused(upload, alice_token, members):
    members = {
        name: content or dists.core_metadata("demo", "1.0") for name, content in members.items()
    }
    response = upload(alice_token, upload_form(kind="sdist", content=_sdist_of(members)))
    assert_refused(response, 400, "holds one top-level directory, and this one holds more")
    assert_nothing_stored()


def test_local_version_refused(upload, alice_token):
    response = upload(alice_token, upload_form("demo", "1.0+abc"))
    assert_refused(response, 400, "Can't use PEP 440 local versions.")
    assert_nothing_stored()


def test_sdist_name_not_pep_625_refused(upload, alice_token):
    form = upload_form("foo-bar", "1.0", kind="sdist")
    data = dists.make_sdist("foo-bar", "1.0")
    form["content"] = SimpleUploadedFile("foo-bar-1.0.tar.gz", data)
    response = upload(alice_token, form)
    assert_refused(response, 400, "it must start with 'foo_bar-' (PEP 625)")


def test_zip_sdist_refused(upload, alice_token):
    form = upload_form("demo", "1.0", kind="sdist")
    form["content"] = SimpleUploadedFile("demo-1.0.zip", b"PK")
    form.pop("sha256_digest")
    assert_refused(upload(alice_token, form), 400, "it must end with .tar.gz")


def test_unknown_filetype_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form(filetype="bdist_egg")), 400, "Invalid value for filetype"
    )
