"""Reading a distribution file as another index kept it: any name PyPI once accepted, the
metadata as the file states it (parsed leniently, never a crash), and the archive checks every
upload passes."""

import os.path
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from packaging.metadata import parse_email
from packaging.utils import (
    InvalidName,
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)

from packyard.http import Refused
from packyard.packages.models import File
from packyard.packages.upload import archive, tarscan

# What installers no longer read from an index, with the line the report gives.
REFUSED_KINDS = {
    ".egg": "eggs are not installed by pip or uv; not imported",
    ".exe": "Windows installers are not distributions installers read; not imported",
    ".msi": "Windows installers are not distributions installers read; not imported",
    ".rpm": "RPM packages are not distributions installers read; not imported",
    ".dmg": "disk images are not distributions installers read; not imported",
}
SDIST_KINDS = (".tar.gz", ".tar.bz2", ".zip")
# Versions as old indexes kept them, PEP 440 or not ("2004d", "1.0-beta"), but nothing that
# could change a URL's path.
VERSION_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]*")


class ImportRefused(Exception):
    """This file is not imported; the message says why, for the report."""


@dataclass
class Distribution:
    name: str
    version: str
    packagetype: str
    python_version: str
    raw: dict[str, Any]  # the metadata fields, by packaging's names, as far as they parse
    core_metadata: bytes | None  # a wheel's METADATA, served beside it (PEP 658)
    warnings: list[str] = field(default_factory=list)


def is_distribution(filename: str) -> bool:
    """A file an index holds (or held): distributions, and the kinds refused by name."""
    lower = filename.lower()
    return lower.endswith((".whl", *SDIST_KINDS, *REFUSED_KINDS))


def check_filename(filename: str) -> None:
    """A name safe to keep in the file store and in URLs: the source is not trusted."""
    if (
        not filename
        or len(filename) > 255
        or filename.startswith(".")
        or set(filename) & archive.FORBIDDEN_FILENAME_CHARS
    ):
        raise ImportRefused(f"{filename[:80]!r} is not a file name this index can keep")


def read_distribution(path: str, *, filename: str, size: int) -> Distribution:
    check_filename(filename)
    lower = filename.lower()
    for suffix, reason in REFUSED_KINDS.items():
        if lower.endswith(suffix):
            raise ImportRefused(reason)
    if size == 0:
        raise ImportRefused("the file is empty")
    try:
        if lower.endswith(".whl"):
            return _wheel(path, filename, size)
        if lower.endswith(SDIST_KINDS):
            content = _sdist_pkg_info(path, lower, size)
            return _distribution(content, File.SDIST, "source", core_metadata=None)
    except Refused as refused:
        raise ImportRefused(refused.message.removeprefix("Invalid distribution file: ")) from None
    raise ImportRefused("not a distribution file (.whl, .tar.gz, .tar.bz2 or .zip)")


def _wheel(path: str, filename: str, size: int) -> Distribution:
    try:
        name, version, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise ImportRefused(f"not a valid wheel file name ({exc})") from None
    metadata = archive.check_wheel(path, filename=filename, size=size, name=name, version=version)
    python_tag = filename[: -len(".whl")].split("-")[-3]
    return _distribution(metadata, File.WHEEL, python_tag, core_metadata=metadata)


def _sdist_pkg_info(path: str, lower: str, size: int) -> bytes:
    if lower.endswith((".tar.gz", ".tar.bz2")):
        contents = tarscan.read_pkg_info(
            path,
            size=size,
            max_member_size=archive.MAX_METADATA_SIZE,
            expansion_limit=max(archive.BOMB_MIN_EXPANDED, archive.BOMB_MAX_RATIO * size),
            expansion_ratio=archive.BOMB_MAX_RATIO,
            compression="gz" if lower.endswith(".gz") else "bz2",
        )
        top, pkg_info = contents.top, contents.pkg_info
    else:
        top, pkg_info = _zip_pkg_info(path, size)
    if pkg_info is None:
        raise ImportRefused(f"{top}/PKG-INFO is missing")
    return pkg_info


def _zip_pkg_info(path: str, size: int) -> tuple[str, bytes | None]:
    """A .zip sdist, as PyPI read them: one top-level directory holding PKG-INFO."""
    with archive.open_zip(path, size=size) as opened:
        try:
            archive.check_zip(opened, size=size)
            names = opened.namelist()
            top = os.path.commonpath(names).split("/")[0] if names else ""
            if top in ("", ".", ".."):
                raise ImportRefused("an sdist holds one top-level directory, and this one more")
            info = opened.NameToInfo.get(f"{top}/PKG-INFO")
            if info is None:
                return top, None
            if info.file_size > archive.MAX_METADATA_SIZE:
                raise ImportRefused("PKG-INFO is too large")
            return top, opened.read(info)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ImportRefused(f"not a valid zip archive ({exc})") from None


def _distribution(
    content: bytes, packagetype: str, python_version: str, *, core_metadata: bytes | None
) -> Distribution:
    raw, unparsed = parse_email(content)
    name, version = raw.get("name"), raw.get("version")
    if not name or not version:
        raise ImportRefused("its metadata names no project or no version")
    try:
        canonicalize_name(str(name), validate=True)
    except InvalidName:
        raise ImportRefused(f"{str(name)[:80]!r} is not a valid project name") from None
    if len(str(version)) > 100 or not VERSION_TEXT.fullmatch(str(version)):
        raise ImportRefused(f"{str(version)[:80]!r} is not a version this index can keep")
    warnings = [f"metadata field {key!r} could not be read; kept out" for key in sorted(unparsed)]
    return Distribution(
        name=str(name),
        version=str(version),
        packagetype=packagetype,
        python_version=python_version,
        raw=dict(raw),
        core_metadata=core_metadata,
        warnings=warnings,
    )
