"""A bounded reader of .tar.gz headers, for source distributions.

CPython's tarfile trusts the archive: a GNU long-name header is read into memory whatever its
size (a 510 KiB upload declared 512 MiB and got it), and a pax header of digits costs seconds
of CPU (CVE-2024-6232). An sdist needs none of that, so its headers are read here with a bound
on everything: the size of each extended header, the number of members, the bytes inflated.
Only PKG-INFO is kept; every other member's data is skipped as it streams by.
"""

import bz2
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from packyard.packages.upload.errors import UploadRefused

BLOCK = 512
READ_SIZE = 64 * 1024
# GNU long names and pax headers carry a path and a few numbers: a few KiB is plenty.
MAX_EXTENDED_HEADER = 8 * 1024
MAX_NAME = 4096
# Members in an sdist: large projects have some thousands. The allowance grows with the file,
# so that a small upload cannot make us parse a header per 512 inflated bytes for long.
MIN_MEMBER_ALLOWANCE = 1_000
BYTES_PER_EXTRA_MEMBER = 512
# A member may come with a GNU long name, a long link name and a pax record.
EXTENDED_PER_MEMBER = 3
REGULAR_FILE_TYPES = (b"0", b"\0", b"7")
EXTENDED_TYPES = (b"L", b"K", b"x", b"g")
ZERO_BLOCK = bytes(BLOCK)


def refuse(reason: str) -> UploadRefused:
    return UploadRefused(f"Invalid distribution file: {reason}")


NOT_TAR_GZ = "not a valid .tar.gz archive."


class _Gzip:
    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(wbits=31)

    @property
    def eof(self) -> bool:
        return self._zlib.eof

    def step(self, file: BinaryIO) -> bytes | None:
        """At most READ_SIZE more inflated bytes; None when the input is used up."""
        pending = self._zlib.unconsumed_tail or file.read(READ_SIZE)
        return self._zlib.decompress(pending, READ_SIZE) if pending else None


class _Bzip2:
    """Old sdists (.tar.bz2), imported: bzip2 keeps unread input itself."""

    def __init__(self) -> None:
        self._bz2 = bz2.BZ2Decompressor()

    @property
    def eof(self) -> bool:
        return self._bz2.eof

    def step(self, file: BinaryIO) -> bytes | None:
        data = b""
        if self._bz2.needs_input:
            data = file.read(READ_SIZE)
            if not data:
                return None
        return self._bz2.decompress(data, READ_SIZE)


CODECS: dict[str, type[_Gzip] | type[_Bzip2]] = {"gz": _Gzip, "bz2": _Bzip2}


@dataclass
class _Inflater:
    """The inflated stream of a compressed file, read on demand, counting what it inflates."""

    path: str
    expansion_limit: int  # bytes; past this the archive is a bomb
    expansion_ratio: int  # for the message
    compression: str = "gz"

    def __post_init__(self) -> None:
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._codec: _Gzip | _Bzip2 = CODECS[self.compression]()
        self._buffer = bytearray()
        self.inflated = 0
        self.ended = False  # no more inflated bytes will come

    def close(self) -> None:
        self._file.close()

    def _more(self) -> bytes:
        """The next piece of the inflated stream (b"" at its end), at most READ_SIZE bytes:
        a bomb never lands in memory in one piece."""
        while not self.ended:
            try:
                out = self._codec.step(self._file)
            except (zlib.error, OSError, EOFError):
                raise refuse(NOT_TAR_GZ) from None
            if out is None:
                self.ended = True
                break
            if self._codec.eof:
                self.ended = True
            self.inflated += len(out)
            if self.inflated > self.expansion_limit:
                raise refuse(
                    f"it expands to more than {self.expansion_ratio} times its size "
                    "(a possible compression bomb)."
                )
            if out:
                return out
        return b""

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes; b"" when the stream ended cleanly before them."""
        buffer = self._buffer
        while len(buffer) < size:
            more = self._more()
            if not more:
                if buffer:
                    raise refuse(NOT_TAR_GZ)
                return b""
            buffer += more
        chunk = bytes(buffer[:size])
        del buffer[:size]
        return chunk

    def skip(self, size: int) -> None:
        """Pass over `size` bytes without keeping them."""
        buffered = min(size, len(self._buffer))
        del self._buffer[:buffered]
        size -= buffered
        while size > 0:
            more = self._more()
            if not more:
                raise refuse(NOT_TAR_GZ)
            if len(more) > size:
                self._buffer += more[size:]
            size -= len(more)


def _padded(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _number(field: bytes) -> int:
    """A header's numeric field: octal digits, or GNU's base-256 for large values."""
    if field[0] & 0x80:
        if field[0] == 0xFF:  # negative
            raise refuse(NOT_TAR_GZ)
        return int.from_bytes(field, "big") & ~(0x80 << (8 * (len(field) - 1)))
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        value = int(text, 8)
    except ValueError:
        raise refuse(NOT_TAR_GZ) from None
    if value < 0:
        raise refuse(NOT_TAR_GZ)
    return value


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156])
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    return stored == unsigned


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax_records(data: bytes) -> dict[str, str]:
    """`<length> <key>=<value>\\n` records, read with every length checked before use."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data) and data[position] != 0:
        space = data.find(b" ", position, position + 8)
        length_text = data[position:space] if space != -1 else b""
        if not length_text.isdigit():
            raise refuse("a pax header is malformed.")
        length = int(length_text)
        end = position + length
        if length <= space - position + 1 or end > len(data) or data[end - 1 : end] != b"\n":
            raise refuse("a pax header is malformed.")
        key, sep, value = data[space + 1 : end - 1].partition(b"=")
        if not sep:
            raise refuse("a pax header is malformed.")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        position = end
    return records


