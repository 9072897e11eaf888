"""Settings read from the environment (twelve-factor); see README "Configuration".

Secrets have no defaults: a process started without them refuses to start
rather than run with a guessable key. `./dev` generates them under var/.
"""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
JWT_SECRET = env.str("JWT_SECRET")
COOKIE_SECRET = env.str("COOKIE_SECRET")
EMAIL_HASH_KEY = env.str("EMAIL_HASH_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "staff.apps.StaffAdminConfig",  # django.contrib.admin, with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "accounts",
    "otp",
    "orphans",
    "medusa_import",
    "replica",
    "privacy",
    "api",
    "staff",
    "ops",  # after every app whose permissions the Support group gets
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api.cors.MedusaCorsMiddleware",
    "api.middleware.PublishableKeyMiddleware",
    "api.middleware.RequestLanguageMiddleware",
    # The staff's session, user and second factor: not on the storefront's
    # routes (staff/middleware.py).
    "staff.middleware.StaffSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "staff.middleware.StaffAuthenticationMiddleware",
    "staff.middleware.StaffOTPMiddleware",
    "staff.middleware.StaffMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a login refused for a lockout into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "orphans.context_processors.signup_gate",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL")}
# Keep ATOMIC_REQUESTS off: a wrong-code attempt counter must commit even
# though the request answers 4xx.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_HEALTH_CHECKS", default=True)
# Django's PostgreSQL backend, its health check without a round trip.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "core.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
    "DB_CONNECT_TIMEOUT", default=5
)
# Behind PgBouncer in transaction pooling (docs/deploy.md): a server
# connection is ours for one transaction only, so nothing may outlive one.
# Server-side cursors (QuerySet.iterator()) are declared WITHOUT HOLD and
# would be lost between transactions; psycopg 3's prepared statements live
# in one server session (Django already turns them off unless OPTIONS set
# prepare_threshold; said here so no one turns them on). Advisory locks are
# all pg_advisory_xact_lock, held by the transaction's server connection.
# Migrations and manage.py commands run against PostgreSQL itself.
DB_PGBOUNCER = env.bool("DB_PGBOUNCER", default=False)
if DB_PGBOUNCER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
# Straight to PostgreSQL, parameters are bound on the server and a
# statement run five times on a connection is prepared (psycopg's default
# threshold): the per-request reads are then planned a few times per
# connection instead of at every run, and planning cost PostgreSQL 5-8x
# their execution (docs/performance.md). Behind PgBouncer
# 1.18 a prepared statement would meet another server session: off there.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=not DB_PGBOUNCER)
if DB_PREPARED_STATEMENTS and DB_PGBOUNCER:
    raise ImproperlyConfigured("DB_PREPARED_STATEMENTS needs DB_PGBOUNCER=0")
if DB_PREPARED_STATEMENTS:
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# Staff only: customers are not Django users (accounts.models).
# axes refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "accounts.hashers.MedusaScryptHasher",
]
# Threads per process that hash passwords (accounts/hashers.py): each holds
# a hash's memory (19 MiB) while it hashes, and keeps it in its allocator
# arena after the hash unless glibc is tuned (devstack/stack.py, web_env).
PASSWORD_HASHING_THREADS = env.int("PASSWORD_HASHING_THREADS", default=1)
if PASSWORD_HASHING_THREADS < 1:
    raise ImproperlyConfigured("PASSWORD_HASHING_THREADS must be at least 1")
