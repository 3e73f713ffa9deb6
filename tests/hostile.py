"""Hostile distribution files, each under 1 MiB as uploaded: what an attacker sends to make the
archive check spend memory or CPU. Used by the tests and by bench/hostile_archives.py.

Each builder returns (filename, bytes) for project `name` version `version`.
"""

import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator

from tests import dists

BLOCK = 512


def tar_header(name: str, size: int, kind: bytes = b"0") -> bytes:
    """A POSIX ustar header block with a correct checksum."""
    header = bytearray(BLOCK)
    header[0:100] = name.encode()[:100].ljust(100, b"\0")
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = f"{size:011o}\0".encode() if size < 8**11 else _base256(size)
    header[136:148] = b"00000000000\0"
    header[148:156] = b" " * 8
    header[156:157] = kind
    header[257:265] = b"ustar\x0000"
    checksum = sum(header)
    header[148:156] = f"{checksum:06o}\0 ".encode()
    return bytes(header)


def _base256(size: int) -> bytes:
    return bytes([0x80]) + size.to_bytes(11, "big")


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def _gzip_stream(parts: Iterator[bytes]) -> bytes:
    """Gzip a stream of parts without holding the inflated whole in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = io.BytesIO()
    for part in parts:
        out.write(compressor.compress(part))
    out.write(compressor.flush())
    return out.getvalue()


def _zeros(total: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
    block = bytes(chunk)
    while total > 0:
        yield block[: min(chunk, total)]
        total -= chunk


def _sdist(name: str, version: str, parts: Iterator[bytes]) -> tuple[str, bytes]:
    def with_end() -> Iterator[bytes]:
        yield from parts
        yield bytes(2 * BLOCK)  # the end-of-archive marker

    return dists.sdist_filename(name, version), _gzip_stream(with_end())


def _base(name: str, version: str) -> str:
    return dists.sdist_filename(name, version).removesuffix(".tar.gz")


def _pkg_info(name: str, version: str) -> Iterator[bytes]:
    content = dists.core_metadata(name, version)
    yield tar_header(f"{_base(name, version)}/PKG-INFO", len(content))
    yield _pad(content)


def gnu_long_name_bomb(name: str, version: str, size: int = 512 * 1024 * 1024) -> tuple[str, bytes]:
    """A GNU long-name header declaring 512 MiB of name (CPython's tarfile reads it all)."""

    def parts() -> Iterator[bytes]:
        yield tar_header("././@LongLink", size, b"L")
        yield from _zeros(size)

    return _sdist(name, version, parts())


def pax_digit_run(name: str, version: str, size: int = 8 * 1024 * 1024) -> tuple[str, bytes]:
    """A pax header of digits (CVE-2024-6232: tarfile's parser backtracks over it)."""
    payload = b"9" * size

    def parts() -> Iterator[bytes]:
        yield tar_header("PaxHeader", len(payload), b"x")
        yield _pad(payload)
        yield from _pkg_info(name, version)

    return _sdist(name, version, parts())


def pax_small_malformed(name: str, version: str) -> tuple[str, bytes]:
    """A pax header within the size bound, whose length fields lie."""
    payload = b"99999 path=" + b"a" * 2000 + b"\n"

    def parts() -> Iterator[bytes]:
        yield tar_header("PaxHeader", len(payload), b"x")
        yield _pad(payload)
        yield from _pkg_info(name, version)

    return _sdist(name, version, parts())


def many_tiny_members(name: str, version: str, count: int = 60_000) -> tuple[str, bytes]:
    """Tens of thousands of empty members: a header to parse per 512 inflated bytes."""

    def parts() -> Iterator[bytes]:
        base = _base(name, version)
        for index in range(count):
            yield tar_header(f"{base}/f{index}", 0)
        yield from _pkg_info(name, version)

    return _sdist(name, version, parts())


def deep_nesting(name: str, version: str, count: int = 2_000) -> tuple[str, bytes]:
    """Members whose GNU long names nest directories thousands deep."""

    def parts() -> Iterator[bytes]:
        deep = (_base(name, version) + "/" + "d/" * 2000 + "x").encode()
        for _ in range(count):
            yield tar_header("././@LongLink", len(deep) + 1, b"L")
            yield _pad(deep + b"\0")
            yield tar_header("x", 0)
        yield from _pkg_info(name, version)

    return _sdist(name, version, parts())


def gzip_bomb(name: str, version: str, size: int = 1000 * 1024 * 1024) -> tuple[str, bytes]:
    """PKG-INFO last, after one member of 1 GiB of zeros (about 1 MiB compressed)."""

    def parts() -> Iterator[bytes]:
        yield tar_header(f"{_base(name, version)}/zeros", size)
        yield from _zeros(size)
        yield from _pkg_info(name, version)

    return _sdist(name, version, parts())


def zip_bomb(name: str, version: str, size: int = 1000 * 1024 * 1024) -> tuple[str, bytes]:
    """A wheel with a member of 1 GiB of zeros, deflated to about 1 MiB."""
    data = dists.make_wheel(name, version)
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        info = zipfile.ZipInfo("zeros.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            for chunk in _zeros(size):
                member.write(chunk)
    return dists.wheel_filename(name, version), buffer.getvalue()


def zip_overlapping_entries(name: str, version: str, count: int = 5_000) -> tuple[str, bytes]:
    """Thousands of central-directory entries that all point at one 8 KiB member of zeros
    (Fifield's non-recursive zip bomb, small enough to pass the expansion rule)."""
    data = bytearray(dists.make_wheel(name, version))
    kernel_name = b"kernel"
    kernel_plain = bytes(8 * 1024)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel = deflater.compress(kernel_plain) + deflater.flush()
    crc = zlib.crc32(kernel_plain)
    end = data.rfind(b"PK\x05\x06")
    entries, cd_size, cd_offset, _comment = struct.unpack_from("<HIIH", data, end + 10)
    head, central = data[:cd_offset], data[cd_offset : cd_offset + cd_size]
    local_offset = len(head)
    local = (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(kernel), 8192, 6, 0)
        + kernel_name
        + kernel
    )
    extra_central = b""
    for index in range(count):
        entry_name = f"k{index}".encode()
        extra_central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(kernel), 8192,
                len(entry_name), 0, 0, 0, 0, 0, local_offset,
            )
            + entry_name
        )  # fmt: skip
    new_central = bytes(central) + extra_central
    new_offset = local_offset + len(local)
    eocd = struct.pack(
        "<IHHHHIIH",
        0x06054B50, 0, 0, entries + count, entries + count, len(new_central), new_offset, 0,
    )  # fmt: skip
    return dists.wheel_filename(name, version), bytes(head) + local + new_central + eocd


