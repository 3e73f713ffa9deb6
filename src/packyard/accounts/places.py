"""Approximate places for addresses, from a MaxMind-format database the operator provides
(GeoLite2 or GeoIP2 City or Country, DB-IP Lite): `PACKYARD_GEOIP_DATABASE`. Without one,
pages show the address alone."""

import ipaddress
import logging
from functools import cache
from pathlib import Path

import maxminddb
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


@cache
def _reader(path: str) -> maxminddb.Reader:
    try:
        return maxminddb.open_database(path)
    except (OSError, maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"PACKYARD_GEOIP_DATABASE={path} is not a readable MaxMind database: {exc}"
        ) from exc


def check_database() -> None:
    """Open the configured database once at start-up, so a wrong path fails loudly then."""
    path = settings.PACKYARD_GEOIP_DATABASE
    if path:
        _reader(str(Path(path)))


def _english_name(record: object, key: str) -> str:
    part = record.get(key) if isinstance(record, dict) else None
    names = part.get("names") if isinstance(part, dict) else None
    return str(names.get("en", "")) if isinstance(names, dict) else ""


def place_of(address: str | None) -> str:
    """ "Berlin, Germany", "Germany", or "" when there is no database, the address is private
    or reserved, or the database does not know it."""
    path = settings.PACKYARD_GEOIP_DATABASE
    if not path or not address:
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if not ip.is_global:
        return ""
    try:
        record = _reader(str(Path(path))).get(ip)
    except (OSError, maxminddb.InvalidDatabaseError, ValueError):
        logger.exception("The GeoIP database could not be read for an address")
        return ""
    city, country = _english_name(record, "city"), _english_name(record, "country")
    return ", ".join(filter(None, [city, country]))
