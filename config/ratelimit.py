"""Fixed-window request limits in Redis: an extra layer, never the guard.

Security-relevant limits (OTP attempts, the per-email failure budget) live in
PostgreSQL. These only slow floods per IP or per email; when Redis is down
they let requests through and log a warning, so logins keep working.
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

from config.errors import TooManyRequests

logger = logging.getLogger("config.ratelimit")

TOO_MANY = "Too many requests, please try again later"


def rate_limit_exceeded(*, scope: str, key: str, limit: int, window: int) -> int | None:
    """Count one request; return seconds to wait when over `limit`, else None."""
    now = time.time()
    window_start = int(now // window) * window
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # no plain email in Redis
    cache_key = f"ratelimit:{scope}:{digest}:{window_start}"
    try:
        cache.add(cache_key, 0, timeout=window + 1)
        count = cache.incr(cache_key)
    except Exception:  # noqa: BLE001  (any cache failure: degrade, do not fail)
        logger.warning(
            "Rate limit store unavailable; limit not applied", extra={"scope": scope}
        )
        return None
    if count > limit:
        return max(1, int(window_start + window - now) + 1)
    return None


def rate_limit(*limits: tuple[str, str, int, int], message: str = TOO_MANY) -> None:
    """Count the request against each (scope, key, limit, window seconds);
    raise 429 with Retry-After when one is over."""
    for scope, key, limit, window in limits:
        wait = rate_limit_exceeded(scope=scope, key=key, limit=limit, window=window)
        if wait is not None:
            raise TooManyRequests(message, retry_after=wait)


def client_ip(request) -> str:
    """The client's address. Behind TRUSTED_PROXY_COUNT proxies that each
    append to X-Forwarded-For, it is the entry that many from the right;
    without proxies the header is the client's own claim and is ignored."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
