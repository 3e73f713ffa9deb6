"""The OpenID Connect issuers the operator trusts (PACKYARD_OIDC_ISSUERS_FILE), and their keys.

Keys come from the issuer's discovery document and JWKS, fetched on first need and kept for an
hour; a token signed with a key we do not know makes us fetch again, at most once a minute per
issuer, so a stream of made-up `kid`s cannot turn into a stream of requests to the issuer. An
air-gapped site gives each issuer's keys as a file instead (`jwks_file`) and nothing is fetched.
"""

import json
import threading
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from functools import cache
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KINDS = ("github", "gitlab", "forgejo", "buildkite", "generic")
KEYS_LIFETIME = 3600
# The least time between two fetches of an issuer's keys for an unknown `kid`.
REFETCH_INTERVAL = 60
FETCH_TIMEOUT = 5
MAX_DOCUMENT_BYTES = 1024 * 1024


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched or read; the message says why."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> str:
    """HTTPS, except on loopback (a test issuer on this machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise ValueError(f"{what} {url!r} must be an https:// address")


@dataclass
class Issuer:
    url: str
    kind: str
    audience: str
    jwks_file: str = ""
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict, repr=False)
    _fetched_at: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def signing_key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key the issuer signs with under this `kid` (None: the issuer has no such key)."""
        with self._lock:
            now = time.monotonic()
            stale = not self._fetched_at or now - self._fetched_at > KEYS_LIFETIME
            if not self.jwks_file and stale:
                self._load(now)
            key = self._find(kid)
            if key is None and not self.jwks_file and now - self._fetched_at > REFETCH_INTERVAL:
                self._load(now)  # the issuer may have rotated its keys since we fetched them
                key = self._find(kid)
            return key

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:  # a token without `kid` is accepted only from an issuer with one key
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _load(self, now: float) -> None:
        self._fetched_at = now  # a failure waits its turn too: an issuer down is not hammered
        discovery = _fetch_json(self.url.rstrip("/") + "/.well-known/openid-configuration")
        if discovery.get("issuer") != self.url:
            raise KeysUnavailable(
                f"the discovery document of {self.url} names another issuer "
                f"({discovery.get('issuer')!r})"
            )
        try:
            jwks_uri = check_url(str(discovery.get("jwks_uri", "")), "jwks_uri")
        except ValueError as exc:
            raise KeysUnavailable(str(exc)) from None
        self._keys = keys_from_jwks(_fetch_json(jwks_uri), source=jwks_uri)

    def load_static_keys(self) -> None:
        try:
            document = json.loads(Path(self.jwks_file).read_text())
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(f"jwks_file {self.jwks_file!r}: {exc}") from None
        try:
            self._keys = keys_from_jwks(document, source=self.jwks_file)
        except KeysUnavailable as exc:
            raise ImproperlyConfigured(str(exc)) from None
        self._fetched_at = time.monotonic()


def keys_from_jwks(document: Any, *, source: str) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS, by `kid`; keys of other uses or algorithms are left out."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeysUnavailable(f"{source} is not a JWKS (no list of keys)")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # one key we cannot read does not take the others with it
        keys[str(entry.get("kid", ""))] = key
    if not keys:
        raise KeysUnavailable(f"{source} has no RSA or EC signing key")
    return keys


def _fetch_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as answer:  # noqa: S310
            body = answer.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise KeysUnavailable(f"could not fetch {url}: {exc}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeysUnavailable(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise KeysUnavailable(f"{url} is not JSON") from None


def _read_file(path: str) -> list[Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"PACKYARD_OIDC_ISSUERS_FILE: {exc}") from None
    try:
        if path.endswith(".toml"):
            data: Any = tomllib.loads(text).get("issuers")
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"PACKYARD_OIDC_ISSUERS_FILE {path}: {exc}") from None
    if not isinstance(data, list):
        raise ImproperlyConfigured(
            f"PACKYARD_OIDC_ISSUERS_FILE {path}: expected a list of issuers (in TOML, "
            "[[issuers]] tables)"
        )
    return data


def _issuer_from(entry: Any, *, default_audience: str) -> Issuer:
    if not isinstance(entry, dict):
        raise ValueError("each issuer is a table of url, kind, audience, jwks_file")
    unknown = set(entry) - {"url", "kind", "audience", "jwks_file"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    url = check_url(str(entry.get("url", "")), "url")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{url}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    audience = entry.get("audience", default_audience)
    if not isinstance(audience, str) or not audience:
        raise ValueError(f"{url}: audience must be a non-empty string")
    issuer = Issuer(url=url, kind=kind, audience=audience, jwks_file=entry.get("jwks_file", ""))
    if issuer.jwks_file:
        issuer.load_static_keys()
    return issuer


@cache
def _issuers_from(path: str, default_audience: str) -> dict[str, Issuer]:
    issuers: dict[str, Issuer] = {}
    for entry in _read_file(path) if path else []:
        try:
            issuer = _issuer_from(entry, default_audience=default_audience)
        except ValueError as exc:
            raise ImproperlyConfigured(f"PACKYARD_OIDC_ISSUERS_FILE {path}: {exc}") from None
        if issuer.url in issuers:
            raise ImproperlyConfigured(f"PACKYARD_OIDC_ISSUERS_FILE {path}: {issuer.url} twice")
        issuers[issuer.url] = issuer
    return issuers


def configured_issuers() -> dict[str, Issuer]:
    """The trusted issuers by URL (read once per file; their keys are kept between requests)."""
    return _issuers_from(settings.PACKYARD_OIDC_ISSUERS_FILE, settings.PACKYARD_OIDC_AUDIENCE)
