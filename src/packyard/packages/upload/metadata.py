"""The core metadata as upload clients send it in form fields, validated by ``packaging``."""

from typing import Any

from django.http import QueryDict
from packaging.metadata import InvalidMetadata, Metadata, RawMetadata
from packaging.utils import canonicalize_name

from packyard.packages.upload.errors import UploadRefused

SINGLE_FIELDS = {
    "metadata_version": "metadata_version",
    "name": "name",
    "version": "version",
    "summary": "summary",
    "description": "description",
    "description_content_type": "description_content_type",
    "author": "author",
    "author_email": "author_email",
    "maintainer": "maintainer",
    "maintainer_email": "maintainer_email",
    "license": "license",
    "license_expression": "license_expression",
    "home_page": "home_page",
    "download_url": "download_url",
    "requires_python": "requires_python",
}
LIST_FIELDS = {
    "classifiers": "classifiers",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_file": "license_files",
    "license_files": "license_files",
    "import_name": "import_names",
    "import_names": "import_names",
    "import_namespace": "import_namespaces",
    "import_namespaces": "import_namespaces",
    "requires": "requires",
    "provides": "provides",
    "obsoletes": "obsoletes",
}
# As PyPI: 2.0 was never a standard (PEP 426 was withdrawn), and packaging rejects it.
SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")


def _values(fields: QueryDict, name: str) -> list[str]:
    return [value for value in fields.getlist(name) if value.strip()]


def raw_from_form(fields: QueryDict) -> RawMetadata:
    raw: dict[str, Any] = {}
    for form_name, raw_name in SINGLE_FIELDS.items():
        values = _values(fields, form_name)
        if len(values) > 1:
            raise UploadRefused(f"The field {form_name!r} was sent more than once.")
        if values:
            raw[raw_name] = values[0] if raw_name == "description" else values[0].strip()
    for form_name, raw_name in LIST_FIELDS.items():
        values = [value.strip() for value in _values(fields, form_name)]
        if values:
            raw.setdefault(raw_name, []).extend(values)
    keywords = _values(fields, "keywords")
    if keywords:
        raw["keywords"] = [k.strip() for text in keywords for k in text.split(",") if k.strip()]
    urls = _values(fields, "project_urls")
    if urls:
        raw["project_urls"] = _project_urls(urls)
    return RawMetadata(**raw)  # type: ignore[typeddict-item,no-any-return]


def _project_urls(entries: list[str]) -> dict[str, str]:
    urls: dict[str, str] = {}
    for entry in entries:
        label, sep, url = entry.partition(",")
        if not sep or not label.strip() or not url.strip():
            raise UploadRefused(f"Invalid Project-URL {entry!r}: expected 'Label, https://...'.")
        urls[label.strip()] = url.strip()
    return urls


def _describe(errors: list[Exception]) -> str:
    parts = []
    for error in errors:
        if isinstance(error, InvalidMetadata):
            parts.append(f"{error.field.replace('_', '-')}: {error}")
        else:
            parts.append(str(error))
    return "Invalid metadata: " + "; ".join(parts)


def metadata_from_form(fields: QueryDict) -> Metadata:
    raw = raw_from_form(fields)
    for required in ("metadata_version", "name", "version"):
        if required not in raw:
            raise UploadRefused(f"Invalid metadata: {required.replace('_', '-')} is missing.")
    if raw["metadata_version"] not in SUPPORTED_VERSIONS:
        raise UploadRefused(
            f"Invalid metadata: metadata-version {raw['metadata_version']!r} is not one of "
            f"{', '.join(SUPPORTED_VERSIONS)}."
        )
    try:
        metadata = Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        raise UploadRefused(_describe(list(group.exceptions))) from None
    except InvalidMetadata as exc:
        raise UploadRefused(_describe([exc])) from None
    if metadata.version.local is not None:
        raise UploadRefused("Can't use PEP 440 local versions.")
    if len(canonicalize_name(metadata.name)) > 200:
        raise UploadRefused("Invalid metadata: name is longer than 200 characters.")
    return metadata


def info_from_metadata(metadata: Metadata, *, dynamic: tuple[str, ...] = ()) -> dict[str, Any]:
    """The release's metadata in the field names of PyPI's JSON API; `dynamic` as declared."""
    return {
        "name": metadata.name,
        "version": str(metadata.version),
        "summary": metadata.summary or "",
        "description": metadata.description or "",
        "description_content_type": metadata.description_content_type or "",
        "author": metadata.author or "",
        "author_email": metadata.author_email or "",
        "maintainer": metadata.maintainer or "",
        "maintainer_email": metadata.maintainer_email or "",
        "license": metadata.license or "",
        "license_expression": metadata.license_expression or "",
        "keywords": ",".join(metadata.keywords or []),
        "classifiers": list(metadata.classifiers or []),
        "platform": ",".join(metadata.platforms or []),
        "home_page": metadata.home_page or "",
        "download_url": metadata.download_url or "",
        "requires_python": str(metadata.requires_python or ""),
        "requires_dist": [str(r) for r in metadata.requires_dist or []] or None,
        "provides_extra": [str(e) for e in metadata.provides_extra or []] or None,
        "project_urls": dict(metadata.project_urls or {}) or None,
        # As declared: packaging reads the field names in lower case.
        "dynamic": list(dynamic) or None,
        "license_files": list(metadata.license_files or []) or None,
    }
