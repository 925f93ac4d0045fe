"""The one settings module. Everything is configured by DANGAN_* environment variables.

With nothing set, dangan runs on one machine: SQLite (WAL) and files under ./dangan-data,
in-process jobs, local-memory cache.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from dangan.conf.logfilter import with_redaction
from dangan.conf.secrets import check_private_file, read_secret_file, secret
from dangan.core import antivirus as _antivirus
from dangan.core import deadlines as _deadline_rules


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"DANGAN_{name}", default)


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name).lower()
    return value in ("1", "true", "yes", "on") if value else default


DATA_DIR = Path(env("HOME", "./dangan-data")).resolve()
BLOB_DIR = DATA_DIR / "blobs"
QUARANTINE_DIR = DATA_DIR / "quarantine"
KEY_DIR = DATA_DIR / "keys"
EXPORT_DIR = DATA_DIR / "exports"


# The data directory holds citizens' personal data: only this account may enter it.
if not DATA_DIR.exists():
    DATA_DIR.mkdir(parents=True, mode=0o700)


def _secret_key() -> str:
    """From DANGAN_SECRET_KEY or DANGAN_SECRET_KEY_FILE, else a per-instance file (0600) created on
    first use (its mode and owner are checked on every start, as for DANGAN_SECRET_KEY_FILE).

    Written to a temporary name and linked into place, so a second process starting at the same
    moment reads either no file or the whole key, never a half-written one.
    """
    value = secret("SECRET_KEY")
    if value:
        return value
    path = DATA_DIR / "secret_key"
    if not path.exists():
        tmp = DATA_DIR / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won; use its key
        finally:
            os.unlink(tmp)
    return read_secret_file(path, what="the generated secret key").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "dangan.accounts",
    "dangan.audit",
    "dangan.catalog",
    "dangan.ingest",
    "dangan.archive",
    "dangan.preservation",
    "dangan.jobs",
    "dangan.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dangan.conf.security.HardeningMiddleware",  # CSP, Permissions-Policy, request size (# --- Hardening ---)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dangan.accounts.middleware.AccountSecurityMiddleware",  # session timeouts, forced password change
    "dangan.audit.denials.DeniedAccessAuditMiddleware",  # refused requests are audited (access.denied)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dangan.conf.urls"
WSGI_APPLICATION = "dangan.conf.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dangan.web.context_processors.current_url",
            ],
        },
    },
]

_db_url = secret("DATABASE_URL")  # or DANGAN_DATABASE_URL_FILE; DANGAN_DATABASE_PASSWORD(_FILE) below
if _db_url:
    DATABASES = {"default": dj_database_url.parse(_db_url, conn_max_age=60)}
    if secret("DATABASE_PASSWORD"):
        DATABASES["default"]["PASSWORD"] = secret("DATABASE_PASSWORD")
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"].setdefault("TEST", {})["NAME"] = env("TEST_DATABASE_NAME", "test_dangan")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "dangan.sqlite3"),
            "OPTIONS": {
                # Writers take the lock at BEGIN, so concurrent confirmations queue instead of failing.
                "transaction_mode": "IMMEDIATE",
                "timeout": 60,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = secret("REDIS_URL")  # or DANGAN_REDIS_URL_FILE; DANGAN_REDIS_PASSWORD(_FILE) below
if _redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}}
    if secret("REDIS_PASSWORD"):  # used when the URL carries none
        CACHES["default"]["OPTIONS"] = {"password": secret("REDIS_PASSWORD")}  # type: ignore[assignment]
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Length, character classes, user name, history: dangan.accounts.passwords (settings below).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "dangan.accounts.passwords.PasswordPolicyValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["dangan.accounts.backends.LockoutModelBackend"]  # + OIDC when configured

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [Path(__file__).resolve().parent.parent / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"  # a refused single sign-on (mozilla-django-oidc)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_SECONDS", 8 * 3600)  # also the absolute lifetime of a sign-in
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)  # 0: no idle timeout
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Uploads: stream anything over 2.5 MB to a temp file under the quarantine area, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = str(QUARANTINE_DIR / "uploads")
(QUARANTINE_DIR / "uploads").mkdir(parents=True, exist_ok=True, mode=0o700)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dangan.catalog.auth.SourceSystemTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "dangan.audit.denials.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "dangan API",
    "DESCRIPTION": "Archive system for government-service electronic records (政务服务电子档案)",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "SubmissionStatusEnum": "dangan.ingest.states.CHOICES",
        "RecordStatusEnum": "dangan.archive.states.CHOICES",
    },
}

# Intake limits (DOMAIN.md; the ZIP rules in core/package/intake.py).
MAX_PACKAGE_BYTES = env_int("MAX_PACKAGE_BYTES", 2 * 1024**3)
MAX_PACKAGE_ENTRIES = env_int("MAX_ENTRIES", 10_000)
MAX_COMPRESSION_RATIO = float(env("MAX_RATIO", "100"))
# Virus scanner for check items 4-1/4-2: "clamd:/run/clamav/clamd.ctl", "clamd:tcp://host:3310",
# "clamscan" or "clamscan:/path/to/database". Empty: 4-1/4-2 report "not run" (docs/antivirus.md).
CLAMAV = env("CLAMAV", "")
_antivirus.scanner_from_config(CLAMAV or None)  # a mistyped value stops start-up (BAD_SCANNER_CONFIG)
# Trusted seal-maker / signer certificates for OFD e-seals (check 1-1): a folder (makers/, signers/) or a
# PEM bundle. Empty: seals are verified for integrity; their maker is reported as not verified.
OFD_TRUST = env("OFD_TRUST", "")

# Background work: in-process unless a broker is configured; DANGAN_JOBS_EAGER runs jobs inline.
BROKER_URL = secret("BROKER_URL")  # or DANGAN_BROKER_URL_FILE
JOBS_EAGER = env_bool("JOBS_EAGER")
# Celery (docs/workers.md). The prefix names the queues (<prefix>.heavy, <prefix>.quick) and, on Redis,
# every key, so several instances can share one broker. An unacknowledged task on Redis is handed out
# again after the visibility timeout (seconds): a worker that died mid-task is replaced that late.
BROKER_QUEUE_PREFIX = env("BROKER_QUEUE_PREFIX", "dangan")
BROKER_VISIBILITY_TIMEOUT = env_int("BROKER_VISIBILITY_TIMEOUT", 3600)
TASK_MAX_RETRIES = env_int("TASK_MAX_RETRIES", 5)  # transient DB / connection errors, with backoff

# Catalogue counts (archive.counts): exact by default (recounted after any record change); a busy
# installation may accept counts up to MAX_LAG seconds old instead of recounting on every page view.
CATALOGUE_COUNTS_MAX_LAG = env_int("CATALOGUE_COUNTS_MAX_LAG", 0)
CATALOGUE_COUNTS_TTL = env_int("CATALOGUE_COUNTS_TTL", 300)

# Deadlines (DOMAIN.md §4, dangan/core/deadlines.py): the transfer rule, "national" (within 5 years
# of archiving) or "yunnan" (by 30 June of the year after archiving). An unknown name stops start-up.
TRANSFER_RULE = env("TRANSFER_RULE", "national").strip().lower() or "national"
_deadline_rules.rule_set(TRANSFER_RULE)

INSTANCE_NAME = env("INSTANCE_NAME", "dangan")
INSTANCE_ORGANIZATION = env("INSTANCE_ORGANIZATION", "dangan archive")

# --- Authentication (accounts) ---
# Password policy (dangan.accounts.passwords), lockout and login rate limit (accounts.backends),
# session timeouts and forced password change (accounts.middleware); docs/security.md.
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 12)
PASSWORD_MAX_AGE_DAYS = env_int("PASSWORD_MAX_AGE_DAYS", 0)  # 0: passwords do not expire
PASSWORD_HISTORY = env_int("PASSWORD_HISTORY", 5)  # the last N passwords may not be chosen again
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)  # consecutive failures that lock a user name
LOGIN_LOCK_MINUTES = env_int("LOGIN_LOCK_MINUTES", 15)
LOGIN_IP_MAX_FAILURES = env_int("LOGIN_IP_MAX_FAILURES", 30)  # per address and window; 0: no limit
LOGIN_IP_WINDOW_MINUTES = env_int("LOGIN_IP_WINDOW_MINUTES", 15)

# Optional single sign-on (OpenID Connect, mozilla-django-oidc): on only when the client and the
# provider's endpoints are all configured; a partial configuration stops start-up.
OIDC_RP_CLIENT_ID = env("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = secret("OIDC_CLIENT_SECRET")  # or DANGAN_OIDC_CLIENT_SECRET_FILE
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env("OIDC_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_JWKS_ENDPOINT") or None
OIDC_RP_SIGN_ALGO = env("OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env("OIDC_SCOPES", "openid email profile")
OIDC_USERNAME_CLAIM = env("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)  # seconds per call to the provider
_oidc_needed = {
    "DANGAN_OIDC_CLIENT_ID": OIDC_RP_CLIENT_ID,
    "DANGAN_OIDC_CLIENT_SECRET or DANGAN_OIDC_CLIENT_SECRET_FILE": OIDC_RP_CLIENT_SECRET,
    "DANGAN_OIDC_AUTHORIZATION_ENDPOINT": OIDC_OP_AUTHORIZATION_ENDPOINT,
    "DANGAN_OIDC_TOKEN_ENDPOINT": OIDC_OP_TOKEN_ENDPOINT,
    "DANGAN_OIDC_USER_ENDPOINT": OIDC_OP_USER_ENDPOINT,
}
if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")):  # verified with the provider's public keys
    _oidc_needed["DANGAN_OIDC_JWKS_ENDPOINT"] = OIDC_OP_JWKS_ENDPOINT or ""
OIDC_ENABLED = any(_oidc_needed.values())
if OIDC_ENABLED:
    _oidc_missing = [name for name, value in _oidc_needed.items() if not value]
    if _oidc_missing:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"single sign-on is half configured; also set {', '.join(_oidc_missing)}")
    AUTHENTICATION_BACKENDS.append("dangan.accounts.oidc.DanganOIDCBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
}


# --- Hardening --- (docs/security.md; the middleware is dangan.conf.security.HardeningMiddleware)
# TLS: DANGAN_TLS=1 when people reach dangan over HTTPS, served directly or through a proxy that
# terminates TLS; behind such a proxy also DANGAN_BEHIND_PROXY=1, and the proxy must *overwrite*
# X-Forwarded-Proto (and X-Forwarded-For) on every request, never pass a client's value through.
TLS = env_bool("TLS")
BEHIND_PROXY = env_bool("BEHIND_PROXY")
# DANGAN_SECURE_COOKIES, the older switch, is kept: it marks the cookies Secure (and nothing else).
SESSION_COOKIE_SECURE = TLS or env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# No script reads the CSRF cookie: every form, also those htmx submits, carries the token in its
# hidden csrfmiddlewaretoken field ({% csrf_token %}).
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = TLS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000) if TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = TLS
# Preloading is a promise to browsers for the whole domain that is hard to take back: the operator's
# decision (DANGAN_HSTS_PRELOAD=1), so `check --deploy` may report security.W021 without it.
SECURE_HSTS_PRELOAD = TLS and env_bool("HSTS_PRELOAD")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in ("accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone",
                    "payment", "usb")
)  # fmt: skip
# Scripts and styles from our own static files only: no inline script, style or event handler (the
# templates keep to that; htmx's own indicator style is off, see base.html, and eval is off).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "upgrade-insecure-requests": TLS,
    }
}
# The instance's SM2 private key (archive.services.instance_key; checked again when loaded).
if (KEY_DIR / "instance-sm2.key").exists():
    check_private_file(KEY_DIR / "instance-sm2.key", what="the instance SM2 key")
# Error pages (DEBUG) and the mails to ADMINS hide more than Django does by default.
DEFAULT_EXCEPTION_REPORTER_FILTER = "dangan.conf.logfilter.SafeReporterFilter"

# Request limits. Bodies over DANGAN_MAX_UPLOAD_BYTES (default: the package limit plus 1 MiB for the
# multipart framing) get 413 before they are read; `dangan serve` gives waitress the same limit.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", MAX_PACKAGE_BYTES + 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("MAX_FORM_FIELDS", 1000)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("MAX_UPLOAD_FILES", 100)


def _api_rate(name: str, default: str) -> str | None:
    """DANGAN_API_RATE_<name>: "<n>/<s|min|h|day>", or "off" for no limit."""
    from django.core.exceptions import ImproperlyConfigured

    value = env(f"API_RATE_{name}", default).strip().lower()
    if value in ("off", "none", "0"):
        return None
    number, _, period = value.partition("/")
    if not number.isdigit() or int(number) < 1 or period[:1] not in ("s", "m", "h", "d"):
        raise ImproperlyConfigured(f"DANGAN_API_RATE_{name}={value!r}: expected e.g. 600/min, 20/s or off")
    return value


# API rate limits (dangan.conf.throttling), counted in the default cache (Redis when configured).
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "dangan.conf.throttling.SourceSystemRateThrottle",
    "dangan.conf.throttling.UserRateThrottle",
    "dangan.conf.throttling.AnonRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "source_system": _api_rate("SOURCE", "600/min"),
    "user": _api_rate("USER", "300/min"),
    "anon": _api_rate("ANON", "30/min"),
}
# The client's address for the counters: REMOTE_ADDR, or behind the proxy (DANGAN_PROXY_COUNT proxies)
# the address the nearest one appended to X-Forwarded-For — never one the client wrote itself.
REST_FRAMEWORK["NUM_PROXIES"] = env_int("PROXY_COUNT", 1) if BEHIND_PROXY else 0

# No secret in logs: every handler (also Django's own, redeclared there) gets the redaction filter.
LOGGING = with_redaction(LOGGING)
