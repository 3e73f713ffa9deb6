"""Account operations: creating users, checking passwords under rate limits, verifying email."""

import re
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.mail import send_mail
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from packyard.accounts.devices import device_key
from packyard.accounts.events import EventTag, event_record
from packyard.accounts.models import User
from packyard.accounts.ratelimit import Backoff, Counter, Limit, RateLimited, give_back_all, hit_all
from packyard.accounts.sessions import current_session_id, sessions_revoke
from packyard.http import client_ip

MAX_PASSWORD_LENGTH = 1024
EMAIL_VERIFY_SALT = "packyard.accounts.verify-email"
EMAIL_VERIFY_MAX_AGE = 24 * 3600


# Password checks are limited three ways (docs/two-factor.md, "Rate limits"):
# - per address, whoever the account: a guesser's own budget;
# - per account and browser (or address) that has logged in to it before: the owner's budget,
#   which strangers cannot spend;
# - per account for every unknown source together: a back-off that doubles its wait after each
#   failure past the first few, so a flood of strangers slows guessing without locking anyone out.
def login_failures_per_ip() -> Limit:
    failures, window = settings.PACKYARD_LOGIN_LIMIT
    return Limit("login-ip", failures, window)


def login_failures_per_known_device() -> Limit:
    failures, window = settings.PACKYARD_LOGIN_LIMIT
    return Limit("login-user-device", failures, window)


def login_failures_from_strangers() -> Backoff:
    failures, _window = settings.PACKYARD_LOGIN_LIMIT
    return Backoff("login-user-unknown", free=failures, base=1, cap=15 * 60, forget=24 * 3600)


# Mail we send on request: limited so that nobody can flood an inbox through us.
RESET_MAILS_PER_ADDRESS = Limit("reset-mail", 3, 3600)
RESET_MAILS_PER_IP = Limit("reset-mail-ip", 10, 3600)
VERIFY_MAILS_PER_USER = Limit("verify-mail", 3, 3600)
REGISTRATIONS_PER_IP = Limit("register-ip", 5, 3600)
UNVERIFIED_ACCOUNT_AGE = timedelta(days=7)
INVITATION_SALT = "packyard.accounts.invite-user"
INVITATION_MAX_AGE = 7 * 86400


def mail_allowed(limits: Sequence[tuple[Counter, str]]) -> bool:
    """Count one more mail against each limit; False once any of them is used up."""
    try:
        hit_all(limits)
    except RateLimited:
        return False
    return True


class AccountError(Exception):
    pass


# Usernames appear in URLs, mail and security history: plain ASCII, so that no look-alike
# letters from other scripts (or fullwidth forms) can copy someone else's name.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?")
USERNAME_RULE = (
    "1 to 50 ASCII letters, digits and . _ - (starting and ending with a letter or digit)"
)


