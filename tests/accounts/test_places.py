"""Approximate places on the sessions page, from a MaxMind-format database built here."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from packyard.accounts import places
from packyard.accounts.models import UserSession
from tests.conftest import browser_for

pytestmark = pytest.mark.django_db
BERLIN = "81.2.69.142"
FRANCE_V6 = "2a02:cf40::1"


@pytest.fixture
def geoip_database(tmp_path: Path, settings) -> Iterator[Path]:
    writer = MMDBWriter(
        ip_version=6,
        database_type="GeoLite2-City",
        languages=["en"],
        description={"en": "Packyard's test places"},
        ipv4_compatible=True,
    )
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {"city": {"names": {"en": "Berlin"}}, "country": {"names": {"en": "Germany"}}},
    )
    writer.insert_network(IPSet(["2a02:cf40::/29"]), {"country": {"names": {"en": "France"}}})
    path = tmp_path / "places.mmdb"
    writer.to_db_file(str(path))
    settings.PACKYARD_GEOIP_DATABASE = str(path)
    yield path
    places._reader.cache_clear()


def sessions_page_from(user, address: str) -> str:
    browser = browser_for(user)
    UserSession.objects.filter(user=user).update(ip_address=address)
    return browser.get("/manage/account/sessions/").content.decode()


def test_places_name_city_and_country_or_country(geoip_database):
    assert places.place_of(BERLIN) == "Berlin, Germany"
    assert places.place_of(FRANCE_V6) == "France"
    assert places.place_of("8.8.8.8") == ""  # not in the database
    assert places.place_of("10.1.2.3") == ""  # private: never looked up
    assert places.place_of("not an address") == ""
    assert places.place_of(None) == ""


def test_no_database_no_places(settings):
    settings.PACKYARD_GEOIP_DATABASE = ""
    assert places.place_of(BERLIN) == ""


def test_sessions_page_names_the_place_beside_the_address(alice, geoip_database):
    page = sessions_page_from(alice, BERLIN)
    assert "Berlin, Germany" in page
    assert BERLIN in page


def test_sessions_page_shows_the_address_alone_without_a_database(alice, settings):
    settings.PACKYARD_GEOIP_DATABASE = ""
    page = sessions_page_from(alice, BERLIN)
    assert BERLIN in page
    assert "Germany" not in page


def test_a_file_that_is_not_a_database_fails_at_start(tmp_path: Path, settings):
    bogus = tmp_path / "GeoLite2-City.mmdb"
    bogus.write_bytes(b"<html>a download page, not a database</html>")
    settings.PACKYARD_GEOIP_DATABASE = str(bogus)
    with pytest.raises(ImproperlyConfigured, match="not a readable MaxMind database"):
        places.check_database()
    places._reader.cache_clear()
    settings.PACKYARD_GEOIP_DATABASE = str(tmp_path / "missing.mmdb")
    with pytest.raises(ImproperlyConfigured, match=r"missing\.mmdb"):
        places.check_database()
    places._reader.cache_clear()
