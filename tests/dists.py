"""Distribution files built in memory, shaped the way real build backends write them."""

import gzip
import hashlib
import io
import tarfile
import zipfile

# Fixed timestamps: building the same distribution twice gives the same bytes.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def _write(archive: zipfile.ZipFile, name: str, content: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content)


def core_metadata(name: str, version: str, *, extra: str = "") -> bytes:
    return (
        f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\nSummary: test package\n{extra}\n"
    ).encode()


def wheel_filename(name: str, version: str) -> str:
    return f"{name.replace('-', '_').lower()}-{version}-py3-none-any.whl"


def sdist_filename(name: str, version: str) -> str:
    return f"{name.replace('-', '_').lower()}-{version}.tar.gz"


def make_wheel(
    name: str,
    version: str,
    *,
    metadata: bytes | None = None,
    members: dict[str, bytes] | None = None,
) -> bytes:
    base = f"{name.replace('-', '_').lower()}-{version}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write(archive, f"{name.replace('-', '_').lower()}/__init__.py", b"VALUE = 1\n")
        _write(archive, f"{base}.dist-info/METADATA", metadata or core_metadata(name, version))
        _write(
            archive,
            f"{base}.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        for member, content in (members or {}).items():
            _write(archive, member, content)
        _write(archive, f"{base}.dist-info/RECORD", b"")
    return buffer.getvalue()


def make_sdist(name: str, version: str, *, pkg_info: bytes | None = None) -> bytes:
    base = sdist_filename(name, version).removesuffix(".tar.gz")
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as archive,
    ):
        for member, content in {
            f"{base}/PKG-INFO": pkg_info or core_metadata(name, version),
            f"{base}/pyproject.toml": b"[project]\n",
        }.items():
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
