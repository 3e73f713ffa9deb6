"""TOTP as every authenticator app implements it (RFC 6238): a 160-bit secret, 6 digits,
30-second steps, HMAC-SHA-1, and the current step plus or minus one to allow for clock drift."""

import base64
import hmac
import os
import time
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.hotp import HOTP

SECRET_BYTES = 20
DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


def secret_text(secret: bytes) -> str:
    """The base32 form that apps accept when typed in, in groups of four for reading aloud."""
    encoded = base64.b32encode(secret).decode().rstrip("=")
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def provisioning_uri(secret: bytes, *, account: str, issuer: str) -> str:
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode(
        {
            "secret": base64.b32encode(secret).decode().rstrip("="),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        }
    )
    return f"otpauth://totp/{label}?{query}"


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def normalize_code(text: str) -> str | None:
    """Digits with spaces or dashes between them are accepted; anything else is not a code."""
    code = text.replace(" ", "").replace("-", "").strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    return code


def matching_step(
    secret: bytes, code: str, *, after_step: int, now: float | None = None
) -> int | None:
    """The time step the code belongs to, if it is within the drift window and newer than
    after_step (the last step accepted for this user: a code is never accepted twice)."""
    # SHA-1 is what RFC 6238 and every authenticator app use; HMAC-SHA-1 is not broken.
    hotp = HOTP(secret, DIGITS, SHA1(), enforce_key_length=False)  # noqa: S303
    step = current_step(now)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        expected = hotp.generate(candidate)
        if hmac.compare_digest(expected, code.encode()) and candidate > after_step:
            return candidate
    return None
