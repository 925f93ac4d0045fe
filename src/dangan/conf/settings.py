"""The one settings module. Everything is configured by DANGAN_* environment variables.

With nothing set, dangan runs on one machine: SQLite (WAL) and files under ./dangan-data,
in-process jobs, local-memory cache.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

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
    """From DANGAN_SECRET_KEY, else a per-instance file (0600) created on first use.

    Written to a temporary name and linked into place, so a second process starting at the same
    moment reads either no file or the whole key, never a half-written one.
    """
    value = env("SECRET_KEY")
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
    return path.read_text().strip()


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
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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

_db_url = env("DATABASE_URL")
if _db_url:
    DATABASES = {"default": dj_database_url.parse(_db_url, conn_max_age=60)}
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

_redis_url = env("REDIS_URL")
if _redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_SECONDS", 8 * 3600)
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
BROKER_URL = env("BROKER_URL")
JOBS_EAGER = env_bool("JOBS_EAGER")

# Deadlines (DOMAIN.md §4, dangan/core/deadlines.py): the transfer rule, "national" (within 5 years
# of archiving) or "yunnan" (by 30 June of the year after archiving). An unknown name stops start-up.
TRANSFER_RULE = env("TRANSFER_RULE", "national").strip().lower() or "national"
_deadline_rules.rule_set(TRANSFER_RULE)

INSTANCE_NAME = env("INSTANCE_NAME", "dangan")
INSTANCE_ORGANIZATION = env("INSTANCE_ORGANIZATION", "dangan archive")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
}