CUSTOMER_PASSWORD_MIN_LENGTH = 8
# Long enough for any passphrase (NIST SP 800-63B asks for at least 64),
# short enough that a huge body cannot buy a long hash.
CUSTOMER_PASSWORD_MAX_LENGTH = 256
# A customer's address book holds at most this many addresses (400 beyond);
# Medusa's list answers 50 a page by default, so one page shows them all.
ADDRESSES_PER_CUSTOMER_MAX = env.int("ADDRESSES_PER_CUSTOMER_MAX", default=50)
# The replica in Medusa (replica/, docs/replication.md): its database, as
# for import_medusa. Empty: standalone, nothing is replicated.
MEDUSA_DATABASE_URL = env.str("MEDUSA_DATABASE_URL", default="")
# Customers the drain copies per Medusa transaction, and how long one drain
# task runs before it queues the next (the worker also sends mail).
REPLICA_BATCH_SIZE = env.int("REPLICA_BATCH_SIZE", default=500)
REPLICA_DRAIN_SECONDS = env.float("REPLICA_DRAIN_SECONDS", default=5.0)
# A customer whose copy Medusa keeps refusing is retried with backoff, then
# parked for staff after this many attempts (about 4 minutes at 8).
REPLICA_MAX_ATTEMPTS = env.int("REPLICA_MAX_ATTEMPTS", default=8)
_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATORS}.MinimumLengthValidator"},
    {"NAME": f"{_VALIDATORS}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATORS}.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The languages customer mail is written in (docs/account.md, "Mail in the
# customer's language"); Customer.locale holds one of these codes or NULL.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
MAIL_LANGUAGE_DEFAULT = "en"
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Request bodies: the largest legitimate body is a customer update with
# metadata; anything above this is refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_BODY_BYTES", default=64 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100

# E-mail: smtp://host:port in production; ./dev writes files to var/mail/.
EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
vars().update(env.email_url_config(EMAIL_URL))
if EMAIL_URL.startswith("filemail://"):
    # django-environ drops the leading "/" of filemail:///abs/path.
    EMAIL_FILE_PATH = urlsplit(EMAIL_URL).path
    # One file per message (Django's backend appends a connection's to one).
    EMAIL_BACKEND = "core.mail.FileBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@localhost")
EMAIL_TIMEOUT = 10

# Tokens (Medusa-compatible: HS256, 1 day; reset tokens 15 minutes).
JWT_EXPIRES_IN = timedelta(seconds=env.int("JWT_EXPIRES_IN", default=86400))
RESET_TOKEN_EXPIRES_IN = timedelta(seconds=900)
PASSWORD_RESET_URL = env.str(
    "PASSWORD_RESET_URL", default="http://localhost:8000/reset-password"
)
# The storefront page of the address verification link (`?token=…`): it
# asks the customer to confirm and POSTs the token to
# /store/auth/email/verify (a page that posted on load would let mail
# scanners, which open links, confirm for the customer).
EMAIL_VERIFY_URL = env.str(
    "EMAIL_VERIFY_URL", default="http://localhost:8000/verify-email"
)
# The storefront page an e-mail change's undo link opens (the notice to the
# old address); like the verify page, it asks for a click and POSTs the
# token to /store/auth/email/undo.
EMAIL_CHANGE_UNDO_URL = env.str(
    "EMAIL_CHANGE_UNDO_URL", default="http://localhost:8000/undo-email-change"
)
EMAIL_CHANGE_UNDO_TTL = timedelta(hours=72)
CUSTOMER_SESSION_COOKIE_NAME = "connect.sid"
CUSTOMER_SESSION_TTL = timedelta(hours=10)
# Mail the customer when a login comes from a browser or app none of the
# account's stored sessions had (docs/account.md, "Sessions and devices").
NEW_DEVICE_NOTICE = env.bool("NEW_DEVICE_NOTICE", default=False)
CUSTOMER_SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)

STORE_PUBLISHABLE_KEY = env.str("STORE_PUBLISHABLE_KEY", default="")
# Seconds a web process trusts a publishable key it found active (0: ask the
# database on every request); a revoked key stops working within this time.
PUBLISHABLE_KEY_CACHE_SECONDS = env.int("PUBLISHABLE_KEY_CACHE_SECONDS", default=10)
ORPHAN_MAX_AGE = env.str("ORPHAN_MAX_AGE", default="24h")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# CORS per route family, as Medusa's storeCors / authCors.
STORE_CORS = env.list("STORE_CORS", default=[])
AUTH_CORS = env.list("AUTH_CORS", default=[])
CORS_URLS_REGEX = r"^/(store|auth)/.*$"
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-publishable-api-key",
    "x-medusa-locale",
    "x-requested-with",
)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CUSTOMER_SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = CUSTOMER_SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.JSONOnlyNegotiation",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Storefront Auth API",
    "DESCRIPTION": (
        "Customer authentication for a storefront, wire-compatible with "
        "Medusa v2.21's customer auth routes. Every text field refuses NUL "
        "(U+0000) and lone surrogates, and numbers must be finite (400 "
        "`invalid_data`); bodies over MAX_BODY_BYTES are 413."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the vendored sidecar package: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_plain_django_routes",
        "api.schema.add_retry_after_to_unavailable",
        "api.shapes.add_security_schemes",
    ],
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# Secrets that seal the arguments of tasks carrying a code or an email
# (core/seal.py): the first seals, all open. Default: SECRET_KEY, from
# which a key of its own is derived. To rotate without dropping queued mail,
# add the new secret second, then move it first, then remove the old one
# once the longest message has expired (15 minutes).
TASK_SEAL_KEYS = env.list("TASK_SEAL_KEYS", default=[SECRET_KEY])
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXTENDED = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast when the broker is down so a request can answer
# instead of hanging (a reset request answers 201 and logs it; a code's
# mail waits in PostgreSQL: docs/otp.md).
# A message a worker took and did not acknowledge (acks_late: it died
# mid-task, SIGKILL or a lost host) goes back to the queue once it is
# CELERY_VISIBILITY_TIMEOUT seconds old, at the next sweep of a live worker
# (every `unacked_restore_interval` seconds). A worker holds a retried
# message unacknowledged for its whole countdown: a countdown near the
# timeout would have the message handed to a second worker, and again every
# timeout after (a redelivery storm). So every retry countdown is capped at
# half of it (TASK_RETRY_COUNTDOWN_MAX, core.tasks.retry_countdown): 120 s
# as written for any timeout of 240 s and more, shorter below, and the
# other half is left for the task to wait for a pool process and run. Mail
# tasks are sent once per task id even when redelivered (core/delivery.py);
# docs/deploy.md, "The visibility timeout".
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if CELERY_VISIBILITY_TIMEOUT < 10:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be at least 10 s: a retry waits up to"
        " half of it, and a running task must be acknowledged within it"
    )
