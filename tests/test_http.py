"""The helpers every endpoint shares: refusals and how long they last."""

import pytest

from packyard.accounts.ratelimit import RateLimited
from packyard.http import refusal_response, wait_in_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "in 1 second"),
        (1, "in 1 second"),
        (59, "in 59 seconds"),
        (119, "in 119 seconds"),
        (120, "in 2 minutes"),
        (121, "in 3 minutes"),  # rounded up: never a shorter wait than the real one
        (7140, "in 119 minutes"),
        (7200, "in 2 hours"),
        (7201, "in 3 hours"),
    ],
)
def test_waits_in_words_round_up(seconds: int, words: str):
    assert wait_in_words(seconds) == words


def test_a_limit_becomes_a_429_that_says_how_long():
    refused = RateLimited(300).refusal("Too many wrong codes")
    assert (refused.status, refused.retry_after) == (429, 300)
    assert refused.message == "Too many wrong codes. Try again in 5 minutes."
    response = refusal_response(refused)
    assert response.status_code == 429
    assert response["Retry-After"] == "300"
    assert response.reason_phrase == "Too many wrong codes. Try again in 5 minutes."
