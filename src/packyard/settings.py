"""Django settings, read from PACKYARD_* environment variables (see docs/configuration.md)."""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from packyard.env import (
    database_from_url,
    email_from_url,
    env_bool,
    env_choice,
    env_duration,
    env_int,
    env_list,
    env_secret,
    env_size,
    env_str,
    storage_from_url,
)

PACKAGE_DIR = Path(__file__).resolve().parent

ENV = env_choice("PACKYARD_ENV", "development", ("development", "production"))
PRODUCTION = ENV == "production"
DEBUG = env_bool("PACKYARD_DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("PACKYARD_DEBUG must be off when PACKYARD_ENV=production.")

DATA_DIR = Path(env_str("PACKYARD_DATA_DIR", "./packyard-data")).resolve()


def _development_secret_key() -> str:
    """A key generated once per data directory, so a newcomer needs no configuration."""
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = env_secret("PACKYARD_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "PACKYARD_SECRET_KEY (or PACKYARD_SECRET_KEY_FILE) is required in production: "
            "50 or more random characters."
        )
    SECRET_KEY = _development_secret_key()
elif PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("PACKYARD_SECRET_KEY must be at least 50 characters long.")

BASE_URL = env_str("PACKYARD_BASE_URL", "" if PRODUCTION else "http://localhost:8000").rstrip("/")
if PRODUCTION and not BASE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        "PACKYARD_BASE_URL must be the site's https:// address in production, "
        f"not {BASE_URL or 'unset'!r}."
    )
if not BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PACKYARD_BASE_URL must start with https://, not {BASE_URL!r}.")
SITE_DOMAIN = urlsplit(BASE_URL).hostname or "localhost"
BASE_URL_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(BASE_URL))
SITE_NAME = env_str("PACKYARD_SITE_NAME", "Packyard")

ALLOWED_HOSTS = env_list("PACKYARD_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "PACKYARD_ALLOWED_HOSTS is required in production: the host names the site answers "
            "to, comma separated."
        )
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", SITE_DOMAIN]
CSRF_TRUSTED_ORIGINS = [BASE_URL]

# Client addresses: X-Forwarded-For is trusted only for this many proxies, counted from the right.
PROXY_COUNT = env_int("PACKYARD_PROXY_COUNT", 0)

INSTALLED_APPS = [
    "django.contrib.admin.apps.SimpleAdminConfig",  # our own site, no autodiscovery
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "packyard.accounts",
    "packyard.twofactor",
    "packyard.signin",
    "packyard.tokens",
    "packyard.oidc",
    "packyard.packages",
    "packyard.fellows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "packyard.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "packyard.accounts.sessions.SessionTrackingMiddleware",
    "packyard.accounts.devices.DeviceCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "packyard.twofactor.middleware.TwoFactorPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "packyard.urls"
WSGI_APPLICATION = "packyard.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "signin:login"
# Where accounts.reauth sends a person to confirm it is them (as LOGIN_URL is for logging in):
# the login flow above accounts owns that page.
REAUTH_URL = "signin:reauthenticate"
LOGIN_REDIRECT_URL = "accounts:manage"
LOGOUT_REDIRECT_URL = "home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,  # the admin's templates; ours in DIRS come first
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "packyard.context_processors.site",
            ],
        },
    }
]

