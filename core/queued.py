"""One drain queued at a time, for an outbox in PostgreSQL whose rows a task
drains: a Redis key set when a drain is queued and cleared when it starts
(or, by a drain that keeps looking for rows, just before its last look),
so a burst of rows queues one task, and a row committed after that queues
the next. Redis failing never stops a drain: the mark fails open (a kick
publishes anyway), and beat's minute kick covers a lost one.

Why no row is missed: a writer commits its row, then tries the mark; a
drain clears the mark, then reads the rows. A writer that finds the mark
set found it before the drain that clears it read, so that drain reads
the committed row."""

import logging
import time
from typing import Any

from celery import Task
from django.core.cache import cache

from core.tasks import BROKER_ERRORS, BrokerUnavailable, publish

logger = logging.getLogger(__name__)

# If the queued drain is lost (a worker killed before it started), kicks
# are refused until the key expires; beat's minute kick covers the gap.
QUEUED_SECONDS = 60


class DrainQueued:
    def __init__(self, name: str, *, seconds: int = QUEUED_SECONDS):
        self.name = name
        self.key = f"{name}:drain-queued"
        self.seconds = seconds
        self._held_at = 0.0

    def mark(self) -> bool:
        """True if this caller is the one to queue a drain (also when Redis
        cannot tell: two drains are harmless, none is not)."""
        try:
            return bool(cache.add(self.key, 1, timeout=self.seconds))
        except BROKER_ERRORS as exc:
            logger.warning(
                f"{self.name}_queued_unknown", extra={"error": type(exc).__name__}
            )
            return True

    def keep(self, seconds: float) -> None:
        """Keep kicks quiet while a drain waits to retry."""
        try:
            cache.set(self.key, 1, timeout=int(seconds) + self.seconds)
        except BROKER_ERRORS:
            pass  # kicks may queue a second chain: harmless

    def hold(self) -> None:
        """A drain that looks again before it ends keeps the mark (kicks stay
        quiet: it will see their rows), renewed a third of its life at most."""
        now = time.monotonic()
        if now - self._held_at >= self.seconds / 3:
            self._held_at = now
            self.keep(0)

    def forget(self) -> None:
        """At a drain's start: a row committed from now on queues the next."""
        try:
            cache.delete(self.key)
        except BROKER_ERRORS:
            pass  # the key expires on its own

    def kick(self, task: Task[..., Any]) -> None:
        """Queue `task` (the drain) now, unless one is queued already. Never
        fails the caller: the rows are in PostgreSQL, and beat kicks every
        minute."""
        try:
            if self.mark():
                publish(task, kwargs={})
        except (BrokerUnavailable, *BROKER_ERRORS) as exc:
            logger.warning(
                f"{self.name}_kick_failed", extra={"error": type(exc).__name__}
            )
            self.forget()