def username_check(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise AccountError(f"A username is {USERNAME_RULE}.")


def user_find(*, username: str) -> User | None:
    return User.objects.filter(username__iexact=username).first()


def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    verified: bool = False,
    superuser: bool = False,
) -> User:
    username_check(username)
    if User.objects.filter(username__iexact=username).exists():
        raise AccountError("That username is taken.")
    if User.objects.annotate(e=Lower("email")).filter(e=email.lower()).exists():
        raise AccountError("That email address is already used by another account.")
    user = User(
        username=username,
        email=email,
        email_verified=verified,
        is_staff=superuser,
        is_superuser=superuser,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def password_check(*, request: HttpRequest | None, username: str, password: str) -> User | None:
    """Check a username and password, limited per user and per address before any hashing.

    Raises RateLimited when either limit is used up; returns None on a wrong password.
    """
    known = user_find(username=username) if len(username) <= 150 else None
    limits = password_limits(request=request, username=username, user=known)
    hit_all(limits)
    if len(password) > MAX_PASSWORD_LENGTH or len(username) > 150:
        user = None
    else:
        authenticated = authenticate(request, username=username, password=password)
        user = authenticated if isinstance(authenticated, User) else None
    if user is None:
        if known is not None:
            event_record(user=known, tag=EventTag.LOGIN_FAILURE, request=request)
        return None
    give_back_all(limits)
    login_failures_from_strangers().reset(str(user.pk))
    return user


def password_limits(
    *, request: HttpRequest | None, username: str, user: User | None
) -> list[tuple[Counter, str]]:
    """The limits one password attempt counts against (see LOGIN_FAILURES_*)."""
    limits: list[tuple[Counter, str]] = []
    if request is not None:
        limits.append((login_failures_per_ip(), client_ip(request)))
    source = device_key(request, user) if request is not None and user is not None else None
    subject = str(user.pk) if user is not None else f"name:{username.lower()}"
    if source is not None:
        limits.append((login_failures_per_known_device(), f"{subject}:{source}"))
    else:
        limits.append((login_failures_from_strangers(), subject))
    return limits


def email_verification_link(*, user: User) -> str:
    token = signing.dumps({"u": str(user.pk), "e": user.email.lower()}, salt=EMAIL_VERIFY_SALT)
    return settings.BASE_URL + reverse("accounts:verify-email", args=[token])


def email_verification_send(*, user: User) -> None:
    context = {
        "user": user,
        "link": email_verification_link(user=user),
        "site_name": settings.SITE_NAME,
    }
    send_mail(
        subject=f"[{settings.SITE_NAME}] Verify your email address",
        message=render_to_string("accounts/email/verify.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def _signed_link_data(token: str, *, salt: str, max_age: int, what: str) -> dict[str, object]:
    """The data a link of ours carries; AccountError saying why a link is not good."""
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise AccountError(f"This {what} has expired: ask for a new one.") from None
    except signing.BadSignature:
        raise AccountError(f"This {what} is not valid.") from None
    if not isinstance(data, dict):
        raise AccountError(f"This {what} is not valid.")
    return data


def email_verify(*, token: str, request: HttpRequest | None = None) -> User:
    data = _signed_link_data(
        token, salt=EMAIL_VERIFY_SALT, max_age=EMAIL_VERIFY_MAX_AGE, what="verification link"
    )
    user = User.objects.filter(pk=str(data.get("u")), is_active=True).first()
    if user is None or user.email.lower() != data.get("e"):
        raise AccountError("This verification link is for an address that has since changed.")
    if not user.email_verified:
        user.email_verified = True
        user.save(update_fields=["email_verified"])
        event_record(user=user, tag=EventTag.EMAIL_VERIFIED, request=request, email=user.email)
    return user


def security_email_send(*, user: User, subject: str, template: str, **context: object) -> None:
    context |= {"user": user, "site_name": settings.SITE_NAME, "base_url": settings.BASE_URL}
    send_mail(
        subject=f"[{settings.SITE_NAME}] {subject}",
        message=render_to_string(template, context),
        from_email=None,
        recipient_list=[user.email],
    )


# --- registration ------------------------------------------------------------------------------


def registration_open(email: str | None = None) -> bool:
    """May people register themselves (with this address)? See PACKYARD_REGISTRATION_DOMAINS."""
    domains = settings.PACKYARD_REGISTRATION_DOMAINS
    if not domains:
        return not settings.PACKYARD_PRIVATE
    if email is None:
        return True
    return email.rpartition("@")[2].lower() in domains


def user_by_email(email: str) -> User | None:
    return User.objects.annotate(e=Lower("email")).filter(e=email.lower()).first()


def registration_submit(*, username: str, email: str, password: str, request: HttpRequest) -> None:
    """Self-registration. The caller answers the same whether or not the address is known: a
    known address gets a mail telling its owner, a new one an account and a verification link.
    The account logs in once the link is opened; unverified accounts go after seven days."""
    if not registration_open(email):
        raise AccountError("This index does not take registrations from that address.")
    unverified_accounts_delete()
    owner = user_by_email(email)
    if owner is not None:
        # Hash the password all the same: a new account's hashing takes tens of milliseconds,
        # and an answer that much faster would tell that the address is known.
        make_password(password)
        security_email_send(
            user=owner,
            subject="Someone tried to register with your address",
            template="accounts/email/register_known.txt",
        )
        return
    user = user_create(username=username, email=email, password=password)
    event_record(user=user, tag=EventTag.CREATE, request=request)
    email_verification_send(user=user)


def unverified_accounts_delete() -> int:
    """Remove accounts whose address was never verified within UNVERIFIED_ACCOUNT_AGE: a name
    registered and abandoned (or registered to squat) comes free again."""
    cutoff = timezone.now() - UNVERIFIED_ACCOUNT_AGE
    doomed = list(
        User.objects.filter(
            email_verified=False, date_joined__lt=cutoff, is_staff=False, roles__isnull=True
        ).values_list("pk", flat=True)
    )
    User.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def user_invitation_send(*, email: str, invited_by: User, request: HttpRequest) -> None:
    """Staff invite a person to make an account (on a closed index): a link good for 7 days."""
    if user_by_email(email) is not None:
        raise AccountError("An account already uses that address.")
    token = signing.dumps({"e": email.lower(), "by": str(invited_by.pk)}, salt=INVITATION_SALT)
    link = settings.BASE_URL + reverse("accounts:register-invited", args=[token])
    send_mail(
        subject=f"[{settings.SITE_NAME}] You are invited to make an account",
        message=render_to_string(
            "accounts/email/invite_user.txt",
            {"link": link, "site_name": settings.SITE_NAME, "invited_by": invited_by},
        ),
        from_email=None,
        recipient_list=[email],
    )
    event_record(user=invited_by, tag=EventTag.USER_INVITED, request=request, email=email)


def user_invitation_email(token: str) -> str:
    """The address an invitation is for; AccountError when it is not (or no longer) good."""
    data = _signed_link_data(
        token, salt=INVITATION_SALT, max_age=INVITATION_MAX_AGE, what="invitation link"
    )
    inviter = User.objects.filter(pk=str(data.get("by")), is_active=True, is_staff=True).first()
    if inviter is None:
        raise AccountError("This invitation was withdrawn: ask for a new one.")
    email = str(data.get("e", ""))
    if user_by_email(email) is not None:
        raise AccountError("This invitation was used: log in instead.")
    return email


def account_freeze(*, user: User, admin: User, request: HttpRequest) -> None:
    """Staff stop an account: no login, its sessions end, its tokens stop working (they check
    that their owner is active). Recorded in its history."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    sessions_revoke(user=user)
    event_record(user=user, tag=EventTag.FROZEN, request=request, admin=admin.username)


def account_unfreeze(*, user: User, admin: User, request: HttpRequest) -> None:
    User.objects.filter(pk=user.pk).update(is_active=True)
    event_record(user=user, tag=EventTag.UNFROZEN, request=request, admin=admin.username)


def password_changed(*, user: User, request: HttpRequest) -> None:
    """After a password change from the account page: every other session ends (this one was
    just given the new password's hash), recorded, and the owner emailed."""
    sessions_revoke(user=user, keep=current_session_id(request))
    event_record(user=user, tag=EventTag.PASSWORD_CHANGE, request=request)
    security_email_send(
        user=user,
        subject="Your password has changed",
        template="accounts/email/password_changed.txt",
    )


def account_changed_by_admin(
    *, user: User, admin: User, fields: list[str], request: HttpRequest
) -> None:
    event_record(
        user=user,
        tag=EventTag.CHANGED_BY_ADMIN,
        request=request,
        admin=admin.username,
        fields=", ".join(fields),
    )
    security_email_send(
        user=user,
        subject="Your account was changed by an administrator",
        template="accounts/email/changed_by_admin.txt",
        admin=admin.username,
        fields=", ".join(fields),
    )