@dataclass
class SdistContents:
    top: str  # the one top-level directory every member is in
    pkg_info: bytes | None  # the content of top/PKG-INFO, if there is one


def read_pkg_info(
    path: str,
    *,
    size: int,
    max_member_size: int,
    expansion_limit: int,
    expansion_ratio: int,
    compression: str = "gz",
) -> SdistContents:
    """Walk every header of the .tar.gz at `path` (`size` bytes), as PyPI reads an sdist: every
    member must be in one top-level directory, whatever its name, and the metadata is that
    directory's PKG-INFO. Raises UploadRefused for anything malformed or out of bounds, for a
    second top-level directory, and once more than `expansion_limit` bytes were inflated."""
    max_members = MIN_MEMBER_ALLOWANCE + size // BYTES_PER_EXTRA_MEMBER
    stream = _Inflater(path, expansion_limit, expansion_ratio, compression)
    try:
        return _walk(stream, max_members, max_member_size)
    except UploadRefused as refused:
        if compression != "gz" and refused.message == refuse(NOT_TAR_GZ).message:
            raise refuse(f"not a valid .tar.{compression} archive.") from None
        raise
    finally:
        stream.close()


def _top_and_rest(name: str) -> tuple[str, str]:
    top, _, rest = name.removeprefix("./").partition("/")
    return top, rest.strip("/")


@dataclass
class _Member:
    name: str
    kind: bytes
    size: int


class _Headers:
    """The archive's members one by one, extended headers folded into the member they name."""

    def __init__(self, stream: _Inflater, max_members: int) -> None:
        self.stream = stream
        self.max_members = max_members
        self.count = 0
        # Extended headers (a pax record or GNU long name before a member) are counted apart:
        # many archivers write one for every member (PyYAML 5.4.1: 687 members, 1374 headers).
        self.extended = 0

    def next(self) -> _Member | None:
        long_name: str | None = None
        pax: dict[str, str] = {}
        while True:
            block = self.stream.read(BLOCK)
            if not block or block == ZERO_BLOCK:
                return None  # the end-of-archive marker (or, as tarfile allows, the stream's end)
            if not _checksum_ok(block):
                raise refuse(NOT_TAR_GZ)
            kind = block[156:157]
            size = _number(block[124:136])
            if kind not in EXTENDED_TYPES:
                self.count += 1
                if self.count > self.max_members:
                    raise refuse(f"it holds more than {self.max_members} members.")
                name = pax.get("path") or long_name or _name_of(block)
                if len(name) > MAX_NAME:
                    raise refuse("a member's name is too long.")
                return _Member(name, kind, _pax_size(pax, size))
            self.extended += 1
            if self.extended > EXTENDED_PER_MEMBER * self.max_members:
                raise refuse("it holds more extended tar headers than its members can use.")
            data = _extended_header(self.stream, size)
            if kind == b"L":
                long_name = _text(data)
            elif kind == b"x":
                pax = _pax_records(data)
            # K (long link target) and g (global pax) name nothing we read


def _walk(stream: _Inflater, max_members: int, max_member_size: int) -> SdistContents:
    headers = _Headers(stream, max_members)
    found: bytes | None = None
    top: str | None = None
    while (member := headers.next()) is not None:
        member_top, rest = _top_and_rest(member.name)
        top = member_top if top is None else top
        if member_top != top or top in ("", ".."):
            raise refuse("an sdist holds one top-level directory, and this one holds more.")
        if rest == "PKG-INFO" and member.kind in REGULAR_FILE_TYPES and found is None:
            if member.size > max_member_size:
                raise refuse("PKG-INFO is too large.")
            found = _read_exactly(stream, _padded(member.size))[: member.size]
        else:
            stream.skip(_padded(member.size))
    if top is None:
        raise refuse("the archive is empty.")
    return SdistContents(top=top, pkg_info=found)


def _extended_header(stream: _Inflater, size: int) -> bytes:
    """The data of a GNU long name or pax header: small, or refused before it is read."""
    if size > MAX_EXTENDED_HEADER:
        raise refuse(
            f"an extended tar header of {size} bytes (at most {MAX_EXTENDED_HEADER} are allowed)."
        )
    return _read_exactly(stream, _padded(size))[:size]


def _pax_size(pax: dict[str, str], header_size: int) -> int:
    """The member's size: a pax record overrides the header's field (for files over 8 GiB)."""
    if "size" not in pax:
        return header_size
    if not pax["size"].isdigit() or len(pax["size"]) > 15:
        raise refuse("a pax header is malformed.")
    return int(pax["size"])


def _read_exactly(stream: _Inflater, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise refuse(NOT_TAR_GZ)
    return data


def _name_of(block: bytes) -> str:
    name = _text(block[0:100])
    if block[257:263] == b"ustar\0":  # POSIX ustar: a prefix holds the leading directories
        prefix = _text(block[345:500])
        if prefix:
            return f"{prefix}/{name}"
    return name
