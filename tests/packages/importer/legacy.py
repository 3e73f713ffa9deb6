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


def tar_sdist(top: str, pkg_info: bytes, *, compression: str = "gz", padding: int = 0) -> bytes:
    """An sdist; `padding` zero bytes in a member after PKG-INFO make a compression bomb."""
    buffer = io.BytesIO()
    members = {f"{top}/PKG-INFO": pkg_info, f"{top}/setup.py": b"\0" * padding}
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for member, content in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    compress = bz2.compress if compression == "bz2" else gzip.compress
    return compress(buffer.getvalue())


def zip_sdist(top: str, pkg_info: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top}/PKG-INFO", pkg_info)
        archive.writestr(f"{top}/setup.py", b"")
    return buffer.getvalue()


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
