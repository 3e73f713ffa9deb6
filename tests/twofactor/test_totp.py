import base64
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from packyard.twofactor import totp

SECRET = b"0123456789abcdefghij"
NOW = 1_700_000_000.0


def code_at(when: float) -> str:
    return pyotp.TOTP(base64.b32encode(SECRET).decode()).at(when)


def test_new_secret_is_160_bits():
    assert len(totp.new_secret()) == 20
    assert totp.new_secret() != totp.new_secret()


def test_provisioning_uri_names_issuer_and_account():
    uri = totp.provisioning_uri(SECRET, account="alice", issuer="Packyard")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert parts.path == "/Packyard:alice"
    query = parse_qs(parts.query)
    assert query["secret"] == [base64.b32encode(SECRET).decode().rstrip("=")]
    assert query["issuer"] == ["Packyard"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]


def test_secret_text_is_the_base32_secret_in_groups():
    assert totp.secret_text(SECRET).replace(" ", "") == base64.b32encode(SECRET).decode()


@pytest.mark.parametrize("offset", [-30, 0, 30])
def test_codes_within_one_step_of_now_are_accepted(offset):
    step = totp.matching_step(SECRET, code_at(NOW + offset), after_step=0, now=NOW)
    assert step == totp.current_step(NOW + offset)


@pytest.mark.parametrize("offset", [-90, -60, 60, 90])
def test_codes_outside_the_drift_window_are_refused(offset):
    assert totp.matching_step(SECRET, code_at(NOW + offset), after_step=0, now=NOW) is None


def test_a_step_already_used_is_refused():
    step = totp.current_step(NOW)
    assert totp.matching_step(SECRET, code_at(NOW), after_step=step, now=NOW) is None


def test_an_earlier_step_after_a_newer_one_is_refused():
    newer = totp.current_step(NOW)
    assert totp.matching_step(SECRET, code_at(NOW - 30), after_step=newer, now=NOW) is None


def test_wrong_code_is_refused():
    right = code_at(NOW)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert totp.matching_step(SECRET, wrong, after_step=0, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123456", "123456"),
        ("123 456", "123456"),
        (" 123-456 ", "123456"),
        ("12345", None),
        ("1234567", None),
        ("12345a", None),
        ("١٢٣٤٥٦", None),
        ("", None),
    ],
)
def test_normalize_code(text, expected):
    assert totp.normalize_code(text) == expected
