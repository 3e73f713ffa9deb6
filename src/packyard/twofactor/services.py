"""Second factors: TOTP, WebAuthn keys and passkeys, recovery codes, and their rate limits."""

import hmac
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.ratelimit import Limit, give_back_all, hit_all
from packyard.accounts.services import security_email_send
from packyard.accounts.sessions import current_session_id, sessions_revoke
from packyard.http import client_ip
from packyard.twofactor import recovery, secretbox, totp, webauthn
from packyard.twofactor.models import RecoveryCode, TOTPDevice, WebAuthnCredential

TOTP_PURPOSE = "totp"
# PyPI's limits on second-factor failures, per user; the same again per address.
SECOND_FACTOR_LIMITS = (
    Limit("2fa-5m", 5, 300),
    Limit("2fa-1h", 20, 3600),
    Limit("2fa-1d", 50, 86400),
)
SECOND_FACTOR_IP_LIMITS = (
    Limit("2fa-ip-5m", 5, 300),
    Limit("2fa-ip-1h", 20, 3600),
    Limit("2fa-ip-1d", 50, 86400),
)


class TwoFactorError(Exception):
    """A refusal with a message for the user."""


def user_has_two_factor(user: User) -> bool:
    return (
        TOTPDevice.objects.filter(user=user).exists()
        or WebAuthnCredential.objects.filter(user=user).exists()
    )


def user_has_security_key(user: User) -> bool:
    """A security key or passkey: the factors a look-alike site cannot relay."""
    return WebAuthnCredential.objects.filter(user=user).exists()


def codes_refused(user: User) -> bool:
    """Whether TOTP and recovery codes may no longer sign this account in or confirm it is
    them: the user chose "security keys only", or the site requires phishing-resistant factors
    of an account that has one (one without is kept to adding one, by the policy)."""
    if not user_has_security_key(user):
        return False
    return security_keys_only(user) or settings.PACKYARD_REQUIRE_2FA == "phishing-resistant"


def security_keys_only(user: User) -> bool:
    """The account's own "security keys only", once a waiting switch-off has taken effect."""
    ends = user.security_keys_only_ends
    if user.security_keys_only and ends is not None and ends <= timezone.now():
        _security_keys_only_end(user)
    return user.security_keys_only


def policy_requires_two_factor() -> bool:
    """Whether the operator's policy makes this account keep a second factor."""
    return settings.PACKYARD_REQUIRE_2FA != "off"


def two_factor_missing(user: User, *, publishing: bool, by_operator: bool = False) -> bool:
    """The operator's policy (PACKYARD_REQUIRE_2FA) asks this account for a second factor it
    does not have: for publishing (uploads, tokens, project management) under `all` and
    `uploaders`, for anything else under `all`; a security key or passkey for anything under
    `phishing-resistant`. The operator's own tokens are exempt."""
    policy = settings.PACKYARD_REQUIRE_2FA
    if policy == "off" or by_operator or (policy == "uploaders" and not publishing):
        return False
    if policy == "phishing-resistant":
        return not user_has_security_key(user)
    return not user_has_two_factor(user)


# --- rate limits -------------------------------------------------------------------------------


def _limits(user: User, request: HttpRequest | None) -> list[tuple[Limit, str]]:
    subjects = [(limit, str(user.pk)) for limit in SECOND_FACTOR_LIMITS]
    if request is not None:
        subjects += [(limit, client_ip(request)) for limit in SECOND_FACTOR_IP_LIMITS]
    return subjects


def second_factor_check_limits(*, user: User, request: HttpRequest | None) -> None:
    """Count this attempt before any code is checked; raise RateLimited once the user or address
    has used up a limit. A right code gives the count back (second_factor_succeeded)."""
    hit_all(_limits(user, request))


def second_factor_succeeded(*, user: User, request: HttpRequest | None) -> None:
    give_back_all(_limits(user, request))


def second_factor_failed(*, user: User, request: HttpRequest | None, method: str) -> None:
    """The attempt was counted by second_factor_check_limits: this only records it."""
    event_record(user=user, tag=EventTag.TWO_FACTOR_FAILURE, request=request, method=method)


# --- recovery codes ----------------------------------------------------------------------------


def recovery_codes_remaining(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, burned__isnull=True).count()


def recovery_codes_confirmed(user: User) -> bool:
    """The user proved they saved the current set by entering one of its codes."""
    return RecoveryCode.objects.filter(user=user, burned__isnull=False).exists()


def recovery_codes_generate(*, user: User, request: HttpRequest | None) -> list[str]:
    codes = [recovery.new_code() for _ in range(recovery.CODE_COUNT)]
    with transaction.atomic():
        replaced = RecoveryCode.objects.filter(user=user).delete()[0] > 0
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_digest=recovery.digest(recovery.normalize(code) or ""))
            for code in codes
        )
        event_record(user=user, tag=EventTag.RECOVERY_CODES_GENERATED, request=request)
    if replaced:
        security_email_send(
            user=user,
            subject="New recovery codes",
            template="twofactor/email/recovery_codes_generated.txt",
        )
    return codes


