"""Leaked-token reports from secret scanners (GitHub's format, as PyPI accepts them).

The reporter signs the raw body with ECDSA P-256 / SHA-256 and names its key in a header; the
operator lists the reporters' public keys in PACKYARD_SECRET_SCANNING_KEYS (a file, or an
https:// address of a key list in GitHub's JSON format).
"""

import base64
import binascii
import json
import logging
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings

KEY_LIST_TTL = 3600
# A key list that could not be read is not asked for again for this long: a flood of reports
# must not become a flood of fetches (or of file reads) on our side.
KEY_LIST_FAILURE_TTL = 60
MAX_KEY_LIST = 1024 * 1024
KEYS_UNAVAILABLE = "The reporters' keys cannot be read right now; send the report again later."
logger = logging.getLogger(__name__)


class DisclosureRefused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Report:
    token: str
    url: str
    source: str


_cache: dict[str, tuple[float, dict[str, bytes]]] = {}
_failed: dict[str, float] = {}


def _fetch(location: str) -> bytes:
    if location.startswith("https://"):
        with urllib.request.urlopen(location, timeout=10) as response:  # noqa: S310 - https only
            return bytes(response.read(MAX_KEY_LIST))
    with open(location, "rb") as handle:
        return handle.read(MAX_KEY_LIST)


def public_keys() -> dict[str, bytes]:
    """Key id -> PEM, from the configured list, kept for an hour."""
    location = settings.PACKYARD_SECRET_SCANNING_KEYS
    if not location:
        return {}
    now = time.monotonic()
    cached = _cache.get(location)
    if cached and now - cached[0] < KEY_LIST_TTL:
        return cached[1]
    if now - _failed.get(location, -KEY_LIST_FAILURE_TTL) < KEY_LIST_FAILURE_TTL:
        raise DisclosureRefused(KEYS_UNAVAILABLE, 503)
    try:
        data = json.loads(_fetch(location))
        keys = {
            str(entry["key_identifier"]): str(entry["key"]).encode()
            for entry in data["public_keys"]
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # The operator reads why in the log; the reporter learns nothing of our files.
        logger.exception("PACKYARD_SECRET_SCANNING_KEYS cannot be read")
        _failed[location] = now
        raise DisclosureRefused(KEYS_UNAVAILABLE, 503) from None
    _failed.pop(location, None)
    _cache[location] = (now, keys)
    return keys


def verify_signature(body: bytes, key_id: str, signature: str) -> None:
    if not key_id or not signature:
        raise DisclosureRefused("The report is not signed.", 401)
    pem = public_keys().get(key_id)
    if pem is None:
        raise DisclosureRefused("The report is signed with an unknown key.", 401)
    try:
        key = load_pem_public_key(pem)
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error, TypeError):
        raise DisclosureRefused("The report's signature cannot be read.", 401) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise DisclosureRefused("The reporter's key is not an ECDSA key.", 401)
    try:
        key.verify(raw_signature, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise DisclosureRefused("The report's signature does not match.", 401) from None


def parse_reports(body: bytes) -> list[Report]:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DisclosureRefused("The report is not JSON.") from None
    if not isinstance(data, list) or len(data) > 1000:
        raise DisclosureRefused("The report must be a JSON list of at most 1000 entries.")
    reports = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            raise DisclosureRefused("Each entry needs a token string.")
        reports.append(
            Report(
                token=entry["token"][:4096],
                url=str(entry.get("url") or "")[:1000],
                source=str(entry.get("source") or "")[:100],
            )
        )
    return reports
