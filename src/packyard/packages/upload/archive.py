"""Checks of the distribution file itself: its name, its archive, and the metadata inside."""

import itertools
import re
import zipfile
from dataclasses import dataclass

from packaging.metadata import Metadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from packyard.packages.upload import tarscan
from packyard.packages.upload.errors import UploadRefused

# The bomb rule: refuse an archive that expands past 10 MiB at more than 10 times its size.
# PyPI refuses past 64 MiB at 50 times; but checking an archive means inflating it, at about
# 400 MB/s here, and a 1 MiB upload allowed to expand 50 times costs a worker 125 ms of CPU,
# 15 times still 58 ms (bench/hostile_archives.py). Source and wheels compress 3 to 8 times.
BOMB_MIN_EXPANDED = 10 * 1024 * 1024
BOMB_MAX_RATIO = 10
MAX_METADATA_SIZE = 16 * 1024 * 1024
SDIST_SUFFIX = ".tar.gz"
WHEEL_SUFFIX = ".whl"
FORBIDDEN_FILENAME_CHARS = set("/\\\x00") | {chr(c) for c in range(32)} | {"\x7f"}
# Each of a wheel's three tags (python, abi, platform; compressed sets joined by '.'), as
# PyPI allows them: anything else breaks the file's URL or the installers that read it.
WHEEL_TAG = re.compile(r"[A-Za-z0-9_.]+")


@dataclass
class CheckedArchive:
    core_metadata: bytes | None  # the wheel's METADATA, for PEP 658


def check_filename(*, filename: str, filetype: str, name: str, version: Version) -> None:
    if not filename or set(filename) & FORBIDDEN_FILENAME_CHARS or ".." in filename:
        raise UploadRefused(
            "Invalid filename: it must not contain '/', '\\', '..' or control characters."
        )
    if len(filename) > 255:
        raise UploadRefused("Invalid filename: longer than 255 characters.")
    if filetype == "bdist_wheel":
        _check_wheel_filename(filename, name, version)
    elif filetype == "sdist":
        _check_sdist_filename(filename, name, version)
    else:
        raise UploadRefused(
            f"Invalid value for filetype: {filetype!r}. Use 'sdist' or 'bdist_wheel'."
        )


def _check_wheel_filename(filename: str, name: str, version: Version) -> None:
    if not filename.endswith(WHEEL_SUFFIX):
        raise UploadRefused(f"Invalid wheel filename {filename!r}: it must end with .whl.")
    try:
        wheel_name, wheel_version, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise UploadRefused(f"Invalid wheel filename {filename!r}: {exc}") from None
    for tag in filename.removesuffix(WHEEL_SUFFIX).split("-")[-3:]:
        if not WHEEL_TAG.fullmatch(tag):
            raise UploadRefused(
                f"Invalid wheel filename {filename!r}: the tag {tag!r} may hold only letters, "
                "digits, '_' and '.'."
            )
    _check_matches(filename, wheel_name, wheel_version, name, version)


def _check_sdist_filename(filename: str, name: str, version: Version) -> None:
    expected_prefix = canonicalize_name(name).replace("-", "_") + "-"
    if not filename.endswith(SDIST_SUFFIX):
        raise UploadRefused(
            f"Invalid source distribution filename {filename!r}: it must end with .tar.gz "
            "(PEP 625)."
        )
    if not filename.startswith(expected_prefix):
        raise UploadRefused(
            f"Invalid source distribution filename {filename!r}: it must start with "
            f"{expected_prefix!r} (PEP 625)."
        )
    try:
        sdist_name, sdist_version = parse_sdist_filename(filename)
    except InvalidSdistFilename as exc:
        raise UploadRefused(f"Invalid source distribution filename {filename!r}: {exc}") from None
    _check_matches(filename, sdist_name, sdist_version, name, version)


def _check_matches(
    filename: str, file_name: str, file_version: Version, name: str, version: Version
) -> None:
    if canonicalize_name(file_name) != canonicalize_name(name):
        raise UploadRefused(
            f"The filename {filename!r} does not match the project name {name!r} in the metadata."
        )
    if file_version != version:
        raise UploadRefused(
            f"The filename {filename!r} does not match the version {version} in the metadata."
        )


def _check_expansion(expanded: int, compressed: int) -> None:
    if expanded > BOMB_MIN_EXPANDED and expanded > BOMB_MAX_RATIO * max(compressed, 1):
        raise UploadRefused(
            f"Invalid distribution file: it expands to more than {BOMB_MAX_RATIO} times its "
            "size (a possible zip bomb)."
        )


# Members of a wheel: every one costs a central-directory entry to parse and a CRC to check.
# Large wheels have some thousands; the allowance grows with the file.
MIN_WHEEL_MEMBER_ALLOWANCE = 1_000
BYTES_PER_EXTRA_WHEEL_MEMBER = 1024
EOCD_SIGNATURE = b"PK\x05\x06"
EOCD_SEARCH = 64 * 1024 + 22  # the record and the longest comment