def _burn(user: User, text: str) -> bool:
    code = recovery.normalize(text)
    if code is None:
        return False
    wanted = recovery.digest(code)
    for row in RecoveryCode.objects.filter(user=user, burned__isnull=True):
        if hmac.compare_digest(row.code_digest, wanted):
            # The update is the burn: of two concurrent uses of one code, only one wins.
            return bool(
                RecoveryCode.objects.filter(pk=row.pk, burned__isnull=True).update(
                    burned=timezone.now()
                )
            )
    return False


def recovery_code_confirm(*, user: User, code: str) -> bool:
    return _burn(user, code)


def recovery_code_use(*, user: User, code: str, request: HttpRequest) -> bool:
    """A login with a recovery code: burned, announced, and every other session ended."""
    if not _burn(user, code):
        return False
    left = recovery_codes_remaining(user)
    event_record(user=user, tag=EventTag.RECOVERY_CODES_USED, request=request, remaining=left)
    security_email_send(
        user=user,
        subject="A recovery code was used",
        template="twofactor/email/recovery_code_used.txt",
        remaining=left,
        ip=client_ip(request),
    )
    return True


# --- TOTP --------------------------------------------------------------------------------------


def totp_save(*, user: User, secret: bytes, code: str, request: HttpRequest) -> TOTPDevice:
    """Keep the app's secret once the user shows a code from it."""
    normalized = totp.normalize_code(code)
    if normalized is None:
        raise TwoFactorError("Enter the 6 digits your app shows.")
    step = totp.matching_step(secret, normalized, after_step=0)
    if step is None:
        raise TwoFactorError("That code does not match. Check your device's clock and try again.")
    sealed = secretbox.seal(secret, purpose=TOTP_PURPOSE, owner=str(user.pk))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, sealed_secret=sealed, last_used_step=step)
    factor_changed(user=user, request=request, method="totp", added=True)
    return device


def totp_verify(*, user: User, code: str) -> bool:
    device = TOTPDevice.objects.filter(user=user).first()
    normalized = totp.normalize_code(code)
    if device is None or normalized is None:
        return False
    secret = secretbox.unseal(bytes(device.sealed_secret), purpose=TOTP_PURPOSE, owner=str(user.pk))
    step = totp.matching_step(secret, normalized, after_step=device.last_used_step)
    if step is None:
        return False
    # Only one request can move the step forward: a replayed code loses here.
    return bool(
        TOTPDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(
            last_used_step=step, last_used=timezone.now()
        )
    )


def totp_remove(*, user: User, request: HttpRequest) -> None:
    if not TOTPDevice.objects.filter(user=user).exists():
        return
    _refuse_removing_last_factor(keeping=WebAuthnCredential.objects.filter(user=user).exists())
    TOTPDevice.objects.filter(user=user).delete()
    factor_changed(user=user, request=request, method="totp", added=False)


# --- WebAuthn ----------------------------------------------------------------------------------


def webauthn_add(
    *, user: User, new: webauthn.NewCredential, label: str, passkey: bool, request: HttpRequest
) -> WebAuthnCredential:
    """Keep a key the browser just registered; recorded and announced as a factor change."""
    try:
        with transaction.atomic():
            credential = WebAuthnCredential.objects.create(
                user=user,
                label=label,
                credential_id=new.credential_id,
                credential_id_digest=webauthn.credential_digest(new.credential_id),
                public_key=new.public_key,
                sign_count=new.sign_count,
                aaguid=new.aaguid,
                transports=new.transports,
                is_passkey=passkey,
            )
    except IntegrityError:
        raise TwoFactorError("This key, or a key with that name, is already registered.") from None
    method = "passkey" if passkey else "webauthn"
    factor_changed(user=user, request=request, method=method, added=True, label=label)
    return credential


def webauthn_rename(*, credential: WebAuthnCredential, label: str) -> None:
    taken = (
        WebAuthnCredential.objects.filter(user=credential.user, label=label)
        .exclude(pk=credential.pk)
        .exists()
    )
    if taken:
        raise TwoFactorError("You already have a key with that name.")
    credential.label = label
    credential.save(update_fields=["label"])


def webauthn_remove(*, credential: WebAuthnCredential, request: HttpRequest) -> None:
    user = credential.user
    others = WebAuthnCredential.objects.filter(user=user).exclude(pk=credential.pk).exists()
    _refuse_removing_last_factor(keeping=others or TOTPDevice.objects.filter(user=user).exists())
    _refuse_removing_last_key(user, credential)
    credential.delete()
    method = "passkey" if credential.is_passkey else "webauthn"
    factor_changed(user=user, request=request, method=method, added=False, label=credential.label)


def webauthn_used(
    *, credential: WebAuthnCredential, new_sign_count: int, request: HttpRequest
) -> None:
    """Record a use; a counter that does not grow means the key may have been cloned."""
    if credential.sign_count and new_sign_count <= credential.sign_count:
        event_record(
            user=credential.user,
            tag=EventTag.TWO_FACTOR_CLONED_KEY_SUSPECTED,
            request=request,
            label=credential.label,
        )
        security_email_send(
            user=credential.user,
            subject="A security key may have been cloned",
            template="twofactor/email/cloned_key.txt",
            label=credential.label,
        )
        raise TwoFactorError(
            "This security key's counter went backwards, which a cloned key would do. "
            "The login was refused and you have been emailed."
        )
    WebAuthnCredential.objects.filter(pk=credential.pk).update(
        sign_count=new_sign_count, last_used=timezone.now()
    )


