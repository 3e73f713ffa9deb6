"""Secrets we must be able to read back (TOTP seeds), sealed with AES-GCM under a key derived
from the server secret, and bound to their owner so a sealed value cannot be moved to another
account."""

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

NONCE_BYTES = 12
VERSION = b"\x01"


def _key(purpose: str) -> bytes:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"packyard/secretbox/{purpose}/v1".encode(), hashlib.sha256
    ).digest()


def seal(plaintext: bytes, *, purpose: str, owner: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(purpose)).encrypt(nonce, plaintext, owner.encode())
    return VERSION + nonce + sealed


class Unsealable(Exception):
    pass


def unseal(blob: bytes, *, purpose: str, owner: str) -> bytes:
    if blob[:1] != VERSION:
        raise Unsealable("unknown format")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(_key(purpose)).decrypt(nonce, sealed, owner.encode())
    except InvalidTag:
        raise Unsealable("wrong key or tampered value") from None
