"""What an import refuses, file by file, with the line the report gives."""

import io
import zipfile

import pytest

from packyard.packages.importer.reading import ImportRefused, read_distribution
from tests import dists
from tests.packages.importer.legacy import old_pkg_info, tar_sdist, zip_sdist


def read(tmp_path, filename: str, content: bytes):
    path = tmp_path / filename
    path.write_bytes(content)
    return read_distribution(str(path), filename=filename, size=len(content))


def test_old_metadata_is_read_as_the_file_states_it(tmp_path):
    content = tar_sdist("Foo-1.0", old_pkg_info("Foo", "1.0", metadata_version="1.1"))
    dist = read(tmp_path, "Foo-1.0.tar.gz", content)
    assert (dist.name, dist.version, dist.packagetype) == ("Foo", "1.0", "sdist")
    assert dist.raw["classifiers"] == ["Programming Language :: Python"]


def test_a_bzip2_sdist_is_read_with_the_same_bounds(tmp_path):
    content = tar_sdist("Foo-1.0", old_pkg_info("Foo", "1.0"), compression="bz2")
    assert read(tmp_path, "Foo-1.0.tar.bz2", content).name == "Foo"
    bomb = tar_sdist("Foo-1.0", old_pkg_info("Foo", "1.0"), compression="bz2", padding=64 << 20)
    with pytest.raises(ImportRefused, match="expands to more than 10 times"):
        read(tmp_path, "Foo-1.0.tar.bz2", bomb)


def test_a_wheel_keeps_its_metadata_and_python_tag(tmp_path):
    dist = read(tmp_path, "demo-1.0-cp311-cp311-linux_x86_64.whl", dists.make_wheel("demo", "1.0"))
    assert (dist.python_version, dist.core_metadata is not None) == ("cp311", True)


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        ("demo-1.0.tar.bz2", b"BZh9 not bzip2", "not a valid .tar.bz2 archive"),
        ("demo-1.0-py2.7.egg", b"egg", "eggs are not installed"),
        ("demo-1.0.win32.exe", b"MZ", "Windows installers"),
        ("demo-1.0.tar.gz", b"", "the file is empty"),
        ("demo-1.0.tar.gz", b"not gzip at all", "not a valid .tar.gz"),
        ("demo.whl", b"PK", "not a valid wheel file name"),
        ("demo-1.0-py3-none-any.whl", b"PK not a zip", "not a valid zip archive"),
        ("demo-1.0.zip", b"PK not a zip", "not a valid zip archive"),
        ("README.txt", b"text", "not a distribution file"),
    ],
)
def test_files_that_are_not_distributions_are_refused_by_name(tmp_path, filename, content, reason):
    with pytest.raises(ImportRefused, match=reason):
        read(tmp_path, filename, content)


def test_an_sdist_without_pkg_info_or_with_two_top_directories_is_refused(tmp_path):
    with pytest.raises(ImportRefused, match=r"Foo-1\.0/PKG-INFO is missing"):
        read(tmp_path, "Foo-1.0.zip", zip_sdist("Foo-1.0", b"").replace(b"PKG-INFO", b"PKG-XXXX"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/PKG-INFO", old_pkg_info("Foo", "1.0"))
        archive.writestr("b/setup.py", b"")
    with pytest.raises(ImportRefused, match="one top-level directory"):
        read(tmp_path, "Foo-1.0.zip", buffer.getvalue())


def test_metadata_without_a_name_or_version_is_refused(tmp_path):
    with pytest.raises(ImportRefused, match="names no project or no version"):
        read(tmp_path, "Foo-1.0.tar.gz", tar_sdist("Foo-1.0", b"Metadata-Version: 1.0\n"))


def test_a_zip_bomb_is_refused_unread(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Foo-1.0/PKG-INFO", old_pkg_info("Foo", "1.0"))
        archive.writestr("Foo-1.0/zeros", b"\0" * (64 * 1024 * 1024))
    with pytest.raises(ImportRefused, match="expands"):
        read(tmp_path, "Foo-1.0.zip", buffer.getvalue())


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("../../etc/passwd.tar.gz", "not a file name this index can keep"),
        (".hidden-1.0.tar.gz", "not a file name this index can keep"),
        ("a\x00b-1.0.tar.gz", "not a file name this index can keep"),
    ],
)
def test_names_from_a_hostile_source_are_refused(tmp_path, filename, reason):
    with pytest.raises(ImportRefused, match=reason):
        read_distribution(str(tmp_path / "x"), filename=filename, size=1)


@pytest.mark.parametrize(
    ("name", "version", "reason"),
    [
        ("../evil", "1.0", "not a valid project name"),
        ("Foo", "1.0/../../x", "not a version this index can keep"),
        ("Foo", "1.0 beta", "not a version this index can keep"),
    ],
)
def test_metadata_that_could_change_a_path_is_refused(tmp_path, name, version, reason):
    content = tar_sdist("Foo-1.0", old_pkg_info(name, version))
    with pytest.raises(ImportRefused, match=reason):
        read(tmp_path, "Foo-1.0.tar.gz", content)


def test_legacy_versions_are_kept_as_they_are(tmp_path):
    content = tar_sdist("Foo-2004d", old_pkg_info("Foo", "2004d"))
    assert read(tmp_path, "Foo-2004d.tar.gz", content).version == "2004d"
