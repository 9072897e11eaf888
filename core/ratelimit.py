"""Fixed-window request limits in Redis: an extra layer, never the guard.

Security-relevant limits (OTP attempts, the per-email failure budget) live in
PostgreSQL. These only slow floods per client or per email; when Redis is
down they let requests through and log a warning, so logins keep working.

Two kinds: `rate_limit` counts every request (floods from one client);
`failures_limited` counts only attempts that fail (password guessing), so a
stranger's wrong guesses cannot lock the owner's right password out. Keys
are HMACs: Redis never holds an email, nor an unkeyed hash of one.
"""

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core.cache_redis import cache_redis, cache_script
from core.errors import TooManyRequests

logger = logging.getLogger("core.ratelimit")

TOO_MANY = "Too many requests, please try again later"
# One limit: (scope, key, most requests, window in seconds).
Limit = tuple[str, str, int, int]


def _cache_key(scope: str, key: str, suffix: str) -> str:
    digest = hmac.new(
        settings.EMAIL_HASH_KEY.encode(), key.encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}:{suffix}"


def _unavailable(scope: str) -> None:
    logger.warning(
        "Rate limit store unavailable; limit not applied", extra={"scope": scope}
    )


# KEYS: the limits' counters, in order; ARGV: each one's seconds to live and
# most. Counts one in each (the cache's add-then-incr) and stops after the
# first over its most, so a request refused by one limit uses up none after
# it; returns the counts made.
_COUNT = """
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[2 * i - 1], 'NX')
  counts[i] = redis.call('INCR', key)
  if counts[i] > tonumber(ARGV[2 * i]) then break end
end
return counts
"""


@dataclass(frozen=True)
class _Counted:
    cache_key: str
    over: bool
    seconds_left: int


def _count(limits: Sequence[Limit]) -> list[_Counted] | None:
    """Count one in the current window of each limit, in order, up to the
    first over its most, in one round trip; None when Redis is unavailable."""
    now = time.time()
    cache_keys, left, args = [], [], []
    for scope, key, most, window in limits:
        window_start = int(now // window) * window
        cache_keys.append(_cache_key(scope, key, str(window_start)))
        left.append(max(1, int(window_start + window - now) + 1))
        args += [window + 1, most]
    try:
        counts = cache_script(_COUNT)(
            keys=[cache.make_and_validate_key(k) for k in cache_keys], args=args
        )
    except Exception:  # noqa: BLE001  (any cache failure: degrade, do not fail)
        _unavailable(",".join(scope for scope, *_ in limits))
        return None
    return [
        _Counted(cache_key, int(count) > limit[2], seconds)
        for cache_key, seconds, limit, count in zip(
            cache_keys, left, limits, counts, strict=False
        )
    ]


def rate_limit(*limits: Limit, message: str = TOO_MANY) -> None:
    """Count the request against each (scope, key, limit, window seconds);
    raise 429 with Retry-After when one is over."""
    _counted_or_refused(limits, message)


def _counted_or_refused(limits: Sequence[Limit], message: str) -> list[_Counted]:
    """The counts of _count; 429 with Retry-After at the first one over."""
    counts = _count(limits) or []
    for counted in counts:
        if counted.over:
            raise TooManyRequests(message, retry_after=counted.seconds_left)
    return counts


@contextmanager
def failures_limited(
    *limits: Limit, failure: type[Exception], message: str = TOO_MANY
) -> Iterator[None]:
    """Count the attempt in the block as a failure against each limit before
    it runs (parallel guesses cannot slip between a check and a count), in
    order, and refuse it with 429 at the first limit it is over. The counts
    are given back unless the block raises `failure`: only failed attempts
    use up a limit."""
    counts = _counted_or_refused(limits, message)
    given_back = [
        (scope, counted.cache_key)
        for (scope, *_), counted in zip(limits, counts, strict=False)
    ]
    try:
        yield
    except failure:
        raise
    except BaseException:
        _refund(given_back)
        raise
    _refund(given_back)


def _refund(counted: list[tuple[str, str]]) -> None:
    """Give the counts back, in one round trip; a count whose window ended
    meanwhile (DECR made it -1, without an expiry) is removed."""
    if not counted:
        return
    stored = [cache.make_and_validate_key(cache_key) for _, cache_key in counted]
    try:
        pipe = cache_redis().pipeline(transaction=False)
        for key in stored:
            pipe.decr(key)
        expired = [key for key, n in zip(stored, pipe.execute(), strict=True) if n < 0]
        if expired:
            cache_redis().delete(*expired)
    except Exception:  # noqa: BLE001  (Redis down: the counts expire anyway)
        _unavailable(counted[0][0])


def client_is_known(*, scope: str, key: str) -> bool:
    """Whether `client_remember` saw this key lately (False without Redis)."""
    try:
        return cache.get(_cache_key(scope, key, "known")) is not None
    except Exception:  # noqa: BLE001
        _unavailable(scope)
        return False


def client_remember(*, scope: str, key: str, seconds: int) -> None:
    try:
        cache.set(_cache_key(scope, key, "known"), 1, timeout=seconds)
    except Exception:  # noqa: BLE001
        _unavailable(scope)


def client_key(request: HttpRequest) -> str:
    """The client as limits count it: its address, or its /64 for IPv6 (one
    host or home gets a whole /64, so single addresses cost an attacker
    nothing)."""
    address = client_ip(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind TRUSTED_PROXY_COUNT proxies that each
    append to X-Forwarded-For, it is the entry that many from the right;
    without proxies the header is the client's own claim and is ignored."""
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    address: str = request.META.get("REMOTE_ADDR", "")
    return address
