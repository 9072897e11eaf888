"""The drain mark and its bell (core/queued.py), against the test stack's
Redis."""

import uuid

from core.cache_redis import cache_redis
from core.queued import DrainQueued


def test_the_first_kick_marks_and_the_next_ones_ring_the_waiting_drain():
    drain = DrainQueued(f"test-{uuid.uuid4().hex[:8]}", seconds=15, bell=True)

    assert drain.mark() is True  # this caller queues the drain
    assert drain.wait(0.05) is False  # nobody rang: it waited its time
    assert drain.mark() is False  # a drain is queued: no second one...
    assert drain.mark() is False
    assert cache_redis().llen(drain.bell_key) == 1  # one ring held, not two
    assert drain.wait(5) is True  # ...but the drain is woken at once
    assert drain.wait(0.05) is False  # one look served both rings
    drain.forget()
    assert drain.mark() is True  # after its last look, a kick queues anew
    drain.forget()


def test_a_drain_without_a_bell_is_never_rung():
    drain = DrainQueued(f"test-{uuid.uuid4().hex[:8]}")

    assert drain.mark() is True
    assert drain.mark() is False
    assert drain.wait(0.05) is False
    drain.forget()
