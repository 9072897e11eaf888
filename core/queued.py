"""One drain queued at a time, for an outbox in PostgreSQL whose rows a task
drains: a Redis key (the mark) set when a drain is queued and cleared when
it starts (or, by a drain that waits for more rows, just before its last
look), so a burst of rows queues one task, and a row committed after that
queues the next. Redis failing never stops a drain: the mark fails open (a
kick publishes anyway), and beat's minute kick covers a lost one.

Why no row is missed: a writer commits its row, then tries the mark; a
drain clears the mark, then reads the rows. A writer that finds the mark
set found it before the drain that clears it read, so that drain reads
the committed row.

A drain that waits for more rows (`bell=True`) is woken by the writers
instead of polling: a writer that finds the mark set rings a bell (a Redis
list) in the same round trip, and the waiting drain blocks on it."""

import logging
import time
from typing import Any

from celery import Task
from django.core.cache import cache

from core.cache_redis import cache_redis, cache_script
from core.tasks import BROKER_ERRORS, BrokerUnavailable, publish

logger = logging.getLogger(__name__)

# If the queued drain is lost (a worker killed before it started), kicks
# are refused until the key expires; beat's minute kick covers the gap.
QUEUED_SECONDS = 60

# KEYS: the mark, the bell; ARGV: the mark's seconds, "1" to ring. Returns
# 1 when this caller set the mark (it queues the drain). The bell holds one
# ring at most: a ring already there (its life renewed) wakes the drain for
# this row too, and the drain's pop empties it (no delete after).
_MARK = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 1 end
if ARGV[2] == '1' then
  if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('RPUSH', KEYS[2], '1') end
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return 0
"""


class DrainQueued:
    def __init__(self, name: str, *, seconds: int = QUEUED_SECONDS, bell: bool = False):
        self.name = name
        self.seconds = seconds
        self.bell = bell
        self._held_at = 0.0

    @property
    def key(self) -> str:
        return cache.make_key(f"{self.name}:drain-queued")

    @property
    def bell_key(self) -> str:
        return cache.make_key(f"{self.name}:drain-bell")

    def mark(self) -> bool:
        """True if this caller is the one to queue a drain (also when Redis
        cannot tell: two drains are harmless, none is not); else the bell
        is rung, if there is one."""
        ring = "1" if self.bell else "0"
        try:
            return bool(
                cache_script(_MARK)(
                    keys=[self.key, self.bell_key], args=[self.seconds, ring]
                )
            )
        except BROKER_ERRORS as exc:
            logger.warning(
                f"{self.name}_queued_unknown", extra={"error": type(exc).__name__}
            )
            return True

    def keep(self, seconds: float) -> None:
        """Keep kicks quiet for `seconds` more than the mark's life."""
        self._held_at = time.monotonic()
        try:
            cache_redis().set(self.key, "1", ex=int(seconds) + self.seconds)
        except BROKER_ERRORS:
            pass  # kicks may queue a second drain: harmless

    def hold(self) -> None:
        """A drain that looks again before it ends keeps the mark (kicks stay
        quiet: it will see their rows), renewed a third of its life at most."""
        if time.monotonic() - self._held_at >= self.seconds / 3:
            self.keep(0)

    def wait(self, seconds: float) -> bool:
        """Hold the mark, and wait up to `seconds` for a writer's ring (or,
        Redis failing, sleep them); True if one rang."""
        self.hold()
        try:
            if cache_redis().blpop([self.bell_key], timeout=seconds):
                return True
        except BROKER_ERRORS:
            time.sleep(seconds)
        return False

    def forget(self) -> None:
        """A row committed from now on queues the next drain."""
        try:
            cache_redis().delete(self.key)
        except BROKER_ERRORS:
            pass  # the key expires on its own

    def kick(self, task: Task[..., Any]) -> None:
        """Queue `task` (the drain) now, unless one is queued already. Never
        fails the caller: the rows are in PostgreSQL, and beat kicks every
        minute."""
        try:
            # An eager drain (tests, in-process) runs here and now: no mark
            # coordinates it with queued ones.
            if task.app.conf.task_always_eager or self.mark():
                publish(task, kwargs={})
        except (BrokerUnavailable, *BROKER_ERRORS) as exc:
            logger.warning(
                f"{self.name}_kick_failed", extra={"error": type(exc).__name__}
            )
            self.forget()
