"""HDS settings, read from environment variables (see README and docs/configuration.md).

Bad values stop the start with ``ImproperlyConfigured`` and a message naming the variable.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from hds.core.env import env_bool, env_choice, env_int, env_list, env_str
from hds.core.secrets import load_key_bytes, load_peppers, load_secret_text

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent.parent

PRODUCTION = env_bool("HDS_PRODUCTION", default=False)
DEBUG = env_bool("HDS_DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("HDS_DEBUG must be off when HDS_PRODUCTION is on.")

DATA_DIR = Path(env_str("HDS_DATA_DIR") or "var").resolve()
# The data folder holds the SQLite file, generated secrets and the mail folder: owner only
# (docs/security.md, Production defaults). The hds command also sets umask 077.
DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
if DATA_DIR.stat().st_mode & 0o077 and DATA_DIR.stat().st_uid == os.getuid():
    DATA_DIR.chmod(0o700)

SECRET_KEY = load_secret_text("HDS_SECRET_KEY", data_dir=DATA_DIR, production=PRODUCTION, nbytes=48)
HDS_PEPPERS = load_peppers(data_dir=DATA_DIR, production=PRODUCTION)
HDS_DIRECTORY_KEY = load_key_bytes("HDS_DIRECTORY_KEY", data_dir=DATA_DIR, production=PRODUCTION)

BASE_URL = (env_str("HDS_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
_base = urlsplit(BASE_URL)
if _base.scheme not in ("http", "https") or not _base.hostname:
    raise ImproperlyConfigured(f"HDS_BASE_URL must be an http(s) URL, got {BASE_URL!r}.")
if PRODUCTION and _base.scheme != "https":
    raise ImproperlyConfigured("HDS_BASE_URL must use https when HDS_PRODUCTION is on.")

ALLOWED_HOSTS = env_list(
    "HDS_ALLOWED_HOSTS", [_base.hostname] + ([] if PRODUCTION else ["localhost", "127.0.0.1"])
)
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]
HDS_TRUSTED_PROXIES = env_list("HDS_TRUSTED_PROXIES", [])

HTTP_PORT = env_int("HDS_HTTP_PORT", 8000, minimum=1, maximum=65535)
DICOM_PORT = env_int("HDS_DICOM_PORT", 11112, minimum=1, maximum=65535)
HL7_PORT = env_int("HDS_HL7_PORT", 2575, minimum=1, maximum=65535)
WEB_THREADS = env_int("HDS_WEB_THREADS", 8, minimum=1, maximum=256)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "hds.core",
    "hds.keys",
    "hds.accounts",
    "hds.mfa",
    "hds.notifications",
    "hds.archive",
    "hds.viewer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "hds.core.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "hds.keys.middleware.KeyringMiddleware",
    "hds.mfa.enforcement.MfaEnforcementMiddleware",
    "hds.core.middleware.AccountLanguageMiddleware",
    # After authentication, before anything reads an upload's body (docs/security.md, Upload memory
    # and spool).
    "hds.archive.intake.IntakeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hds.urls"
WSGI_APPLICATION = "hds.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "hds.core.context_processors.site",
            ],
        },
    }
]

_default_db = f"sqlite:///{DATA_DIR / 'hds.sqlite3'}"
_db_url = env_str("DATABASE_URL") or _default_db
try:
    DATABASES = {
        "default": dj_database_url.parse(_db_url, conn_max_age=60, conn_health_checks=True)
    }
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a database URL this build knows: {exc}"
    ) from exc
if DATABASES["default"]["ENGINE"] not in (
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
):
    raise ImproperlyConfigured("DATABASE_URL must be sqlite:/// or postgres://.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the worker and the web process write without blocking each other for long.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ATOMIC_REQUESTS = False


def _cache(url: str | None, *, location: str) -> dict[str, object]:
    if not url or url == "locmem://":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location}
    if url.startswith(("redis://", "rediss://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    raise ImproperlyConfigured(f"Cache URLs must be locmem:// or redis://..., got {url!r}.")


# "epochs" holds the session epoch secrets: RAM only, never persisted (docs/security.md, Session
# keys).
# With more than one web process, point HDS_EPOCH_CACHE_URL at a Redis with persistence off.
CACHES = {
    "default": _cache(env_str("HDS_CACHE_URL"), location="hds-default"),
    "epochs": _cache(env_str("HDS_EPOCH_CACHE_URL"), location="hds-epochs"),
}

AUTH_USER_MODEL = "accounts.Account"
# Passwords are checked in hds.accounts.services.log_in; the backend only loads session users.
AUTHENTICATION_BACKENDS = ["hds.accounts.backends.AccountBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "archive:documents"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "hds.accounts.validators.StrengthValidator"},
    {"NAME": "hds.accounts.validators.MaximumLengthValidator"},
]

# Sessions: database rows keyed by SHA-256 of the id; the keyring inside is sealed under a key
# that needs the __Host-hds_k cookie and a RAM-only epoch secret (hds.keys).
SESSION_ENGINE = "hds.keys.sessions"
SECURE_COOKIES = env_bool("HDS_SECURE_COOKIES", default=True)
_cookie_prefix = "__Host-" if SECURE_COOKIES else ""
SESSION_COOKIE_NAME = f"{_cookie_prefix}hds_sid"
CSRF_COOKIE_NAME = f"{_cookie_prefix}hds_csrf"
KEYRING_COOKIE_NAME = f"{_cookie_prefix}hds_k"
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_IDLE_SECONDS = env_int("HDS_SESSION_IDLE_SECONDS", 15 * 60, minimum=60)
SESSION_ABSOLUTE_SECONDS = env_int("HDS_SESSION_ABSOLUTE_SECONDS", 12 * 3600, minimum=300)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
LANGUAGE_COOKIE_NAME = "hds_lang"
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True

SECURE_CONTENT_TYPE_NOSNIFF = True
# "same-origin", not "no-referrer": with no-referrer browsers send "Origin: null" on form posts,
# which defeats Django's CSRF origin check. Other sites still never see a Referer from us.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = 63072000 if _base.scheme == "https" else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_SSL_REDIRECT = env_bool("HDS_SSL_REDIRECT", default=PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HDS_TRUSTED_PROXIES else None

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "manifest-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

LANGUAGE_CODE = env_choice("HDS_LANGUAGE", "en", ("en", "de"))
LANGUAGES = [("en", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("HDS_TIME_ZONE") or "Europe/Berlin"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [REPO_DIR / "frontend" / "dist"] if (REPO_DIR / "frontend").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True


def _immutable_static(path: str, url: str) -> bool:
    """Vite's chunks and assets carry a content hash in their names: cache them for a year."""
    return bool(re.search(r"/(chunks|assets)/[^/]+-[A-Za-z0-9_-]{8}\.\w+$", url))