def _declared_entries(path: str, size: int) -> int:
    """The member count the end-of-central-directory record declares, read before zipfile
    parses (in Python) a directory of that many entries. 0xFFFF means a zip64 count."""
    with open(path, "rb") as handle:
        handle.seek(max(0, size - EOCD_SEARCH))
        tail = handle.read()
    at = tail.rfind(EOCD_SIGNATURE)
    if at == -1 or len(tail) < at + 22:
        raise UploadRefused("Invalid distribution file: not a valid zip archive.")
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def _check_no_overlap(members: list[zipfile.ZipInfo]) -> None:
    """Each member's data ends before the next member's header begins: members that share
    bytes are how a small zip expands without end."""
    ordered = sorted(members, key=lambda member: member.header_offset)
    for member, following in itertools.pairwise(ordered):
        data_end = (
            member.header_offset + 30 + len(member.orig_filename.encode()) + member.compress_size
        )
        if data_end > following.header_offset:
            raise UploadRefused("Invalid distribution file: its members overlap.")


def check_zip(archive: zipfile.ZipFile, *, size: int) -> None:
    """The zip checks every zip distribution passes: members counted before the directory is
    read, deflate or stored only, no bomb, no overlapping members, every CRC right."""
    allowance = MIN_WHEEL_MEMBER_ALLOWANCE + size // BYTES_PER_EXTRA_WHEEL_MEMBER
    members = archive.infolist()
    if len(members) > allowance:
        raise UploadRefused(f"Invalid distribution file: it holds more than {allowance} members.")
    for member in members:
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UploadRefused(
                f"Invalid distribution file: {member.filename!r} uses a compression "
                "method other than stored or deflate."
            )
    _check_expansion(sum(member.file_size for member in members), size)
    _check_no_overlap(members)
    if archive.testzip() is not None:
        raise UploadRefused("Invalid distribution file: a member fails its CRC check.")


def open_zip(path: str, *, size: int) -> zipfile.ZipFile:
    """The zip at `path`, its entries counted before its directory is read (a huge directory
    is refused unread). Raises UploadRefused; check_zip checks the members."""
    allowance = MIN_WHEEL_MEMBER_ALLOWANCE + size // BYTES_PER_EXTRA_WHEEL_MEMBER
    if _declared_entries(path, size) > allowance:
        raise UploadRefused(f"Invalid distribution file: it holds more than {allowance} members.")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError):
        raise UploadRefused("Invalid distribution file: not a valid zip archive.") from None


def check_wheel(path: str, *, filename: str, size: int, name: str, version: Version) -> bytes:
    """Validate the zip and return its METADATA."""
    with open_zip(path, size=size) as archive:
        try:
            check_zip(archive, size=size)
            return _wheel_metadata(archive, filename, name, version)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError):
            raise UploadRefused("Invalid distribution file: not a valid zip archive.") from None


def _wheel_metadata(archive: zipfile.ZipFile, filename: str, name: str, version: Version) -> bytes:
    dist_info = "-".join(filename.split("-")[:2]) + ".dist-info"
    for required in ("METADATA", "WHEEL"):
        if f"{dist_info}/{required}" not in archive.NameToInfo:
            raise UploadRefused(f"Invalid distribution file: {dist_info}/{required} is missing.")
    info = archive.getinfo(f"{dist_info}/METADATA")
    if info.file_size > MAX_METADATA_SIZE:
        raise UploadRefused("Invalid distribution file: METADATA is too large.")
    content = archive.read(info)
    _check_embedded_metadata(content, name, version, where=f"{dist_info}/METADATA")
    return content


def _check_embedded_metadata(content: bytes, name: str, version: Version, *, where: str) -> None:
    try:
        embedded = Metadata.from_email(content, validate=False)
        embedded_name, embedded_version = embedded.name, embedded.version
    except Exception:  # packaging raises several error types for broken metadata files
        raise UploadRefused(f"Invalid distribution file: {where} cannot be read.") from None
    if canonicalize_name(embedded_name) != canonicalize_name(name) or embedded_version != version:
        raise UploadRefused(
            f"Invalid distribution file: {where} names {embedded_name} {embedded_version}, "
            f"but the upload is {name} {version}."
        )


def check_sdist(path: str, *, size: int, name: str, version: Version) -> None:
    """The metadata is PKG-INFO in the archive's one top-level directory, whatever that is
    called (as PyPI reads it: a renamed copy of an old sdist keeps its old directory)."""
    contents = tarscan.read_pkg_info(
        path,
        size=size,
        max_member_size=MAX_METADATA_SIZE,
        expansion_limit=max(BOMB_MIN_EXPANDED, BOMB_MAX_RATIO * size),
        expansion_ratio=BOMB_MAX_RATIO,
    )
    where = f"{contents.top}/PKG-INFO"
    if contents.pkg_info is None:
        raise UploadRefused(f"Invalid distribution file: {where} is missing.")
    _check_embedded_metadata(contents.pkg_info, name, version, where=where)


def check_archive(
    path: str, *, filename: str, filetype: str, size: int, name: str, version: Version
) -> CheckedArchive:
    if size == 0:
        raise UploadRefused("Invalid distribution file: the file is empty.")
    if filetype == "bdist_wheel":
        metadata = check_wheel(path, filename=filename, size=size, name=name, version=version)
        return CheckedArchive(core_metadata=metadata)
    check_sdist(path, size=size, name=name, version=version)
    return CheckedArchive(core_metadata=None)
