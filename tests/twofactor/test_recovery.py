import pytest

from packyard.twofactor import recovery


def test_codes_have_80_bits_and_differ():
    codes = {recovery.new_code() for _ in range(100)}
    assert len(codes) == 100
    assert all(len(code.replace("-", "")) * 5 >= 80 for code in codes)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("abcd-efgh-ijkl-mnop", True),
        ("ABCD-EFGH-IJKL-MNOP", True),
        ("abcdefghijklmnop", True),
        (" abcd efgh ijkl mnop ", True),
        ("abcd-efgh-ijkl-mno", False),
        ("abcd-efgh-ijkl-mno1", False),
        ("abcd_efgh_ijkl_mnop", False),
        ("", False),
    ],
)
def test_harmless_forms_are_accepted_and_the_rest_refused(text, ok):
    assert (recovery.normalize(text) == "abcdefghijklmnop") is ok


def test_digest_is_keyed_and_stable(settings):
    first = recovery.digest("abcdefghijklmnop")
    assert first == recovery.digest("abcdefghijklmnop")
    settings.SECRET_KEY = "another key entirely, long enough to be a real one"
    assert recovery.digest("abcdefghijklmnop") != first