WHITENOISE_IMMUTABLE_FILE_TEST = _immutable_static

# Encrypted blobs: a local folder (default) or "s3://bucket/prefix" (HDS_S3_* for the endpoint).
BLOB_STORE_URL = env_str("BLOB_STORE_URL") or f"file://{DATA_DIR / 'blobs'}"
MAX_UPLOAD_FILE_BYTES = env_int("HDS_MAX_UPLOAD_FILE_BYTES", 2 * 1024**3, minimum=1024)

# Untrusted DICOM is rendered in isolated worker processes (hds.archive.sandbox); 0 = in-process.
RENDER_WORKERS = env_int("HDS_RENDER_WORKERS", 2, minimum=0, maximum=64)
RENDER_MEMORY_MB = env_int("HDS_RENDER_MEMORY_MB", 3072, minimum=512)
RENDER_TIMEOUT_SECONDS = env_int("HDS_RENDER_TIMEOUT_SECONDS", 120, minimum=1)
# The unprivileged account render workers switch to when started as root (docs/security.md, Render
# sandbox).
RENDER_USER = env_str("HDS_RENDER_USER") or "nobody"
# Production refuses to start when render workers lack isolation (or HDS_RENDER_WORKERS=0)
# unless this accepts the risk.
ALLOW_UNSANDBOXED = env_bool("HDS_ALLOW_UNSANDBOXED", default=False)

# Uploads never touch disk as plaintext: small files stay in memory, larger ones go to an
# encrypted, nameless spool file (docs/security.md, Upload memory and spool).
FILE_UPLOAD_HANDLERS = ["hds.archive.uploads.SpoolingUploadHandler"]
UPLOAD_SPOOL_BYTES = env_int("HDS_UPLOAD_SPOOL_BYTES", 8 * 1024**2, minimum=64 * 1024)
UPLOAD_SPOOL_DIR = env_str("HDS_UPLOAD_SPOOL_DIR") or str(DATA_DIR / "spool")
# Request-body bytes one process holds at a time; a request that does not fit waits, then 503.
UPLOAD_INFLIGHT_BYTES = env_int("HDS_UPLOAD_INFLIGHT_BYTES", 256 * 1024**2, minimum=1024**2)
UPLOAD_INFLIGHT_WAIT_SECONDS = env_int("HDS_UPLOAD_INFLIGHT_WAIT_SECONDS", 5, minimum=0)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024


