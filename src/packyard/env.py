"""Typed readers for PACKYARD_* environment variables that fail loudly on bad values."""

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "KB": 1024,
    "KIB": 1024,
    "M": 1024**2,
    "MB": 1024**2,
    "MIB": 1024**2,
    "G": 1024**3,
    "GB": 1024**3,
    "GIB": 1024**3,
}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_secret(name: str, default: str = "") -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (for container secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        if name in os.environ:
            raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path!r}: {exc}") from exc
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_size(name: str, default: int) -> int:
    """A byte count such as 104857600, 100M or 1GiB."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", raw)
    if not match or match.group(2).upper() not in _SIZE_UNITS:
        raise ImproperlyConfigured(f"{name} must be a size such as 100M or 1G, not {raw!r}.")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]


DURATION_RE = re.compile(r"(\d+)([smhdw])")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration_seconds(text: str) -> int | None:
    """Seconds in a lifetime such as 90d, 12h or 2w; None if it is not one."""
    match = DURATION_RE.fullmatch(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * DURATION_UNITS[match.group(2)]


def env_duration(name: str, default: str = "") -> int | None:
    """A lifetime such as 90d; unset or empty means none."""
    raw = env_str(name, default)
    if not raw:
        return None
    seconds = parse_duration_seconds(raw)
    if seconds is None:
        raise ImproperlyConfigured(
            f"{name} must be a duration such as 90d, 12h or 2w, not {raw!r}."
        )
    return seconds


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def database_from_url(url: str, name: str = "PACKYARD_DATABASE_URL") -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"{name} must start with postgresql://, not {parts.scheme!r}.")
    options: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        key, _, value = pair.partition("=")
        options[key] = unquote(value)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "packyard",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


S3_QUERY_OPTIONS = {"endpoint_url", "region", "addressing_style"}


def storage_from_url(url: str, name: str = "PACKYARD_STORAGE_URL") -> dict[str, Any]:
    """Django's default storage from `file:///dir` or `s3://bucket/prefix?endpoint_url=...`.

    S3 credentials come from the standard AWS variables (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, or their _FILE forms), or from the machine's role."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ImproperlyConfigured(
                f"{name}: file:// needs an absolute directory, as in file:///var/lib/files."
            )
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": unquote(parts.path), "file_permissions_mode": 0o640},
        }
    if parts.scheme != "s3" or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} must be file:///directory or s3://bucket/prefix, not {url!r}."
        )
    query = dict(pair.partition("=")[::2] for pair in filter(None, parts.query.split("&")))
    unknown = set(query) - S3_QUERY_OPTIONS
    if unknown:
        raise ImproperlyConfigured(
            f"{name}: unknown options {sorted(unknown)}; use {sorted(S3_QUERY_OPTIONS)}."
        )
    options: dict[str, Any] = {
        "bucket_name": parts.hostname,
        "location": unquote(parts.path.strip("/")),
        # Keys are content addresses, checked for before every write: never renamed.
        "file_overwrite": True,
        "default_acl": None,
        "querystring_auth": True,
        "signature_version": "s3v4",
        # What a read buffers before spilling to a temporary file (downloads stream instead).
        "max_memory_size": 8 * 1024 * 1024,
    }
    if query.get("endpoint_url"):
        options["endpoint_url"] = unquote(query["endpoint_url"])
    if query.get("region"):
        options["region_name"] = unquote(query["region"])
    if query.get("addressing_style"):
        options["addressing_style"] = unquote(query["addressing_style"])
    access_key = env_secret("AWS_ACCESS_KEY_ID")
    secret_key = env_secret("AWS_SECRET_ACCESS_KEY")
    if access_key or secret_key:
        options |= {"access_key": access_key, "secret_key": secret_key}
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


@dataclass(frozen=True)
class EmailSettings:
    """Django's EMAIL_* settings, from one URL; the defaults are Django's own."""

    backend: str
    file_path: str | None = None
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_ssl: bool = False
    use_tls: bool = False


def email_from_url(url: str, name: str = "PACKYARD_EMAIL_URL") -> EmailSettings:
    """Map smtp://, smtps://, console: and file:///dir onto Django email settings."""
    parts = urlsplit(url)
    if parts.scheme == "console":
        return EmailSettings(backend="django.core.mail.backends.console.EmailBackend")
    if parts.scheme == "file":
        if not parts.path:
            raise ImproperlyConfigured(f"{name}: file:// needs a directory, e.g. file:///var/mail.")
        return EmailSettings(
            backend="django.core.mail.backends.filebased.EmailBackend",
            file_path=unquote(parts.path),
        )
    if parts.scheme in {"smtp", "smtps"}:
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name}: {parts.scheme}:// needs a host.")
        return EmailSettings(
            backend="django.core.mail.backends.smtp.EmailBackend",
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 587),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            use_ssl=parts.scheme == "smtps",
            use_tls=parts.scheme == "smtp" and "starttls=0" not in parts.query,
        )
    raise ImproperlyConfigured(
        f"{name} must start with smtp://, smtps://, console: or file://, not {parts.scheme!r}."
    )
