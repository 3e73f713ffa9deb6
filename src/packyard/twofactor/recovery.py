"""Recovery codes: ten random codes of 80 bits, shown once, kept only as HMACs, burned on use."""

import base64
import hashlib
import hmac
import os

from django.conf import settings

CODE_COUNT = 10
CODE_BYTES = 10  # 80 bits: 16 base32 characters


def new_code() -> str:
    raw = base64.b32encode(os.urandom(CODE_BYTES)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalize(text: str) -> str | None:
    """Upper case, spaces and dashes are harmless; anything else is not one of our codes."""
    code = text.replace("-", "").replace(" ", "").strip().lower()
    alphabet = set("abcdefghijklmnopqrstuvwxyz234567")
    if len(code) != CODE_BYTES * 8 // 5 or not set(code) <= alphabet:
        return None
    return code


def digest(code: str) -> str:
    key = hmac.new(settings.SECRET_KEY.encode(), b"packyard/recovery-code/v1", hashlib.sha256)
    return hmac.new(key.digest(), code.encode(), hashlib.sha256).hexdigest()
