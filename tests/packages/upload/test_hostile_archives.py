"""Hostile archives are refused with a clear message, cheaply, and store nothing. The same
builders make bench/hostile_archives.py's corpus (full size there; smaller here, since every
refusal below happens before the bulk of the archive would be read)."""

import gzip
import io
import tarfile
from functools import partial

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from packyard.packages.models import File
from tests import dists, hostile
from tests.conftest import upload_form

pytestmark = pytest.mark.django_db
MiB = 1024 * 1024


def _form(filename: str, data: bytes):
    kind = "sdist" if filename.endswith(".tar.gz") else "wheel"
    form = upload_form("demo", "1.0", kind=kind, content=data)
    form["content"] = SimpleUploadedFile(filename, data)
    return form


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (partial(hostile.gnu_long_name_bomb, size=4 * MiB), "extended tar header"),
        (hostile.pax_digit_run, "extended tar header"),
        (hostile.pax_small_malformed, "pax header is malformed"),
        (hostile.many_tiny_members, "members"),
        (hostile.deep_nesting, "members"),
        (hostile.pax_header_flood, "more extended tar headers than its members can use"),
        (partial(hostile.gzip_bomb, size=64 * MiB), "10 times its size"),
        (partial(hostile.zip_bomb, size=64 * MiB), "10 times its size"),
        (partial(hostile.zip_overlapping_entries, count=500), "overlap"),
        (hostile.zip_overlapping_entries, "members"),
        (hostile.zip_many_entries, "members"),
    ],
)
def test_hostile_archive_refused(upload, alice_token, build, message):
    filename, data = build("demo", "1.0")
    response = upload(alice_token, _form(filename, data))
    assert response.status_code == 400
    assert "Invalid distribution file" in response.reason_phrase
    assert message in response.content.decode()
    assert not File.objects.exists()


def _sdist(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=fmt) as archive,
    ):
        for info, content in members:
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_paths_in_every_tar_format_are_read(upload, alice_token, fmt):
    deep = "demo-1.0/" + "/".join(["directory"] * 12) + "/module.py"  # over 100 characters
    members = [
        (tarfile.TarInfo(deep), b"VALUE = 1\n"),
        (tarfile.TarInfo("demo-1.0/PKG-INFO"), dists.core_metadata("demo", "1.0")),
    ]
    data = _sdist(members, fmt)
    assert upload(alice_token, _form("demo-1.0.tar.gz", data)).status_code == 200


def test_a_pax_record_for_every_member_is_not_counted_as_members(upload, alice_token):
    """As real sdists have them (PyYAML 5.4.1: 687 members, each with its pax record)."""
    members = []
    for index in range(700):
        info = tarfile.TarInfo(f"demo-1.0/module{index}.py")
        info.pax_headers = {"comment": "written by an archiver that says so"}
        members.append((info, b""))
    members.append((tarfile.TarInfo("demo-1.0/PKG-INFO"), dists.core_metadata("demo", "1.0")))
    data = _sdist(members, tarfile.PAX_FORMAT)
    assert len(data) < 100 * 512  # the allowance stays near its 1,000 members
    assert upload(alice_token, _form("demo-1.0.tar.gz", data)).status_code == 200


def test_pkg_info_named_by_a_pax_path_is_found(upload, alice_token):
    info = tarfile.TarInfo("demo-1.0/PKG-INFO")
    info.pax_headers = {"path": "demo-1.0/PKG-INFO", "comment": "é" * 10}
    data = _sdist([(info, dists.core_metadata("demo", "1.0"))], tarfile.PAX_FORMAT)
    assert upload(alice_token, _form("demo-1.0.tar.gz", data)).status_code == 200


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[: len(data) // 2], "not a valid .tar.gz archive"),
        (lambda data: b"not gzip at all" + data, "not a valid .tar.gz archive"),
        (lambda data: gzip.compress(gzip.decompress(data)[:700]), "not a valid .tar.gz archive"),
        (
            lambda data: gzip.compress(b"\x01" + gzip.decompress(data)[1:]),
            "not a valid .tar.gz archive",
        ),
    ],
)
def test_broken_tar_gz_refused(upload, alice_token, mangle, message):
    data = mangle(dists.make_sdist("demo", "1.0"))
    response = upload(alice_token, _form("demo-1.0.tar.gz", data))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not File.objects.exists()


def test_sdist_without_pkg_info_refused(upload, alice_token):
    data = _sdist([(tarfile.TarInfo("demo-1.0/setup.py"), b"")], tarfile.PAX_FORMAT)
    response = upload(alice_token, _form("demo-1.0.tar.gz", data))
    assert "demo-1.0/PKG-INFO is missing" in response.content.decode()
