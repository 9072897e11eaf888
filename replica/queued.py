"""One drain queued at a time: a Redis key set when a drain is queued and
cleared when it starts, so a burst of changes queues one task, and a change
committed after a drain started queues the next. Redis failing never stops
a drain: the key's functions fail open (a kick publishes anyway)."""

import logging

from django.core.cache import cache

from core.tasks import BROKER_ERRORS

logger = logging.getLogger(__name__)

KEY = "replica:drain-queued"
# If the queued drain is lost (a worker killed before it started), kicks
# are refused until the key expires; beat's minute drain covers the gap.
QUEUED_SECONDS = 60


def queued_mark() -> bool:
    """True if this caller is the one to queue a drain (also when Redis
    cannot tell: two drains are harmless, none is not)."""
    try:
        return bool(cache.add(KEY, 1, timeout=QUEUED_SECONDS))
    except BROKER_ERRORS as exc:
        logger.warning("replica_queued_unknown", extra={"error": type(exc).__name__})
        return True


def queued_keep(seconds: float) -> None:
    """Keep kicks quiet while a drain waits to retry (Medusa down)."""
    try:
        cache.set(KEY, 1, timeout=int(seconds) + QUEUED_SECONDS)
    except BROKER_ERRORS:
        pass  # kicks may queue a second chain: harmless


def queued_forget() -> None:
    try:
        cache.delete(KEY)
    except BROKER_ERRORS:
        pass  # the key expires on its own