TASK_RETRY_COUNTDOWN_MAX = CELERY_VISIBILITY_TIMEOUT // 2
# A mail task's claim on its task id (core/delivery.py): longer than the
# longest run of a mail task's body (a database connect of DB_CONNECT_TIMEOUT,
# the SMTP exchange of a few EMAIL_TIMEOUT waits), and how late a mail is
# when a worker dies holding it on another machine (on its own machine the
# claim is taken over at once). Done records outlive every mail message (a
# day at most, core.tasks.NOTICE_EXPIRES) with a day to spare.
MAIL_CLAIM_SECONDS = env.int("MAIL_CLAIM_SECONDS", default=120)
if MAIL_CLAIM_SECONDS < 6 * EMAIL_TIMEOUT:
    raise ImproperlyConfigured(
        f"MAIL_CLAIM_SECONDS must be at least {6 * EMAIL_TIMEOUT} s (6 x"
        " EMAIL_TIMEOUT): a mail still being sent when its claim expires may"
        " be sent twice"
    )
MAIL_DONE_KEEP_SECONDS = 2 * 24 * 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": min(10, max(1, CELERY_VISIBILITY_TIMEOUT // 4)),
    "unacked_restore_throttle": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2}
CELERY_BEAT_SCHEDULER = "ops.scheduler:DatabaseScheduler"
# The schedule lives in code (ops/schedule.py, set by config/celery.py);
# admin shows and pauses it.
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes the database connection before and after
# every task, so each task connected anew (a PostgreSQL backend forked,
# SCRAM authentication: more CPU than a mail task's own query). With this,
# it closes them once every 1,000 tasks, and config/celery.py checks them
# between tasks as Django does between requests (CONN_MAX_AGE, health).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level"},
        },
    },
    "filters": {
        # No query string (a provider's code, an email) in a request's repr.
        "request_without_query": {"()": "core.logs.RequestWithoutQuery"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_without_query"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django logs request lines with the path only; bodies never reach logs.
        "django.server": {"level": "WARNING"},
        # Authlib logs PKCE verifiers and tokens at DEBUG: never let them out.
        "authlib": {"level": "WARNING"},
    },
}