def zip_many_entries(name: str, version: str, count: int = 20_000) -> tuple[str, bytes]:
    """Twenty thousand empty members: a central directory to parse."""
    members = {f"m/{index}": b"" for index in range(count)}
    return dists.wheel_filename(name, version), dists.make_wheel(name, version, members=members)


def plain_sdist(name: str, version: str) -> tuple[str, bytes]:
    return dists.sdist_filename(name, version), dists.make_sdist(name, version)


def plain_wheel(name: str, version: str) -> tuple[str, bytes]:
    return dists.wheel_filename(name, version), dists.make_wheel(name, version)


CASES: dict[str, Callable[[str, str], tuple[str, bytes]]] = {
    "plain-sdist": plain_sdist,
    "plain-wheel": plain_wheel,
    "gnu-long-name-512MiB": gnu_long_name_bomb,
    "pax-digit-run": pax_digit_run,
    "pax-malformed": pax_small_malformed,
    "many-tiny-members": many_tiny_members,
    "deep-nesting": deep_nesting,
    "gzip-bomb-1GiB": gzip_bomb,
    "zip-bomb-1GiB": zip_bomb,
    "zip-overlapping-entries": zip_overlapping_entries,
    "zip-many-entries": zip_many_entries,
}
# Every hostile case is refused; the plain ones are stored.
ACCEPTED = {"plain-sdist", "plain-wheel"}


def pax_header_flood(name: str, version: str, count: int = 20_000) -> tuple[str, bytes]:
    """Tens of thousands of small pax records, then one member: headers that name nothing."""
    record = b"15 comment=abc\n"

    def parts() -> Iterator[bytes]:
        for index in range(count):
            yield tar_header(f"PaxHeader/{index}", len(record), b"x")
            yield _pad(record)
        yield from _pkg_info(name, version)

    return _sdist(name, version, parts())
