"""Our wrapper around py_webauthn: security keys and passkeys for this site.

The relying party is the site's domain (PACKYARD_BASE_URL); attestation is not asked for; each
challenge is kept in the server-side session, tied to one purpose, and used once.
"""

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from packyard.accounts.models import User
from packyard.twofactor.models import WebAuthnCredential

CHALLENGE_KEY = "packyard_webauthn_challenge"
CHALLENGE_SECONDS = 300
MAX_CREDENTIAL_JSON = 64 * 1024


class WebAuthnRefused(Exception):
    pass


@dataclass
class NewCredential:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: list[str]


def _origin() -> str:
    return settings.BASE_URL


def credential_digest(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for credential in WebAuthnCredential.objects.filter(user=user):
        transports = []
        for name in credential.transports:
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue
        descriptors.append(
            PublicKeyCredentialDescriptor(id=bytes(credential.credential_id), transports=transports)
        )
    return descriptors


def _remember(request: HttpRequest, purpose: str, challenge: bytes, **extra: Any) -> None:
    request.session[CHALLENGE_KEY] = {
        "purpose": purpose,
        "challenge": base64.urlsafe_b64encode(challenge).decode(),
        "at": time.time(),
        **extra,
    }


def take_challenge(request: HttpRequest, purpose: str) -> tuple[bytes, dict[str, Any]]:
    """The challenge issued for this purpose, removed from the session whatever happens next."""
    stored = request.session.pop(CHALLENGE_KEY, None)
    if not stored or stored.get("purpose") != purpose:
        raise WebAuthnRefused(
            "No sign-in was started here, or it was for something else. Start again."
        )
    if time.time() - float(stored.get("at", 0)) > CHALLENGE_SECONDS:
        raise WebAuthnRefused("That took too long. Start again.")
    return base64.urlsafe_b64decode(stored["challenge"]), stored


def registration_options(request: HttpRequest, *, user: User, passkey: bool, label: str) -> str:
    options = generate_registration_options(
        rp_id=settings.SITE_DOMAIN,
        rp_name=settings.SITE_NAME,
        user_id=user.pk.bytes,
        user_name=user.username,
        user_display_name=user.username,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED
            if passkey
            else ResidentKeyRequirement.DISCOURAGED,
            user_verification=(
                UserVerificationRequirement.REQUIRED
                if passkey
                else UserVerificationRequirement.DISCOURAGED
            ),
        ),
        exclude_credentials=_descriptors(user),
    )
    _remember(request, "register", options.challenge, passkey=passkey, label=label)
    return str(options_to_json(options))


def _parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_CREDENTIAL_JSON:
        raise WebAuthnRefused("The browser's answer is too large.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebAuthnRefused("The browser's answer is not JSON.") from None
    if not isinstance(data, dict):
        raise WebAuthnRefused("The browser's answer is not a credential.")
    return data


def registration_verify(request: HttpRequest, body: bytes) -> tuple[NewCredential, dict[str, Any]]:
    challenge, stored = take_challenge(request, "register")
    data = _parse(body)
    try:
        verified = verify_registration_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=settings.SITE_DOMAIN,
            expected_origin=_origin(),
            require_user_verification=bool(stored.get("passkey")),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise WebAuthnRefused(f"The key's answer was refused: {exc}") from None
    transports = data.get("response", {}).get("transports") or []
    return (
        NewCredential(
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            aaguid=str(verified.aaguid),
            transports=[t for t in transports if isinstance(t, str)][:8],
        ),
        stored,
    )


def authentication_options(request: HttpRequest, *, purpose: str, user: User | None) -> str:
    """For a known user (second step, re-authentication) or, with user None, for a passkey."""
    options = generate_authentication_options(
        rp_id=settings.SITE_DOMAIN,
        allow_credentials=_descriptors(user) if user is not None else [],
        user_verification=(
            UserVerificationRequirement.DISCOURAGED
            if user is not None
            else UserVerificationRequirement.REQUIRED
        ),
    )
    _remember(request, purpose, options.challenge)
    return str(options_to_json(options))


def authentication_verify(
    request: HttpRequest, body: bytes, *, purpose: str, user: User | None
) -> tuple[WebAuthnCredential, int]:
    """The credential that signed, and its new counter. With user None, only passkeys count."""
    challenge, _stored = take_challenge(request, purpose)
    data = _parse(body)
    raw_id = data.get("rawId") or data.get("id")
    if not isinstance(raw_id, str):
        raise WebAuthnRefused("The browser's answer names no credential.")
    try:
        credential_id = base64.urlsafe_b64decode(raw_id + "=" * (-len(raw_id) % 4))
    except ValueError:
        raise WebAuthnRefused("The browser's answer names no credential.") from None
    credentials = WebAuthnCredential.objects.select_related("user").filter(
        credential_id_digest=credential_digest(credential_id)
    )
    credentials = (
        credentials.filter(user=user) if user is not None else credentials.filter(is_passkey=True)
    )
    credential = credentials.first()
    if credential is None:
        raise WebAuthnRefused("This key is not registered for this account.")
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=settings.SITE_DOMAIN,
            expected_origin=_origin(),
            credential_public_key=bytes(credential.public_key),
            # The counter is checked by webauthn_used, which records a suspected clone.
            credential_current_sign_count=0,
            require_user_verification=user is None,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise WebAuthnRefused(f"The key's answer was refused: {exc}") from None
    return credential, verified.new_sign_count