def _email_settings(url: str | None) -> dict[str, object]:
    if not url:
        return {
            "EMAIL_BACKEND": "hds.notifications.backends.FileAndConsoleBackend",
            "EMAIL_FILE_PATH": str(DATA_DIR / "mail"),
        }
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "hds.notifications.backends.MaskingConsoleBackend"}
    if parts.scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parts.scheme == "file":
        return {
            "EMAIL_BACKEND": "hds.notifications.backends.PrivateFileBackend",
            "EMAIL_FILE_PATH": parts.path,
        }
    if parts.scheme in ("smtp", "smtp+starttls", "smtps"):
        if not parts.hostname:
            raise ImproperlyConfigured("EMAIL_URL needs a host, e.g. smtp://user:pw@host:587.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("EMAIL_URL has an invalid port.") from None
        from urllib.parse import unquote

        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname,
            "EMAIL_PORT": port or (465 if parts.scheme == "smtps" else 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": parts.scheme == "smtp+starttls",
            "EMAIL_USE_SSL": parts.scheme == "smtps",
            "EMAIL_TIMEOUT": 20,
        }
    raise ImproperlyConfigured(
        "EMAIL_URL must be console:, locmem:, file:///path, smtp://, smtp+starttls:// or smtps://."
    )


_email_url = env_str("EMAIL_URL")
if PRODUCTION and not (_email_url or "").startswith(("smtp://", "smtp+starttls://", "smtps://")):
    # Reset, recovery and unlock links must reach their holders, not a console or a file that
    # the operator reads (docs/security.md, Production defaults).
    raise ImproperlyConfigured(
        "EMAIL_URL is required when HDS_PRODUCTION is on and must be smtp://, smtp+starttls:// "
        "or smtps:// (mails carry reset and unlock links)."
    )
globals().update(_email_settings(_email_url))
DEFAULT_FROM_EMAIL = env_str("HDS_FROM_EMAIL") or "HDS <no-reply@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Accounts
UNACTIVATED_ACCOUNT_DAYS = env_int("HDS_UNACTIVATED_ACCOUNT_DAYS", 28, minimum=1)
ACTIVATION_LINK_DAYS = UNACTIVATED_ACCOUNT_DAYS
RECOVERY_LINK_SECONDS = env_int("HDS_RECOVERY_LINK_SECONDS", 3600, minimum=300)
PASSWORD_RESET_TIMEOUT = RECOVERY_LINK_SECONDS
DEFAULT_QUOTA_BYTES = env_int("HDS_DEFAULT_QUOTA_BYTES", 1024**3, minimum=0)
# Argon2id cost for passwords and activation codes: "memory_kib,iterations,lanes".
ARGON2_PASSWORD = env_str("HDS_ARGON2_PASSWORD") or "65536,3,4"
if not re.fullmatch(r"\d+,\d+,\d+", ARGON2_PASSWORD) or int(ARGON2_PASSWORD.split(",")[0]) < 8:
    raise ImproperlyConfigured(
        "HDS_ARGON2_PASSWORD must be 'memory_kib,iterations,lanes', e.g. '65536,3,4'."
    )
ARGON2_MAX_CONCURRENT = env_int("HDS_ARGON2_MAX_CONCURRENT", 4, minimum=1)
ARGON2_WAIT_SECONDS = env_int("HDS_ARGON2_WAIT_SECONDS", 5, minimum=0)
# Professionals must enrol a second factor within this many days of activation (hds.mfa).
HDS_MFA_GRACE_DAYS = env_int("HDS_MFA_GRACE_DAYS", 14, minimum=0)
# More failed logins than this in 5 minutes (all accounts together) turn on proof of work for
# every login (hds.accounts.challenge): SHA-256 with LOGIN_POW_BITS leading zero bits.
LOGIN_GLOBAL_BUDGET = env_int("HDS_LOGIN_GLOBAL_BUDGET", 1000, minimum=1)
LOGIN_POW_BITS = env_int("HDS_LOGIN_POW_BITS", 17, minimum=1, maximum=28)
# API tokens: lifetime offered by default and the longest allowed (days).
API_TOKEN_DEFAULT_DAYS = 90
API_TOKEN_MAX_DAYS = 365

# Jobs: run in the worker process; HDS_JOBS_INLINE runs them at commit (tests, tiny sites).
JOBS_INLINE = env_bool("HDS_JOBS_INLINE", default=False)
WORKER_POLL_SECONDS = env_int("HDS_WORKER_POLL_SECONDS", 2, minimum=1)

# Python warnings go through logging (and so through the filters below), never straight to
# stderr: pydicom's warnings quote element values.
logging.captureWarnings(True)
LOG_LEVEL = env_choice("HDS_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_secrets": {"()": "hds.core.logging.MaskSecretsFilter"},
        "withhold_file_contents": {"()": "hds.core.logging.WithholdFileContentsFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["withhold_file_contents", "mask_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.request": {"level": "ERROR"}},
}
