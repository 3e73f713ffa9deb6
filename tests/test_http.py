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


def _through_head_check(environ_extra: dict[str, str]) -> tuple[str, bytes, bool]:
    from packyard.requesthead import RequestHeadCheck

    reached = []

    def inner(environ, start_response):
        reached.append(environ)
        start_response("200 OK", [])
        return [b"inner"]

    answers = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/legacy/"} | environ_extra
    body = b"".join(
        RequestHeadCheck(inner)(environ, lambda status, headers: answers.append(status))
    )
    return answers[0], body, bool(reached)


@pytest.mark.parametrize("length", ["abc", "-1", "+5", " 5", "1_000", "\u0665", "5, 5", "1e3"])
def test_a_content_length_that_is_not_a_whole_number_is_refused_before_the_views(length: str):
    status, body, reached = _through_head_check({"CONTENT_LENGTH": length})
    assert status == "400 Bad Request"
    assert b"Content-Length header must be a whole number" in body
    assert not reached


@pytest.mark.parametrize(
    "environ", [{}, {"CONTENT_LENGTH": ""}, {"CONTENT_LENGTH": "0"}, {"CONTENT_LENGTH": "512"}]
)
def test_a_well_formed_or_absent_content_length_passes(environ: dict[str, str]):
    assert _through_head_check(environ) == ("200 OK", b"inner", True)