def _refuse_removing_last_factor(*, keeping: bool) -> None:
    if not keeping and policy_requires_two_factor():
        raise TwoFactorError(
            "This is your last second factor and this site requires one: add another first."
        )


def _refuse_removing_last_key(user: User, credential: WebAuthnCredential) -> None:
    others = WebAuthnCredential.objects.filter(user=user).exclude(pk=credential.pk).exists()
    if others:
        return
    if settings.PACKYARD_REQUIRE_2FA == "phishing-resistant":
        raise TwoFactorError(
            "This is your last security key or passkey and this site requires one: add "
            "another first."
        )
    if security_keys_only(user):
        raise TwoFactorError(
            "This is your last security key or passkey and your account signs in with keys "
            'only: add another first, or turn "security keys only" off (which takes effect '
            "after a delay)."
        )


def factor_changed(
    *, user: User, request: HttpRequest, method: str, added: bool, label: str = ""
) -> None:
    """Record, announce, and end every other session: a factor change is a security change."""
    tag = EventTag.TWO_FACTOR_METHOD_ADDED if added else EventTag.TWO_FACTOR_METHOD_REMOVED
    event_record(user=user, tag=tag, request=request, method=method, label=label)
    security_email_send(
        user=user,
        subject="A second factor was added" if added else "A second factor was removed",
        template="twofactor/email/factor_changed.txt",
        method=method,
        label=label,
        added=added,
    )
    sessions_revoke(user=user, keep=current_session_id(request))


# --- security keys only -------------------------------------------------------------------


def security_keys_only_on(*, user: User, request: HttpRequest) -> None:
    """Codes stop signing the account in, at once (tightening needs only the usual
    confirmation); a waiting switch-off is cancelled by it."""
    if not user_has_security_key(user):
        raise TwoFactorError("Add a security key or passkey first: you could not sign in.")
    if user.security_keys_only and user.security_keys_only_ends is None:
        return
    cancelling = user.security_keys_only
    User.objects.filter(pk=user.pk).update(security_keys_only=True, security_keys_only_ends=None)
    user.security_keys_only, user.security_keys_only_ends = True, None
    tag = EventTag.KEYS_ONLY_OFF_CANCELLED if cancelling else EventTag.KEYS_ONLY_ON
    event_record(user=user, tag=tag, request=request)
    security_email_send(
        user=user,
        subject="Security keys only" + (": switching off cancelled" if cancelling else ""),
        template="twofactor/email/keys_only.txt",
        change="cancelled" if cancelling else "on",
    )


def security_keys_only_off(*, user: User, request: HttpRequest) -> None:
    """Loosening: announced now, in effect after PACKYARD_LOOSEN_DELAY, cancelled by turning it
    on again. The view has had the user confirm with a key."""
    if not user.security_keys_only or user.security_keys_only_ends is not None:
        return
    ends = timezone.now() + timedelta(seconds=settings.PACKYARD_LOOSEN_DELAY)
    User.objects.filter(pk=user.pk).update(security_keys_only_ends=ends)
    user.security_keys_only_ends = ends
    event_record(
        user=user, tag=EventTag.KEYS_ONLY_OFF_REQUESTED, request=request, ends=ends.isoformat()
    )
    security_email_send(
        user=user,
        subject="Security keys only will be switched off",
        template="twofactor/email/keys_only.txt",
        change="requested",
        ends=ends,
    )
    security_keys_only(user)  # with no delay, now


def _security_keys_only_end(user: User) -> None:
    ended = User.objects.filter(
        pk=user.pk, security_keys_only=True, security_keys_only_ends__lte=timezone.now()
    ).update(security_keys_only=False, security_keys_only_ends=None)
    user.security_keys_only, user.security_keys_only_ends = False, None
    if ended:  # of two requests seeing the time pass, one records it
        event_record(user=user, tag=EventTag.KEYS_ONLY_OFF, request=None)
        security_email_send(
            user=user,
            subject="Security keys only is off",
            template="twofactor/email/keys_only.txt",
            change="off",
        )


def second_factors_reset(*, user: User, admin: User, request: HttpRequest) -> None:
    """For a locked-out user, by staff: every factor and recovery code goes, every session ends."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        WebAuthnCredential.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        # Keys only would come back with the next key the person adds: they start over.
        User.objects.filter(pk=user.pk).update(
            security_keys_only=False, security_keys_only_ends=None
        )
        event_record(
            user=user,
            tag=EventTag.TWO_FACTOR_RESET_BY_ADMIN,
            request=request,
            admin=admin.username,
        )
    sessions_revoke(user=user)
    security_email_send(
        user=user,
        subject="Your second factors were reset",
        template="twofactor/email/factors_reset.txt",
        admin=admin.username,
    )