# Social login with OpenID Connect providers (docs/social-login.md).
# SOCIAL_PROVIDERS names the enabled ones; each NAME reads SOCIAL_<NAME>_*
# (NAME upper-cased, "-" as "_"): ISSUER (a preset's default, else
# required), CLIENT_ID and CLIENT_SECRET (required, never defaulted),
# CALLBACK_URL (the storefront page the provider returns to; required),
# SCOPE and DISPLAY_NAME. The settings import no app, so the names are
# checked here.
SOCIAL_PRESETS = {
    "google": {"issuer": "https://accounts.google.com", "display_name": "Google"},
    # Sign in with Apple: the name and email scopes need form_post; the
    # client secret is a JWT we sign (TEAM_ID, KEY_ID, PRIVATE_KEY below).
    "apple": {
        "issuer": "https://appleid.apple.com",
        "display_name": "Apple",
        "scope": "openid name email",
        "response_mode": "form_post",
    },
    # Sign in with GitHub: OAuth 2.0 without OpenID Connect (KIND github):
    # no issuer; the authorize and token URLs and the REST API's base, each
    # overridable (GitHub Enterprise, the test stack's server).
    "github": {
        "kind": "github",
        "display_name": "GitHub",
        "scope": "user:email",
    },
}
# A GitHub-kind provider's URLs, unless SOCIAL_<NAME>_AUTHORIZE_URL,
# _TOKEN_URL or _API_URL say otherwise.
SOCIAL_GITHUB_URLS = {
    "authorize_url": "https://github.com/login/oauth/authorize",
    "token_url": "https://github.com/login/oauth/access_token",
    "api_url": "https://api.github.com/",
}
SOCIAL_RESERVED_NAMES = ("emailpass", "email-otp")
# Only the test stack's provider runs on plain http://127.0.0.1.
SOCIAL_ALLOW_HTTP_ISSUER = env.bool("SOCIAL_ALLOW_HTTP_ISSUER", default=False)
SOCIAL_LOGIN_PROVIDERS: dict[str, dict[str, str]] = {}
for _name in env.list("SOCIAL_PROVIDERS", default=[]):
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", _name) or (
        _name in SOCIAL_RESERVED_NAMES
    ):
        raise ImproperlyConfigured(f"SOCIAL_PROVIDERS: {_name!r} cannot be a name")
    _prefix = "SOCIAL_" + _name.upper().replace("-", "_") + "_"
    _preset = SOCIAL_PRESETS.get(_name, {})
    # oidc (discovery, ID token) or github (OAuth 2.0 and GitHub's REST API).
    _kind = env.str(_prefix + "KIND", default=_preset.get("kind", "oidc"))
    if _kind not in ("oidc", "github"):
        raise ImproperlyConfigured(f"{_prefix}KIND: oidc or github")
    # A signed client secret (Apple's): TEAM_ID, KEY_ID and the private key
    # (PRIVATE_KEY: the .p8 file's PEM text, or PRIVATE_KEY_FILE: its path)
    # instead of CLIENT_SECRET; required for `apple`.
    _private_key = env.str(_prefix + "PRIVATE_KEY", default="")
    _private_key_file = env.str(_prefix + "PRIVATE_KEY_FILE", default="")
    if _private_key_file and not _private_key:
        try:
            _private_key = Path(_private_key_file).read_text()
        except OSError as _error:
            raise ImproperlyConfigured(
                f"{_prefix}PRIVATE_KEY_FILE cannot be read: {type(_error).__name__}"
            ) from None
    _signed_secret = bool(_private_key) or _name == "apple"
    if _signed_secret and _kind == "github":
        raise ImproperlyConfigured(f"{_prefix}PRIVATE_KEY: GitHub takes a secret")
    if _signed_secret and not _private_key:
        raise ImproperlyConfigured(f"{_prefix}PRIVATE_KEY (or _FILE) is required")
    if _private_key:
        try:  # Apple's keys are P-256 (ES256); a wrong one fails now, not at login
            _key = load_pem_private_key(_private_key.encode(), password=None)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(f"{_prefix}PRIVATE_KEY is no PEM key") from None
        if not isinstance(_key, ec.EllipticCurvePrivateKey) or (
            _key.curve.name != "secp256r1"
        ):
            raise ImproperlyConfigured(f"{_prefix}PRIVATE_KEY must be a P-256 key")
    _urls = dict.fromkeys(SOCIAL_GITHUB_URLS, "")
    _issuer = ""
    if _kind == "github":
        _urls = {
            key: env.str(_prefix + key.upper(), default=default)
            for key, default in SOCIAL_GITHUB_URLS.items()
        }
        # The base the API's paths are joined to.
        _urls["api_url"] = _urls["api_url"].rstrip("/") + "/"
    else:
        _issuer = env.str(_prefix + "ISSUER", default=_preset.get("issuer", ""))
    SOCIAL_LOGIN_PROVIDERS[_name] = {
        "kind": _kind,
        **_urls,
        "issuer": _issuer,
        "client_id": env.str(_prefix + "CLIENT_ID"),
        "client_secret": "" if _signed_secret else env.str(_prefix + "CLIENT_SECRET"),
        "callback_url": env.str(_prefix + "CALLBACK_URL"),
        "scope": env.str(
            _prefix + "SCOPE", default=_preset.get("scope", "openid email profile")
        ),
        # form_post: the provider POSTs code and state to the callback page
        # (Apple's mode when it is asked for the name or email).
        "response_mode": env.str(
            _prefix + "RESPONSE_MODE", default=_preset.get("response_mode", "query")
        ),
        "team_id": env.str(_prefix + "TEAM_ID") if _signed_secret else "",
        "key_id": env.str(_prefix + "KEY_ID") if _signed_secret else "",
        "private_key": _private_key if _signed_secret else "",
        "display_name": env.str(
            _prefix + "DISPLAY_NAME", default=_preset.get("display_name", _name)
        ),
    }
    if SOCIAL_LOGIN_PROVIDERS[_name]["response_mode"] not in ("query", "form_post"):
        raise ImproperlyConfigured(f"{_prefix}RESPONSE_MODE: query or form_post")
    # The ID token's keys come from the issuer, the code and the access
    # token go to the provider's URLs: only over TLS.
    for _url_name in ("issuer",) if _kind == "oidc" else tuple(SOCIAL_GITHUB_URLS):
        if not SOCIAL_LOGIN_PROVIDERS[_name][_url_name].startswith("https://") and not (
            SOCIAL_ALLOW_HTTP_ISSUER
        ):
            raise ImproperlyConfigured(
                f"{_prefix}{_url_name.upper()} must be an https:// URL"
            )
