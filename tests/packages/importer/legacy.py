"""Distribution files as old indexes hold them: legacy names, old metadata versions, zip sdists,
descriptions that never rendered."""

import bz2
import gzip
import io
import tarfile
import zipfile
from pathlib import Path

from tests import dists


def old_pkg_info(
    name: str, version: str, *, metadata_version: str = "1.0", description: str = ""
) -> bytes:
    return (
        f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n"
        f"Summary: an old package\nClassifier: Programming Language :: Python\n\n{description}"
    ).encode()


def _buildable(name: str, version: str) -> dict[str, bytes]:
    """A setup.py pip can build with setuptools and no network, and its one module."""
    module = name.lower().replace("-", "_").replace(".", "_")
    setup = (
        f"from setuptools import setup\nsetup(name={name!r}, version={version!r}, "
        f"py_modules=[{module!r}])\n"
    )
    return {"setup.py": setup.encode(), f"{module}.py": b"VALUE = 1\n"}


def tar_sdist(
    top: str,
    pkg_info: bytes,
    *,
    compression: str = "gz",
    padding: int = 0,
    buildable: bool = False,
) -> bytes:
    """An sdist; `padding` zero bytes in a member after PKG-INFO make a compression bomb;
    a `buildable` one pip can build and install."""
    members = {"PKG-INFO": pkg_info, "setup.py": b"\0" * padding}
    if buildable:
        members |= _buildable(*_name_and_version(pkg_info))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for member, content in members.items():
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    compress = bz2.compress if compression == "bz2" else gzip.compress
    return compress(buffer.getvalue())


def zip_sdist(top: str, pkg_info: bytes, *, buildable: bool = False) -> bytes:
    members = {"PKG-INFO": pkg_info, "setup.py": b""}
    if buildable:
        members |= _buildable(*_name_and_version(pkg_info))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(f"{top}/{member}", content)
    return buffer.getvalue()


def _name_and_version(pkg_info: bytes) -> tuple[str, str]:
    fields = dict(line.split(": ", 1) for line in pkg_info.decode().splitlines() if ": " in line)
    return fields["Name"], fields["Version"]


def legacy_tree(root: Path) -> dict[str, bytes]:
    """pypiserver's layout: files in a flat directory, under the names they were built with."""
    files = {
        "Django-3.2.tar.gz": tar_sdist("Django-3.2", old_pkg_info("Django", "3.2")),
        "PyYAML-5.4.1.zip": zip_sdist("PyYAML-5.4.1", old_pkg_info("PyYAML", "5.4.1")),
        "zope.interface-5.4.0.tar.gz": tar_sdist(
            "zope.interface-5.4.0",
            old_pkg_info(
                "zope.interface",
                "5.4.0",
                metadata_version="2.0",
                # Never rendered as reStructuredText: shown as plain text.
                description="Broken\n=====\n\n`unclosed\n",
            ),
        ),
        "demo-1.0-py3-none-any.whl": dists.make_wheel("demo", "1.0"),
        "demo-1.0-py2.7.egg": b"an egg",
    }
    root.mkdir(parents=True, exist_ok=True)
    for filename, content in files.items():
        (root / filename).write_bytes(content)
    return files
