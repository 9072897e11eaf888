"""Production: base settings, hardened, and a refusal to start with weak or
missing secrets (docs/deploy.md). `manage.py check --deploy` is clean."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    COOKIE_SECRET,
    EMAIL_BACKEND,
    EMAIL_HASH_KEY,
    JWT_SECRET,
    METRICS_TOKEN,
    SECRET_KEY,
    TASK_SEAL_KEYS,
    env,
)

DEBUG = False

for name, value, minimum in (
    ("SECRET_KEY", SECRET_KEY, 50),
    ("JWT_SECRET", JWT_SECRET, 32),  # RFC 7518 3.2: at least the hash size
    ("COOKIE_SECRET", COOKIE_SECRET, 32),
    ("EMAIL_HASH_KEY", EMAIL_HASH_KEY, 32),
    # /metrics counts signups, logins and orphans: business figures.
    ("METRICS_TOKEN", METRICS_TOKEN, 32),
):
    if len(value) < minimum or len(set(value)) < 8:
        raise ImproperlyConfigured(
            f"{name} must be a random value of at least {minimum} characters"
        )
for value in TASK_SEAL_KEYS:
    if len(value) < 32 or len(set(value)) < 8:
        raise ImproperlyConfigured(
            "TASK_SEAL_KEYS must be a random value of at least 32 characters each"
        )

# Mail must leave the machine: the console, file and memory backends would
# leave codes and reset links in a log or on disk, and no customer gets them.
if not EMAIL_BACKEND.startswith("django.core.mail.backends.smtp."):
    raise ImproperlyConfigured(
        "EMAIL_URL must be an smtp:// or smtp+tls:// URL in production"
    )

# HTTPS everywhere; the load balancer terminates TLS and says so.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CUSTOMER_SESSION_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True

# Staff reach every customer's data: the admin takes a TOTP code from
# everyone, whatever the environment says (docs/deploy.md).
ADMIN_REQUIRE_2FA = True

# HSTS preloading is a commitment for the whole domain that only its owner can
# make (set SECURE_HSTS_PRELOAD=1); not making it is not a defect.
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