# Further storefront pages a start request may name in `callback_url`
# (exact URLs; each provider's CALLBACK_URL is always allowed).
SOCIAL_CALLBACK_URLS = env.list("SOCIAL_CALLBACK_URLS", default=[])
# How long a started login (its state, nonce and PKCE verifier) may wait
# for the provider's callback; Medusa's state lives 20 minutes.
SOCIAL_STATE_TTL = timedelta(minutes=10)
SOCIAL_HTTP_TIMEOUT = env.float("SOCIAL_HTTP_TIMEOUT", default=5.0)
# Starts and callbacks per client (10 minutes): each start keeps an entry in
# Redis for SOCIAL_STATE_TTL, each callback calls the provider.
SOCIAL_LOGIN_LIMIT_PER_IP = env.int("SOCIAL_LOGIN_LIMIT_PER_IP", default=60)

# One-time codes (limits explained in docs/otp.md).
OTP_LENGTH = env.int("OTP_LENGTH", default=6)
OTP_TTL_SECONDS = env.int("OTP_TTL_SECONDS", default=600)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
OTP_RESEND_COOLDOWN_SECONDS = env.int("OTP_RESEND_COOLDOWN_SECONDS", default=60)
OTP_CODES_PER_HOUR = env.int("OTP_CODES_PER_HOUR", default=5)
OTP_FAILURE_CEILING = env.int("OTP_FAILURE_CEILING", default=100)
OTP_SEND_LIMIT_PER_IP = env.int("OTP_SEND_LIMIT_PER_IP", default=30)  # an hour
OTP_SEND_LIMIT_PER_EMAIL = env.int("OTP_SEND_LIMIT_PER_EMAIL", default=10)  # an hour
OTP_VERIFY_LIMIT_PER_IP = env.int("OTP_VERIFY_LIMIT_PER_IP", default=60)  # 10 minutes
# Keyed separately from SECRET_KEY so rotating one does not void the other.
OTP_HMAC_KEY = env.str("OTP_HMAC_KEY", default=f"otp:{SECRET_KEY}")

# Orphans (docs/runbook.md): swept after ORPHAN_MAX_AGE; counted as orphans
# once older than the grace period a normal signup needs to finish.
ORPHAN_GRACE_PERIOD = env.str("ORPHAN_GRACE_PERIOD", default="15m")
# 500 a batch: as fast as 1000 (the cost is per orphan) with half the time
# each batch holds its row locks (docs/performance.md).
ORPHAN_SWEEP_BATCH_SIZE = env.int("ORPHAN_SWEEP_BATCH_SIZE", default=500)
# Connections sweeping at once: one PostgreSQL backend deletes 15-18k orphans
# a second, two about 25k (16-18k from a backlog of a million), taking both
# cores of a 2-core host the web server shares (docs/performance.md).
ORPHAN_SWEEP_WORKERS = env.int("ORPHAN_SWEEP_WORKERS", default=2)
SIGNUPS_PAUSE_THRESHOLD = env.int("SIGNUPS_PAUSE_THRESHOLD", default=50)  # an hour