_database_url = env_secret("PACKYARD_DATABASE_URL")
if _database_url:
    DATABASES = {"default": database_from_url(_database_url)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "packyard.sqlite3",
            # Concurrent workers: WAL lets readers run beside a writer, IMMEDIATE takes the write
            # lock at BEGIN so two writers queue on the busy timeout instead of failing mid-way.
            # Connections stay open between requests: the index's fast path reads through them.
            "CONN_MAX_AGE": 600,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Uploads are received here, on the data dir's disk: what a killed worker leaves behind is
# swept when `packyard serve` starts (cli.sweep_upload_temp).
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "tmp")
# Where distribution files live: a directory, or an S3-compatible bucket (docs/deployment.md).
PACKYARD_STORAGE_URL = env_str("PACKYARD_STORAGE_URL", f"file://{DATA_DIR / 'files'}")
STORAGES = {
    "default": storage_from_url(PACKYARD_STORAGE_URL),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Downloads from an S3 store: "stream" passes the bytes through Packyard; "presigned" answers
# with a redirect to a link into the bucket that works for five minutes.
PACKYARD_FILES_REDIRECT = env_choice("PACKYARD_FILES_REDIRECT", "stream", ("stream", "presigned"))
if PACKYARD_FILES_REDIRECT == "presigned" and not PACKYARD_STORAGE_URL.startswith("s3://"):
    raise ImproperlyConfigured(
        "PACKYARD_FILES_REDIRECT=presigned needs an s3:// PACKYARD_STORAGE_URL."
    )
STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

PASSWORD_HASHERS = ["packyard.accounts.hashers.PackyardArgon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 3600

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_NAME = "packyard_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_AGE = env_int("PACKYARD_SESSION_SECONDS", 12 * 3600, minimum=300)  # absolute
PACKYARD_SESSION_IDLE_SECONDS = env_int("PACKYARD_SESSION_IDLE_SECONDS", 2 * 3600, minimum=300)
CSRF_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PROXY_COUNT else None
    SECURE_SSL_REDIRECT = env_bool("PACKYARD_SSL_REDIRECT", default=False)

_email = email_from_url(env_secret("PACKYARD_EMAIL_URL", f"file://{DATA_DIR / 'mail'}"))
EMAIL_BACKEND = _email.backend
if _email.file_path is not None:
    EMAIL_FILE_PATH = _email.file_path
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_SSL = _email.use_ssl
EMAIL_USE_TLS = _email.use_tls
DEFAULT_FROM_EMAIL = env_str("PACKYARD_FROM_EMAIL", f"{SITE_NAME} <noreply@{SITE_DOMAIN}>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# The upload form carries the README; files stream to disk through the upload handler.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
FILE_UPLOAD_MAX_MEMORY_SIZE = 0

PACKYARD_UPLOAD_AUTH = env_choice(
    "PACKYARD_UPLOAD_AUTH", "tokens", ("tokens", "tokens-if-2fa", "any")
)
PACKYARD_PRIVATE = env_bool("PACKYARD_PRIVATE", default=False)
# Who may register themselves: the email domains listed (lower case). Empty: anyone on a public
# index, nobody on a private one (accounts then come from the operator or a staff invitation).
PACKYARD_REGISTRATION_DOMAINS = [
    domain.lower().lstrip("@") for domain in env_list("PACKYARD_REGISTRATION_DOMAINS")
]
# How long installers and caches may keep a simple or JSON API page: PyPI's ten minutes by
# default. Answers carry ETags, so a client that revalidates pays a 304.
PACKYARD_INDEX_MAX_AGE = env_int("PACKYARD_INDEX_MAX_AGE", 600)
PACKYARD_INDEX_CACHE_CONTROL = (
    "private, no-cache" if PACKYARD_PRIVATE else f"max-age={PACKYARD_INDEX_MAX_AGE}, public"
)
# A directory where the public index pages are also written, for a front proxy to serve.
_pages_dir = env_str("PACKYARD_PAGES_DIR")
PACKYARD_PAGES_DIR = Path(_pages_dir) if _pages_dir else None
# With a front proxy that serves the file store itself: the URL prefix of its internal
# location, answered with X-Accel-Redirect instead of the bytes.
PACKYARD_FILES_ACCEL_REDIRECT = env_str("PACKYARD_FILES_ACCEL_REDIRECT")
PACKYARD_MAX_FILE_SIZE = env_size("PACKYARD_MAX_FILE_SIZE", 100 * 1024 * 1024)
PACKYARD_MAX_PROJECT_SIZE = env_size("PACKYARD_MAX_PROJECT_SIZE", 10 * 1024**3)
PACKYARD_NEW_PROJECTS_PER_HOUR = env_int("PACKYARD_NEW_PROJECTS_PER_HOUR", 20, minimum=1)
PACKYARD_MAX_PROJECTS_PER_USER = env_int("PACKYARD_MAX_PROJECTS_PER_USER", 0)  # 0: no limit
PACKYARD_TOKEN_PREFIX = env_str("PACKYARD_TOKEN_PREFIX", "packyard")
if not PACKYARD_TOKEN_PREFIX.isalnum():
    raise ImproperlyConfigured(
        f"PACKYARD_TOKEN_PREFIX must be letters and digits only, not {PACKYARD_TOKEN_PREFIX!r}."
    )
# Token keys are derived from this secret; by default from SECRET_KEY, so rotating that
# key revokes every token.
PACKYARD_TOKEN_SECRET = env_secret("PACKYARD_TOKEN_SECRET") or SECRET_KEY
# Token lifetimes: none can be made longer than the maximum; the default fills the form.
PACKYARD_TOKEN_MAX_AGE = env_duration("PACKYARD_TOKEN_MAX_AGE")
# The form starts at 90 days (npm's cap on its tokens), or the maximum if that is shorter.
PACKYARD_TOKEN_DEFAULT_AGE = env_duration("PACKYARD_TOKEN_DEFAULT_AGE") or min(
    90 * 86400, PACKYARD_TOKEN_MAX_AGE or 90 * 86400
)
if (
    PACKYARD_TOKEN_MAX_AGE
    and PACKYARD_TOKEN_DEFAULT_AGE
    and PACKYARD_TOKEN_DEFAULT_AGE > PACKYARD_TOKEN_MAX_AGE
):
    raise ImproperlyConfigured("PACKYARD_TOKEN_DEFAULT_AGE must not exceed PACKYARD_TOKEN_MAX_AGE.")
# A MaxMind-format database (GeoLite2 City or Country, DB-IP Lite) naming the place of an
# address on the sessions page; unset, pages show addresses alone.
PACKYARD_GEOIP_DATABASE = env_str("PACKYARD_GEOIP_DATABASE")
# Secret scanners' public keys: a file or an https:// address of a GitHub-format key list.
PACKYARD_SECRET_SCANNING_KEYS = env_str("PACKYARD_SECRET_SCANNING_KEYS")
PACKYARD_LOGIN_LIMIT = (10, 300)  # failures, seconds: per user and per address
PACKYARD_TOKEN_FAILURE_LIMIT = (50, 300)  # failed API token checks, seconds: per address
# `phishing-resistant` is `all` with security keys and passkeys only: an account without one
# can do nothing but add one, and an account with one cannot sign in with a code.
PACKYARD_REQUIRE_2FA = env_choice(
    "PACKYARD_REQUIRE_2FA", "all", ("phishing-resistant", "all", "uploaders", "off")
)
if PACKYARD_UPLOAD_AUTH != "tokens" and PACKYARD_REQUIRE_2FA != "off":
    # A password upload proves one factor. Under a 2FA policy every uploader keeps a second
    # factor, and that second factor cannot travel with a password upload: the two settings
    # would promise different things.
    raise ImproperlyConfigured(
        f"PACKYARD_UPLOAD_AUTH={PACKYARD_UPLOAD_AUTH} allows password uploads, which "
        f"PACKYARD_REQUIRE_2FA={PACKYARD_REQUIRE_2FA} forbids for every account that must have "
        "a second factor. Use PACKYARD_UPLOAD_AUTH=tokens, or PACKYARD_REQUIRE_2FA=off."
    )
# Trusted publishing: the CI systems whose identity tokens may be exchanged for upload tokens
# (docs/trusted-publishing.md). Unset, trusted publishing is off.
PACKYARD_OIDC_ISSUERS_FILE = env_str("PACKYARD_OIDC_ISSUERS_FILE")
# The audience an identity token must name when an issuer does not set its own.
PACKYARD_OIDC_AUDIENCE = env_str("PACKYARD_OIDC_AUDIENCE", SITE_DOMAIN)
# How long an exchanged upload token lives: 15 minutes as on PyPI, at most 6 hours.
PACKYARD_OIDC_TOKEN_MINUTES = env_int("PACKYARD_OIDC_TOKEN_MINUTES", 15, minimum=1)
if PACKYARD_OIDC_TOKEN_MINUTES > 360:
    raise ImproperlyConfigured("PACKYARD_OIDC_TOKEN_MINUTES is at most 360 (6 hours).")
# Pending publishers (for projects not made yet) one account may keep.
PACKYARD_OIDC_PENDING_PER_USER = env_int("PACKYARD_OIDC_PENDING_PER_USER", 3, minimum=1)
PACKYARD_REAUTH_SECONDS = env_int("PACKYARD_REAUTH_SECONDS", 15 * 60, minimum=60)
# Loosening a security setting of an account or project waits this long, announced, so that
# any Owner (or the account's holder) can stop it if it was not theirs (docs/security.md).
# Stages (docs/stages.md): how long one waits for its approval, how many a project may have open,
# how many files one may hold, and the factor publishing one needs (a project may tighten it).
PACKYARD_STAGE_DAYS = env_int("PACKYARD_STAGE_DAYS", 7, minimum=1)
PACKYARD_STAGES_PER_PROJECT = env_int("PACKYARD_STAGES_PER_PROJECT", 10, minimum=1)
PACKYARD_STAGE_MAX_FILES = env_int("PACKYARD_STAGE_MAX_FILES", 100, minimum=1)
PACKYARD_STAGE_APPROVAL_FACTOR = env_choice(
    "PACKYARD_STAGE_APPROVAL_FACTOR", "any", ("any", "phishing-resistant")
)
# The recognition programme (docs/fellows.md): off unless turned on; its name; the votes a
# decision needs; the cut-off days of the four quarterly rounds (MM-DD); nominations per person
# per round.
PACKYARD_FELLOWS = env_bool("PACKYARD_FELLOWS")
PACKYARD_FELLOWS_NAME = env_str("PACKYARD_FELLOWS_NAME", "Fellows").strip() or "Fellows"
PACKYARD_FELLOWS_QUORUM = env_int("PACKYARD_FELLOWS_QUORUM", 3, minimum=1)
PACKYARD_FELLOWS_CUTOFFS = env_list("PACKYARD_FELLOWS_CUTOFFS", "03-31,06-30,09-30,12-31")
PACKYARD_FELLOWS_NOMINATIONS_PER_ROUND = env_int(
    "PACKYARD_FELLOWS_NOMINATIONS_PER_ROUND", 5, minimum=1
)
# 0 makes loosening immediate (still announced): for a single-person index only.
PACKYARD_LOOSEN_DELAY = (
    0
    if env_str("PACKYARD_LOOSEN_DELAY").strip() == "0"
    else env_duration("PACKYARD_LOOSEN_DELAY", "24h") or 0
)
# Showing new recovery codes asks for a fresher confirmation than the other settings pages.
PACKYARD_RECOVERY_CODES_REAUTH_SECONDS = env_int(
    "PACKYARD_RECOVERY_CODES_REAUTH_SECONDS", 5 * 60, minimum=60
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("PACKYARD_LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
