"""Fixed-window request limits in Redis: an extra layer, never the guard.

Security-relevant limits (OTP attempts, the per-email failure budget) live in
PostgreSQL. These only slow floods per IP or per email; when Redis is down
they let requests through and log a warning, so logins keep working.
"""

import hashlib
import logging
import time

from django.core.cache import cache

logger = logging.getLogger("config.ratelimit")


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


def client_ip(request) -> str:
    # Behind a proxy, set the proxy to overwrite REMOTE_ADDR (docs/deploy.md);
    # X-Forwarded-For from the client is not trusted.
    return request.META.get("REMOTE_ADDR", "")