# Request limits in Redis per IP / per email, as (limit, window seconds); a
# flood layer only (docs/deploy.md). TRUSTED_PROXY_COUNT: proxies in front of
# the web server that append to X-Forwarded-For (0: use the socket's address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    # The proxy trusted for the client's address also says whether the client
    # came over TLS (the web server takes no forwarded header itself);
    # production trusts it always (config/settings/production.py).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
LOGIN_LIMIT_PER_IP = env.int("LOGIN_LIMIT_PER_IP", default=100)  # 10 minutes
# Failed logins only (docs/api.md, "Request limits"): per address and client
# (10 minutes), and per address from clients that never logged in to it (an
# hour): a stranger's guesses cannot lock the owner out.
LOGIN_FAILURES_PER_EMAIL_CLIENT = env.int("LOGIN_FAILURES_PER_EMAIL_CLIENT", default=10)
LOGIN_FAILURES_PER_EMAIL = env.int("LOGIN_FAILURES_PER_EMAIL", default=100)
LOGIN_KNOWN_CLIENT_DAYS = env.int("LOGIN_KNOWN_CLIENT_DAYS", default=30)
SIGNUP_LIMIT_PER_IP = env.int("SIGNUP_LIMIT_PER_IP", default=30)  # an hour
# Refused registrations of an address that has an identity (an hour): each
# one tests a password against an unlinked identity.
SIGNUP_FAILURES_PER_EMAIL = env.int("SIGNUP_FAILURES_PER_EMAIL", default=10)
REFRESH_LIMIT_PER_IDENTITY = env.int("REFRESH_LIMIT_PER_IDENTITY", default=60)  # 10 m
RESET_LIMIT_PER_EMAIL = env.int("RESET_LIMIT_PER_EMAIL", default=3)  # 15 minutes
RESET_LIMIT_PER_IP = env.int("RESET_LIMIT_PER_IP", default=30)  # an hour

# Staff login (docs/runbook.md, "Staff login"). django-axes counts failed
# admin logins in PostgreSQL (durable, shared by every web process, there
# when Redis is not) per username and per client address, each with its own
# limit within ADMIN_LOGIN_COOLOFF_SECONDS; a lockout answers 429 with
# Retry-After until that long after the last try.
ADMIN_LOGIN_FAILURES_PER_USERNAME = env.int(
    "ADMIN_LOGIN_FAILURES_PER_USERNAME", default=5
)
ADMIN_LOGIN_FAILURES_PER_CLIENT = env.int("ADMIN_LOGIN_FAILURES_PER_CLIENT", default=20)
ADMIN_LOGIN_COOLOFF_SECONDS = env.int("ADMIN_LOGIN_COOLOFF_SECONDS", default=900)
if not 0 < ADMIN_LOGIN_FAILURES_PER_USERNAME <= ADMIN_LOGIN_FAILURES_PER_CLIENT:
    raise ImproperlyConfigured(
        "ADMIN_LOGIN_FAILURES_PER_USERNAME must be positive and at most "
        "ADMIN_LOGIN_FAILURES_PER_CLIENT"
    )
AXES_HANDLER = "staff.lockout.StaffLoginAttempts"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURES_PER_USERNAME  # the client's: see handler
AXES_COOLOFF_TIME = timedelta(seconds=ADMIN_LOGIN_COOLOFF_SECONDS)
# A success must not clear the client's count: one valid account would let a
# client reset it between guesses at everyone else's.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "staff.lockout.client_ip"  # honours TRUSTED_PROXY_COUNT
AXES_LOCKOUT_CALLABLE = "staff.lockout.locked_out"
# axes' log lines name the client with these masked (a username may be an
# email address); the admin's Access attempts list has them. It keeps a
# failed login's form too: never the password, nor the authenticator code.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]
AXES_VERBOSE = False
# Each failure's masked warning stays; the per-request chatter does not.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}

# Second factor: TOTP devices (django-otp), enrolled with `manage.py
# staff_totp enrol USERNAME`. Off by default so `./dev up` logs in with the
# password; production settings turn it on for good.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = env.str("ADMIN_TOTP_ISSUER", default="Storefront Auth")
# Each wrong code doubles the wait before the device accepts another.
OTP_TOTP_THROTTLE_FACTOR = 1
# The admin never shows a device's secret or its QR code once issued.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
