"""One drain queued at a time: a Redis key set when a drain is queued and
cleared when it starts, so a burst of changes queues one task, and a change
committed after a drain started queues the next."""

from django.core.cache import cache

KEY = "replica:drain-queued"
# If the queued drain is lost (a worker killed before it started), kicks
# are refused until the key expires; beat's minute drain covers the gap.
QUEUED_SECONDS = 60


def queued_mark() -> bool:
    """True if this caller is the one to queue a drain."""
    return bool(cache.add(KEY, 1, timeout=QUEUED_SECONDS))


def queued_hold(seconds: float) -> None:
    """Keep kicks quiet while a drain waits to retry (Medusa down)."""
    cache.set(KEY, 1, timeout=int(seconds) + QUEUED_SECONDS)


def queued_clear() -> None:
    cache.delete(KEY)
